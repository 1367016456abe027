// Package fault injects one catalogued GAMMA bug (internal/faultcatalog)
// into gammaproof's reference implementation, so the suite can be shown a
// wrong mesh that runs on the real proxy and the real eBPF steering with
// real traffic.
//
// A fault is a transformation at the controller: of the controller's
// [model.Input] before [model.Build] (for faults whose evidence Build
// drops, such as weight-0 backends or revoked grants), and/or of the built
// [model.Mesh]. [Sink] wraps the controller's mesh sink (the xDS server):
// on every update it lists the cluster state the controller sees, builds
// the faulty mesh and passes that on. The controller keeps writing route
// status from the correct mesh, as a buggy data plane behind a correct
// control plane would.
//
// Only gamma-controller built with the gammaproof_faults tag imports this
// package; release binaries must not contain it (cmd/gamma-controller has
// the test).
package fault
