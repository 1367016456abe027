// Package scenarios holds the GAMMA scenarios, one folder each (expect.yaml
// and the manifests it names), and builds them into every program that
// imports it, so `gammaproof verify` judges a mesh with nothing but its own
// binary. suite/scenario loads them ([FS]); `gammaproof verify --scenarios
// DIR` reads a folder of scenarios from disk instead.
package scenarios

import (
	"embed"
	"io/fs"
)

// files is every file of every scenario folder. A new folder is embedded
// as soon as it exists: the pattern names no scenario.
//
//go:embed */*
var files embed.FS

// FS returns the scenarios built into the program: one top-level folder
// per scenario, named as under scenarios/ of the checkout.
func FS() fs.FS { return files }
