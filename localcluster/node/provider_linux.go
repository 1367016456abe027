package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// provider is the virtual-kubelet provider that runs pods as processes.
type provider struct {
	ctx         context.Context
	cfg         Config
	log         *slog.Logger
	client      kubernetes.Interface
	net         *network
	cgParent    string
	ipam        *IPAM
	images      *ImageTable
	services    corev1listers.ServiceLister
	nsenter     string
	mountpoints *mountpoints

	mu   sync.Mutex
	pods map[string]*podRuntime

	notifyMu sync.Mutex
	notify   func(*corev1.Pod)
}

var (
	_ nodeutil.Provider  = (*provider)(nil)
	_ vknode.PodNotifier = (*provider)(nil)
	_ objectGetter       = (*provider)(nil)
)

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

func (p *provider) ConfigMap(ctx context.Context, ns, name string) (map[string]string, error) {
	cm, err := p.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range cm.Data {
		out[k] = v
	}
	for k, v := range cm.BinaryData {
		out[k] = string(v)
	}
	return out, nil
}

func (p *provider) Secret(ctx context.Context, ns, name string) (map[string][]byte, error) {
	s, err := p.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out, nil
}

// NotifyPods implements [vknode.PodNotifier].
func (p *provider) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	p.notifyMu.Lock()
	p.notify = f
	p.notifyMu.Unlock()
}

func (p *provider) notifyPod(pod *corev1.Pod) {
	p.notifyMu.Lock()
	f := p.notify
	p.notifyMu.Unlock()
	if f != nil {
		f(pod)
	}
}

func (p *provider) get(ns, name string) *podRuntime {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pods[ns+"/"+name]
}

// CreatePod starts running pod; it returns at once.
func (p *provider) CreatePod(_ context.Context, pod *corev1.Pod) error {
	key := pod.Namespace + "/" + pod.Name
	p.mu.Lock()
	old := p.pods[key]
	if old != nil && old.uid == string(pod.UID) {
		p.mu.Unlock()
		return nil
	}
	pr := newPodRuntime(p, pod)
	p.pods[key] = pr
	p.mu.Unlock()
	if old != nil {
		go old.terminate(0)
	}
	p.log.Info("create pod", "pod", key, "uid", pod.UID)
	pr.changed()
	go pr.run()
	return nil
}

// UpdatePod takes the new metadata; the spec of a running pod is fixed.
func (p *provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	pr := p.get(pod.Namespace, pod.Name)
	if pr == nil || pr.uid != string(pod.UID) {
		return errdefs.NotFoundf("pod %s/%s is not running here", pod.Namespace, pod.Name)
	}
	pr.mu.Lock()
	status := pr.pod.Status
	pr.pod = pod.DeepCopy()
	pr.pod.Status = status
	pr.mu.Unlock()
	return nil
}

// DeletePod starts a graceful termination and returns; the terminal status
// is notified when the pod has stopped.
func (p *provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	pr := p.get(pod.Namespace, pod.Name)
	if pr == nil || (pod.UID != "" && pr.uid != string(pod.UID)) {
		return errdefs.NotFoundf("pod %s/%s is not running here", pod.Namespace, pod.Name)
	}
	grace := gracePeriod(pod)
	pr.mu.Lock()
	pr.pod.DeletionTimestamp = pod.DeletionTimestamp
	pr.pod.DeletionGracePeriodSeconds = pod.DeletionGracePeriodSeconds
	pr.mu.Unlock()
	go func() {
		pr.terminate(grace)
		p.mu.Lock()
		if p.pods[pr.key] == pr {
			delete(p.pods, pr.key)
		}
		p.mu.Unlock()
		if pod.DeletionTimestamp != nil {
			p.removeFromAPI(pod)
		}
	}()
	return nil
}

// removeFromAPI deletes the pod object now that its containers are gone,
// as kubelet does; without it the object would stay for the whole grace
// period (virtual-kubelet only force-deletes once that has passed).
func (p *provider) removeFromAPI(pod *corev1.Pod) {
	zero := int64(0)
	opts := metav1.DeleteOptions{GracePeriodSeconds: &zero}
	if pod.UID != "" {
		opts.Preconditions = metav1.NewUIDPreconditions(string(pod.UID))
	}
	err := p.client.CoreV1().Pods(pod.Namespace).Delete(p.ctx, pod.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && p.ctx.Err() == nil {
		p.log.Warn("delete terminated pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

// GetPod returns the pod with its current status.
func (p *provider) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	pr := p.get(ns, name)
	if pr == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not running here", ns, name)
	}
	return pr.snapshot(), nil
}

// GetPodStatus returns the pod's current status.
func (p *provider) GetPodStatus(ctx context.Context, ns, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod this node runs.
func (p *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	prs := make([]*podRuntime, 0, len(p.pods))
	for _, pr := range p.pods {
		prs = append(prs, pr)
	}
	p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(prs))
	for _, pr := range prs {
		out = append(out, pr.snapshot())
	}
	return out, nil
}

// podNamespace returns the namespace of the pod with address ip (for DNS).
func (p *provider) podNamespace(ip netip.Addr) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.pods {
		pr.mu.Lock()
		match := pr.ip == ip && !pr.pod.Spec.HostNetwork
		ns := pr.pod.Namespace
		pr.mu.Unlock()
		if match {
			return ns, true
		}
	}
	return "", false
}

func (p *provider) container(ns, pod, name string) (*container, error) {
	pr := p.get(ns, pod)
	if pr == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not running here", ns, pod)
	}
	c, err := pr.containerByName(name)
	if err != nil {
		return nil, errdefs.AsNotFound(err)
	}
	return c, nil
}

