package upstream

import "strings"

// SplitList reads a comma-separated flag value the way upstream's list
// flags are written (--supported-features=Mesh,HTTPRoute): each item
// trimmed of spaces, empty items dropped. "a, b,,c " is a, b and c; "" is
// none. The suite's own list flags (--exempt-features, --contact, --faults)
// use it too.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
