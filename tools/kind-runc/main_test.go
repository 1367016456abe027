package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// status24 is a /proc/self/status whose bounding set lacks CAP_SYS_RESOURCE (bit 24).
const status24 = "Name:\tx\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\n"

func TestBoundingSet(t *testing.T) {
	set, err := BoundingSet(status24)
	if err != nil {
		t.Fatal(err)
	}
	if set["CAP_SYS_RESOURCE"] || !set["CAP_SYS_ADMIN"] || !set["CAP_CHECKPOINT_RESTORE"] {
		t.Fatalf("set = %v", set)
	}
	if _, err := BoundingSet("Name:\tx\n"); err == nil {
		t.Fatal("no CapBnd line: want an error")
	}
	if _, err := BoundingSet("CapBnd:\tzz\n"); err == nil {
		t.Fatal("bad CapBnd: want an error")
	}
}

func TestSpecFile(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--root", "/r", "create", "--bundle", "/b", "id"}, "/b/config.json"},
		{[]string{"create", "--bundle=/b", "id"}, "/b/config.json"},
		{[]string{"exec", "--process", "/tmp/p.json", "id"}, "/tmp/p.json"},
		{[]string{"exec", "-p=/x"}, ""},
		{[]string{"delete", "id"}, ""},
	}
	for _, tt := range tests {
		if got := SpecFile(tt.args); got != tt.want {
			t.Errorf("SpecFile(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestFilter(t *testing.T) {
	set, _ := BoundingSet(status24)
	tests := []struct {
		name, in    string
		wantChanged bool
		wantCaps    string
	}{
		{"spec", `{"ociVersion":"1.0.2","process":{"user":{"uid":0},"capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"]}},"linux":{"resources":{"memory":{"limit":9223372036854775807}}}}`, true, `{"bounding":["CAP_SYS_ADMIN"],"effective":[]}`},
		{"process file", `{"args":["sh"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_FUTURE"]}}`, true, `{"bounding":["CAP_FUTURE"]}`},
		{"nothing to drop", `{"process":{"capabilities":{"bounding":["CAP_KILL"]}}}`, false, `{"bounding":["CAP_KILL"]}`},
		{"no capabilities", `{"process":{"args":["x"]}}`, false, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := Filter([]byte(tt.in), set)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tt.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if strings.Contains(tt.in, "9223372036854775807") && !strings.Contains(string(out), "9223372036854775807") {
				t.Fatalf("a large number was not kept exactly: %s", out)
			}
			if tt.wantCaps == "" {
				return
			}
			var doc map[string]any
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			proc := doc
			if p, ok := doc["process"].(map[string]any); ok {
				proc = p
			}
			got, _ := json.Marshal(proc["capabilities"])
			if string(got) != tt.wantCaps {
				t.Fatalf("capabilities = %s, want %s", got, tt.wantCaps)
			}
		})
	}
	if _, _, err := Filter([]byte("{"), set); err == nil {
		t.Fatal("broken JSON: want an error")
	}
}

func TestFilterFile(t *testing.T) {
	set, _ := BoundingSet(status24)
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(`{"process":{"capabilities":{"permitted":["CAP_SYS_RESOURCE","CAP_NET_ADMIN"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := FilterFile(p, set); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if strings.Contains(string(b), "CAP_SYS_RESOURCE") || !strings.Contains(string(b), "CAP_NET_ADMIN") {
		t.Fatalf("file after filtering: %s", b)
	}
	if err := FilterFile(filepath.Join(t.TempDir(), "missing.json"), set); err == nil {
		t.Fatal("missing file: want an error")
	}
}
