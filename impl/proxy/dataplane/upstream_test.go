package dataplane

import (
	"io"
	"strings"
	"testing"

	"github.com/gammaproof/gammaproof/impl/xdscontract"
)

func TestReplayBody(t *testing.T) {
	for _, tc := range []struct {
		name       string
		body       string
		limit      int
		firstRead  int // bytes the first attempt reads before failing
		replayable bool
	}{
		{"unread", "hello world", 64, 0, true},
		{"partly read", "hello world", 64, 5, true},
		{"fully read", "hello world", 64, 11, true},
		{"over the limit", "hello world", 4, 11, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb := &replayBody{src: io.NopCloser(strings.NewReader(tc.body)), limit: tc.limit}
			first := rb.attempt()
			buf := make([]byte, tc.firstRead)
			if _, err := io.ReadFull(first, buf); err != nil {
				t.Fatalf("first attempt read: %v", err)
			}
			first.Close()
			if _, err := first.Read(make([]byte, 1)); err == nil {
				t.Error("a closed attempt still reads")
			}
			if got := rb.replayable(); got != tc.replayable {
				t.Fatalf("replayable = %v, want %v", got, tc.replayable)
			}
			if !tc.replayable {
				return
			}
			got, err := io.ReadAll(rb.attempt())
			if err != nil || string(got) != tc.body {
				t.Errorf("second attempt read %q, %v; want %q", got, err, tc.body)
			}
		})
	}
}

func TestRetriable(t *testing.T) {
	policy := &xdscontract.Retry{On: xdscontract.RetryGatewayError | xdscontract.RetryStatusCodes, StatusCodes: []int{409}}
	for code, want := range map[int]bool{500: false, 502: true, 503: true, 504: true, 409: true, 200: false} {
		if got := retriableStatusFor(policy, code); got != want {
			t.Errorf("gateway-error,retriable-status-codes[409]: retry %d = %v, want %v", code, got, want)
		}
	}
	if !retriableErrorFor(&xdscontract.Retry{On: xdscontract.RetryConnectFailure}, &connectError{err: io.EOF}) {
		t.Error("connect-failure does not retry a connect error")
	}
	if retriableErrorFor(&xdscontract.Retry{On: xdscontract.RetryConnectFailure}, io.ErrUnexpectedEOF) {
		t.Error("connect-failure retries a reset")
	}
	if retriableErrorFor(nil, &connectError{err: io.EOF}) {
		t.Error("no policy retries")
	}
}
