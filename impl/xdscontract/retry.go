package xdscontract

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// RetryOn is a set of retry conditions.
type RetryOn uint8

// Retry conditions (Envoy's x-envoy-retry-on names).
const (
	Retry5xx RetryOn = 1 << iota
	RetryGatewayError
	RetryConnectFailure
	RetryRefusedStream
	RetryReset
	RetryStatusCodes
)

// retryOnNames are the retry_on names of the conditions, in the order the
// encoder writes them.
var retryOnNames = [...]struct {
	on   RetryOn
	name string
}{
	{Retry5xx, "5xx"},
	{RetryGatewayError, "gateway-error"},
	{RetryConnectFailure, "connect-failure"},
	{RetryRefusedStream, "refused-stream"},
	{RetryReset, "reset"},
	{RetryStatusCodes, "retriable-status-codes"},
}

// Retry is a route's retry policy.
type Retry struct {
	On         RetryOn
	NumRetries uint32
	// PerTry bounds each try; 0 means no bound.
	PerTry      time.Duration
	StatusCodes []int
	// BackoffBase and BackoffMax are the backoff intervals; 0 means
	// Envoy's default (see [Retry.Backoff]).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// OnlyIf, if not empty, limits retries to requests matching one of
	// these header matches (Envoy's retriable_request_headers).
	OnlyIf []HeaderMatch
}

// Applies reports whether the policy may retry req.
func (r *Retry) Applies(req *http.Request) bool {
	if r == nil {
		return false
	}
	if len(r.OnlyIf) == 0 {
		return true
	}
	for i := range r.OnlyIf {
		if r.OnlyIf[i].Matches(req) {
			return true
		}
	}
	return false
}

// Backoff returns the base and maximum backoff intervals with Envoy's
// defaults filled in: base [DefaultBackoffBase], maximum 10 times the
// base.
func (r *Retry) Backoff() (base, maximum time.Duration) {
	base, maximum = r.BackoffBase, r.BackoffMax
	if base == 0 {
		base = DefaultBackoffBase
	}
	if maximum == 0 {
		maximum = 10 * base
	}
	return base, maximum
}

// EncodeRetry returns the RetryPolicy of r; num_retries is always set.
func EncodeRetry(r *Retry) *route.RetryPolicy {
	out := &route.RetryPolicy{NumRetries: wrapperspb.UInt32(r.NumRetries)}
	var on []string
	for _, c := range retryOnNames {
		if r.On&c.on != 0 {
			on = append(on, c.name)
		}
	}
	out.RetryOn = strings.Join(on, ",")
	if r.PerTry > 0 {
		out.PerTryTimeout = durationpb.New(r.PerTry)
	}
	if len(r.StatusCodes) > 0 {
		out.RetriableStatusCodes = make([]uint32, len(r.StatusCodes))
		for i, c := range r.StatusCodes {
			out.RetriableStatusCodes[i] = uint32(c)
		}
	}
	if r.BackoffBase > 0 || r.BackoffMax > 0 {
		out.RetryBackOff = &route.RetryPolicy_RetryBackOff{}
		if r.BackoffBase > 0 {
			out.RetryBackOff.BaseInterval = durationpb.New(r.BackoffBase)
		}
		if r.BackoffMax > 0 {
			out.RetryBackOff.MaxInterval = durationpb.New(r.BackoffMax)
		}
	}
	for i := range r.OnlyIf {
		out.RetriableRequestHeaders = append(out.RetriableRequestHeaders, EncodeHeaderMatch(&r.OnlyIf[i]))
	}
	return out
}

// DecodeRetry decodes a RetryPolicy; path names it in errors. An unset
// num_retries is [DefaultNumRetries].
func DecodeRetry(rp *route.RetryPolicy, path string) (*Retry, error) {
	if err := OnlyFields(rp, path, "retry_on", "num_retries", "per_try_timeout", "retriable_status_codes", "retry_back_off", "retriable_request_headers"); err != nil {
		return nil, err
	}
	out := &Retry{NumRetries: DefaultNumRetries}
	if rp.GetNumRetries() != nil {
		out.NumRetries = rp.GetNumRetries().GetValue()
	}
conditions:
	for _, c := range strings.Split(rp.GetRetryOn(), ",") {
		name := strings.TrimSpace(c)
		if name == "" {
			continue
		}
		for _, known := range retryOnNames {
			if known.name == name {
				out.On |= known.on
				continue conditions
			}
		}
		return nil, Unsupported(path+".retry_on", "condition %q", c)
	}
	var err error
	if out.OnlyIf, err = decodeHeaderMatches(rp.GetRetriableRequestHeaders(), path+".retriable_request_headers"); err != nil {
		return nil, err
	}
	for _, c := range rp.GetRetriableStatusCodes() {
		if c < 100 || c > 599 {
			return nil, fmt.Errorf("%s.retriable_status_codes: %d is not an HTTP status", path, c)
		}
		out.StatusCodes = append(out.StatusCodes, int(c))
	}
	if out.PerTry, err = DecodeDuration(rp.GetPerTryTimeout(), path+".per_try_timeout"); err != nil {
		return nil, err
	}
	if bo := rp.GetRetryBackOff(); bo != nil {
		if err := OnlyFields(bo, path+".retry_back_off", "base_interval", "max_interval"); err != nil {
			return nil, err
		}
		if out.BackoffBase, err = DecodeDuration(bo.GetBaseInterval(), path+".retry_back_off.base_interval"); err != nil {
			return nil, err
		}
		if out.BackoffMax, err = DecodeDuration(bo.GetMaxInterval(), path+".retry_back_off.max_interval"); err != nil {
			return nil, err
		}
	}
	return out, nil
}
