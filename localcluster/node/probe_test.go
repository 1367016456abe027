package node

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gammaproof/gammaproof/internal/loopback"
)

func TestProbeState(t *testing.T) {
	p := &corev1.Probe{SuccessThreshold: 2, FailureThreshold: 3}
	s := NewProbeState(p, false)
	seq := []struct {
		ok, want, changed bool
	}{
		{true, false, false},
		{true, true, true},
		{false, true, false},
		{false, true, false},
		{true, true, false}, // resets the failure run
		{false, true, false},
		{false, true, false},
		{false, false, true},
		{true, false, false},
		{true, true, true},
	}
	for i, st := range seq {
		got, changed := s.Observe(st.ok)
		if got != st.want || changed != st.changed {
			t.Fatalf("step %d Observe(%v) = %v, %v; want %v, %v", i, st.ok, got, changed, st.want, st.changed)
		}
	}
	if d := NewProbeState(&corev1.Probe{}, true); d.success != 1 || d.failure != 3 {
		t.Errorf("defaults = %d/%d, want 1/3", d.success, d.failure)
	}
}

func TestRunProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("X-Probe") != "yes" {
				w.WriteHeader(http.StatusBadRequest)
			}
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	_, closedPortText, err := net.SplitHostPort(loopback.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	closedPort, _ := strconv.Atoi(closedPortText)
	ports := []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}
	exec := func(_ context.Context, cmd []string) (int, error) {
		if cmd[0] == "true" {
			return 0, nil
		}
		return 1, nil
	}
	tests := []struct {
		name  string
		probe corev1.ProbeHandler
		want  bool
	}{
		{"http ok with header", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt32(int32(port)), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}}}}, true},
		{"http named port", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("http"), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}}}}, true},
		{"http 400", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt32(int32(port))}}, false},
		{"http 500", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/bad", Port: intstr.FromInt32(int32(port))}}, false},
		{"http redirect counts as success", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/redirect", Port: intstr.FromInt32(int32(port))}}, true},
		{"http unknown named port", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("nope")}}, false},
		{"tcp open", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}, true},
		{"tcp closed", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(closedPort))}}, false},
		{"exec 0", corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, true},
		{"exec 1", corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"false"}}}, false},
		{"grpc unsupported", corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 1}}, false},
		{"empty", corev1.ProbeHandler{}, false},
	}
	for _, tt := range tests {
		ok, msg := RunProbe(context.Background(), &corev1.Probe{ProbeHandler: tt.probe}, "127.0.0.1", ports, exec)
		if ok != tt.want {
			t.Errorf("%s: ok = %v (%s), want %v", tt.name, ok, msg, tt.want)
		}
		if !ok && msg == "" {
			t.Errorf("%s: failure without a reason", tt.name)
		}
	}
}
