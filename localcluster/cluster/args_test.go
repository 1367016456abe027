package cluster

import (
	"slices"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	l := Layout{Dir: "/state"}
	tests := []struct {
		component string
		want      []string
	}{
		{Etcd, []string{"--data-dir=/state/etcd", "--listen-client-urls=http://127.0.0.1:2379"}},
		{APIServer, []string{
			"--secure-port=6443", "--bind-address=0.0.0.0", "--advertise-address=198.18.0.1",
			"--service-cluster-ip-range=198.19.0.0/16", "--authorization-mode=Node,RBAC",
			"--kubelet-client-certificate=/state/pki/apiserver-kubelet-client.crt",
			"--kubelet-client-key=/state/pki/apiserver-kubelet-client.key",
			"--service-account-signing-key-file=/state/pki/sa.key",
		}},
		{ControllerManager, []string{"--allocate-node-cidrs=false", "--root-ca-file=/state/pki/ca.crt", "--service-account-private-key-file=/state/pki/sa.key"}},
		{Scheduler, []string{"--kubeconfig=/state/kubeconfigs/kube-scheduler.kubeconfig"}},
		{Proxy, []string{"--proxy-mode=nftables", "--hostname-override=gammaproof-local", "--cluster-cidr=198.18.0.0/16"}},
	}
	for _, tt := range tests {
		t.Run(tt.component, func(t *testing.T) {
			args, err := Args(l, "/repo/bin", tt.component)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !slices.Contains(args, w) {
					t.Errorf("missing %s in %q", w, args)
				}
			}
		})
	}
	// The apiserver must not verify the kubelet's serving cert (contract).
	args, _ := Args(l, "/repo/bin", APIServer)
	for _, a := range args {
		if strings.HasPrefix(a, "--kubelet-certificate-authority") {
			t.Errorf("apiserver has %s", a)
		}
	}
	if _, err := Args(l, "/repo/bin", "kubelet"); err == nil {
		t.Error("Args(kubelet) = nil error, want unknown component")
	}
}

// TestLocalNodeArgs pins the command line of the contract with gamma-localnode.
func TestLocalNodeArgs(t *testing.T) {
	args, err := Args(Layout{Dir: "/s"}, "/repo/bin", LocalNode)
	if err != nil {
		t.Fatal(err)
	}
	want := "run --kubeconfig /s/kubeconfig --state-dir /s/node --node-name gammaproof-local --pod-cidr 198.18.0.0/16 --bridge gp0 --bridge-ip 198.18.0.1 --cluster-domain cluster.local --tls-cert-file /s/pki/kubelet.crt --tls-private-key-file /s/pki/kubelet.key --bin-dir /repo/bin"
	if got := strings.Join(args, " "); got != want {
		t.Errorf("gamma-localnode args:\n got %s\nwant %s", got, want)
	}
}
