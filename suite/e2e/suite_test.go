package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/gammaproof/gammaproof/suite/report"
)

// defaultOptions are the options with every flag at its default.
func defaultOptions() Options {
	return *RegisterFlags(flag.NewFlagSet("e2e", flag.ContinueOnError))
}

// checkValidate fails the test unless o.Validate passes when wantErr is ""
// and otherwise returns an error containing wantErr.
func checkValidate(t *testing.T, o Options, wantErr string) {
	t.Helper()
	err := o.Validate()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("Validate: %v", err)
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Fatalf("Validate = %v, want an error containing %s", err, wantErr)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{"defaults", func(*Options) {}, ""},
		{"gammaproof strict", func(o *Options) { o.GrantPolicy = "strict" }, ""},
		{"gammaproof needs a policy", func(o *Options) { o.GrantPolicy = "" }, "--grant-policy"},
		{"gammaproof unknown policy", func(o *Options) { o.GrantPolicy = "lax" }, "--grant-policy"},
		{"existing, policy unknown", func(o *Options) { o.Implementation, o.GrantPolicy = ImplExisting, "" }, ""},
		{"existing, strict", func(o *Options) { o.Implementation, o.GrantPolicy = ImplExisting, "strict" }, ""},
		{"existing, bad policy", func(o *Options) { o.Implementation, o.GrantPolicy = ImplExisting, "Strict" }, "--grant-policy"},
		{"bad env", func(o *Options) { o.Env = "minikube" }, "--env"},
		{"bad implementation", func(o *Options) { o.Implementation = "istio" }, "--implementation"},
		{"bad alpha", func(o *Options) { o.Alpha = 2 }, "--alpha"},
		{"mode", func(o *Options) { o.Mode = "strict-grants" }, ""},
		{"bad mode", func(o *Options) { o.Mode = "../x" }, "--mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOptions()
			tt.change(&o)
			checkValidate(t, o, tt.wantErr)
		})
	}
}

func TestImplementationMetadata(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
		want   report.Implementation
	}{
		{"gammaproof", func(*Options) {}, Gammaproof()},
		{"existing, nothing said", func(o *Options) { o.Implementation = ImplExisting },
			report.Implementation{Name: "existing", Organization: "unknown", Project: "unknown", URL: "unknown", Version: "unknown"}},
		{"existing, named", func(o *Options) {
			o.Implementation, o.Organization, o.Project, o.Version, o.Contact = ImplExisting, "acme", "acme-mesh", "1.0", "@acme/mesh, ops@acme.example"
		}, report.Implementation{Name: "acme-mesh", Organization: "acme", Project: "acme-mesh", URL: "unknown", Version: "1.0", Contact: []string{"@acme/mesh", "ops@acme.example"}}},
		{"gammaproof, a fork's version", func(o *Options) { o.Version, o.URL = "v0.2.0-rc1", "https://example.com/fork" },
			func() report.Implementation {
				i := Gammaproof()
				i.Version, i.URL = "v0.2.0-rc1", "https://example.com/fork"
				return i
			}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOptions()
			tt.change(&o)
			if got := o.implementation(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("implementation = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSelected(t *testing.T) {
	feat := func(name string, labels ...string) features.Feature {
		b := features.New(name)
		for i := 0; i < len(labels); i += 2 {
			b = b.WithLabel(labels[i], labels[i+1])
		}
		return b.Feature()
	}
	fs := []features.Feature{
		feat("mesh-weight", "profile", "MESH-HTTP", "feature", "Mesh", "feature", "MeshHTTPRouteWeight"),
		feat("grpc-weight", "profile", "MESH-GRPC", "feature", "Mesh"),
		feat("seed-bookstore", "profile", "gammaproof"),
	}
	tests := []struct {
		name string
		cfg  *envconf.Config
		want int
	}{
		{"all", envconf.New(), 3},
		{"feature regex", envconf.New().WithFeatureRegex("weight"), 2},
		{"skip regex", envconf.New().WithSkipFeatureRegex("^seed"), 2},
		{"label", envconf.New().WithLabels(map[string][]string{"profile": {"MESH-HTTP"}}), 1},
		{"label, either value", envconf.New().WithLabels(map[string][]string{"profile": {"MESH-HTTP", "MESH-GRPC"}}), 2},
		{"labels, every key", envconf.New().WithLabels(map[string][]string{"profile": {"MESH-GRPC"}, "feature": {"MeshHTTPRouteWeight"}}), 0},
		{"skip label", envconf.New().WithSkipLabels(map[string][]string{"feature": {"Mesh"}}), 1},
		{"regex and label", envconf.New().WithFeatureRegex("weight").WithLabels(map[string][]string{"feature": {"MeshHTTPRouteWeight"}}), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := selected(tt.cfg, fs); got != tt.want {
				t.Errorf("selected = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestExistingKubeconfig(t *testing.T) {
	dir := t.TempDir()
	cfg := clientcmdapi.NewConfig()
	for _, n := range []string{"one", "two"} {
		cfg.Clusters[n] = &clientcmdapi.Cluster{Server: "https://" + n + ".example:6443"}
		cfg.AuthInfos[n] = &clientcmdapi.AuthInfo{Token: "token-" + n}
		cfg.Contexts[n] = &clientcmdapi.Context{Cluster: n, AuthInfo: n}
	}
	cfg.CurrentContext = "one"
	path := filepath.Join(dir, "config")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", dir) // no ~/.kube/config

	if got, err := existingKubeconfig(path, "", t.TempDir()); err != nil || got != path {
		t.Errorf("explicit file, no context: %q, %v; want the file itself", got, err)
	}
	t.Setenv("KUBECONFIG", path)
	if got, err := existingKubeconfig("", "", t.TempDir()); err != nil || got != path {
		t.Errorf("$KUBECONFIG: %q, %v; want %s", got, err, path)
	}
	tmp := t.TempDir()
	got, err := existingKubeconfig(path, "two", tmp)
	if err != nil {
		t.Fatal(err)
	}
	back, err := clientcmd.LoadFromFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(got) != tmp || back.CurrentContext != "two" || back.AuthInfos["two"].Token != "token-two" {
		t.Errorf("--context=two gave %s with current context %q", got, back.CurrentContext)
	}
	if fi, err := os.Stat(got); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig copy mode: %v, %v; want 0600", fi.Mode(), err)
	}
	if _, err := existingKubeconfig(path, "three", t.TempDir()); err == nil || !strings.Contains(err.Error(), "three") {
		t.Errorf("unknown context: %v", err)
	}
	t.Setenv("KUBECONFIG", "")
	if _, err := existingKubeconfig("", "", t.TempDir()); err == nil || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Errorf("no kubeconfig anywhere: %v", err)
	}
}
