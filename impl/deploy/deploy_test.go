package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/internal/golden"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/repo"
	"github.com/gammaproof/gammaproof/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml")

// The images the manifests must reference, as `make images` names them.
const (
	controllerImage = "gammaproof/controller:dev"
	nodeImage       = "gammaproof/node:dev"
)

// mustObjects returns the objects of policy.
func mustObjects(t *testing.T, policy string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := objects(policy)
	if err != nil {
		t.Fatalf("objects(%q): %v", policy, err)
	}
	return objs
}

// typed decodes every object of policy strictly into its API type.
func typed(t *testing.T, policy string) []runtime.Object {
	t.Helper()
	var out []runtime.Object
	for _, u := range mustObjects(t, policy) {
		obj, err := scheme.Scheme.New(u.GroupVersionKind())
		if err != nil {
			t.Fatalf("%s %s: no API type: %v", u.GetKind(), u.GetName(), err)
		}
		j, err := u.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(j, obj); err != nil {
			t.Fatalf("%s %s does not decode strictly: %v", u.GetKind(), u.GetName(), err)
		}
		if ns := u.GetNamespace(); u.GetKind() != "Namespace" && !strings.HasPrefix(u.GetKind(), "Cluster") && ns != Namespace {
			t.Errorf("%s %s: namespace %q, want %q", u.GetKind(), u.GetName(), ns, Namespace)
		}
		out = append(out, obj)
	}
	return out
}

func find[T runtime.Object](t *testing.T, objs []runtime.Object, name string) T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.(T); ok && o.(interface{ GetName() string }).GetName() == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %s", zero, name)
	return zero
}

func TestManifests(t *testing.T) {
	for _, tc := range []struct{ policy, wantArg string }{
		{"", "--grant-policy=spec"},
		{string(grantpolicy.Spec), "--grant-policy=spec"},
		{string(grantpolicy.Strict), "--grant-policy=strict"},
	} {
		t.Run("policy "+tc.policy, func(t *testing.T) {
			objs := typed(t, tc.policy)
			if _, ok := objs[0].(*corev1.Namespace); !ok {
				t.Errorf("first object is %T, want the Namespace", objs[0])
			}

			ctrl := find[*appsv1.Deployment](t, objs, "gamma-controller")
			c := ctrl.Spec.Template.Spec.Containers[0]
			if c.Image != controllerImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("controller image %s %s, want %s IfNotPresent", c.Image, c.ImagePullPolicy, controllerImage)
			}
			if n := countPrefix(c.Args, "--grant-policy="); n != 1 || !slices.Contains(c.Args, tc.wantArg) {
				t.Errorf("controller args %q, want exactly one grant policy, %s", c.Args, tc.wantArg)
			}
			svc := find[*corev1.Service](t, objs, "gamma-controller")
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 15010 || svc.Spec.Selector["app.kubernetes.io/name"] != ctrl.Spec.Template.Labels["app.kubernetes.io/name"] {
				t.Errorf("controller Service %+v does not expose xDS on 15010 for the Deployment", svc.Spec)
			}

			ds := find[*appsv1.DaemonSet](t, objs, "gamma-node")
			ps := ds.Spec.Template.Spec
			n := ps.Containers[0]
			if n.Image != nodeImage || n.ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("node image %s %s, want %s IfNotPresent", n.Image, n.ImagePullPolicy, nodeImage)
			}
			if !ps.HostNetwork || ps.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
				t.Errorf("node: hostNetwork %v dnsPolicy %s, want true ClusterFirstWithHostNet", ps.HostNetwork, ps.DNSPolicy)
			}
			if n.SecurityContext == nil || n.SecurityContext.Privileged == nil || !*n.SecurityContext.Privileged {
				t.Error("node container is not privileged")
			}
			env := map[string]string{}
			for _, e := range n.Env {
				if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
					env[e.Name] = e.ValueFrom.FieldRef.FieldPath
				}
			}
			if env["HOST_IP"] != "status.hostIP" || env["NODE_NAME"] != "spec.nodeName" {
				t.Errorf("node env %v, want HOST_IP=status.hostIP NODE_NAME=spec.nodeName", env)
			}
			mounts := map[string]string{}
			for _, m := range n.VolumeMounts {
				mounts[m.MountPath] = m.Name
			}
			for _, v := range ps.Volumes {
				if v.HostPath == nil {
					continue
				}
				if mounts[v.HostPath.Path] != v.Name {
					t.Errorf("hostPath %s is not mounted at the same path", v.HostPath.Path)
				}
				delete(mounts, v.HostPath.Path)
			}
			for _, want := range []string{"/sys/fs/bpf", "/sys/fs/cgroup"} {
				if !slices.ContainsFunc(ps.Volumes, func(v corev1.Volume) bool { return v.HostPath != nil && v.HostPath.Path == want }) {
					t.Errorf("node does not mount host %s", want)
				}
			}
			if !tolerates(ps.Tolerations, corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}) {
				t.Error("node does not tolerate the control-plane taint")
			}
		})
	}
}

