package main

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is gammaproof's version: the Makefile sets it with
// -ldflags "-X main.version=$(git describe --always --dirty)".
var version = "dev"

// commit is the commit built when the build info has none (built with
// -buildvcs=false): the Makefile sets it with
// -ldflags "-X main.commit=$(git rev-parse HEAD)".
var commit = ""

// gatewayAPIModule is the module whose version `version` reports.
const gatewayAPIModule = "sigs.k8s.io/gateway-api"

// versionInfo is what `gammaproof version` prints.
type versionInfo struct {
	Version    string `json:"version"`
	GoVersion  string `json:"goVersion"`
	GatewayAPI string `json:"gatewayAPIVersion"`
	Commit     string `json:"commit"`
	// Modified says the commit had uncommitted changes when built.
	Modified bool   `json:"modified,omitempty"`
	Platform string `json:"platform"`
}

// readVersion reads the version from the binary's build info: Go, the
// Gateway API module it was built with and the commit (vcs.revision, else
// commit); "unknown" for what neither says.
func readVersion() versionInfo {
	v := versionInfo{
		Version:    version,
		GoVersion:  runtime.Version(),
		GatewayAPI: "unknown",
		Commit:     cmp.Or(commit, "unknown"),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.GoVersion = bi.GoVersion
	for _, d := range bi.Deps {
		if d.Path != gatewayAPIModule {
			continue
		}
		if d.Replace != nil {
			d = d.Replace
		}
		v.GatewayAPI = d.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// versionCommand is `gammaproof version`.
func versionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "print gammaproof's version, its Go and Gateway API versions and its commit",
		Args:  noArgs,
	}
	output := addOutputFlag(cmd)
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := checkOutput(c, *output); err != nil {
			return err
		}
		v := readVersion()
		if *output != outputText {
			return printStructured(c.OutOrStdout(), *output, v)
		}
		commit := v.Commit
		if v.Modified {
			commit += " (modified)"
		}
		_, err := fmt.Fprintf(c.OutOrStdout(), "gammaproof %s\ngo          %s %s\ngateway-api %s\ncommit      %s\n",
			v.Version, v.GoVersion, v.Platform, v.GatewayAPI, commit)
		return err
	}
	return cmd
}
