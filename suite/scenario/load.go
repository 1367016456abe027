package scenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	pathpkg "path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/internal/grantpolicy"
	"github.com/gammaproof/gammaproof/internal/kubeapply"
	"github.com/gammaproof/gammaproof/scenarios"
	"github.com/gammaproof/gammaproof/suite/profile"
)

// ExpectFile is the name of a scenario's expectations file.
const ExpectFile = "expect.yaml"

// UnmarshalJSON reads "100ms"-style durations.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"100ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as "100ms".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// BuiltinLabel names the scenarios built into the program (package
// scenarios) in [Scenario.Dir] and in errors: "built-in/mesh-basic".
const BuiltinLabel = "built-in"

// LoadAll loads every scenario folder under root, sorted by name; root ""
// loads the scenarios built into the program instead ([Builtin]). All
// problems are reported together, each naming its file and field.
func LoadAll(root string) ([]*Scenario, error) {
	if root == "" {
		return Builtin()
	}
	return LoadFS(os.DirFS(root), root)
}

// Builtin loads the scenarios built into the program: those of the
// checkout's scenarios/ when it was compiled, so a lone binary needs no
// files beside it.
func Builtin() ([]*Scenario, error) {
	return LoadFS(scenarios.FS(), BuiltinLabel)
}

// LoadFS loads every top-level folder of fsys as a scenario, sorted by
// name. label says where fsys is (a directory, or [BuiltinLabel]): each
// scenario's Dir is label/<folder>, and errors name files under it. All
// problems are reported together.
func LoadFS(fsys fs.FS, label string) ([]*Scenario, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read scenarios in %s: %w", label, err)
	}
	var out []*Scenario
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := load(source{fsys: fsys, dir: e.Name()}, filepath.Join(label, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read scenarios: no scenario folders in %s", label)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Load reads and validates one scenario folder on disk.
func Load(dir string) (*Scenario, error) {
	return load(source{fsys: os.DirFS(dir), dir: "."}, dir)
}

// source is where a scenario's files are: folder dir of fsys.
type source struct {
	fsys fs.FS
	dir  string
}

// source returns where s's files are.
func (s *Scenario) source() source {
	if s.files.fsys != nil {
		return s.files
	}
	return source{fsys: os.DirFS(s.Dir), dir: "."}
}

// load reads and validates the scenario folder of src; display is the
// folder's path for Dir and errors.
func load(src source, display string) (*Scenario, error) {
	path := filepath.Join(display, ExpectFile)
	raw, err := fs.ReadFile(src.fsys, pathpkg.Join(src.dir, ExpectFile))
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", filepath.Base(display), err)
	}
	s := &Scenario{}
	if err := yaml.UnmarshalStrict(raw, s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Dir = display
	if s.Name == "" {
		s.Name = filepath.Base(display)
	}
	if errs := validate(s, src); len(errs) > 0 {
		for i := range errs {
			errs[i] = fmt.Errorf("%s: %w", path, errs[i])
		}
		return nil, errors.Join(errs...)
	}
	s.files = src
	return s, nil
}

// Objects decodes a manifest file of the scenario into objects, in order.
func (s *Scenario) Objects(file string) ([]*unstructured.Unstructured, error) {
	return decodeManifest(s.source(), s.Dir, file)
}

// decodeManifest decodes manifest file of the scenario folder src, whose
// path for errors is display.
func decodeManifest(src source, display, file string) ([]*unstructured.Unstructured, error) {
	path := filepath.Join(display, file)
	rel := filepath.ToSlash(file)
	if !fs.ValidPath(rel) || rel == "." {
		return nil, fmt.Errorf("read manifest %s: not a file in the scenario folder", path)
	}
	raw, err := fs.ReadFile(src.fsys, pathpkg.Join(src.dir, rel))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	out, err := kubeapply.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no Kubernetes objects", path)
	}
	return out, nil
}

func validate(s *Scenario, src source) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !profile.Valid(s.Profile) {
		bad("profile", "%q is not one of %s", s.Profile, strings.Join(profile.All, ", "))
	}
	if !grantpolicy.ValidOrEmpty(s.GrantPolicy) {
		bad("grantPolicy", "%q is not %s or %s", s.GrantPolicy, grantpolicy.Spec, grantpolicy.Strict)
	}
	errs = append(errs, validateUpstream(s)...)
	if len(s.Steps) == 0 {
		bad("steps", "at least one step is needed")
	}
	for i, st := range s.Steps {
		f := fmt.Sprintf("steps[%d]", i)
		if len(st.Apply)+len(st.Delete)+len(st.Checks)+len(st.Exec)+len(st.WaitFor) == 0 {
			bad(f, "step %q does nothing", st.Name)
		}
		for j, m := range append(append([]string{}, st.Apply...), st.Delete...) {
			if filepath.IsAbs(m) || strings.Contains(m, "..") {
				bad(fmt.Sprintf("%s.apply/delete[%d]", f, j), "%q must be a file in the scenario folder", m)
				continue
			}
			if _, err := decodeManifest(src, s.Dir, m); err != nil {
				bad(fmt.Sprintf("%s.apply/delete[%d]", f, j), "%v", err)
			}
		}
		for j, w := range st.WaitFor {
			wf := fmt.Sprintf("%s.waitFor[%d]", f, j)
			switch {
			case (w.PodsReady == nil) == (w.RouteCondition == nil):
				bad(wf, "set exactly one of podsReady, routeCondition")
			case w.PodsReady != nil && w.PodsReady.Namespace == "":
				bad(wf+".podsReady.namespace", "is required")
			case w.RouteCondition != nil:
				rc := w.RouteCondition
				if rc.Route.Kind != "HTTPRoute" && rc.Route.Kind != "GRPCRoute" {
					bad(wf+".routeCondition.route.kind", "%q is not HTTPRoute or GRPCRoute", rc.Route.Kind)
				}
				if rc.Route.Name == "" || rc.Route.Namespace == "" || rc.Parent.Name == "" {
					bad(wf+".routeCondition", "route namespace/name and parent name are required")
				}
				if rc.Status != "True" && rc.Status != "False" {
					bad(wf+".routeCondition.status", "%q is not True or False", rc.Status)
				}
			}
		}
		for j, c := range st.Checks {
			cf := fmt.Sprintf("%s.checks[%d]", f, j)
			if c.From.Namespace == "" || c.From.Pod == "" {
				bad(cf+".from", "namespace and pod are required")
			}
			if c.Request.GRPC {
				if _, _, ok := strings.Cut(c.Request.URL, ":"); !ok {
					bad(cf+".request.url", "%q: a gRPC target is host:port", c.Request.URL)
				}
			} else if u, err := url.Parse(c.Request.URL); err != nil || u.Scheme == "" || u.Host == "" {
				bad(cf+".request.url", "%q is not an absolute http URL", c.Request.URL)
			}
			errs = append(errs, validateExpect(cf+".expect", c.Expect)...)
			if c.MaxRequests < 0 {
				bad(cf+".maxRequests", "must not be negative")
			}
		}
		for j, e := range st.Exec {
			if e.Namespace == "" || e.Pod == "" || len(e.Command) == 0 || len(e.Contains) == 0 {
				bad(fmt.Sprintf("%s.exec[%d]", f, j), "namespace, pod, command and contains are required")
			}
		}
	}
	return errs
}

