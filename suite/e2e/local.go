package e2e

import (
	"context"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/support"

	"github.com/gammaproof/gammaproof/localcluster/cluster"
	"github.com/gammaproof/gammaproof/suite/env/local"
)

var listAll = metav1.ListOptions{}

// newLocalProvider returns the local cluster's provider, printing its
// progress to out, and whether that cluster is already running (then the
// suite uses it and leaves it up).
func newLocalProvider(ctx context.Context, out io.Writer) (support.E2EClusterProvider, bool, error) {
	st, err := cluster.New(cluster.Options{StateDir: cluster.DefaultStateDir()}).Status(ctx)
	if err != nil {
		return nil, false, err
	}
	p := local.NewCluster("gammaproof")
	p.WithOpts(local.WithProgress(out))
	return p, st.Running(), nil
}
