package perf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CgroupCPU returns the CPU time the processes of cgroup v2 directory dir
// and of its descendants have used so far: usage_usec of its cpu.stat
// (user and system time, interrupts served while they ran included).
func CgroupCPU(dir string) (time.Duration, error) {
	f := filepath.Join(dir, "cpu.stat")
	b, err := os.ReadFile(f)
	if err != nil {
		return 0, fmt.Errorf("read the CPU time of cgroup %s: %w", dir, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || key != "usage_usec" {
			continue
		}
		us, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil || us < 0 {
			return 0, fmt.Errorf("%s: usage_usec %q is not a count of microseconds", f, val)
		}
		return time.Duration(us) * time.Microsecond, nil
	}
	return 0, fmt.Errorf("%s has no usage_usec line (is it a cgroup v2 directory?)", f)
}

// Cgroups names cgroup v2 directories whose CPU time is read together,
// such as the pods a request passes through.
type Cgroups map[string]string

// CPU returns each named cgroup's CPU time so far.
func (c Cgroups) CPU() (CPUTimes, error) {
	out := CPUTimes{}
	for name, dir := range c {
		d, err := CgroupCPU(dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}

// CPUTimes maps names (of [Cgroups]) to CPU time.
type CPUTimes map[string]time.Duration

// Sub returns the CPU time used between before and t, name by name.
func (t CPUTimes) Sub(before CPUTimes) CPUTimes {
	out := CPUTimes{}
	for name, d := range t {
		out[name] = d - before[name]
	}
	return out
}

// Add adds u to t, name by name.
func (t CPUTimes) Add(u CPUTimes) {
	for name, d := range u {
		t[name] += d
	}
}

// Sum returns the CPU time of the given names together.
func (t CPUTimes) Sum(names ...string) time.Duration {
	var s time.Duration
	for _, n := range names {
		s += t[n]
	}
	return s
}

// PerRequest returns CPU time d spread over n requests, in microseconds
// (0 for no requests).
func PerRequest(d time.Duration, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(n)
}
