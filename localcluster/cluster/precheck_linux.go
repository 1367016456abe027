package cluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/gammaproof/gammaproof/internal/cgroup2"
)

// ErrNotRoot is returned when the cluster is started without root.
var ErrNotRoot = errors.New("the local cluster needs root")

// checkHost checks what `up` needs from this machine: root, cgroup v2,
// nft and the binaries of components in binDir.
func checkHost(binDir string, components []string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: run it as root (sudo)", ErrNotRoot)
	}
	if _, err := cgroup2.Mount(); err != nil {
		return err
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("find nft: %w: kube-proxy needs it (apt-get install nftables)", err)
	}
	for _, c := range components {
		if _, err := binaryFor(binDir, c); err != nil {
			return err
		}
	}
	return nil
}

// CheckPorts returns an error naming the first port of [Ports] that is taken.
func CheckPorts() error { return checkPorts(Ports) }

func checkPorts(ports []PortUse) error {
	for _, p := range ports {
		if err := checkPort(p.Port); err != nil {
			return fmt.Errorf("port %d (for %s) is in use: stop what listens there (`ss -ltnp 'sport = :%d'`) or run `gammaproof cluster down`", p.Port, p.Component, p.Port)
		}
	}
	return nil
}

func checkPort(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
		return fmt.Errorf("listen on port %d: %w", port, err)
	}
	return ln.Close()
}