func countPrefix(args []string, prefix string) int {
	n := 0
	for _, a := range args {
		if strings.HasPrefix(a, prefix) {
			n++
		}
	}
	return n
}

func tolerates(ts []corev1.Toleration, taint corev1.Taint) bool {
	return slices.ContainsFunc(ts, func(tol corev1.Toleration) bool {
		keyOK := tol.Key == taint.Key || (tol.Key == "" && tol.Operator == corev1.TolerationOpExists)
		valueOK := tol.Operator == corev1.TolerationOpExists || tol.Value == taint.Value
		return keyOK && valueOK && (tol.Effect == "" || tol.Effect == taint.Effect)
	})
}

// TestRBAC checks each service account may do what its binary needs.
func TestRBAC(t *testing.T) {
	objs := typed(t, string(grantpolicy.Spec))
	type need struct{ group, resource, verb string }
	tests := []struct {
		sa    string
		needs []need
	}{
		{"gamma-controller", []need{
			{"", "services", "watch"}, {"", "namespaces", "list"},
			{"discovery.k8s.io", "endpointslices", "watch"},
			{"gateway.networking.k8s.io", "httproutes", "watch"}, {"gateway.networking.k8s.io", "grpcroutes", "list"},
			{"gateway.networking.k8s.io", "referencegrants", "watch"},
			{"gateway.networking.k8s.io", "httproutes/status", "update"}, {"gateway.networking.k8s.io", "grpcroutes/status", "patch"},
			{"coordination.k8s.io", "leases", "update"}, {"coordination.k8s.io", "leases", "create"},
		}},
		{"gamma-node", []need{{"", "pods", "watch"}, {"", "pods", "list"}, {"", "nodes", "get"}}},
	}
	for _, tc := range tests {
		t.Run(tc.sa, func(t *testing.T) {
			rules := rulesFor(objs, tc.sa)
			for _, n := range tc.needs {
				if !slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
					return slices.Contains(r.APIGroups, n.group) && slices.Contains(r.Resources, n.resource) && slices.Contains(r.Verbs, n.verb)
				}) {
					t.Errorf("%s may not %s %s.%s", tc.sa, n.verb, n.resource, n.group)
				}
			}
		})
	}
}

// rulesFor collects the rules bound to service account sa.
func rulesFor(objs []runtime.Object, sa string) []rbacv1.PolicyRule {
	roles := map[string][]rbacv1.PolicyRule{}
	for _, o := range objs {
		switch r := o.(type) {
		case *rbacv1.ClusterRole:
			roles["ClusterRole/"+r.Name] = r.Rules
		case *rbacv1.Role:
			roles["Role/"+r.Name] = r.Rules
		}
	}
	var out []rbacv1.PolicyRule
	for _, o := range objs {
		var subjects []rbacv1.Subject
		var ref rbacv1.RoleRef
		switch b := o.(type) {
		case *rbacv1.ClusterRoleBinding:
			subjects, ref = b.Subjects, b.RoleRef
		case *rbacv1.RoleBinding:
			subjects, ref = b.Subjects, b.RoleRef
		default:
			continue
		}
		if slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == Namespace
		}) {
			out = append(out, roles[ref.Kind+"/"+ref.Name]...)
		}
	}
	return out
}

