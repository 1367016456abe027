// Package bpfload prepares the process for loading eBPF objects and says
// what to do when loading fails for want of privileges.
package bpfload
