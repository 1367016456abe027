package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestPKI(t *testing.T) {
	p, err := NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.CA.Cert())
	tests := []struct {
		name   string
		kp     *KeyPair
		usage  x509.ExtKeyUsage
		cn     string
		groups []string
		dns    []string
		ips    []string
	}{
		{"apiserver", p.APIServer, x509.ExtKeyUsageServerAuth, "kube-apiserver", nil,
			[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
			[]string{"127.0.0.1", "198.18.0.1", "198.19.0.1"}},
		{"kubelet serving", p.Kubelet, x509.ExtKeyUsageServerAuth, "system:node:gammaproof-local", []string{"system:nodes"},
			[]string{"gammaproof-local"}, []string{"198.18.0.1", "127.0.0.1"}},
		{"apiserver kubelet client", p.APIServerKubeletClient, x509.ExtKeyUsageClientAuth, "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil},
		{"admin", p.Admin, x509.ExtKeyUsageClientAuth, "kubernetes-admin", []string{"system:masters"}, nil, nil},
		{"controller manager", p.ControllerManager, x509.ExtKeyUsageClientAuth, "system:kube-controller-manager", []string{"system:masters"}, nil, nil},
		{"scheduler", p.Scheduler, x509.ExtKeyUsageClientAuth, "system:kube-scheduler", nil, nil, nil},
		{"proxy", p.Proxy, x509.ExtKeyUsageClientAuth, "system:kube-proxy", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.kp.Cert()
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tt.usage}}); err != nil {
				t.Fatalf("verify against CA: %v", err)
			}
			if c.Subject.CommonName != tt.cn {
				t.Errorf("CN = %q, want %q", c.Subject.CommonName, tt.cn)
			}
			if !slices.Equal(c.Subject.Organization, tt.groups) {
				t.Errorf("O = %q, want %q", c.Subject.Organization, tt.groups)
			}
			if !slices.Equal(c.DNSNames, tt.dns) {
				t.Errorf("DNS SANs = %q, want %q", c.DNSNames, tt.dns)
			}
			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.ips) {
				t.Errorf("IP SANs = %q, want %q", ips, tt.ips)
			}
			if _, err := tls.X509KeyPair(tt.kp.CertPEM, tt.kp.KeyPEM); err != nil {
				t.Errorf("key does not match certificate: %v", err)
			}
			for _, h := range append(tt.dns, tt.ips...) {
				if err := c.VerifyHostname(h); err != nil {
					t.Errorf("VerifyHostname(%s): %v", h, err)
				}
			}
		})
	}
	if !p.CA.Cert().IsCA {
		t.Error("CA certificate is not a CA")
	}
	if b, _ := pem.Decode(p.ServiceAccountPubPEM); b == nil || b.Type != "PUBLIC KEY" {
		t.Errorf("service account public key is not a PEM PUBLIC KEY: %q", p.ServiceAccountPubPEM)
	}
}

func TestIssueRejectsBadRequest(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []CertRequest{
		{CommonName: "", Client: true},
		{CommonName: "no-usage"},
	} {
		if _, err := ca.Issue(req); err == nil {
			t.Errorf("Issue(%+v) = nil error, want one", req)
		}
	}
}

func TestWritePKIAndKubeconfigs(t *testing.T) {
	l := Layout{Dir: t.TempDir()}
	p, err := NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(l.PKIDir()); err != nil {
		t.Fatal(err)
	}
	if err := writeKubeconfigs(l, p); err != nil {
		t.Fatal(err)
	}
	// Every file a component's flags name must exist.
	for _, comp := range Components {
		args, err := Args(l, "/bin", comp)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range args {
			if _, v, ok := cutFlag(a); ok && filepath.Dir(v) == l.PKIDir() || filepath.Ext(v) == ".kubeconfig" {
				if _, err := os.Stat(v); err != nil {
					t.Errorf("%s: flag %s names a missing file: %v", comp, a, err)
				}
			}
		}
	}
	for _, path := range []string{l.PKI("ca.key"), l.PKI("admin.key"), l.Kubeconfig()} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", path, fi.Mode().Perm())
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:6443" {
		t.Errorf("host = %q", cfg.Host)
	}
	raw, err := clientcmd.LoadFromFile(l.ComponentKubeconfig(Scheduler))
	if err != nil {
		t.Fatal(err)
	}
	if raw.CurrentContext != ContextName {
		t.Errorf("current context = %q, want %q", raw.CurrentContext, ContextName)
	}
	pair, err := tls.X509KeyPair(raw.AuthInfos[ContextName].ClientCertificateData, raw.AuthInfos[ContextName].ClientKeyData)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "system:kube-scheduler" {
		t.Errorf("scheduler kubeconfig user = %q", leaf.Subject.CommonName)
	}
	// The kubeconfig trusts the CA that signed the apiserver's cert.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.CAData) {
		t.Fatal("kubeconfig CA data is not PEM")
	}
	if _, err := p.APIServer.Cert().Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("apiserver cert not trusted by the kubeconfig: %v", err)
	}
}

// cutFlag splits "--name=value".
func cutFlag(a string) (string, string, bool) {
	for i := 0; i < len(a); i++ {
		if a[i] == '=' {
			return a[:i], a[i+1:], true
		}
	}
	return "", "", false
}
