// SPDX-License-Identifier: (MIT OR GPL-2.0)
//
// Service steering for gammaproof: cgroup/connect4 rewrites a TCP connect()
// to a steered Service VIP:port into a connect() to the node proxy's
// listener for it, and cgroup/getpeername4 shows the caller the Service
// address again. Only Service VIPs are keys, so connections to pod IPs
// (including the proxy's own upstream connections) pass through untouched.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SOCK_STREAM 1
#define AF_INET 2
// Deepest cgroup level searched for a namespace entry.
#define MAX_CGROUP_DEPTH 16

// Steering key. caller_ns 0 means "any caller".
struct steer_key {
	__u32 caller_ns;
	__u32 vip;  // network byte order
	__u16 port; // network byte order
	__u16 pad;
};

// Where a steered connection goes: the node proxy's listener.
struct steer_target {
	__u32 ip;   // network byte order
	__u16 port; // network byte order
	__u16 pad;
};

// What a steered socket originally connected to, and where it went.
struct orig_dst {
	__u32 vip;
	__u16 vip_port;
	__u16 pad;
	__u32 target_ip;
	__u16 target_port;
	__u16 pad2;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct steer_key);
	__type(value, struct steer_target);
} steering SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);   // cgroup id
	__type(value, __u32); // namespace id
} cgroup_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct orig_dst);
} orig_dsts SEC(".maps");

// caller_ns returns the namespace id of the current task's cgroup or of its
// deepest ancestor that has one, 0 if none has.
static __always_inline __u32 caller_ns(void) {
	__u64 id = bpf_get_current_cgroup_id();
	__u32 *ns = bpf_map_lookup_elem(&cgroup_ns, &id);
	if (ns)
		return *ns;

	__u32 found = 0;
	for (int level = 1; level < MAX_CGROUP_DEPTH; level++) {
		__u64 aid = bpf_get_current_ancestor_cgroup_id(level);
		if (aid == 0 || aid == id)
			break;
		ns = bpf_map_lookup_elem(&cgroup_ns, &aid);
		if (ns)
			found = *ns;
	}
	return found;
}

SEC("cgroup/connect4")
int steer_connect4(struct bpf_sock_addr *ctx) {
	if (ctx->user_family != AF_INET || ctx->type != SOCK_STREAM)
		return 1;

	struct steer_key key = {
		.vip = ctx->user_ip4,
		.port = (__u16)ctx->user_port,
	};
	struct steer_target *target = 0;

	key.caller_ns = caller_ns();
	if (key.caller_ns != 0)
		target = bpf_map_lookup_elem(&steering, &key);
	if (!target) {
		key.caller_ns = 0;
		target = bpf_map_lookup_elem(&steering, &key);
	}
	if (!target)
		return 1;

	struct bpf_sock *sk = ctx->sk;
	if (sk) {
		struct orig_dst *orig = bpf_sk_storage_get(&orig_dsts, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (orig) {
			orig->vip = key.vip;
			orig->vip_port = key.port;
			orig->target_ip = target->ip;
			orig->target_port = target->port;
		}
	}

	ctx->user_ip4 = target->ip;
	ctx->user_port = (__u32)target->port;
	return 1;
}

SEC("cgroup/getpeername4")
int steer_getpeername4(struct bpf_sock_addr *ctx) {
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return 1;
	struct orig_dst *orig = bpf_sk_storage_get(&orig_dsts, sk, 0, 0);
	if (!orig)
		return 1;
	if (ctx->user_ip4 != orig->target_ip || (__u16)ctx->user_port != orig->target_port)
		return 1;
	ctx->user_ip4 = orig->vip;
	ctx->user_port = (__u32)orig->vip_port;
	return 1;
}

char __license[] SEC("license") = "Dual MIT/GPL";
