// Package profile names the conformance profiles a scenario counts toward:
// upstream's mesh profiles and gammaproof's own behaviours.
package profile

// Profiles.
const (
	// MeshHTTP is upstream's MESH-HTTP conformance profile.
	MeshHTTP = "MESH-HTTP"
	// MeshGRPC is upstream's MESH-GRPC conformance profile.
	MeshGRPC = "MESH-GRPC"
	// Gammaproof marks gammaproof's own behaviours: checked and reported,
	// but counted toward no upstream profile.
	Gammaproof = "gammaproof"
)

// All lists every profile, upstream's first.
var All = []string{MeshHTTP, MeshGRPC, Gammaproof}

// Upstream lists the profiles upstream's conformance report has.
var Upstream = []string{MeshHTTP, MeshGRPC}

// Valid reports whether name is one of [All].
func Valid(name string) bool {
	for _, p := range All {
		if p == name {
			return true
		}
	}
	return false
}
