package testenv

import (
	"io"
	"strings"
	"testing"
)

// LogWriter returns a writer that sends each write, trailing newlines
// trimmed, to the test log: for components that print progress lines.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
