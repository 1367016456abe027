// Package procmounts reads the fields of /proc/mounts and
// /proc/self/mountinfo, whose paths escape space, tab, newline and
// backslash as three octal digits (\040 for a space).
package procmounts

import "strings"

// Unescape undoes the octal escapes of a path field. A backslash not
// followed by three octal digits is kept as it is.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, ok := octal(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal(digits string) (byte, bool) {
	var v int
	for _, c := range digits {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	if v > 0xff {
		return 0, false
	}
	return byte(v), true
}
