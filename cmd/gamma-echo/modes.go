package main

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Query parameters of the modes gamma-echo adds to the echo backend
// (suite/sample/echo), for scenarios that need more than it answers.
const (
	// ParamResetFirst ("reset-first=1&key=K") makes the backend read the
	// whole request and then reset the connection (HTTP/1.1: a TCP RST;
	// h2c: the stream is reset) the first time it sees key K, and answer
	// every later request of K normally with HeaderArrivals set: a request
	// that reaches the backend twice was retried after the backend read
	// it.
	ParamResetFirst = "reset-first"
	// ParamKey names the request for ParamResetFirst; use the client's
	// per-request id, "key={id}".
	ParamKey = "key"
	// ParamJoinHeader ("join-header=NAME", repeatable) makes the backend
	// answer with the response header JoinedPrefix+NAME holding every value
	// of the request header NAME it received, joined by ",": what upstream's
	// echo reports, so an appended value ("add-val-2,header-add-2") can be
	// asserted whole.
	ParamJoinHeader = "join-header"
	// HeaderArrivals is how often the backend has seen the request's key.
	HeaderArrivals = "X-Echo-Arrivals"
	// JoinedPrefix starts the response headers of ParamJoinHeader.
	JoinedPrefix = "X-Echo-Joined-"
	// maxKeys bounds the keys remembered for ParamResetFirst; past it the
	// memory starts afresh.
	maxKeys = 1 << 20
)

// modes wraps the echo handler with the modes above.
type modes struct {
	next http.Handler
	mu   sync.Mutex
	seen map[string]int
}

func withModes(next http.Handler) *modes {
	return &modes{next: next, seen: map[string]int{}}
}

func (m *modes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, name := range q[ParamJoinHeader] {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		w.Header().Set(JoinedPrefix+name, strings.Join(r.Header.Values(name), ","))
	}
	if q.Get(ParamResetFirst) == "" {
		m.next.ServeHTTP(w, r)
		return
	}
	key := q.Get(ParamKey)
	if key == "" {
		http.Error(w, "reset-first needs key=K, a key per request such as key={id}", http.StatusBadRequest)
		return
	}
	// Read the whole request first: the reset comes after the backend has
	// it, which is what makes a retry unsafe for a POST.
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		return // the caller went away
	}
	n := m.arrive(key)
	if n == 1 {
		reset(w)
		return
	}
	w.Header().Set(HeaderArrivals, strconv.Itoa(n))
	m.next.ServeHTTP(w, r)
}

// arrive counts an arrival of key and returns how many there were.
func (m *modes) arrive(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) >= maxKeys {
		m.seen = map[string]int{}
	}
	m.seen[key]++
	return m.seen[key]
}

// reset ends the request without an answer: on HTTP/1.1 the connection is
// closed with a TCP RST (linger 0); on HTTP/2 the stream is reset.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: the server resets the stream
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close sends RST; nothing to do if it fails
	}
	_ = conn.Close()
}