func validateExpect(f string, e Expect) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	checkShares := func(field string, m map[string]float64) {
		if len(m) == 0 {
			return
		}
		sum := 0.0
		for k, v := range m {
			if v < 0 || v > 1 || math.IsNaN(v) {
				bad(field+"."+k, "share %v is not within [0, 1]", v)
			}
			sum += v
		}
		if math.Abs(sum-1) > 1e-9 {
			bad(field, "shares sum to %v, want 1", sum)
		}
	}
	checkShares(f+".split", e.Split)
	checkShares(f+".statusShare", e.StatusShare)
	for k := range e.StatusShare {
		if c, err := strconv.Atoi(k); err != nil || c < 100 || c > 599 {
			bad(f+".statusShare", "%q is not an HTTP status code", k)
		}
	}
	if e.Status != 0 && (e.Status < 100 || e.Status > 599) {
		bad(f+".status", "%d is not an HTTP status code", e.Status)
	}
	for _, z := range e.Zero {
		if _, ok := e.Split[z]; ok && e.Split[z] > 0 {
			bad(f+".zero", "%q also has a positive share in split", z)
		}
	}
	if len(e.Split) == 0 && len(e.Zero) == 0 && e.Status == 0 && len(e.StatusShare) == 0 &&
		len(e.ResponseHeaders) == 0 && len(e.RequestHeaders) == 0 && e.Path == "" && e.Location == "" &&
		e.MaxLatency.Duration == 0 && e.MinLatency.Duration == 0 {
		bad(f, "expects nothing")
	}
	return errs
}
