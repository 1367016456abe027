//go:build !linux

// Command gamma-node is the gammaproof node agent; it runs only on Linux.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "gamma-node: runs only on Linux (it attaches eBPF programs to cgroups)")
	os.Exit(1)
}
