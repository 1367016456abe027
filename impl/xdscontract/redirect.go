package xdscontract

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// Redirect answers with a redirect built from the request: a
// RedirectAction. At most one of Path, PrefixRewrite and RegexRewrite is
// set.
type Redirect struct {
	Scheme        string // lower case; "" keeps the request's.
	Host          string
	Port          uint32
	Path          string
	PrefixRewrite string
	RegexRewrite  *RegexRewrite
	Status        int // 301, 302, 303, 307 or 308.
	StripQuery    bool
}

// redirectCodes maps Redirect.Status to Envoy's response code.
var redirectCodes = map[int]route.RedirectAction_RedirectResponseCode{
	301: route.RedirectAction_MOVED_PERMANENTLY,
	302: route.RedirectAction_FOUND,
	303: route.RedirectAction_SEE_OTHER,
	307: route.RedirectAction_TEMPORARY_REDIRECT,
	308: route.RedirectAction_PERMANENT_REDIRECT,
}

// Location returns the redirect target for r, whose route matched m.
func (rd *Redirect) Location(m *Match, r *http.Request) string {
	scheme := "http"
	if rd.Scheme != "" {
		scheme = rd.Scheme
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, ""
	}
	if rd.Host != "" {
		host = rd.Host
	}
	switch {
	case rd.Port != 0:
		port = strconv.FormatUint(uint64(rd.Port), 10)
	case rd.Scheme != "":
		port = ""
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	hostport := host
	if port != "" {
		hostport = net.JoinHostPort(host, port)
	}
	path := r.URL.EscapedPath()
	query := r.URL.RawQuery
	switch {
	case rd.Path != "":
		path = rd.Path
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path, query = path[:i], path[i+1:]
		}
	case rd.PrefixRewrite != "":
		path = rd.PrefixRewrite + strings.TrimPrefix(path, m.Path)
	case rd.RegexRewrite != nil:
		path = rd.RegexRewrite.Replace(path)
	}
	if rd.StripQuery {
		query = ""
	}
	loc := scheme + "://" + hostport + path
	if query != "" {
		loc += "?" + query
	}
	return loc
}

// EncodeRedirect returns the RedirectAction of rd.
func EncodeRedirect(rd *Redirect) (*route.RedirectAction, error) {
	code, ok := redirectCodes[rd.Status]
	if !ok {
		return nil, fmt.Errorf("encode redirect: status %d is not one of 301, 302, 303, 307, 308", rd.Status)
	}
	out := &route.RedirectAction{ResponseCode: code, HostRedirect: rd.Host, PortRedirect: rd.Port, StripQuery: rd.StripQuery}
	if rd.Scheme != "" {
		out.SchemeRewriteSpecifier = &route.RedirectAction_SchemeRedirect{SchemeRedirect: rd.Scheme}
	}
	switch {
	case rd.Path != "":
		out.PathRewriteSpecifier = &route.RedirectAction_PathRedirect{PathRedirect: rd.Path}
	case rd.PrefixRewrite != "":
		out.PathRewriteSpecifier = &route.RedirectAction_PrefixRewrite{PrefixRewrite: rd.PrefixRewrite}
	case rd.RegexRewrite != nil:
		out.PathRewriteSpecifier = &route.RedirectAction_RegexRewrite{RegexRewrite: encodeRegexRewrite(rd.RegexRewrite)}
	}
	return out, nil
}

// DecodeRedirect decodes a RedirectAction; path names it in errors.
func DecodeRedirect(r *route.RedirectAction, path string) (*Redirect, error) {
	if err := OnlyFields(r, path, "https_redirect", "scheme_redirect", "host_redirect", "port_redirect",
		"path_redirect", "prefix_rewrite", "regex_rewrite", "response_code", "strip_query"); err != nil {
		return nil, err
	}
	out := &Redirect{Host: r.GetHostRedirect(), Port: r.GetPortRedirect(), Path: r.GetPathRedirect(),
		PrefixRewrite: r.GetPrefixRewrite(), StripQuery: r.GetStripQuery()}
	if rr := r.GetRegexRewrite(); rr != nil {
		re, err := decodeRegexRewrite(rr, path+".regex_rewrite")
		if err != nil {
			return nil, err
		}
		out.RegexRewrite = re
	}
	if r.GetHttpsRedirect() {
		out.Scheme = "https"
	}
	if s := r.GetSchemeRedirect(); s != "" {
		out.Scheme = strings.ToLower(s)
	}
	if out.Port > 65535 {
		return nil, fmt.Errorf("%s.port_redirect: %d out of range", path, out.Port)
	}
	for status, code := range redirectCodes {
		if code == r.GetResponseCode() {
			out.Status = status
		}
	}
	if out.Status == 0 {
		return nil, Unsupported(path+".response_code", "%v", r.GetResponseCode())
	}
	return out, nil
}

// Direct answers with a fixed status and body.
type Direct struct {
	Status int
	Body   string
}

// EncodeDirect returns the DirectResponseAction of d.
func EncodeDirect(d *Direct) *route.DirectResponseAction {
	out := &route.DirectResponseAction{Status: uint32(d.Status)}
	if d.Body != "" {
		out.Body = &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: d.Body}}
	}
	return out
}

// DecodeDirect decodes a DirectResponseAction; path names it in errors.
func DecodeDirect(d *route.DirectResponseAction, path string) (*Direct, error) {
	if err := OnlyFields(d, path, "status", "body"); err != nil {
		return nil, err
	}
	if d.GetStatus() < 200 || d.GetStatus() > 599 {
		return nil, fmt.Errorf("%s.status: %d out of range [200, 599]", path, d.GetStatus())
	}
	out := &Direct{Status: int(d.GetStatus())}
	if b := d.GetBody(); b != nil {
		if err := OnlyFields(b, path+".body", "inline_string", "inline_bytes"); err != nil {
			return nil, err
		}
		out.Body = b.GetInlineString()
		if len(b.GetInlineBytes()) > 0 {
			out.Body = string(b.GetInlineBytes())
		}
	}
	return out, nil
}
