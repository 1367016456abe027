// Command gamma-localnode is the local cluster's node: a kubelet for this
// machine that runs pods as processes (`run`), and removes all it made
// (`cleanup`).
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gamma-localnode:", err)
		os.Exit(1)
	}
}
