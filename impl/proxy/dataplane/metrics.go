package dataplane

import (
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gammaproof_proxy_requests_total",
			Help: "Requests handled, by listener, route, cluster and response code.",
		}, []string{"listener", "route", "cluster", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gammaproof_proxy_request_duration_seconds",
			Help:    "Time from request arrival to handler return, by listener.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}, []string{"listener"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register proxy metrics: %w", err)
			}
		}
	}
	return m, nil
}

// listenerMetrics are one listener's request metrics. Counters are looked
// up once per route, cluster and code, then found without a lock.
type listenerMetrics struct {
	name     string
	requests *prometheus.CounterVec
	duration prometheus.Observer

	counters atomic.Pointer[map[counterKey]prometheus.Counter]
	// mu serializes additions to counters, which copy the map.
	mu sync.Mutex
}

type counterKey struct {
	route, cluster string
	code           int
}

func (m *metrics) listener(name string) *listenerMetrics {
	lm := &listenerMetrics{name: name, requests: m.requests, duration: m.duration.WithLabelValues(name)}
	lm.counters.Store(&map[counterKey]prometheus.Counter{})
	return lm
}

// observe counts a handled request; a request that got no final status
// counts as 499 (client closed request).
func (lm *listenerMetrics) observe(o *outcome, d time.Duration) {
	key := counterKey{route: o.route, cluster: o.cluster, code: o.code}
	if key.code == 0 {
		key.code = 499
	}
	c, ok := (*lm.counters.Load())[key]
	if !ok {
		c = lm.counter(key)
	}
	c.Inc()
	lm.duration.Observe(d.Seconds())
}

func (lm *listenerMetrics) counter(key counterKey) prometheus.Counter {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	cur := *lm.counters.Load()
	if c, ok := cur[key]; ok {
		return c
	}
	c := lm.requests.WithLabelValues(lm.name, key.route, key.cluster, strconv.Itoa(key.code))
	next := maps.Clone(cur)
	next[key] = c
	lm.counters.Store(&next)
	return c
}
