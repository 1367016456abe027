// Command gencert writes the self-signed certificate and key that the
// echo-advanced image carries at /cert.crt and /cert.key: upstream's mesh
// manifests start the echo server with --crt=/cert.crt --key=/cert.key and
// it exits without them. Nothing checks the certificate (the mesh tests
// speak plain HTTP and gRPC), so it only has to load.
//
// Usage:
//
//	gencert -dir bin/istio-echo-files
//
// writes cert.crt and cert.key into that directory, replacing both.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", ".", "directory to write cert.crt and cert.key into")
	flag.Parse()
	if err := write(*dir, time.Now()); err != nil {
		slog.Error("gencert failed", "err", err)
		os.Exit(1)
	}
}

// write creates a P-256 key and a self-signed certificate valid from an hour
// before now for ten years, for localhost, 127.0.0.1, ::1 and every name
// under *.svc.cluster.local, and writes them as PEM files into dir.
func write(dir string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return fmt.Errorf("draw serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "echo", Organization: []string{"gammaproof"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost", "*.svc.cluster.local", "*.cluster.local"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	files := []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{"cert.crt", "CERTIFICATE", der, 0o644},
		{"cert.key", "PRIVATE KEY", keyDER, 0o644}, // readable by any pod user, as in the image
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(path+".tmp", data, f.mode); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return fmt.Errorf("replace %s: %w", path, err)
		}
	}
	return nil
}
