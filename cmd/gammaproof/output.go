package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats of -o.
const (
	outputText = ""
	outputJSON = "json"
	outputYAML = "yaml"
)

// addOutputFlag adds -o/--output (text by default, json or yaml) to cmd
// and returns where its value lands; check it with [checkOutput].
func addOutputFlag(cmd *cobra.Command) *string {
	o := cmd.Flags().StringP("output", "o", outputText, "print as json or yaml instead of text")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{outputJSON, outputYAML}, cobra.ShellCompDirectiveNoFileComp))
	return o
}

// checkOutput returns a usage error for an -o value other than json or yaml.
func checkOutput(c *cobra.Command, format string) error {
	switch format {
	case outputText, outputJSON, outputYAML:
		return nil
	}
	return usageErrorf("unknown output format %q: use -o json or -o yaml, or leave -o out for text (run `%s --help`)", format, c.CommandPath())
}

// printStructured writes v as JSON (indented) or YAML.
func printStructured(w io.Writer, format string, v any) error {
	var b []byte
	var err error
	switch format {
	case outputJSON:
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	case outputYAML:
		b, err = yaml.Marshal(v)
	default:
		return fmt.Errorf("print: unknown output format %q", format)
	}
	if err != nil {
		return fmt.Errorf("print %s: %w", format, err)
	}
	_, err = w.Write(b)
	return err
}
