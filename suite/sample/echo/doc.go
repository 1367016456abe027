// Package echo is the echo backend: it answers HTTP/1.1, h2c and gRPC on one
// port with who it is and what it received, optionally late, failing or
// failing only the first requests of a key.
package echo
