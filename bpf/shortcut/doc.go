// Package shortcut loads and attaches the eBPF programs that hand data
// between pods and the node proxy socket to socket (sockops and sk_msg with
// a sockhash), skipping the TCP/IP path on the node for established
// connections.
package shortcut
