// Package node is the node agent: it runs the proxy, attaches the steering programs and keeps their maps equal to the proxy's listeners and the pods on the node.
package node
