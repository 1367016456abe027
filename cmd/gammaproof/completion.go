package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
)

// shells are the shells `gammaproof completion` writes a script for.
var shells = []string{"bash", "zsh", "fish"}

// completionCommand is `gammaproof completion bash|zsh|fish`.
func completionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "print the shell completion script for bash, zsh or fish",
		Long: `Print the shell completion script for bash, zsh or fish.

  bash:  source <(gammaproof completion bash)
         (needs the bash-completion package)
  zsh:   gammaproof completion zsh > "${fpath[1]}/_gammaproof"
  fish:  gammaproof completion fish > ~/.config/fish/completions/gammaproof.fish`,
		ValidArgs: shells,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains(shells, args[0]) {
				return usageErrorf("want one shell: bash, zsh or fish (run `%s --help`)", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			root, out := c.Root(), c.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return fmt.Errorf("write completion: unknown shell %q", args[0])
		},
	}
}
