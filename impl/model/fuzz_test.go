package model_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/model/modeltest"
	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

// FuzzBuild checks that Build never panics and is deterministic: the same
// input, also in reverse order, gives a deep-equal mesh.
func FuzzBuild(f *testing.F) {
	f.Add([]byte(readCase(f, "base.yaml")), false)
	for _, file := range modeltest.TestdataFiles(f) {
		f.Add(file.YAML, false)
		f.Add(file.YAML, true)
	}
	f.Fuzz(func(t *testing.T, docs []byte, strict bool) {
		in, err := modeltest.Decode(docs)
		if err != nil {
			return // not Kubernetes objects: nothing to build.
		}
		if strict {
			in.GrantPolicy = grantpolicy.Strict
		}
		m1 := model.Build(in)
		m2 := model.Build(in)
		if !reflect.DeepEqual(m1, m2) {
			t.Fatalf("two Builds of the same input differ")
		}
		if hasDuplicates(in) {
			return // the API server never holds two objects with one name.
		}
		rev := in
		rev.Services = slices.Clone(in.Services)
		slices.Reverse(rev.Services)
		rev.EndpointSlices = slices.Clone(in.EndpointSlices)
		slices.Reverse(rev.EndpointSlices)
		rev.HTTPRoutes = slices.Clone(in.HTTPRoutes)
		slices.Reverse(rev.HTTPRoutes)
		rev.GRPCRoutes = slices.Clone(in.GRPCRoutes)
		slices.Reverse(rev.GRPCRoutes)
		rev.ReferenceGrants = slices.Clone(in.ReferenceGrants)
		slices.Reverse(rev.ReferenceGrants)
		if m3 := model.Build(rev); !reflect.DeepEqual(m1, m3) {
			t.Fatalf("Build depends on input order")
		}
	})
}

func hasDuplicates(in model.Input) bool {
	seen := map[string]bool{}
	dup := false
	add := func(kind, ns, name string) {
		k := kind + "/" + ns + "/" + name
		dup = dup || seen[k]
		seen[k] = true
	}
	for _, o := range in.Services {
		add("Service", o.Namespace, o.Name)
	}
	for _, o := range in.EndpointSlices {
		add("EndpointSlice", o.Namespace, o.Name)
	}
	for _, o := range in.HTTPRoutes {
		add("HTTPRoute", o.Namespace, o.Name)
	}
	for _, o := range in.GRPCRoutes {
		add("GRPCRoute", o.Namespace, o.Name)
	}
	return dup
}
