package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// BenchmarkProxy compares requests through the proxy with requests sent
// directly to the upstream, both over keep-alive HTTP/1.1 on loopback with
// the same client settings. "saturated" runs 4 concurrent clients per CPU
// as fast as they go; "1krps" paces one request per millisecond. Each
// reports req/s, p50/p99 latency, and the CPU time the process (client,
// proxy and upstream) spends per request, which other load on the machine
// disturbs less than req/s.
func BenchmarkProxy(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	b.Cleanup(upstream.Close)
	ads := startADS(b)
	ads.set(b,
		listener(b, "bench"),
		routeConfig("bench", &routev3.Route{Name: "r", Match: prefix("/"), Action: &routev3.Route_Route{Route: weighted(wc{"up", 90}, wc{"up2", 10})}}),
		cluster(b, "up", false), cla(b, "up", hostPort(b, upstream.URL)),
		cluster(b, "up2", false), cla(b, "up2", hostPort(b, upstream.URL)),
	)
	p := startProxy(b, ads.addr)
	targets := map[string]string{"direct": upstream.URL, "proxy": p.url(b, "bench")}
	// Enough requests in flight to keep every CPU busy through the
	// proxy's extra hops, without piling up queues.
	workers := 4 * runtime.GOMAXPROCS(0)
	for _, mode := range []string{"saturated", "1krps"} {
		for _, name := range []string{"direct", "proxy"} {
			b.Run(mode+"/"+name, func(b *testing.B) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: max(64, workers), DisableCompression: true}}
				defer client.CloseIdleConnections()
				url := targets[name] + "/bench"
				var failed sync.Once
				send := func() time.Duration {
					start := time.Now()
					resp, err := client.Get(url)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
					}
					if err != nil {
						failed.Do(func() { b.Errorf("GET %s: %v", url, err) })
					}
					return time.Since(start)
				}
				// Warm up with every worker, so that the connections from the
				// client and from the proxy to the upstream are all open.
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for range 20 {
							send()
						}
					})
				}
				wg.Wait()
				lat := make([]time.Duration, b.N)
				cpu0 := cpuTime(b)
				b.ResetTimer()
				start := time.Now()
				if mode == "saturated" {
					for w := range workers {
						wg.Go(func() {
							for i := w; i < b.N; i += workers {
								lat[i] = send()
							}
						})
					}
				} else {
					// An open schedule: request i is due at start + i ms,
					// whatever the timer's resolution (a 1 ms ticker
					// drops ticks and reached ~850 req/s).
					for i := range b.N {
						time.Sleep(time.Until(start.Add(time.Duration(i) * time.Millisecond)))
						wg.Go(func() { lat[i] = send() })
					}
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				cpu := cpuTime(b) - cpu0
				slices.Sort(lat)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
			})
		}
	}
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
