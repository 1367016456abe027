package podproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gammaproof/gammaproof/suite/sample"
)

// Sender is a [sample.Sampler] that asks a client pod to sample, through the API
// server's pod proxy (POST /api/v1/namespaces/NS/pods/POD:PORT/proxy/sample),
// so the suite needs no route into the cluster. It is safe for concurrent use.
type Sender struct {
	cs        kubernetes.Interface
	namespace string
	pod       string
	port      int
}

var _ sample.Sampler = (*Sender)(nil)

// New returns a sender to the client API of pod namespace/name on
// port (0: [sample.DefaultClientPort]).
func New(cs kubernetes.Interface, namespace, pod string, port int) *Sender {
	if port == 0 {
		port = sample.DefaultClientPort
	}
	return &Sender{cs: cs, namespace: namespace, pod: pod, port: port}
}

func (p *Sender) proxyName() string {
	return utilnet.JoinSchemeNamePort("", p.pod, strconv.Itoa(p.port))
}

// Sample sends req to the client pod and returns its result. A request the
// client rejects, or a pod the API server cannot reach, is an error that
// carries the answer's text.
func (p *Sender) Sample(ctx context.Context, req sample.Request) (sample.Result, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return sample.Result{}, fmt.Errorf("encode sample request: %w", err)
	}
	var raw []byte
	for try := 0; ; try++ {
		r := p.viaProxy(http.MethodPost, "sample").
			SetHeader("Content-Type", "application/json").
			Body(body).
			Do(ctx)
		raw, err = r.Raw()
		if err == nil {
			break
		}
		err = r.Error() // a Status from the API server becomes its error
		if try < maxWriteRetries && unsent(err) && ctx.Err() == nil {
			continue
		}
		return sample.Result{}, fmt.Errorf("sample %s via pod proxy %s/%s: %w%s", req.URL, p.namespace, p.proxyName(), err, answer(err))
	}
	var res sample.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return sample.Result{}, fmt.Errorf("decode sample result from %s/%s: %w: %.300q", p.namespace, p.pod, err, raw)
	}
	return res, nil
}

// Healthy asks the client pod's GET /healthz through the pod proxy.
func (p *Sender) Healthy(ctx context.Context) error {
	r := p.viaProxy(http.MethodGet, "healthz").Do(ctx)
	if err := r.Error(); err != nil {
		return fmt.Errorf("check client pod %s/%s health: %w%s", p.namespace, p.proxyName(), err, answer(err))
	}
	return nil
}

// viaProxy is a request for path on the client pod, through the API
// server's pod proxy.
func (p *Sender) viaProxy(verb, path string) *rest.Request {
	return p.cs.CoreV1().RESTClient().Verb(verb).
		Namespace(p.namespace).
		Resource("pods").
		Name(p.proxyName()).
		SubResource("proxy").
		Suffix(path)
}

// answer returns ": <text>" for the text of a non-Status answer, which
// client-go keeps only as a cause of the error, or "".
func answer(err error) string {
	var st apierrors.APIStatus
	if !errors.As(err, &st) || st.Status().Details == nil {
		return ""
	}
	for _, c := range st.Status().Details.Causes {
		if c.Type != metav1.CauseTypeUnexpectedServerResponse || c.Message == "" {
			continue
		}
		text := strings.TrimSpace(c.Message)
		if len(text) > 300 {
			text = text[:300] + "..."
		}
		return ": " + text
	}
	return ""
}

// pollInterval is how often WaitForClient looks.
const pollInterval = time.Second

// WaitForClient waits until the pod of p is Ready and its API answers
// through the pod proxy, polling every second until ctx ends or timeout
// passes. The error says what was last seen.
func (p *Sender) WaitForClient(ctx context.Context, timeout time.Duration) error {
	var last error
	// note keeps err as what was last seen, unless it only says the wait is
	// about to end (client-go's rate limiter refuses calls near a deadline).
	note := func(ctx context.Context, err error) {
		if dl, ok := ctx.Deadline(); last == nil || !ok || time.Until(dl) > pollInterval {
			last = err
		}
	}
	err := wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		pod, err := p.cs.CoreV1().Pods(p.namespace).Get(ctx, p.pod, metav1.GetOptions{})
		if err != nil {
			note(ctx, fmt.Errorf("get pod: %w", err))
			return false, nil
		}
		if !podReady(pod) {
			last = fmt.Errorf("pod is %s, not Ready", pod.Status.Phase)
			return false, nil
		}
		if err := p.Healthy(ctx); err != nil {
			note(ctx, err)
			return false, nil
		}
		return true, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("wait for client pod %s/%s: %w (last seen: %v)", p.namespace, p.pod, err, last)
	}
	if err != nil {
		return fmt.Errorf("wait for client pod %s/%s: %w", p.namespace, p.pod, err)
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// maxWriteRetries is how often a batch is sent again when the API server's
// connection to the client pod failed while writing the request: the
// client never got it, so no request of the batch was sent.
const maxWriteRetries = 2

// unsent reports whether err says the API server could not write the
// request to the pod (a kept connection the client had closed).
func unsent(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "error trying to reach service") && strings.Contains(msg, "write: ")
}
