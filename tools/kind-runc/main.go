// Command kind-runc is a Docker runtime wrapper around runc for machines
// whose capability bounding set lacks capabilities Docker grants privileged
// containers (some VMs drop CAP_SYS_RESOURCE from every process): runc
// then fails with "unable to apply caps". Before runc creates a container
// (create/run: <bundle>/config.json) or execs in one (exec --process
// file), kind-runc removes from the OCI spec every capability missing from
// its own bounding set, then execs the real runc with the same arguments.
//
// hack/kind/engine.sh builds it and sets it as dockerd's default runtime
// only when the bounding set is incomplete.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// capNames are the kernel's capability numbers, as OCI specs name them.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// known is capNames as a set.
var known = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range capNames {
		m[n] = true
	}
	return m
}()

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kind-runc:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("read own capabilities: %w", err)
	}
	bounding, err := BoundingSet(string(status))
	if err != nil {
		return err
	}
	if spec := SpecFile(args); spec != "" {
		if err := FilterFile(spec, bounding); err != nil {
			return err
		}
	}
	runc, err := realRunc()
	if err != nil {
		return err
	}
	return syscall.Exec(runc, append([]string{"runc"}, args...), os.Environ())
}

// realRunc is $KIND_RUNC_REAL, else the first runc on $PATH that is not
// this program.
func realRunc() (string, error) {
	if p := os.Getenv("KIND_RUNC_REAL"); p != "" {
		return p, nil
	}
	self, _ := os.Executable()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "runc")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 && !sameFile(p, self) {
			return p, nil
		}
	}
	if _, err := exec.LookPath("/usr/sbin/runc"); err == nil {
		return "/usr/sbin/runc", nil
	}
	return "", fmt.Errorf("no runc found on $PATH (set KIND_RUNC_REAL)")
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// BoundingSet returns the names of the capabilities in the CapBnd line of
// a /proc/<pid>/status text.
func BoundingSet(status string) (map[string]bool, error) {
	for _, line := range strings.Split(status, "\n") {
		hex, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		bits, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parse CapBnd %q: %w", strings.TrimSpace(hex), err)
		}
		set := map[string]bool{}
		for i, name := range capNames {
			if bits&(1<<i) != 0 {
				set[name] = true
			}
		}
		return set, nil
	}
	return nil, fmt.Errorf("no CapBnd line in /proc/self/status")
}

// SpecFile returns the OCI file runc's arguments will read capabilities
// from: the --process file of exec, else <bundle>/config.json of
// create/run, else "" (other commands).
func SpecFile(args []string) string {
	bundle, process := "", ""
	for i, a := range args {
		next := ""
		if i+1 < len(args) {
			next = args[i+1]
		}
		switch {
		case a == "--bundle" || a == "-b":
			bundle = next
		case strings.HasPrefix(a, "--bundle="):
			bundle = strings.TrimPrefix(a, "--bundle=")
		case a == "--process" || a == "-p":
			process = next
		case strings.HasPrefix(a, "--process="):
			process = strings.TrimPrefix(a, "--process=")
		}
	}
	if process != "" {
		return process
	}
	if bundle != "" {
		return filepath.Join(bundle, "config.json")
	}
	return ""
}

// FilterFile rewrites the OCI spec or process file at path without the
// capabilities outside bounding; an unchanged file is not rewritten.
func FilterFile(path string, bounding map[string]bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read OCI file: %w", err)
	}
	out, changed, err := Filter(raw, bounding)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !changed {
		return nil
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return fmt.Errorf("write OCI file: %w", err)
	}
	return nil
}

// Filter removes the capabilities outside bounding from an OCI spec
// (process.capabilities) or process (capabilities) document. Capability
// names it does not know, numbers and unknown fields are kept as they are.
func Filter(raw []byte, bounding map[string]bool) ([]byte, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, false, fmt.Errorf("decode OCI JSON: %w", err)
	}
	proc := doc
	if p, ok := doc["process"].(map[string]any); ok {
		proc = p
	}
	caps, ok := proc["capabilities"].(map[string]any)
	if !ok {
		return raw, false, nil
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if name, ok := c.(string); ok && known[name] && !bounding[name] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	if !changed {
		return raw, false, nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, false, fmt.Errorf("encode OCI JSON: %w", err)
	}
	return out, true, nil
}
