package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ExecFunc runs a command in a container and returns its exit code.
type ExecFunc func(ctx context.Context, cmd []string) (exitCode int, err error)

// RunProbe runs one probe attempt against a container whose pod has address
// host and reports whether it succeeded, with a reason when not. Named ports
// are looked up in ports.
func RunProbe(ctx context.Context, p *corev1.Probe, host string, ports []corev1.ContainerPort, execIn ExecFunc) (bool, string) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return probeHTTP(ctx, p.HTTPGet, host, ports)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, ports)
		if err != nil {
			return false, err.Error()
		}
		h := host
		if p.TCPSocket.Host != "" {
			h = p.TCPSocket.Host
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			return false, fmt.Sprintf("tcp probe: %v", err)
		}
		_ = c.Close()
		return true, ""
	case p.Exec != nil:
		code, err := execIn(ctx, p.Exec.Command)
		if err != nil {
			return false, fmt.Sprintf("exec probe: %v", err)
		}
		if code != 0 {
			return false, fmt.Sprintf("exec probe %q exited %d", strings.Join(p.Exec.Command, " "), code)
		}
		return true, ""
	case p.GRPC != nil:
		return false, "grpc probes are not supported by gamma-localnode; use httpGet, tcpSocket or exec"
	}
	return false, "probe has no handler (set httpGet, tcpSocket or exec)"
}

func probeHTTP(ctx context.Context, g *corev1.HTTPGetAction, host string, ports []corev1.ContainerPort) (bool, string) {
	port, err := resolvePort(g.Port, ports)
	if err != nil {
		return false, err.Error()
	}
	h := host
	if g.Host != "" {
		h = g.Host
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(h, strconv.Itoa(port))+path, nil)
	if err != nil {
		return false, fmt.Sprintf("http probe: %v", err)
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	for _, hd := range g.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true} // #nosec G402 -- kubelet probes skip verification too
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Sprintf("http probe: %v", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return false, fmt.Sprintf("http probe: status %d", resp.StatusCode)
	}
	return true, ""
}

func resolvePort(p intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("probe port %d out of range", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return resolvePort(intstr.FromInt32(int32(n)), nil)
	}
	return 0, fmt.Errorf("probe port %q is not a named container port", p.StrVal)
}

// ProbeState turns probe attempts into a result with the Kubernetes
// thresholds: the result flips to success after successThreshold
// consecutive successes and to failure after failureThreshold consecutive
// failures. Not safe for concurrent use.
type ProbeState struct {
	success, failure int32
	okRun, failRun   int32
	result           bool
}

// NewProbeState starts with result initial (false for readiness and
// startup, true for liveness).
func NewProbeState(p *corev1.Probe, initial bool) *ProbeState {
	s := &ProbeState{success: p.SuccessThreshold, failure: p.FailureThreshold, result: initial}
	if s.success <= 0 {
		s.success = 1
	}
	if s.failure <= 0 {
		s.failure = 3
	}
	return s
}

// Observe records one attempt and returns the current result and whether
// it changed.
func (s *ProbeState) Observe(ok bool) (result, changed bool) {
	before := s.result
	if ok {
		s.okRun++
		s.failRun = 0
		if s.okRun >= s.success {
			s.result = true
		}
	} else {
		s.failRun++
		s.okRun = 0
		if s.failRun >= s.failure {
			s.result = false
		}
	}
	return s.result, s.result != before
}

// Period is the probe interval (default 10 s).
func probePeriod(p *corev1.Probe) time.Duration {
	if p.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(p.PeriodSeconds) * time.Second
}
