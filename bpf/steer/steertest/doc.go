// Package steertest runs probes (connect(), HTTP, echo exchanges) from processes in a given cgroup and a fresh network namespace, for tests of the eBPF programs in bpf/.
package steertest
