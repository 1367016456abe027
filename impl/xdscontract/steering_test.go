package xdscontract

import (
	"net/netip"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestEncodeSteering checks that the hand-built steering metadata is what
// structpb.NewStruct makes of the same values, and that invalid UTF-8 fails.
func TestEncodeSteering(t *testing.T) {
	s := Steering{VIPs: []netip.Addr{netip.MustParseAddr("198.19.0.1"), netip.MustParseAddr("fd00::1")}, ServicePort: 8080, CallerNamespace: "shop", Service: "default/bookstore"}
	got, err := EncodeSteering(s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := structpb.NewStruct(map[string]any{
		"vips":            []any{"198.19.0.1", "fd00::1"},
		"servicePort":     float64(8080),
		"callerNamespace": "shop",
		"service":         "default/bookstore",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("EncodeSteering = %v, want %v", got, want)
	}
	for _, bad := range []Steering{{CallerNamespace: "\xff"}, {Service: "\xff"}} {
		if _, err := EncodeSteering(bad); err == nil {
			t.Errorf("EncodeSteering(%+v): no error for invalid UTF-8", bad)
		}
	}
}
