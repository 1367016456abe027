package xdscontract

import (
	"fmt"
	"net/http"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// AppendAction is what a header addition does when the header exists.
type AppendAction int

// Append actions, as in Envoy's HeaderValueOption.
const (
	AppendOrAdd AppendAction = iota
	AddIfAbsent
	OverwriteOrAdd
	OverwriteIfExists
)

// appendActions maps each AppendAction to Envoy's; index = AppendAction.
var appendActions = [...]core.HeaderValueOption_HeaderAppendAction{
	AppendOrAdd:       core.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
	AddIfAbsent:       core.HeaderValueOption_ADD_IF_ABSENT,
	OverwriteOrAdd:    core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	OverwriteIfExists: core.HeaderValueOption_OVERWRITE_IF_EXISTS,
}

// HeaderValue is one header to add or set.
type HeaderValue struct {
	Key    string
	Value  string
	Action AppendAction
}

// HeaderMods removes then adds headers: a *_headers_to_add and
// *_headers_to_remove pair.
type HeaderMods struct {
	Add    []HeaderValue
	Remove []string
}

// Apply removes then adds headers in h.
func (hm *HeaderMods) Apply(h http.Header) {
	for _, k := range hm.Remove {
		h.Del(k)
	}
	for _, a := range hm.Add {
		_, exists := h[http.CanonicalHeaderKey(a.Key)]
		switch a.Action {
		case AppendOrAdd:
			h.Add(a.Key, a.Value)
		case AddIfAbsent:
			if !exists {
				h.Set(a.Key, a.Value)
			}
		case OverwriteOrAdd:
			h.Set(a.Key, a.Value)
		case OverwriteIfExists:
			if exists {
				h.Set(a.Key, a.Value)
			}
		}
	}
}

// Empty reports whether hm changes nothing.
func (hm *HeaderMods) Empty() bool { return len(hm.Add) == 0 && len(hm.Remove) == 0 }

// EncodeHeaderMods returns the headers to add and to remove of hm.
func EncodeHeaderMods(hm HeaderMods) ([]*core.HeaderValueOption, []string) {
	if len(hm.Add) == 0 {
		return nil, hm.Remove
	}
	// One allocation for the options and one for their headers.
	opts := make([]core.HeaderValueOption, len(hm.Add))
	values := make([]core.HeaderValue, len(hm.Add))
	out := make([]*core.HeaderValueOption, len(hm.Add))
	for i, a := range hm.Add {
		values[i] = core.HeaderValue{Key: a.Key, Value: a.Value}
		opts[i].Header, opts[i].AppendAction = &values[i], appendActions[a.Action]
		out[i] = &opts[i]
	}
	return out, hm.Remove
}

// DecodeHeaderMods decodes a *_headers_to_add and *_headers_to_remove pair;
// path names the headers_to_add field. Pseudo-headers, command operators
// and the deprecated append together with append_action are rejected.
func DecodeHeaderMods(add []*core.HeaderValueOption, remove []string, path string) (HeaderMods, error) {
	var out HeaderMods
	for i, o := range add {
		op := fmt.Sprintf("%s[%d]", path, i)
		if err := OnlyFields(o, op, "header", "append", "append_action", "keep_empty_value"); err != nil {
			return out, err
		}
		h := o.GetHeader()
		if h == nil {
			return out, fmt.Errorf("%s.header: missing", op)
		}
		if err := OnlyFields(h, op+".header", "key", "value", "raw_value"); err != nil {
			return out, err
		}
		if h.GetKey() == "" || strings.HasPrefix(h.GetKey(), ":") {
			return out, Unsupported(op+".header.key", "%q", h.GetKey())
		}
		v := h.GetValue()
		if len(h.GetRawValue()) > 0 {
			v = string(h.GetRawValue())
		}
		if strings.Contains(v, "%") {
			return out, Unsupported(op+".header.value", "command operators (%%...%%) in %q", v)
		}
		hv := HeaderValue{Key: h.GetKey(), Value: v}
		if o.GetAppend() != nil {
			if o.GetAppendAction() != core.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
				return out, fmt.Errorf("%s: both append and append_action set", op)
			}
			if !o.GetAppend().GetValue() {
				hv.Action = OverwriteOrAdd
			}
		} else {
			action := -1
			for a, envoy := range appendActions {
				if envoy == o.GetAppendAction() {
					action = a
				}
			}
			if action < 0 {
				return out, Unsupported(op+".append_action", "%v", o.GetAppendAction())
			}
			hv.Action = AppendAction(action)
		}
		out.Add = append(out.Add, hv)
	}
	for _, r := range remove {
		if r == "" || strings.HasPrefix(r, ":") {
			return out, Unsupported(strings.Replace(path, "_to_add", "_to_remove", 1), "%q", r)
		}
	}
	out.Remove = remove
	return out, nil
}
