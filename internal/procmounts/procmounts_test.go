package procmounts

import "testing"

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/state", "/var/lib/state"},
		{`/mnt/my\040dir/x`, "/mnt/my dir/x"},
		{`/mnt/a\011b\134c`, "/mnt/a\tb\\c"},
		{`/mnt/a\09x`, `/mnt/a\09x`},
		{`/mnt/a\777`, `/mnt/a\777`},
		{`/mnt/end\`, `/mnt/end\`},
	}
	for _, tt := range tests {
		if got := Unescape(tt.in); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
