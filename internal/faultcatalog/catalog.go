// Package faultcatalog is the catalogue of GAMMA faults gammaproof can
// inject into its own reference implementation (impl/fault, build tag
// gammaproof_faults) to show, with numbers, which wrong meshes the suite
// catches. It is data only: each fault's name, what it breaks, the real
// upstream bug or spec text it is modelled on, and the scenarios that must
// catch it. The entries are in catalog.yaml.
//
// Release binaries never import this package; only files built with the
// gammaproof_faults tag (and tests) do.
package faultcatalog

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Fault is one catalogued bug.
type Fault struct {
	// Name is kebab-case and unique; gamma-controller --fault=NAME selects it.
	Name string `json:"name"`
	// Description says in one line what the faulty mesh does.
	Description string `json:"description"`
	// Source is the upstream issue of a real implementation the fault is
	// modelled on, or the Gateway API spec text it violates.
	Source string `json:"source"`
	// Scenarios are folders under scenarios/ that must FAIL against the
	// fault. Empty when no scenario checks the behaviour yet (see Gap).
	Scenarios []string `json:"scenarios"`
	// Statistical is true when catching the fault depends on sampling a
	// share of requests (a split), so a single run may miss it.
	Statistical bool `json:"statistical"`
	// Gap says why no scenario catches the fault yet, and what a scenario
	// must check to catch it; "" when Scenarios catch it.
	Gap string `json:"gap"`
}

// catalogYAML is the catalogue: a YAML list of faults, keyed as Fault's
// JSON tags say.
//
//go:embed catalog.yaml
var catalogYAML []byte

// catalog is catalogYAML decoded. It is compiled in and TestCatalogEntries
// checks every entry, so a malformed one never leaves the repository: the
// panic is for the developer editing it.
var catalog = func() []Fault {
	faults, err := decode(catalogYAML)
	if err != nil {
		panic(err)
	}
	return faults
}()

// decode reads a catalogue; a key Fault does not have is an error.
func decode(data []byte) ([]Fault, error) {
	var faults []Fault
	if err := yaml.UnmarshalStrict(data, &faults); err != nil {
		return nil, fmt.Errorf("fault catalogue catalog.yaml: %w", err)
	}
	return faults, nil
}

// All returns every fault, in catalogue order. The slices are copies.
func All() []Fault {
	out := make([]Fault, len(catalog))
	for i, f := range catalog {
		f.Scenarios = slices.Clone(f.Scenarios)
		out[i] = f
	}
	return out
}

// Names returns every fault's name, in catalogue order.
func Names() []string {
	out := make([]string, len(catalog))
	for i, f := range catalog {
		out[i] = f.Name
	}
	return out
}

// Lookup returns the fault called name, or an error listing the names.
func Lookup(name string) (Fault, error) {
	for _, f := range All() {
		if f.Name == name {
			return f, nil
		}
	}
	return Fault{}, fmt.Errorf("unknown fault %q; known faults: %s", name, strings.Join(Names(), ", "))
}
