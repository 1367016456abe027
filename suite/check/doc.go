// Package check decides one scenario check: it samples requests through a
// [sample.Sampler] and judges exact expectations exactly and shares with
// suite/stats' sequential tests, retrying while a route converges within an
// error budget.
package check
