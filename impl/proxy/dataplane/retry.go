package dataplane

import (
	"errors"
	"slices"

	"github.com/gammaproof/gammaproof/impl/proxy/config"
)

type retryPolicy = config.Retry

func retriableErrorFor(r *retryPolicy, err error) bool {
	if r == nil {
		return false
	}
	var ce *connectError
	if errors.As(err, &ce) {
		return r.On&(config.RetryConnectFailure|config.Retry5xx|config.RetryGatewayError|config.RetryReset) != 0
	}
	if errors.Is(err, errPerTryTimeout) {
		return r.On&(config.Retry5xx|config.RetryGatewayError) != 0
	}
	return r.On&(config.RetryReset|config.Retry5xx|config.RetryGatewayError) != 0
}

func retriableStatusFor(r *retryPolicy, code int) bool {
	if r == nil {
		return false
	}
	switch {
	case r.On&config.Retry5xx != 0 && code >= 500:
		return true
	case r.On&config.RetryGatewayError != 0 && (code == 502 || code == 503 || code == 504):
		return true
	case r.On&config.RetryStatusCodes != 0 && slices.Contains(r.StatusCodes, code):
		return true
	}
	return false
}
