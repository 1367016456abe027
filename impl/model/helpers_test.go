package model_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/model/modeltest"
)

// parseInput decodes multi-document YAML into a model.Input.
func parseInput(t testing.TB, docs string) model.Input {
	t.Helper()
	in, err := modeltest.Decode([]byte(docs))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// caseInput is testdata/cases/base.yaml (the Services and endpoints every
// case shares) followed by the named files under testdata/cases.
func caseInput(t testing.TB, files ...string) model.Input {
	t.Helper()
	docs := []string{readCase(t, "base.yaml")}
	for _, f := range files {
		docs = append(docs, readCase(t, f))
	}
	return parseInput(t, strings.Join(docs, "\n---\n"))
}

// readCase returns the text of testdata/cases/<name>.
func readCase(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cases", name))
	if err != nil {
		t.Fatalf("read test input: %v", err)
	}
	return string(b)
}

// listener finds a listener by name.
func listener(t testing.TB, m *model.Mesh, name string) model.Listener {
	t.Helper()
	for _, l := range m.Listeners {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no listener %q; have %v", name, listenerNames(m))
	return model.Listener{}
}

// wantListeners fails unless the mesh's listeners are named want, in
// order; none when want is empty.
func wantListeners(t testing.TB, m *model.Mesh, want ...string) {
	t.Helper()
	if got := listenerNames(m); !slices.Equal(got, want) {
		t.Errorf("listeners = %v, want %v", got, want)
	}
}

func listenerNames(m *model.Mesh) []string {
	var out []string
	for _, l := range m.Listeners {
		out = append(out, l.Name)
	}
	return out
}

// wantStatus fails unless condition typ of route kind/ns/name for the
// parent with the given name (and port) is want, "Status/Reason".
func wantStatus(t testing.TB, m *model.Mesh, route, parent, typ, want string) {
	t.Helper()
	if got := cond(t, m, route, parent, typ); got != want {
		t.Errorf("%s parent %s: %s = %s, want %s", route, parent, typ, got, want)
	}
}

// cond returns "Status/Reason" of a condition of route kind/ns/name for the
// parent with the given name (and port, 0 = none).
func cond(t testing.TB, m *model.Mesh, route, parent, typ string) string {
	t.Helper()
	kind, rest, _ := strings.Cut(route, "/")
	ns, name, _ := strings.Cut(rest, "/")
	for _, rs := range m.Routes {
		if rs.Kind != kind || rs.Namespace != ns || rs.Name != name {
			continue
		}
		for _, p := range rs.Parents {
			id := string(p.ParentRef.Name)
			if p.ParentRef.Port != nil {
				id += fmt.Sprintf(":%d", *p.ParentRef.Port)
			}
			if id != parent {
				continue
			}
			for _, c := range p.Conditions {
				if c.Type == typ {
					if c.ObservedGeneration != rs.Generation {
						t.Errorf("%s %s: observedGeneration %d, want %d", route, typ, c.ObservedGeneration, rs.Generation)
					}
					return string(c.Status) + "/" + c.Reason
				}
			}
			return "absent"
		}
	}
	return "no status"
}

// backends renders a route's backends as "cluster=weight" or "!Reason=weight".
func backends(r model.Route) string {
	if r.DirectResponse500 {
		return "500"
	}
	if r.Redirect != nil {
		return fmt.Sprintf("redirect %d", r.Redirect.StatusCode)
	}
	var s []string
	for _, b := range r.Backends {
		n := b.Cluster
		if b.Invalid != "" {
			n = "!" + b.Invalid
		}
		s = append(s, fmt.Sprintf("%s=%d", n, b.Weight))
	}
	return strings.Join(s, ",")
}

// wantRoutes fails unless the route table of l (see [routeTable]) is want.
func wantRoutes(t testing.TB, l model.Listener, want ...string) {
	t.Helper()
	if got := routeTable(l); !slices.Equal(got, want) {
		t.Errorf("%s routes =\n%q\nwant\n%q", l.Name, got, want)
	}
}

// routeTable renders a listener's routes one per line: "Name path -> backends".
func routeTable(l model.Listener) []string {
	var out []string
	for _, r := range l.Routes {
		out = append(out, fmt.Sprintf("%s %s:%s -> %s", r.Name, r.Match.PathType, r.Match.PathValue, backends(r)))
	}
	return out
}
