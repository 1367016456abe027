// Package upstream knows upstream's own mesh conformance suite,
// sigs.k8s.io/gateway-api/conformance v1.6.3, without running it: the
// feature names upstream defines and which of them are core for MESH-HTTP
// and MESH-GRPC ([FeatureNames]), upstream's mesh tests and the profiles
// they count toward ([MeshTests]), and the per-test verdicts an upstream
// ConformanceReport implies ([Verdicts], [ReadReport]).
//
// Running the suite lives in the runner subpackage: it imports upstream's
// root conformance package (for its embedded manifests), which registers
// upstream's command-line flags (--supported-features, --debug, --version
// and more) on flag.CommandLine at init. This package does not, so any
// binary can import it.
package upstream
