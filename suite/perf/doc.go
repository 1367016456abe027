// Package perf measures an implementation on a live cluster, through its
// client pods: how long a route or grant change takes to reach traffic, and
// what the data plane costs against direct pod-to-pod requests. It knows
// nothing of any implementation.
package perf
