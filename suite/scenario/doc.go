// Package scenario loads scenarios/<name>/ folders — plain Kubernetes YAML
// plus expect.yaml — validates them, and names every problem by file and
// field.
package scenario
