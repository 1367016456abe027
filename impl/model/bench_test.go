package model_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/impl/model"
	"github.com/gammaproof/gammaproof/impl/model/modeltest"
)

// BenchmarkBuild10k builds a mesh of 10k Services with 10k routes.
func BenchmarkBuild10k(b *testing.B) {
	in := modeltest.ScaleInput(10_000)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		m := model.Build(in)
		if len(m.Listeners) != 10_000 || len(m.Routes) != 10_000 {
			b.Fatalf("listeners %d routes %d, want 10000 each", len(m.Listeners), len(m.Routes))
		}
	}
	// CPU time too: the wall clock on a shared machine includes waiting.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/build")
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
