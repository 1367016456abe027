// SPDX-License-Identifier: (MIT OR GPL-2.0)
//
// Socket shortcut for gammaproof: once a TCP connection between a pod and
// the node proxy is established on this node, both of its sockets go into a
// sockhash, and sk_msg hands what one end sends straight to the other end's
// receive queue: no TCP segments, no veth or bridge, no netfilter for the
// connection's data. Its handshake and teardown still take the normal path,
// so a connection that policy refuses is never made.
//
// Only connections with exactly one end on a proxy address (map
// shortcut_proxies, the node's address) are shortcut: pod-to-pod traffic
// that does not pass the proxy, and the node's own processes talking to
// each other, are left alone. A socket whose peer is not in the sockhash
// when it first writes (the other end is on another node, outside the
// attached cgroup, or not established yet) sends normally for the rest of
// the connection.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10

// One end of a connection, as seen from the socket that owns the entry.
struct shortcut_key {
	__u32 local_ip;    // network byte order
	__u32 remote_ip;   // network byte order
	__u32 local_port;  // host byte order
	__u32 remote_port; // host byte order
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct shortcut_key);
	__type(value, __u64);
} shortcut_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32); // proxy IPv4 address, network byte order
	__type(value, __u8);
} shortcut_proxies SEC(".maps");

// Sockets that send the normal way for good (see shortcut_msg).
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} shortcut_off SEC(".maps");

// How many sockets fell back to the normal path (see shortcut_msg).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} shortcut_fallbacks SEC(".maps");

static __always_inline int is_proxy(__u32 ip)
{
	return bpf_map_lookup_elem(&shortcut_proxies, &ip) != NULL;
}

// An IPv6 socket qualifies when both of its addresses are IPv4-mapped
// (::ffff:a.b.c.d): a dual-stack listener's connections from IPv4 callers.
static __always_inline int v4_mapped(__u32 a0, __u32 a1, __u32 a2)
{
	return a0 == 0 && a1 == 0 && a2 == bpf_htonl(0x0000ffff);
}

SEC("sockops")
int shortcut_sockops(struct bpf_sock_ops *skops)
{
	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (skops->family == AF_INET6) {
		if (!v4_mapped(skops->local_ip6[0], skops->local_ip6[1], skops->local_ip6[2]) ||
		    !v4_mapped(skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2]))
			return 1;
	} else if (skops->family != AF_INET) {
		return 1;
	}
	struct shortcut_key key = {
		.local_ip = skops->local_ip4,
		.remote_ip = skops->remote_ip4,
		.local_port = skops->local_port,
		.remote_port = bpf_ntohl(skops->remote_port),
	};
	// Exactly one end on a proxy address: a pod and the proxy (or another
	// process on the node's address). Two processes on the node's address
	// talking to each other are not the mesh's business.
	if (is_proxy(key.local_ip) == is_proxy(key.remote_ip))
		return 1;
	// A full map or a socket the kernel cannot shortcut just keeps the
	// normal path.
	bpf_sock_hash_update(skops, &shortcut_socks, &key, BPF_NOEXIST);
	return 1;
}

SEC("sk_msg")
int shortcut_msg(struct sk_msg_md *msg)
{
	struct shortcut_key peer = {
		.local_ip = msg->remote_ip4,
		.remote_ip = msg->local_ip4,
		.local_port = bpf_ntohl(msg->remote_port),
		.remote_port = msg->local_port,
	};
	struct bpf_sock *sk = msg->sk;
	if (!sk)
		return SK_PASS;
	if (bpf_sk_storage_get(&shortcut_off, sk, 0, 0))
		return SK_PASS;
	if (bpf_msg_redirect_hash(msg, &shortcut_socks, &peer, BPF_F_INGRESS) == SK_PASS)
		return SK_PASS;
	// No peer in the map: the other end is on another node, outside the
	// cgroup, or not established yet (this end wrote first). The data goes
	// the normal way, and so does the rest of what this end sends: a later
	// redirect would overtake it at the receiver.
	bpf_sk_storage_get(&shortcut_off, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	__u32 zero = 0;
	__u64 *fallbacks = bpf_map_lookup_elem(&shortcut_fallbacks, &zero);
	if (fallbacks)
		*fallbacks += 1;
	return SK_PASS;
}

char __license[] SEC("license") = "Dual MIT/GPL";
