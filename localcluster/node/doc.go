// Package node is a kubelet for this machine: it registers a Node and runs the pods bound to it as processes in network namespaces and cgroups, with cluster DNS.
package node
