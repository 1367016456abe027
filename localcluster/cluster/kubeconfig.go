package cluster

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig returns a kubeconfig for server that trusts ca and
// authenticates with the client certificate client. Cluster, user and
// context are all named [ContextName].
func Kubeconfig(server string, ca, client *KeyPair) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ContextName] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: ca.CertPEM,
	}
	cfg.AuthInfos[ContextName] = &clientcmdapi.AuthInfo{
		ClientCertificateData: client.CertPEM,
		ClientKeyData:         client.KeyPEM,
	}
	cfg.Contexts[ContextName] = &clientcmdapi.Context{Cluster: ContextName, AuthInfo: ContextName}
	cfg.CurrentContext = ContextName
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("encode kubeconfig: %w", err)
	}
	return b, nil
}

// APIServerURL is the URL clients on this machine use.
func APIServerURL() string { return fmt.Sprintf("https://127.0.0.1:%d", APIServerPort) }

// writeKubeconfigs writes the admin kubeconfig and one per component.
func writeKubeconfigs(l Layout, p *PKI) error {
	for path, client := range map[string]*KeyPair{
		l.Kubeconfig():                           p.Admin,
		l.ComponentKubeconfig(ControllerManager): p.ControllerManager,
		l.ComponentKubeconfig(Scheduler):         p.Scheduler,
		l.ComponentKubeconfig(Proxy):             p.Proxy,
	} {
		b, err := Kubeconfig(APIServerURL(), p.CA, client)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("create kubeconfig dir: %w", err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("write kubeconfig: %w", err)
		}
	}
	return nil
}
