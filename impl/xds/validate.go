package xds

import (
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// validator is what protoc-gen-validate generates for every Envoy message.
type validator interface {
	ValidateAll() error
}

// Validate runs ValidateAll on m and on every message packed in an Any
// anywhere inside it (ValidateAll stops at Anys). The error names the field
// path of the invalid message. Packed types must be linked into the binary
// (this package imports every type it generates).
func Validate(m proto.Message) error {
	r := m.ProtoReflect()
	if err := validate(r, true); err != nil {
		return fmt.Errorf("validate %s%w", r.Descriptor().FullName(), err)
	}
	return nil
}

// pathError prefixes a field path while unwinding; paths are only built on
// failure, so valid messages cost no string work.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

func prefix(p string, err error) error {
	if pe, ok := err.(*pathError); ok {
		return &pathError{path: p + pe.path, err: pe.err}
	}
	return &pathError{path: p, err: err}
}

// validate runs ValidateAll on m when root (ValidateAll descends into every
// field itself, except into Anys) and walks m for Anys to unpack and
// validate as roots.
func validate(m protoreflect.Message, root bool) error {
	if !m.IsValid() {
		return nil
	}
	msg := m.Interface()
	if a, ok := msg.(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return prefix("", fmt.Errorf("unpack %s: %w", a.GetTypeUrl(), err))
		}
		if err := validate(inner.ProtoReflect(), true); err != nil {
			return prefix("<"+string(inner.ProtoReflect().Descriptor().FullName())+">", err)
		}
		return nil
	}
	if v, ok := msg.(validator); ok && root {
		if err := v.ValidateAll(); err != nil {
			return prefix("", err)
		}
	}
	var err error
	for _, fd := range anyFields(m.Descriptor()) {
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				if e := validate(l.Get(i).Message(), false); e != nil {
					return prefix(fmt.Sprintf(".%s[%d]", fd.Name(), i), e)
				}
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if e := validate(mv.Message(), false); e != nil {
					err = prefix(fmt.Sprintf(".%s[%q]", fd.Name(), k.String()), e)
					return false
				}
				return true
			})
		default:
			err = validate(v.Message(), false)
			if err != nil {
				err = prefix("."+string(fd.Name()), err)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// anyFieldsCache caches [anyFields] per message type.
var anyFieldsCache sync.Map // protoreflect.FullName -> []protoreflect.FieldDescriptor

// anyFields returns the fields of md whose values may hold an Any at some
// depth. Walking only those keeps Validate cheap: most of a route is
// matchers and durations that cannot.
func anyFields(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	if v, ok := anyFieldsCache.Load(md.FullName()); ok {
		return v.([]protoreflect.FieldDescriptor)
	}
	var out []protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if sub := valueMessage(fd); sub != nil && mayHoldAny(sub) {
			out = append(out, fd)
		}
	}
	anyFieldsCache.Store(md.FullName(), out)
	return out
}

// valueMessage returns the message type of fd's values (of its map values
// for a map); nil when they are not messages.
func valueMessage(fd protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	if fd.IsMap() {
		return fd.MapValue().Message()
	}
	return fd.Message()
}

// anyHolders caches, per message type, whether a message of that type can
// hold an Any at any depth (protoreflect.FullName -> bool). Walking only
// such fields keeps Validate cheap: most of a route is matchers and
// durations that cannot.
var anyHolders sync.Map

const anyName protoreflect.FullName = "google.protobuf.Any"

// mayHoldAny reports whether md is Any or has a field that may hold one.
func mayHoldAny(md protoreflect.MessageDescriptor) bool {
	if v, ok := anyHolders.Load(md.FullName()); ok {
		return v.(bool)
	}
	return holdsAny(md, map[protoreflect.FullName]bool{})
}

func holdsAny(md protoreflect.MessageDescriptor, visiting map[protoreflect.FullName]bool) bool {
	name := md.FullName()
	if v, ok := anyHolders.Load(name); ok {
		return v.(bool)
	}
	if name == anyName {
		anyHolders.Store(name, true)
		return true
	}
	if visiting[name] {
		return false // a cycle: the answer comes from the other fields.
	}
	visiting[name] = true
	defer delete(visiting, name)
	fields := md.Fields()
	for i := range fields.Len() {
		if sub := valueMessage(fields.Get(i)); sub != nil && holdsAny(sub, visiting) {
			anyHolders.Store(name, true)
			return true
		}
	}
	if len(visiting) == 1 {
		// Only cache "no" at the top: inside a cycle a "no" may be partial.
		anyHolders.Store(name, false)
	}
	return false
}
