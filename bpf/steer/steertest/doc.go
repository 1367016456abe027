// Package steertest runs connect() probes from processes in a given cgroup and a fresh network namespace, for tests of the steering programs.
package steertest
