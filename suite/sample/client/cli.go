package client

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gammaproof/gammaproof/suite/sample"
)

// ParseGet reads the arguments of "gamma-client get URL [flags]" (flags may
// come before or after the URL) into a request.
func ParseGet(args []string, stderr io.Writer) (sample.Request, error) {
	var req sample.Request
	headers := headerFlag{}
	var recordHeaders, recordEcho listFlag
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gamma-client get URL [-n count] [-c concurrency] [-H 'name: value']... [flags]")
		fs.PrintDefaults()
	}
	fs.Var(headers, "H", `request header "name: value" (repeatable; "Host: x" sets the host)`)
	fs.IntVar(&req.Count, "n", 1, "number of requests")
	fs.IntVar(&req.Concurrency, "c", 1, "requests in flight")
	fs.Float64Var(&req.Rate, "rate", 0, "requests per second, paced (default: as fast as -c allows)")
	fs.StringVar(&req.Method, "X", "", "HTTP method (default GET) or, with -grpc, full gRPC method")
	fs.StringVar(&req.Body, "d", "", "request body")
	timeout := fs.Duration("timeout", sample.DefaultTimeout, "per-request timeout")
	fs.BoolVar(&req.NewConnectionPerRequest, "new-conn", false, "open a new connection for every request")
	fs.BoolVar(&req.GRPC, "grpc", false, "send gRPC (URL is host:port)")
	fs.BoolVar(&req.H2C, "h2c", false, "send HTTP/2 without TLS (prior knowledge)")
	fs.Var(&recordHeaders, "record-header", "count values of this response header (repeatable)")
	fs.Var(&recordEcho, "record-echo", `count values of this echo field, e.g. path or "header:x-foo" (repeatable)`)
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return sample.Request{}, fmt.Errorf("parse get flags: %w", err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		if req.URL != "" {
			return sample.Request{}, fmt.Errorf("get: one URL only, got %q and %q", req.URL, rest[0])
		}
		req.URL, rest = rest[0], rest[1:]
	}
	if req.URL == "" {
		fs.Usage()
		return sample.Request{}, errors.New("get: give a URL, e.g. gamma-client get http://echo.ns:8080/ -n 10")
	}
	req.Timeout = sample.Duration(*timeout)
	if len(headers) > 0 {
		req.Headers = headers
	}
	req.RecordHeaders = recordHeaders
	req.RecordEcho = recordEcho
	req = req.WithDefaults()
	if err := req.Validate(); err != nil {
		return sample.Request{}, fmt.Errorf("get: %w", err)
	}
	return req, nil
}

type headerFlag map[string]string

func (h headerFlag) String() string { return fmt.Sprint(map[string]string(h)) }

func (h headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf(`header %q: write "name: value"`, v)
	}
	h[strings.TrimSpace(name)] = strings.TrimSpace(value)
	return nil
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
