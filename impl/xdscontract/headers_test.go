package xdscontract

import (
	"net/http"
	"slices"
	"testing"
)

func TestHeaderMods(t *testing.T) {
	h := http.Header{"A": {"1"}, "B": {"1"}, "C": {"1"}, "Gone": {"x"}}
	mods := HeaderMods{Remove: []string{"gone"}, Add: []HeaderValue{
		{Key: "a", Value: "2", Action: AppendOrAdd},
		{Key: "b", Value: "2", Action: OverwriteOrAdd},
		{Key: "c", Value: "2", Action: AddIfAbsent},
		{Key: "d", Value: "2", Action: AddIfAbsent},
		{Key: "e", Value: "2", Action: OverwriteIfExists},
	}}
	mods.Apply(h)
	want := http.Header{"A": {"1", "2"}, "B": {"2"}, "C": {"1"}, "D": {"2"}}
	for k, v := range want {
		if !slices.Equal(h[k], v) {
			t.Errorf("header %s = %v, want %v", k, h[k], v)
		}
	}
	if _, ok := h["Gone"]; ok {
		t.Error("header Gone not removed")
	}
	if _, ok := h["E"]; ok {
		t.Error("OverwriteIfExists added an absent header")
	}
}
