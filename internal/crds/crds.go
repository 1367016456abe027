// Package crds holds the Gateway API CRDs at the pinned sigs.k8s.io/gateway-api
// version, standard and experimental channels, as shipped by that module.
package crds

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// GatewayAPIVersion is the sigs.k8s.io/gateway-api version the CRDs come from.
const GatewayAPIVersion = "v1.6.3"

// Channel is a Gateway API release channel.
type Channel string

// The release channels.
const (
	Standard     Channel = "standard"
	Experimental Channel = "experimental"
)

//go:embed standard/*.yaml experimental/*.yaml
var files embed.FS

// Files returns the channel's manifests by file name.
func Files(ch Channel) (map[string][]byte, error) {
	entries, err := fs.ReadDir(files, string(ch))
	if err != nil {
		return nil, fmt.Errorf("read channel %q: %w", ch, err)
	}
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := files.ReadFile(string(ch) + "/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		out[e.Name()] = b
	}
	return out, nil
}

// CRDs decodes the channel's CustomResourceDefinitions, sorted by name.
// Manifests that are not CRDs (the ValidatingAdmissionPolicy) are left out.
func CRDs(ch Channel) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	m, err := Files(ch)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, n := range names {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(m[n], &meta); err != nil {
			return nil, fmt.Errorf("decode %s: %w", n, err)
		}
		if meta.Kind != "CustomResourceDefinition" {
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(m[n], crd); err != nil {
			return nil, fmt.Errorf("decode %s: %w", n, err)
		}
		out = append(out, crd)
	}
	return out, nil
}
