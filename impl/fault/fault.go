package fault

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/internal/faultcatalog"
)

// Injector applies one fault. Stateful faults (a revoked grant still
// honoured, a deleted route still applied) keep what earlier calls saw, so
// a controller uses one Injector for its lifetime. An Injector is not safe
// for concurrent use; the controller calls its sink from one goroutine.
type Injector struct {
	name string
	// input changes the input before Build; it may modify in's elements.
	input func(in *model.Input)
	// mesh changes the built mesh; in is the input it was built from.
	mesh func(in model.Input, m *model.Mesh)
}

// registry maps each fault name to a constructor of a fresh injector.
var registry = map[string]func() *Injector{
	"split-skew-3":                      func() *Injector { return meshFault(skewSplits(3)) },
	"split-skew-5":                      func() *Injector { return meshFault(skewSplits(5)) },
	"split-skew-8":                      func() *Injector { return meshFault(skewSplits(8)) },
	"weights-ignored":                   func() *Injector { return meshFault(equalWeights(false)) },
	"grpc-weights-ignored":              func() *Injector { return meshFault(equalWeights(true)) },
	"weight-zero-gets-one-percent":      func() *Injector { return &Injector{input: zeroWeightOnePercent} },
	"consumer-route-everywhere":         func() *Injector { return meshFault(consumerEverywhere) },
	"consumer-route-ignored":            func() *Injector { return meshFault(consumerIgnored) },
	"producer-route-own-namespace-only": func() *Injector { return meshFault(producerOwnNamespace) },
	"parentref-port-ignored":            func() *Injector { return &Injector{input: parentPortIgnored} },
	"host-header-matching":              func() *Injector { return meshFault(hostHeaderMatching) },
	"prefix-not-segment-bounded":        func() *Injector { return meshFault(prefixByCharacters) },
	"header-name-case-sensitive":        func() *Injector { return meshFault(headerNamesCaseSensitive) },
	"query-match-ignored":               func() *Injector { return meshFault(queryIgnored) },
	"precedence-by-rule-order":          func() *Injector { return meshFault(ruleOrder) },
	"header-add-replaces":               func() *Injector { return meshFault(addReplaces) },
	"rewrite-double-slash":              func() *Injector { return meshFault(rewriteDoubleSlash) },
	"redirect-drops-port":               func() *Injector { return meshFault(redirectDropsPort) },
	"timeout-ignored":                   func() *Injector { return meshFault(timeoutsIgnored) },
	"retries-on-post":                   func() *Injector { return meshFault(retryEveryMethod) },
	"strict-backend-without-grant":      func() *Injector { return &Injector{mesh: backendsWithoutGrant} },
	"revoked-grant-honoured":            func() *Injector { return &Injector{input: keepGrants()} },
	"deleted-route-still-applied":       func() *Injector { return &Injector{input: keepRoutes()} },
}

func meshFault(f func(m *model.Mesh)) *Injector {
	return &Injector{mesh: func(_ model.Input, m *model.Mesh) { f(m) }}
}

// New returns a fresh injector of the catalogued fault called name. An
// unknown name is an error listing the known ones.
func New(name string) (*Injector, error) {
	if _, err := faultcatalog.Lookup(name); err != nil {
		return nil, err
	}
	mk, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("fault %q is catalogued but not implemented", name)
	}
	j := mk()
	j.name = name
	return j, nil
}

// Implemented lists the names of the faults this package implements,
// sorted.
func Implemented() []string { return slices.Sorted(maps.Keys(registry)) }

// Name returns the fault's catalogue name.
func (j *Injector) Name() string { return j.name }

// Mesh builds the faulty mesh of in. It may modify the elements of in's
// slices: pass a fresh listing (or a deep copy).
func (j *Injector) Mesh(in model.Input) *model.Mesh {
	if j.input != nil {
		j.input(&in)
	}
	m := model.Build(in)
	if j.mesh != nil {
		j.mesh(in, m)
	}
	return m
}
