package xdscontract

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ErrUnsupported is wrapped by every decode error about a field, type or
// value the proxy does not implement: the decoders are strict, so a
// control plane learns (by a NACK) that a field it set has no effect
// instead of traffic silently behaving otherwise.
var ErrUnsupported = errors.New("not supported by the gammaproof proxy")

// OnlyFields fails when m has a set field not in allowed, or unknown
// fields; path names m in the error.
func OnlyFields(m proto.Message, path string, allowed ...string) error {
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

// Unsupported returns an error wrapping [ErrUnsupported] about the field
// at path.
func Unsupported(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", path, fmt.Sprintf(format, args...), ErrUnsupported)
}

// DecodeDuration decodes an optional non-negative duration; nil is 0.
func DecodeDuration(d *durationpb.Duration, path string) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil || d.AsDuration() < 0 {
		return 0, fmt.Errorf("%s: invalid duration %v", path, d)
	}
	return d.AsDuration(), nil
}

// encodeRegex is the RE2 matcher of expr.
func encodeRegex(expr string) *matcher.RegexMatcher {
	return &matcher.RegexMatcher{Regex: expr}
}

// decodeRegex returns the expression of m and its compiled form, anchored
// when the whole value must match.
func decodeRegex(m *matcher.RegexMatcher, path string, anchored bool) (string, *regexp.Regexp, error) {
	if m == nil {
		return "", nil, fmt.Errorf("%s: missing", path)
	}
	if err := OnlyFields(m, path, "regex", "google_re2"); err != nil {
		return "", nil, err
	}
	if g := m.GetGoogleRe2(); g != nil {
		if err := OnlyFields(g, path+".google_re2"); err != nil {
			return "", nil, err
		}
	}
	expr := m.GetRegex()
	if anchored {
		expr = `^(?:` + expr + `)$`
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return "", nil, fmt.Errorf("%s.regex: compile %q: %w", path, m.GetRegex(), err)
	}
	return m.GetRegex(), re, nil
}
