package dataplane

import (
	"errors"
	"slices"

	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

type retryPolicy = xdscontract.Retry

func retriableErrorFor(r *retryPolicy, err error) bool {
	if r == nil {
		return false
	}
	var ce *connectError
	if errors.As(err, &ce) {
		return r.On&(xdscontract.RetryConnectFailure|xdscontract.Retry5xx|xdscontract.RetryGatewayError|xdscontract.RetryReset|xdscontract.RetryRefusedStream) != 0
	}
	if errors.Is(err, errPerTryTimeout) {
		return r.On&(xdscontract.Retry5xx|xdscontract.RetryGatewayError) != 0
	}
	return r.On&(xdscontract.RetryReset|xdscontract.RetryRefusedStream|xdscontract.Retry5xx|xdscontract.RetryGatewayError) != 0
}

func retriableStatusFor(r *retryPolicy, code int) bool {
	if r == nil {
		return false
	}
	switch {
	case r.On&xdscontract.Retry5xx != 0 && code >= 500:
		return true
	case r.On&xdscontract.RetryGatewayError != 0 && (code == 502 || code == 503 || code == 504):
		return true
	case r.On&xdscontract.RetryStatusCodes != 0 && slices.Contains(r.StatusCodes, code):
		return true
	}
	return false
}
