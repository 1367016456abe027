package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// errScenariosFailed says that a verify run ended with a scenario that did
// not pass (FAIL, INCONCLUSIVE or ERROR); the summary has already said
// which, so main exits 1 without printing it again.
var errScenariosFailed = errors.New("scenarios did not all pass")

// verifyCommand is `gammaproof verify`: the verification suite against the
// cluster of the current kubeconfig.
func verifyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "run the verification suite against a cluster and write its reports",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("verify: not implemented yet")
		},
	}
	return cmd
}
