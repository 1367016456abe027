package config

import "testing"

func TestVirtualHost(t *testing.T) {
	rt := &RouteTable{VirtualHosts: []*VirtualHost{
		{Name: "any", Domains: []string{"*"}},
		{Name: "suffix", Domains: []string{"*.example.org"}},
		{Name: "exact", Domains: []string{"api.example.org"}},
	}}
	for host, want := range map[string]string{
		"api.example.org":      "exact",
		"api.example.org:8080": "exact",
		"www.example.org":      "suffix",
		"bookstore":            "any",
	} {
		if got := rt.VirtualHost(host); got == nil || got.Name != want {
			t.Errorf("VirtualHost(%q) = %v, want %q", host, got, want)
		}
	}
}
