package config

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrUnsupported is wrapped by every error about a field, type or value
// the data plane does not implement.
var ErrUnsupported = errors.New("not supported by the gammaproof proxy")

// onlyFields fails when m has a set field not in allowed, or unknown fields.
func onlyFields(m proto.Message, path string, allowed ...string) error {
	r := m.ProtoReflect()
	if !r.IsValid() {
		return nil
	}
	if len(r.GetUnknown()) > 0 {
		return fmt.Errorf("%s: unknown fields: %w", path, ErrUnsupported)
	}
	var names []string
	r.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if !slices.Contains(allowed, string(fd.Name())) {
			names = append(names, string(fd.Name()))
		}
		return true
	})
	if len(names) > 0 {
		slices.Sort(names)
		return fmt.Errorf("%s.%s: %w", path, names[0], ErrUnsupported)
	}
	return nil
}

func unsupported(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", path, fmt.Sprintf(format, args...), ErrUnsupported)
}
