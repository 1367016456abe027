package runner

import (
	"k8s.io/client-go/kubernetes"

	"github.com/gammaproof/gammaproof/suite/sample"
	"github.com/gammaproof/gammaproof/suite/sample/podproxy"
)

// newPodSampler reaches a client pod through the API server's pod proxy.
func newPodSampler(cs kubernetes.Interface, ns, pod string, port int) sample.Sampler {
	return podproxy.New(cs, ns, pod, port)
}
