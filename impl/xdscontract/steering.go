package xdscontract

import (
	"fmt"
	"net/netip"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// Steering is what the node agent needs to steer connections to a
// listener. It travels as the listener's filter_metadata
// [SteeringMetadataKey]: {"vips": [...], "servicePort": n,
// "callerNamespace": ..., "service": ...}.
type Steering struct {
	VIPs            []netip.Addr // ClusterIPs of the Service.
	ServicePort     uint32
	CallerNamespace string // "" = any caller.
	Service         string // "<ns>/<name>".
}

// EncodeSteeringMetadata returns the listener metadata carrying s.
func EncodeSteeringMetadata(s Steering) (*core.Metadata, error) {
	st, err := EncodeSteering(s)
	if err != nil {
		return nil, err
	}
	return &core.Metadata{FilterMetadata: map[string]*structpb.Struct{SteeringMetadataKey: st}}, nil
}

// DecodeSteeringMetadata returns the steering of a listener's metadata
// (path names it in errors); the zero Steering when md has none.
func DecodeSteeringMetadata(md *core.Metadata, path string) (Steering, error) {
	if md == nil {
		return Steering{}, nil
	}
	if err := OnlyFields(md, path, "filter_metadata"); err != nil {
		return Steering{}, err
	}
	s, ok := md.GetFilterMetadata()[SteeringMetadataKey]
	if !ok {
		return Steering{}, nil
	}
	return DecodeSteering(s, fmt.Sprintf("%s.filter_metadata[%q]", path, SteeringMetadataKey))
}

// EncodeSteering is s as a Struct: what structpb.NewStruct makes of the
// JSON object, without its map[string]any and reflection. Strings must be
// valid UTF-8.
func EncodeSteering(s Steering) (*structpb.Struct, error) {
	vips := make([]*structpb.Value, len(s.VIPs))
	for i, v := range s.VIPs {
		vips[i] = structpb.NewStringValue(v.String())
	}
	caller, err := structpb.NewValue(s.CallerNamespace)
	if err != nil {
		return nil, fmt.Errorf("encode steering callerNamespace: %w", err)
	}
	service, err := structpb.NewValue(s.Service)
	if err != nil {
		return nil, fmt.Errorf("encode steering service: %w", err)
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"vips":            structpb.NewListValue(&structpb.ListValue{Values: vips}),
		"servicePort":     structpb.NewNumberValue(float64(s.ServicePort)),
		"callerNamespace": caller,
		"service":         service,
	}}, nil
}

// DecodeSteering reads a Struct written by [EncodeSteering]; an unknown
// key is unsupported.
func DecodeSteering(s *structpb.Struct, path string) (Steering, error) {
	var st Steering
	for k, v := range s.GetFields() {
		fp := path + "." + k
		switch k {
		case "vips":
			lv := v.GetListValue()
			if lv == nil {
				return st, fmt.Errorf("%s: want a list of IP strings", fp)
			}
			for i, e := range lv.GetValues() {
				a, err := netip.ParseAddr(e.GetStringValue())
				if err != nil {
					return st, fmt.Errorf("%s[%d]: parse IP %q: %w", fp, i, e.GetStringValue(), err)
				}
				st.VIPs = append(st.VIPs, a)
			}
		case "servicePort":
			n, ok := v.GetKind().(*structpb.Value_NumberValue)
			if !ok || n.NumberValue < 0 || n.NumberValue > 65535 || n.NumberValue != float64(uint32(n.NumberValue)) {
				return st, fmt.Errorf("%s: want a port number, got %v", fp, v.AsInterface())
			}
			st.ServicePort = uint32(n.NumberValue)
		case "callerNamespace":
			sv, ok := v.GetKind().(*structpb.Value_StringValue)
			if !ok {
				return st, fmt.Errorf("%s: want a string", fp)
			}
			st.CallerNamespace = sv.StringValue
		case "service":
			sv, ok := v.GetKind().(*structpb.Value_StringValue)
			if !ok {
				return st, fmt.Errorf("%s: want a string", fp)
			}
			st.Service = sv.StringValue
		default:
			return st, Unsupported(fp, "unknown steering key")
		}
	}
	return st, nil
}
