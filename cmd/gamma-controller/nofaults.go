//go:build !gammaproof_faults

package main

import (
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gammaproof/gammaproof/impl/controller"
)

// withFault is the identity in release builds: only the gammaproof_faults
// build (faults.go) injects faults.
func withFault(mgr manager.Manager, opts controller.Options) (manager.Manager, controller.Options) {
	return mgr, opts
}
