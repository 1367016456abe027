// Package runner turns loaded scenarios into e2e-framework features: it
// applies each step's manifests, waits for pods and route status, runs the
// checks from client pods and records every outcome for the report.
package runner
