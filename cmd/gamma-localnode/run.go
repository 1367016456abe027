package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/gammaproof/gammaproof/localcluster/node"
)

const usage = `usage: gamma-localnode run --kubeconfig FILE --state-dir DIR [flags]
       gamma-localnode cleanup --state-dir DIR [--bridge gp0]`

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "run":
		return runNode(args[1:])
	case "cleanup":
		return runCleanup(args[1:])
	case node.ContainerInitCommand:
		// Hidden: the first process of every container.
		if err := node.ContainerInit(args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(127)
		}
		return nil
	case "-h", "--help", "help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func runNode(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig to reach the apiserver")
	stateDir := fs.String("state-dir", "", "directory for the node's state")
	nodeName := fs.String("node-name", "gammaproof-local", "Node name to register")
	podCIDR := fs.String("pod-cidr", "198.18.0.0/16", "pod address range")
	bridge := fs.String("bridge", "gp0", "pod bridge name")
	bridgeIP := fs.String("bridge-ip", "198.18.0.1", "bridge, node and DNS address")
	domain := fs.String("cluster-domain", "cluster.local", "cluster DNS domain")
	cert := fs.String("tls-cert-file", "", "kubelet serving certificate (optional: self-signed)")
	key := fs.String("tls-private-key-file", "", "kubelet serving key")
	binDir := fs.String("bin-dir", "", "directory of our binaries (gamma-echo, gamma-client, ...)")
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kubeconfig == "" || *stateDir == "" || *binDir == "" {
		return errors.New("run needs --kubeconfig, --state-dir and --bin-dir")
	}
	cidr, err := netip.ParsePrefix(*podCIDR)
	if err != nil {
		return fmt.Errorf("parse --pod-cidr: %w", err)
	}
	ip, err := netip.ParseAddr(*bridgeIP)
	if err != nil {
		return fmt.Errorf("parse --bridge-ip: %w", err)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return node.Run(ctx, node.Config{
		NodeName:      *nodeName,
		Kubeconfig:    *kubeconfig,
		StateDir:      *stateDir,
		PodCIDR:       cidr,
		Bridge:        *bridge,
		BridgeIP:      ip,
		ClusterDomain: *domain,
		TLSCertFile:   *cert,
		TLSKeyFile:    *key,
		BinDir:        *binDir,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
}

func runCleanup(args []string) error {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	stateDir := fs.String("state-dir", "", "directory of the node's state (removed)")
	bridge := fs.String("bridge", "gp0", "pod bridge name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("cleanup must run as root: run it with sudo")
	}
	return node.Cleanup(node.CleanupConfig{StateDir: *stateDir, Bridge: *bridge})
}
