// Package syncbuf is a byte buffer that several goroutines may write to at
// once, such as the stdout and stderr streams of one exec session or a
// child process's output read while it runs.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer collects concurrent writes; String may be called at any time.
// The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
