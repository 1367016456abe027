package dataplane

import (
	"fmt"
	"strconv"
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

func (m *metrics) observe(listener, route, cluster string, code int, d time.Duration) {
	m.requests.WithLabelValues(listener, route, cluster, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(listener).Observe(d.Seconds())
}
