//go:build gammaproof_faults

// This file exists only in the fault-injecting build (hack/build-faults.sh,
// bin/faults/gamma-controller): gamma-controller --fault=NAME runs the
// reference implementation with one catalogued fault (impl/fault). Release
// builds never compile it (release_test.go checks).

package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gammaproof/gammaproof/impl/controller"
	"github.com/gammaproof/gammaproof/impl/fault"
	"github.com/gammaproof/gammaproof/internal/faultcatalog"
)

// activeFault is the --fault flag's value; "" runs the correct mesh.
var activeFault string

// The release flag set knows nothing of --fault: take it out of the
// arguments before main parses them, so the one hook in serve is all this
// build adds to the command.
func init() {
	name, rest, err := faultArg(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gamma-controller:", err)
		os.Exit(2)
	}
	activeFault = name
	os.Args = append(os.Args[:1], rest...)
}

// faultArg removes --fault=NAME (or -fault NAME) from args and checks NAME
// against the catalogue.
func faultArg(args []string) (string, []string, error) {
	var name string
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		flag := strings.TrimLeft(a, "-")
		switch {
		case a != flag && strings.HasPrefix(flag, "fault="):
			name = strings.TrimPrefix(flag, "fault=")
		case a != flag && flag == "fault":
			if i+1 == len(args) {
				return "", nil, fmt.Errorf("--fault needs a value; known faults: %s", strings.Join(faultcatalog.Names(), ", "))
			}
			i++
			name = args[i]
		default:
			rest = append(rest, a)
			continue
		}
		if _, err := fault.New(name); err != nil {
			return "", nil, fmt.Errorf("--fault: %w", err)
		}
	}
	return name, rest, nil
}

// withFault wraps the controller's mesh sink with the --fault injector.
func withFault(mgr manager.Manager, opts controller.Options) (manager.Manager, controller.Options) {
	if activeFault == "" {
		slog.Info("fault-injecting build without --fault: serving the correct mesh")
		return mgr, opts
	}
	inj, err := fault.New(activeFault)
	if err != nil {
		// faultArg checked the name already.
		panic(err)
	}
	slog.Warn("FAULT INJECTION ON: this controller serves a deliberately wrong mesh", "fault", activeFault)
	opts.Sink = fault.NewSink(opts.Sink, mgr.GetClient(), opts.GrantPolicy, inj)
	return mgr, opts
}
