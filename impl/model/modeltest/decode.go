package modeltest

import (
	"bytes"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/impl/model"
)

// Decode decodes multi-document YAML (documents separated by a "---" line)
// into a model.Input: the test inputs of the model and xDS packages. A
// document of comments only is skipped; an unknown kind, or a field its
// type does not have, is an error naming the document.
func Decode(b []byte) (model.Input, error) {
	var in model.Input
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if err := AddDocument(&in, doc, true); err != nil {
			return in, fmt.Errorf("document %d: %w", i, err)
		}
	}
	return in, nil
}

// AddDocument decodes one YAML document and appends its object to in, by
// its kind; strict rejects fields the kind's type does not have. A
// document without a kind (comments only) adds nothing; a kind the model
// does not read is an error, and so is an object that does not decode (in
// is then unchanged).
func AddDocument(in *model.Input, doc []byte, strict bool) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if tm.Kind == "" {
		return nil
	}
	add, ok := adders[tm.Kind]
	if !ok {
		return fmt.Errorf("kind %q is not a model input (Service, EndpointSlice, HTTPRoute, GRPCRoute, ReferenceGrant, Namespace)", tm.Kind)
	}
	unmarshal := yaml.Unmarshal
	if strict {
		unmarshal = yaml.UnmarshalStrict
	}
	if err := add(in, doc, unmarshal); err != nil {
		return fmt.Errorf("decode %s: %w", tm.Kind, err)
	}
	return nil
}

type unmarshalFunc func(y []byte, o any, opts ...yaml.JSONOpt) error

// adders append an object of their kind to the input's list of that kind.
var adders = map[string]func(*model.Input, []byte, unmarshalFunc) error{
	"Service":        func(in *model.Input, doc []byte, u unmarshalFunc) error { return appendTo(&in.Services, doc, u) },
	"EndpointSlice":  func(in *model.Input, doc []byte, u unmarshalFunc) error { return appendTo(&in.EndpointSlices, doc, u) },
	"HTTPRoute":      func(in *model.Input, doc []byte, u unmarshalFunc) error { return appendTo(&in.HTTPRoutes, doc, u) },
	"GRPCRoute":      func(in *model.Input, doc []byte, u unmarshalFunc) error { return appendTo(&in.GRPCRoutes, doc, u) },
	"ReferenceGrant": func(in *model.Input, doc []byte, u unmarshalFunc) error { return appendTo(&in.ReferenceGrants, doc, u) },
	"Namespace":      func(in *model.Input, doc []byte, u unmarshalFunc) error { return appendTo(&in.Namespaces, doc, u) },
}

// appendTo decodes doc as a T and appends it to *s.
func appendTo[T any](s *[]T, doc []byte, unmarshal unmarshalFunc) error {
	var o T
	if err := unmarshal(doc, &o); err != nil {
		return err
	}
	*s = append(*s, o)
	return nil
}
