package perf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gammaproof/gammaproof/internal/cgroup2"
)

func TestCgroupCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		wantErr    string
	}{
		{"cgroup v2", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n", 1500 * time.Microsecond, ""},
		{"usage not first", "user_usec 1\nusage_usec 42\n", 42 * time.Microsecond, ""},
		{"no usage", "user_usec 1\n", 0, "no usage_usec"},
		{"garbage", "usage_usec many\n", 0, "not a count"},
		{"negative", "usage_usec -3\n", 0, "not a count"},
		{"empty", "", 0, "no usage_usec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "cpu.stat"), []byte(tc.stat), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := CgroupCPU(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("CgroupCPU = %v, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("CgroupCPU = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := CgroupCPU(t.TempDir()); err == nil || !strings.Contains(err.Error(), "cpu.stat") {
		t.Errorf("CgroupCPU of a directory without cpu.stat = %v, want an error naming cpu.stat", err)
	}
}

// TestCgroupCPUCountsThisProcess reads the real cgroup v2 of this process
// (present whether or not the cpu controller is enabled) around a busy
// loop: the time must grow by at least the loop's CPU time.
func TestCgroupCPUCountsThisProcess(t *testing.T) {
	mount, err := cgroup2.Mount()
	if err != nil {
		t.Fatalf("this test reads the process's cgroup v2: %v", err)
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var rel string
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			rel = p
		}
	}
	dir := filepath.Join(mount, rel)
	cg := Cgroups{"self": dir}
	before, err := cg.CPU()
	if err != nil {
		t.Fatal(err)
	}
	const busy = 50 * time.Millisecond
	start, x := time.Now(), 0
	for time.Since(start) < busy {
		x++
	}
	after, err := cg.CPU()
	if err != nil {
		t.Fatal(err)
	}
	// The busy loop ran on a CPU for most of its wall time, unless the
	// machine was very busy: a quarter is a safe floor.
	if used := after.Sub(before)["self"]; used < busy/4 {
		t.Errorf("cgroup %s used %v during a %v busy loop (%d turns), want at least %v", dir, used, busy, x, busy/4)
	}
}

func TestCPUTimes(t *testing.T) {
	ms := time.Millisecond
	before := CPUTimes{"client": 10 * ms, "proxy": 5 * ms}
	after := CPUTimes{"client": 14 * ms, "proxy": 8 * ms}
	d := after.Sub(before)
	if d["client"] != 4*ms || d["proxy"] != 3*ms {
		t.Errorf("Sub = %v, want client 4ms, proxy 3ms", d)
	}
	total := CPUTimes{}
	total.Add(d)
	total.Add(d)
	if got := total.Sum("client", "proxy", "absent"); got != 14*ms {
		t.Errorf("Sum = %v, want 14ms", got)
	}
	for _, tc := range []struct {
		d    time.Duration
		n    int
		want float64
	}{
		{time.Second, 10000, 100},
		{1500 * time.Microsecond, 3, 500},
		{time.Second, 0, 0},
	} {
		if got := PerRequest(tc.d, tc.n); got != tc.want {
			t.Errorf("PerRequest(%v, %d) = %g, want %g", tc.d, tc.n, got, tc.want)
		}
	}
}
