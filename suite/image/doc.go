// Package image builds OCI images from our static binaries with
// go-containerregistry: one layer holding the binary, no base image, no
// Dockerfile, no Docker. It writes them as tarballs for kind ([WriteAll])
// or pushes multi-architecture image indexes to a registry ([Push]), and
// cross-compiles the binaries for another architecture ([CrossCompile]).
package image
