package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// BenchmarkProxy compares requests through the proxy with requests sent
// directly to the upstream, both over keep-alive HTTP/1.1 on loopback.
// "saturated" runs 16 concurrent clients as fast as they go; "1krps" paces
// one request per millisecond. Each reports req/s and p50/p99 latency.
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
	for _, mode := range []string{"saturated", "1krps"} {
		for _, name := range []string{"direct", "proxy"} {
			b.Run(mode+"/"+name, func(b *testing.B) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
				defer client.CloseIdleConnections()
				url := targets[name] + "/bench"
				send := func() time.Duration {
					start := time.Now()
					resp, err := client.Get(url)
					if err != nil {
						b.Fatalf("GET %s: %v", url, err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("GET %s: status %d", url, resp.StatusCode)
					}
					return time.Since(start)
				}
				for range 100 {
					send()
				}
				lat := make([]time.Duration, b.N)
				b.ResetTimer()
				start := time.Now()
				if mode == "saturated" {
					const workers = 16
					var wg sync.WaitGroup
					for w := range workers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := w; i < b.N; i += workers {
								lat[i] = send()
							}
						}()
					}
					wg.Wait()
				} else {
					tick := time.NewTicker(time.Millisecond)
					defer tick.Stop()
					var wg sync.WaitGroup
					for i := range b.N {
						<-tick.C
						wg.Add(1)
						go func() {
							defer wg.Done()
							lat[i] = send()
						}()
					}
					wg.Wait()
				}
				elapsed := time.Since(start)
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}
