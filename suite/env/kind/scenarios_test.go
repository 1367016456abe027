package kind

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/suite/scenario"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// TestCrossNodeScenarios: the kind-only scenarios of kind-configs/scenarios
// load, and every pod they create is pinned (nodeName) to a node of
// kind-configs/default.yaml, the client and the backends each to another.
func TestCrossNodeScenarios(t *testing.T) {
	cfg, _, err := LoadConfig(filepath.Join(repo.Root(), "kind-configs", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	nodes := NodeNames(cfg)
	all, err := scenario.LoadAll(filepath.Join(repo.Root(), "kind-configs", "scenarios"))
	if err != nil || len(all) == 0 {
		t.Fatalf("want the scenarios of kind-configs/scenarios, loaded %d (%v)", len(all), err)
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			used := map[string]string{} // node → the pod (template) on it
			for _, st := range sc.Steps {
				for _, f := range st.Apply {
					objs, err := sc.Objects(f)
					if err != nil {
						t.Fatal(err)
					}
					for _, o := range objs {
						node, what, ok := podNode(o)
						if !ok {
							continue
						}
						if !slices.Contains(nodes, node) {
							t.Errorf("%s: nodeName %q is none of default.yaml's nodes %v", what, node, nodes)
						}
						if prev, ok := used[node]; ok {
							t.Errorf("%s and %s are both on node %s: want each on another node", prev, what, node)
						}
						used[node] = what
					}
				}
			}
			if len(used) < 2 {
				t.Errorf("pods pinned to %d nodes, want the client and backends on different nodes", len(used))
			}
		})
	}
}

// podNode returns the nodeName of a Pod or of a Deployment's pod template.
func podNode(o *unstructured.Unstructured) (node, what string, ok bool) {
	what = fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
	switch o.GetKind() {
	case "Pod":
		node, _, _ = unstructured.NestedString(o.Object, "spec", "nodeName")
	case "Deployment":
		node, _, _ = unstructured.NestedString(o.Object, "spec", "template", "spec", "nodeName")
	default:
		return "", "", false
	}
	if node == "" {
		return "<none>", what, true
	}
	return node, what, true
}

func TestNodeNames(t *testing.T) {
	cfg, err := ParseConfig([]byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: c\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := NodeNames(cfg)
	want := []string{"c-control-plane", "c-worker", "c-worker2"}
	if !slices.Equal(got, want) {
		t.Fatalf("NodeNames = %v, want %v", got, want)
	}
	two := &v1alpha4.Cluster{Name: "x", Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}, {Role: v1alpha4.ControlPlaneRole}}}
	if got := NodeNames(two); !slices.Equal(got, []string{"x-control-plane", "x-control-plane2"}) {
		t.Fatalf("NodeNames(two control planes) = %v", got)
	}
}
