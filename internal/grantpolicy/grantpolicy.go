// Package grantpolicy names when a mesh route's cross-namespace references
// need a ReferenceGrant. The controller runs with one policy; the suite and
// its reports name the policy a run was made under.
package grantpolicy

import "fmt"

// Policy says when cross-namespace references need a ReferenceGrant.
type Policy string

const (
	// Spec follows GEP-1294: mesh routes may reference parents and backends
	// in other namespaces without a ReferenceGrant. The default.
	Spec Policy = "spec"
	// Strict requires a ReferenceGrant in the target namespace for a
	// consumer parentRef and for every cross-namespace backendRef.
	Strict Policy = "strict"
)

// All lists every policy, default first.
var All = []Policy{Spec, Strict}

// Parse parses "spec" or "strict"; "" means [Spec].
func Parse(s string) (Policy, error) {
	switch Policy(s) {
	case "", Spec:
		return Spec, nil
	case Strict:
		return Strict, nil
	}
	return "", fmt.Errorf("parse grant policy %q: want %s or %s", s, Spec, Strict)
}

// ValidOrEmpty reports whether s is a policy or "" (policy not known or not
// restricted).
func ValidOrEmpty(s string) bool {
	return s == "" || Policy(s) == Spec || Policy(s) == Strict
}
