package cluster

import "testing"

func TestIsComponent(t *testing.T) {
	tests := []struct {
		argv []string
		want string
		ok   bool
	}{
		{[]string{"/repo/bin/etcd", "--data-dir=/s/etcd"}, Etcd, true},
		{[]string{"/repo/bin/gamma-localnode", "run", "--state-dir", "/s/node"}, LocalNode, true},
		{[]string{"/repo/bin/kube-apiserver", "--tls-cert-file=/s"}, APIServer, true},
		{[]string{"/repo/bin/etcd", "--data-dir=/other/etcd"}, "", false},
		{[]string{"/repo/bin/etcd", "--data-dir=/s2/etcd"}, "", false},
		{[]string{"/usr/bin/gammaproof", "cluster", "status", "--state-dir", "/s"}, "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		got, ok := isComponent(tt.argv, "/s")
		if got != tt.want || ok != tt.ok {
			t.Errorf("isComponent(%q) = %q, %v; want %q, %v", tt.argv, got, ok, tt.want, tt.ok)
		}
	}
}
