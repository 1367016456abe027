// Package testenv starts a real kube-apiserver and etcd (from bin/, built by
// `make kube`) for tests, with the Gateway API CRDs installed.
package testenv

import (
	"fmt"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gammaproof/gammaproof/internal/crds"
	"github.com/gammaproof/gammaproof/internal/repo"
)

// ServiceCIDR is the test API server's Service address range: the
// project's, 198.19.0.0/16, so no test object carries an address outside it.
const ServiceCIDR = "198.19.0.0/16"

// Start runs kube-apiserver and etcd for the test and returns a config for an
// admin client. Both stop when the test ends. The experimental channel CRDs
// are installed. A missing binary fails the test with what to run.
func Start(t testing.TB) *rest.Config {
	t.Helper()
	cfg, stop, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop test apiserver: %v", err)
		}
	})
	return cfg
}

// StartServer is [Start] for callers without a testing.TB, such as TestMain.
// The caller must call stop.
func StartServer() (cfg *rest.Config, stop func() error, err error) {
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := repo.Bin(b); err != nil {
			return nil, nil, err
		}
	}
	list, err := crds.CRDs(crds.Experimental)
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: repo.BinDir(),
		CRDInstallOptions:     envtest.CRDInstallOptions{CRDs: list},
		ErrorIfCRDPathMissing: true,
	}
	// Services get addresses in the project's Service range, as on the
	// local cluster, not in envtest's default 10.0.0.0/24.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", ServiceCIDR)
	cfg, err = env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("start kube-apiserver and etcd: %w", err)
	}
	return cfg, env.Stop, nil
}