// GetContainerLogs serves kubectl logs (with -f, --previous, --tail and
// --limit-bytes).
func (p *provider) GetContainerLogs(ctx context.Context, ns, pod, name string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	c, err := p.container(ns, pod, name)
	if err != nil {
		return nil, err
	}
	return c.logs(ctx, opts)
}

// RunInContainer serves kubectl exec.
func (p *provider) RunInContainer(ctx context.Context, ns, pod, name string, cmd []string, aio api.AttachIO) error {
	c, err := p.container(ns, pod, name)
	if err != nil {
		return err
	}
	return c.execAttached(ctx, cmd, aio)
}

// AttachToContainer serves kubectl attach (and kubectl run -it).
func (p *provider) AttachToContainer(ctx context.Context, ns, pod, name string, aio api.AttachIO) error {
	c, err := p.container(ns, pod, name)
	if err != nil {
		return err
	}
	return c.attach(ctx, aio)
}

// GetStatsSummary returns an empty summary: the node keeps no resource
// statistics.
func (p *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: p.cfg.NodeName, StartTime: metav1.Now()}}, nil
}

// GetMetricsResource returns no metrics.
func (p *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}

// PortForward connects stream to port of the pod.
func (p *provider) PortForward(ctx context.Context, ns, pod string, port int32, stream io.ReadWriteCloser) error {
	pr := p.get(ns, pod)
	if pr == nil {
		return errdefs.NotFoundf("pod %s/%s is not running here", ns, pod)
	}
	defer stream.Close()
	pr.mu.Lock()
	ip := pr.ip
	pr.mu.Unlock()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("port-forward to %s:%d: %w", ip, port, err)
	}
	defer conn.Close()
	errc := make(chan error, 2)
	go func() { _, err := io.Copy(conn, stream); errc <- err }()
	go func() { _, err := io.Copy(stream, conn); errc <- err }()
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("port-forward: %w", err)
		}
	case <-ctx.Done():
	}
	return nil
}

// logs opens the log of the current (or previous) instance.
func (c *container) logs(ctx context.Context, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	c.pr.mu.Lock()
	n, inst := c.n, c.cur
	waiting := c.state.Waiting
	c.pr.mu.Unlock()
	if opts.Previous {
		n--
		if n < 1 {
			return nil, errdefs.NotFoundf("previous terminated container %q in pod %q not found", c.spec.Name, c.pr.key)
		}
	}
	if n < 1 {
		msg := "waiting to start"
		if waiting != nil {
			msg += ": " + waiting.Reason
			if waiting.Message != "" {
				msg += ": " + waiting.Message
			}
		}
		return nil, errdefs.InvalidInputf("container %q in pod %q is %s", c.spec.Name, c.pr.key, msg)
	}
	f, err := os.Open(c.logPath(n))
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	if opts.Tail > 0 {
		b, err := io.ReadAll(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read container log: %w", err)
		}
		off := tailOffset(b, opts.Tail)
		if _, err := f.Seek(int64(off), io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seek container log: %w", err)
		}
	}
	var r io.ReadCloser = f
	if opts.Follow && !opts.Previous && inst != nil && inst.n == n {
		r = &followReader{ctx: ctx, f: f, exited: inst.exited}
	}
	if opts.LimitBytes > 0 {
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(r, int64(opts.LimitBytes)), r}, nil
	}
	return r, nil
}

// tailOffset returns where the last n lines of b start.
func tailOffset(b []byte, n int) int {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := 0; i < n; i++ {
		j := bytes.LastIndexByte(b[:end], '\n')
		if j < 0 {
			return 0
		}
		if i == n-1 {
			return j + 1
		}
		end = j
	}
	return 0
}

// followReader reads a growing log file until its process has exited and
// everything is read, or ctx ends.
type followReader struct {
	ctx    context.Context
	f      *os.File
	exited <-chan struct{}
}

func (r *followReader) Read(b []byte) (int, error) {
	for {
		n, err := r.f.Read(b)
		if n > 0 || !errors.Is(err, io.EOF) {
			return n, err
		}
		select {
		case <-r.exited:
			time.Sleep(50 * time.Millisecond) // let the copier flush
			n, err := r.f.Read(b)
			if n > 0 {
				return n, nil
			}
			return 0, err
		case <-r.ctx.Done():
			return 0, io.EOF
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *followReader) Close() error { return r.f.Close() }
