package client

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/gammaproof/gammaproof/suite/sample"
)

// Classify names the kind of a request error. timedOut says the request's
// own deadline passed.
func Classify(err error, timedOut bool) sample.ErrorKind {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case timedOut, errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return sample.ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return sample.ErrRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return sample.ErrReset
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return sample.ErrUnreachable
	case errors.As(err, &dnsErr):
		return sample.ErrDNS
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return sample.ErrEOF
	case errors.As(err, &netErr) && netErr.Timeout():
		return sample.ErrTimeout
	}
	// gRPC flattens transport errors into status messages.
	msg := err.Error()
	for _, m := range []struct {
		text string
		kind sample.ErrorKind
	}{
		{"connection refused", sample.ErrRefused},
		{"connection reset", sample.ErrReset},
		{"broken pipe", sample.ErrReset},
		{"no route to host", sample.ErrUnreachable},
		{"network is unreachable", sample.ErrUnreachable},
		{"no such host", sample.ErrDNS},
		{"deadline exceeded", sample.ErrTimeout},
		{"i/o timeout", sample.ErrTimeout},
		{"EOF", sample.ErrEOF},
	} {
		if strings.Contains(msg, m.text) {
			return m.kind
		}
	}
	return sample.ErrOther
}
