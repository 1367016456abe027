package deploy

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gammaproof/gammaproof/internal/grantpolicy"
)

// Namespace is where the implementation runs.
const Namespace = "gammaproof-system"

// files is the kustomize tree: base/ (grant policy spec) and strict/.
//
//go:embed base/*.yaml strict/*.yaml
var files embed.FS

// imagePrefix starts the image of every container the manifests run.
const imagePrefix = "gammaproof/"

// Option changes what [Manifests] renders.
type Option func(*options)

type options struct {
	registry, tag string
}

// WithImageRegistry makes our images come from registry: an image
// gammaproof/<name>:<t> becomes <registry>/gammaproof/<name>:<tag>, or
// keeps <t> when tag is "". An empty registry changes nothing.
func WithImageRegistry(registry, tag string) Option {
	return func(o *options) { o.registry, o.tag = strings.TrimSuffix(registry, "/"), tag }
}

// Manifests returns the install manifests for a grant policy
// ([grantpolicy.Spec], "" for the same, or [grantpolicy.Strict]; see
// docs/architecture.md) as one multi-document YAML stream, rendered like
// `kubectl kustomize impl/deploy/<dir>`: base/ for spec, strict/ for strict.
func Manifests(policy string, opts ...Option) ([]byte, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	objs, err := objects(policy)
	if err != nil {
		return nil, err
	}
	if o.registry != "" {
		for _, obj := range objs {
			if err := overrideImages(obj, o); err != nil {
				return nil, err
			}
		}
	}
	var b bytes.Buffer
	for i, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("render manifests: %w", err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

// overrideImages points the images of obj's pod template that start with
// imagePrefix at o's registry and tag.
func overrideImages(obj *unstructured.Unstructured, o options) error {
	for _, field := range []string{"containers", "initContainers"} {
		path := []string{"spec", "template", "spec", field}
		cs, found, err := unstructured.NestedSlice(obj.Object, path...)
		if err != nil {
			return fmt.Errorf("render manifests: %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		if !found {
			continue
		}
		for _, c := range cs {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			img, _ := m["image"].(string)
			if !strings.HasPrefix(img, imagePrefix) {
				continue
			}
			if o.tag != "" {
				if i := strings.LastIndex(img, ":"); i >= 0 {
					img = img[:i]
				}
				img += ":" + o.tag
			}
			m["image"] = o.registry + "/" + img
		}
		if err := unstructured.SetNestedSlice(obj.Object, cs, path...); err != nil {
			return fmt.Errorf("render manifests: %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// objects is [Manifests] as objects, in apply order (namespace first).
func objects(policy string) ([]*unstructured.Unstructured, error) {
	var dir string
	switch grantpolicy.Policy(policy) {
	case "", grantpolicy.Spec:
		dir = "base"
	case grantpolicy.Strict:
		dir = "strict"
	default:
		return nil, fmt.Errorf("render manifests: unknown grant policy %q: use %q or %q", policy, grantpolicy.Spec, grantpolicy.Strict)
	}
	docs, err := render(files, dir, 0)
	if err != nil {
		return nil, fmt.Errorf("render manifests: %w", err)
	}
	out := make([]*unstructured.Unstructured, 0, len(docs))
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(d); err != nil {
			return nil, fmt.Errorf("render manifests: %w", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// kustomization is the subset of kustomize's Kustomization we render.
// Decoding is strict: a field we do not render is an error, not a silent
// difference from `kubectl kustomize`.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Patches    []patch  `json:"patches,omitempty"`
}

// patch is a JSON 6902 patch file applied to the objects matching Target.
type patch struct {
	Path   string `json:"path"`
	Target struct {
		Group     string `json:"group,omitempty"`
		Version   string `json:"version,omitempty"`
		Kind      string `json:"kind"`
		Name      string `json:"name"`
		Namespace string `json:"namespace,omitempty"`
	} `json:"target"`
}

// render returns the objects of the kustomization in dir as JSON documents.
func render(fsys fs.FS, dir string, depth int) ([][]byte, error) {
	if depth > 8 {
		return nil, fmt.Errorf("kustomization %s: resources nest too deep", dir)
	}
	raw, err := fs.ReadFile(fsys, path.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		return nil, fmt.Errorf("decode %s/kustomization.yaml: %w", dir, err)
	}
	if k.Kind != "Kustomization" {
		return nil, fmt.Errorf("%s/kustomization.yaml: kind %q is not Kustomization", dir, k.Kind)
	}
	var docs [][]byte
	for _, r := range k.Resources {
		p := path.Join(dir, r)
		if st, err := fs.Stat(fsys, p); err == nil && st.IsDir() {
			sub, err := render(fsys, p, depth+1)
			if err != nil {
				return nil, err
			}
			docs = append(docs, sub...)
			continue
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		split, err := splitYAML(raw)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", p, err)
		}
		docs = append(docs, split...)
	}
	for _, pt := range k.Patches {
		if err := applyPatch(fsys, dir, pt, docs); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func applyPatch(fsys fs.FS, dir string, pt patch, docs [][]byte) error {
	p := path.Join(dir, pt.Path)
	raw, err := fs.ReadFile(fsys, p)
	if err != nil {
		return err
	}
	ops, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return fmt.Errorf("decode patch %s: %w", p, err)
	}
	jp, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		return fmt.Errorf("decode patch %s: %w", p, err)
	}
	matched := 0
	for i, d := range docs {
		var m struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(d, &m); err != nil {
			return err
		}
		group, version, ok := strings.Cut(m.APIVersion, "/")
		if !ok {
			group, version = "", m.APIVersion
		}
		t := pt.Target
		if m.Kind != t.Kind || m.Metadata.Name != t.Name ||
			(t.Namespace != "" && t.Namespace != m.Metadata.Namespace) ||
			(t.Group != "" && t.Group != group) || (t.Version != "" && t.Version != version) {
			continue
		}
		out, err := jp.Apply(d)
		if err != nil {
			return fmt.Errorf("apply patch %s to %s %s: %w", p, m.Kind, m.Metadata.Name, err)
		}
		docs[i] = out
		matched++
	}
	if matched == 0 {
		return fmt.Errorf("patch %s: no object matches its target %s %s", p, pt.Target.Kind, pt.Target.Name)
	}
	return nil
}

// splitYAML splits a multi-document YAML stream into JSON documents,
// dropping empty ones.
func splitYAML(raw []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var out [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if s := string(bytes.TrimSpace(j)); s == "null" || s == "{}" {
			continue
		}
		out = append(out, j)
	}
}
