package e2e

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
)

// existingKubeconfig returns the path of a kubeconfig file for an existing
// cluster: explicit, else $KUBECONFIG, else ~/.kube/config. When a context
// is named, or $KUBECONFIG lists several files, the result is a file of
// its own in tmp (mode 0600) whose current context is the one to use, so
// every client of the run, and the programs it starts, see the same
// cluster.
func existingKubeconfig(explicit, kubeContext, tmp string) (string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = explicit
	single := explicit
	if single == "" {
		switch files := rules.Precedence; {
		case len(files) == 1:
			single = files[0]
		case len(files) == 0:
			single = clientcmd.RecommendedHomeFile
		}
	}
	if single != "" && kubeContext == "" {
		if _, err := os.Stat(single); err != nil {
			return "", fmt.Errorf("--env=existing needs a kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
		}
		return single, nil
	}
	raw, err := rules.Load()
	if err != nil {
		return "", fmt.Errorf("load kubeconfig: %w", err)
	}
	if kubeContext != "" {
		if _, ok := raw.Contexts[kubeContext]; !ok {
			return "", fmt.Errorf("--context=%q: no such context in the kubeconfig", kubeContext)
		}
		raw.CurrentContext = kubeContext
	}
	if raw.CurrentContext == "" {
		return "", fmt.Errorf("the kubeconfig names no current context: pass --context")
	}
	path := filepath.Join(tmp, "kubeconfig")
	if err := clientcmd.WriteToFile(*raw, path); err != nil {
		return "", fmt.Errorf("write the kubeconfig of context %s: %w", raw.CurrentContext, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", fmt.Errorf("restrict %s: %w", path, err)
	}
	return path, nil
}
