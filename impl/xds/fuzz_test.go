package xds

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/impl/model"
)

// FuzzTranslate feeds Translate meshes with arbitrary matches, filters,
// weights, names and addresses, within what the model can hand it (the
// rules of [modelGuarantees] are the model's to check; meshes breaking
// them are not translated). It must never panic, and whatever it returns
// must validate and be consistent.
//
//	go test ./impl/xds -run '^$' -fuzz FuzzTranslate -fuzztime 60s
func FuzzTranslate(f *testing.F) {
	f.Add(uint8(1), "/books", "x-version", "v2", false, uint32(90), uint32(10), 302, "/new", "bookstore", int32(8080), "198.18.0.11", int64(100), uint8(0))
	f.Add(uint8(2), "/api/(v[0-9]+", "X-Bad Header", "[", true, uint32(0), uint32(0), 305, "/", "", int32(0), "not-an-ip", int64(-1), uint8(7))
	f.Add(uint8(0), "", ":method", "GET", false, uint32(4294967295), uint32(4294967295), 301, "", "a~b", int32(65535), "::1", int64(1), uint8(3))
	f.Fuzz(func(t *testing.T, pathType uint8, path, hname, hval string, regex bool, w1, w2 uint32,
		code int, rewrite, svcName string, port int32, ip string, timeoutMS int64, flags uint8) {
		m := meshSplit()
		if flags&1 != 0 {
			m = meshGRPC()
		}
		l := &m.Listeners[0]
		l.VIPs = append(l.VIPs, ip)
		if flags&2 != 0 {
			l.Name += svcName
			l.Port = port
		}
		m.Clusters[0].Endpoints = append(m.Clusters[0].Endpoints, model.Endpoint{Address: ip, Port: port})
		r := &l.Routes[0]
		r.Match.PathType = []model.PathMatchType{model.PathExact, model.PathPrefix, model.PathRegex, "", "Bogus"}[int(pathType)%5]
		r.Match.PathValue = path
		r.Match.Headers = append(r.Match.Headers, model.StringMatch{Name: strings.ToLower(hname), Value: hval, Regex: regex})
		r.Match.QueryParams = append(r.Match.QueryParams, model.StringMatch{Name: hval, Value: hname, Regex: !regex})
		r.Match.Method = hval
		// The model drops weight-0 backends and answers 500 when none is left.
		r.Backends[0].Weight, r.Backends[1].Weight = w1%1_000_001, w2%1_000_001
		r.Backends = slices.DeleteFunc(r.Backends, func(b model.Backend) bool { return b.Weight == 0 })
		if len(r.Backends) == 0 {
			r.Backends, r.DirectResponse500 = nil, true
		}
		if flags&4 != 0 && len(r.Backends) > 0 {
			r.Backends[len(r.Backends)-1].Invalid = svcName
			r.Backends[len(r.Backends)-1].Cluster = ""
		}
		r.RequestHeaders.Set = append(r.RequestHeaders.Set, model.Header{Name: hname, Value: hval})
		r.ResponseHeaders.Remove = append(r.ResponseHeaders.Remove, hname)
		if len(r.Backends) > 0 {
			r.Backends[0].RequestHeaders.Add = append(r.Backends[0].RequestHeaders.Add, model.Header{Name: hval, Value: hname})
		}
		timeoutMS = max(0, timeoutMS%(1<<40)) // the model rejects negative durations.
		r.Timeouts.Request = time.Duration(timeoutMS) * time.Millisecond
		r.Timeouts.BackendRequest = time.Duration(timeoutMS/2) * time.Millisecond
		if flags&8 != 0 {
			r.Retry = &model.Retry{Attempts: 1 + int(w1%100), Codes: []int{400 + int(uint(code)%200)}, Backoff: time.Duration(timeoutMS)}
		}
		pm := &model.PathModifier{Type: []model.PathModifierType{model.ReplaceFullPath, model.ReplacePrefixMatch, "Bogus"}[int(flags>>4)%3], Value: rewrite}
		switch flags >> 6 {
		case 1:
			r.Redirect = &model.Redirect{Scheme: &hval, Hostname: &svcName, Port: &port, Path: pm, StatusCode: code}
			r.Backends, r.DirectResponse500 = nil, false
		case 2:
			r.Rewrite = &model.URLRewrite{Hostname: &svcName, Path: pm}
		case 3:
			den := int32(w2%1000) + 1
			r.Mirrors = append(r.Mirrors, model.Mirror{Cluster: m.Clusters[0].Name, Numerator: int32(w1 % uint32(den+1)), Denominator: den})
			if regex {
				r.Backends, r.DirectResponse500 = nil, true
			}
		}
		if modelGuarantees(m) != nil {
			return // e.g. a regex that does not compile: the model rejects the rule.
		}
		s, err := Translate(m)
		if err != nil {
			return // a clear error is fine; a panic or an invalid resource is not.
		}
		for _, res := range allResources(s) {
			if err := Validate(res); err != nil {
				t.Fatalf("Translate returned a resource that does not validate: %v", err)
			}
		}
		if err := s.Resources.Consistent(); err != nil {
			t.Fatalf("Translate returned an inconsistent snapshot: %v", err)
		}
	})
}
