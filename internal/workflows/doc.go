// Package workflows holds no code: its test lints the repository's GitHub
// Actions workflows with actionlint, so `make test` catches a broken CI job.
package workflows
