// Package kind is an e2e-framework cluster provider that creates kind
// clusters through the kind Go library, so no kind CLI is needed, and loads
// our OCI image tarballs into the nodes with kind's node utilities.
package kind
