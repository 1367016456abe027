package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity is how long generated certificates are valid. The PKI is
// regenerated on every `up`, so a year is plenty.
const certValidity = 365 * 24 * time.Hour

// KeyPair is a certificate with its private key, PEM-encoded.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte

	cert *x509.Certificate
	key  crypto.Signer
}

// Cert returns the parsed certificate.
func (k *KeyPair) Cert() *x509.Certificate { return k.cert }

// CertRequest describes a certificate to issue.
type CertRequest struct {
	// CommonName is the subject CN; for client certs, the user name.
	CommonName string
	// Organization is the subject O; for client certs, the groups. Optional.
	Organization []string
	// DNSNames and IPs are the subject alternative names. Optional.
	DNSNames []string
	IPs      []net.IP
	// Server and Client select the extended key usages.
	Server, Client bool
}

// NewCA creates a self-signed certificate authority.
func NewCA(commonName string) (*KeyPair, error) {
	ca, err := newCert(&x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("create CA %q: %w", commonName, err)
	}
	return ca, nil
}

// Issue creates a certificate signed by the CA k.
func (k *KeyPair) Issue(req CertRequest) (*KeyPair, error) {
	if req.CommonName == "" {
		return nil, errors.New("issue certificate: empty common name")
	}
	if !req.Server && !req.Client {
		return nil, fmt.Errorf("issue certificate %q: neither server nor client usage", req.CommonName)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: req.CommonName, Organization: req.Organization},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:    req.DNSNames,
		IPAddresses: req.IPs,
	}
	if req.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if req.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	kp, err := newCert(tmpl, k)
	if err != nil {
		return nil, fmt.Errorf("issue certificate %q: %w", req.CommonName, err)
	}
	return kp, nil
}

// newCert gives tmpl a serial number and the validity window, and signs it
// for a new key: with the key of ca, or with the new key itself (a
// self-signed CA) when ca is nil.
func newCert(tmpl *x509.Certificate, ca *KeyPair) (*KeyPair, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(certValidity)
	parent, signer := tmpl, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse generated certificate: %w", err)
	}
	return &KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  keyPEM,
		cert:    cert,
		key:     key,
	}, nil
}

// newKey generates an ECDSA P-256 key (fast to generate, so `up` stays
// quick) and returns it with its PEM encoding.
func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// PKI is every key and certificate the cluster uses.
type PKI struct {
	CA *KeyPair
	// APIServer serves kube-apiserver's secure port.
	APIServer *KeyPair
	// APIServerKubeletClient is kube-apiserver's client cert for the kubelet API.
	APIServerKubeletClient *KeyPair
	// Kubelet serves gamma-localnode's kubelet API.
	Kubelet *KeyPair
	// Admin, ControllerManager, Scheduler and Proxy are client certs.
	Admin, ControllerManager, Scheduler, Proxy *KeyPair
	// ServiceAccountKeyPEM / ServiceAccountPubPEM sign and verify service
	// account tokens.
	ServiceAccountKeyPEM, ServiceAccountPubPEM []byte
}

// Addresses the serving certificates name.
var (
	apiServerIPs = []net.IP{
		net.IPv4(127, 0, 0, 1), net.ParseIP(AdvertiseAddress), net.ParseIP(KubernetesServiceIP),
	}
	apiServerDNSNames = []string{
		"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local",
	}
	kubeletIPs = []net.IP{net.ParseIP(AdvertiseAddress), net.IPv4(127, 0, 0, 1)}
)

// NewPKI generates a fresh cluster CA and every certificate signed by it.
func NewPKI() (*PKI, error) {
	ca, err := NewCA("gammaproof-local-ca")
	if err != nil {
		return nil, err
	}
	p := &PKI{CA: ca}
	for _, is := range []struct {
		dst *(*KeyPair)
		req CertRequest
	}{
		{&p.APIServer, CertRequest{CommonName: "kube-apiserver", DNSNames: apiServerDNSNames, IPs: apiServerIPs, Server: true}},
		{&p.APIServerKubeletClient, CertRequest{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}, Client: true}},
		{&p.Kubelet, CertRequest{CommonName: "system:node:" + NodeName, Organization: []string{"system:nodes"}, DNSNames: []string{NodeName}, IPs: kubeletIPs, Server: true}},
		{&p.Admin, CertRequest{CommonName: "kubernetes-admin", Organization: []string{"system:masters"}, Client: true}},
		{&p.ControllerManager, CertRequest{CommonName: "system:kube-controller-manager", Organization: []string{"system:masters"}, Client: true}},
		{&p.Scheduler, CertRequest{CommonName: "system:kube-scheduler", Client: true}},
		{&p.Proxy, CertRequest{CommonName: "system:kube-proxy", Client: true}},
	} {
		kp, err := ca.Issue(is.req)
		if err != nil {
			return nil, err
		}
		*is.dst = kp
	}
	sa, saPEM, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("service account key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(sa.Public())
	if err != nil {
		return nil, fmt.Errorf("marshal service account public key: %w", err)
	}
	p.ServiceAccountKeyPEM = saPEM
	p.ServiceAccountPubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	return p, nil
}

// Write stores the PKI in dir as <name>.crt / <name>.key files (keys 0600).
func (p *PKI) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create pki dir: %w", err)
	}
	files := map[string][]byte{
		"sa.key": p.ServiceAccountKeyPEM,
		"sa.pub": p.ServiceAccountPubPEM,
	}
	for name, kp := range map[string]*KeyPair{
		"ca":                       p.CA,
		"apiserver":                p.APIServer,
		"apiserver-kubelet-client": p.APIServerKubeletClient,
		"kubelet":                  p.Kubelet,
		"admin":                    p.Admin,
		"kube-controller-manager":  p.ControllerManager,
		"kube-scheduler":           p.Scheduler,
		"kube-proxy":               p.Proxy,
	} {
		files[name+".crt"] = kp.CertPEM
		files[name+".key"] = kp.KeyPEM
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
