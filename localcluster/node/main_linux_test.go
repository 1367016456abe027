package node

import (
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary act as gamma-localnode's container-init,
// so the in-process node of the integration test can start containers.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ContainerInitCommand {
		if err := ContainerInit(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(127)
		}
	}
	os.Exit(m.Run())
}
