package e2e

import (
	"flag"
	"strings"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	defaults := func() Options { return *RegisterFlags(flag.NewFlagSet("e2e", flag.ContinueOnError)) }
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{"defaults", func(*Options) {}, ""},
		{"gammaproof strict", func(o *Options) { o.GrantPolicy = "strict" }, ""},
		{"gammaproof needs a policy", func(o *Options) { o.GrantPolicy = "" }, "--grant-policy"},
		{"gammaproof unknown policy", func(o *Options) { o.GrantPolicy = "lax" }, "--grant-policy"},
		{"existing, policy unknown", func(o *Options) { o.Implementation, o.GrantPolicy = ImplExisting, "" }, ""},
		{"existing, strict", func(o *Options) { o.Implementation, o.GrantPolicy = ImplExisting, "strict" }, ""},
		{"existing, bad policy", func(o *Options) { o.Implementation, o.GrantPolicy = ImplExisting, "Strict" }, "--grant-policy"},
		{"bad env", func(o *Options) { o.Env = "minikube" }, "--env"},
		{"bad implementation", func(o *Options) { o.Implementation = "istio" }, "--implementation"},
		{"bad alpha", func(o *Options) { o.Alpha = 2 }, "--alpha"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaults()
			tt.change(&o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want an error about %s", err, tt.wantErr)
			}
		})
	}
}
