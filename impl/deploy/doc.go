// Package deploy holds the manifests that install the reference implementation (kustomize layout) and renders them without a kustomize binary.
package deploy
