package modeltest

import (
	"bytes"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
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
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return in, fmt.Errorf("decode document %d: %w", i, err)
		}
		var err error
		switch tm.Kind {
		case "Service":
			in.Services, err = appendDecoded(in.Services, doc)
		case "EndpointSlice":
			in.EndpointSlices, err = appendDecoded(in.EndpointSlices, doc)
		case "HTTPRoute":
			in.HTTPRoutes, err = appendDecoded(in.HTTPRoutes, doc)
		case "GRPCRoute":
			in.GRPCRoutes, err = appendDecoded(in.GRPCRoutes, doc)
		case "ReferenceGrant":
			in.ReferenceGrants, err = appendDecoded(in.ReferenceGrants, doc)
		case "Namespace":
			in.Namespaces, err = appendDecoded(in.Namespaces, doc)
		case "":
			// A document of comments only.
		default:
			return in, fmt.Errorf("decode document %d: kind %q is not a model input (Service, EndpointSlice, HTTPRoute, GRPCRoute, ReferenceGrant, Namespace)", i, tm.Kind)
		}
		if err != nil {
			return in, fmt.Errorf("decode %s in document %d: %w", tm.Kind, i, err)
		}
	}
	return in, nil
}

// appendDecoded decodes doc strictly as a T and appends it to s.
func appendDecoded[T corev1.Service | discoveryv1.EndpointSlice | gwv1.HTTPRoute | gwv1.GRPCRoute | gwv1beta1.ReferenceGrant | corev1.Namespace](s []T, doc []byte) ([]T, error) {
	var o T
	err := yaml.UnmarshalStrict(doc, &o)
	return append(s, o), err
}
