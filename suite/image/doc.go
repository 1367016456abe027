// Package image builds OCI image tarballs from our static binaries with
// go-containerregistry: one layer holding the binary, no base image, no
// Dockerfile, no registry.
package image
