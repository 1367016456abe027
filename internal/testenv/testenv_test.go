package testenv_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gammaproof/gammaproof/internal/testenv"
)

// TestServiceAddresses checks that the test API server hands out Service
// addresses in ServiceCIDR only, the "kubernetes" Service's included.
func TestServiceAddresses(t *testing.T) {
	cs, err := kubernetes.NewForConfig(testenv.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	probe, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The API server creates its own Service shortly after it starts.
	var apiServer *corev1.Service
	if err := testenv.Poll(ctx, 30*time.Second, 100*time.Millisecond, func() error {
		apiServer, err = cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := netip.MustParsePrefix(testenv.ServiceCIDR)
	for _, svc := range []*corev1.Service{probe, apiServer} {
		if a, err := netip.ParseAddr(svc.Spec.ClusterIP); err != nil || !want.Contains(a) {
			t.Errorf("Service %s has address %q, outside %s", svc.Name, svc.Spec.ClusterIP, want)
		}
	}
}