func TestEveryFileIsListed(t *testing.T) {
	for _, dir := range []string{"base", "strict"} {
		raw, err := fs.ReadFile(files, path.Join(dir, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var k kustomization
		if err := yaml.UnmarshalStrict(raw, &k); err != nil {
			t.Fatal(err)
		}
		listed := slices.Clone(k.Resources)
		for _, p := range k.Patches {
			listed = append(listed, p.Path)
		}
		entries, err := fs.ReadDir(files, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "kustomization.yaml" && !slices.Contains(listed, e.Name()) {
				t.Errorf("%s/%s is not in %s/kustomization.yaml", dir, e.Name(), dir)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Manifests("lenient"); err == nil || !strings.Contains(err.Error(), `use "spec" or "strict"`) {
		t.Errorf("unknown policy: got %v", err)
	}
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"unknown kustomization field", map[string]string{"k/kustomization.yaml": "kind: Kustomization\nimages: []\n"}, "unknown field"},
		{"patch without target", map[string]string{
			"k/kustomization.yaml": "kind: Kustomization\nresources: [a.yaml]\npatches: [{path: p.yaml, target: {kind: Deployment, name: nope}}]\n",
			"k/a.yaml":             "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
			"k/p.yaml":             "- {op: add, path: /metadata/labels, value: {}}\n",
		}, "no object matches"},
		{"failing test op", map[string]string{
			"k/kustomization.yaml": "kind: Kustomization\nresources: [a.yaml]\npatches: [{path: p.yaml, target: {kind: Namespace, name: x}}]\n",
			"k/a.yaml":             "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
			"k/p.yaml":             "- {op: test, path: /metadata/name, value: y}\n",
		}, "apply patch"},
		{"broken YAML", map[string]string{
			"k/kustomization.yaml": "kind: Kustomization\nresources: [a.yaml]\n",
			"k/a.yaml":             "kind: [\n",
		}, "decode k/a.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := render(os.DirFS(dir), "k", 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestGolden(t *testing.T) {
	for _, policy := range []string{string(grantpolicy.Spec), string(grantpolicy.Strict)} {
		t.Run(policy, func(t *testing.T) {
			got, err := Manifests(policy)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Manifests(policy)
			if err != nil || !bytes.Equal(got, again) {
				t.Fatalf("rendering is not deterministic (%v)", err)
			}
			golden.Compare(t, filepath.Join("testdata", policy+".golden.yaml"), got, *update)
		})
	}
}

// TestApply creates every object on a real kube-apiserver, which validates
// them as a cluster would; then the strict Deployment updates the spec one.
func TestApply(t *testing.T) {
	c, err := client.New(testenv.Start(t), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range mustObjects(t, string(grantpolicy.Spec)) {
		if err := c.Create(t.Context(), o); err != nil {
			t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	for _, o := range mustObjects(t, string(grantpolicy.Strict)) {
		if o.GetKind() != "Deployment" {
			continue
		}
		if err := c.Patch(t.Context(), o, client.Apply, client.FieldOwner("gammaproof-test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply strict %s: %v", o.GetName(), err)
		}
	}
	var d appsv1.Deployment
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: Namespace, Name: "gamma-controller"}, &d); err != nil {
		t.Fatal(err)
	}
	if args := d.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--grant-policy=strict") {
		t.Fatalf("after applying strict: args %q", args)
	}
}

// TestKubectlKustomizeAgrees renders both trees with `kubectl kustomize`
// and compares the objects with ours.
func TestKubectlKustomizeAgrees(t *testing.T) {
	kubectl, err := repo.Bin("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	for dir, policy := range map[string]string{"base": string(grantpolicy.Spec), "strict": string(grantpolicy.Strict)} {
		t.Run(dir, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), kubectl, "kustomize", dir).Output()
			if err != nil {
				t.Fatalf("kubectl kustomize %s: %v", dir, err)
			}
			theirs, err := splitYAML(out)
			if err != nil {
				t.Fatalf("split kubectl kustomize's output: %v", err)
			}
			ours := mustObjects(t, policy)
			if len(ours) != len(theirs) {
				t.Fatalf("%d objects, kubectl kustomize made %d", len(ours), len(theirs))
			}
			byName := map[string]map[string]any{}
			for _, j := range theirs {
				m := decodeMap(t, j)
				byName[objKey(m)] = m
			}
			for _, o := range ours {
				j, err := o.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				m := decodeMap(t, j)
				if k := objKey(m); !reflect.DeepEqual(byName[k], m) {
					t.Errorf("%s differs from kubectl kustomize:\n ours %v\ntheirs %v", k, m, byName[k])
				}
			}
		})
	}
}

func decodeMap(t *testing.T, j []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func objKey(m map[string]any) string {
	md, _ := m["metadata"].(map[string]any)
	return fmt.Sprint(m["kind"], "/", md["namespace"], "/", md["name"])
}
