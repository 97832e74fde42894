/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Connection identity: a connection is a kernel socket (struct sock), not a (process, fd) pair, so fd 0 and fd 1
 * of one socket (inetd, systemd Accept=yes), dup'ed fds and fds passed to another process are one connection.
 * Its id comes from a per-host counter (plus a per-agent base), its 4-tuple is taken when it is first seen and
 * kept (a socket that lost its port after a reset never reports port 0), and its side comes from the kernel:
 * connect() moved it to SYN_SENT (client), or its local port is listening in its network namespace (server).
 */
#ifndef __ADI_COMMON_CONN_H
#define __ADI_COMMON_CONN_H

#define AF_INET 2
#define AF_INET6 10
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define TCP_LISTEN 10

struct conn_val {
	struct adi_tuple tuple;
	__u64 conn_id;
	struct adi_who owner; /* the first opted-in process that used it: named on records made outside it */
	__u8 role;
	__u8 opened; /* ADI_EV_CONN_OPEN emitted (a client waits in SYN_SENT for its local port) */
	__u8 _pad[6];
};

/* Key: the struct sock address. LRU: a UDP socket has no end the kernel reports here. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn_val);
} conns SEC(".maps");

/* Listening TCP ports per network namespace (value: how many sockets listen there). User space seeds it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct adi_listen_key);
	__type(value, __u32);
} listening SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} conn_seq SEC(".maps");

static __always_inline bool is_v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;
	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

static __always_inline bool is_zero(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;
	return (w[0] | w[1] | w[2] | w[3]) == 0;
}

/* IPv4 or IPv6, TCP or UDP: anything else (unix, netlink, raw) is not ours. */
static __always_inline bool read_tuple(struct sock *sk, struct adi_tuple *t)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);

	if (family != AF_INET && family != AF_INET6)
		return false;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return false;
	__builtin_memset(t, 0, sizeof(*t));
	t->protocol = proto;
	t->family = family;
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* A TCP socket reset by its peer is unhashed and loses skc_num; inet_sport still holds its port. */
	if (!t->lport && proto == IPPROTO_TCP)
		t->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)t->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->raddr, sk, __sk_common.skc_daddr);
		return true;
	}
	BPF_CORE_READ_INTO((struct in6_addr *)t->laddr, sk, __sk_common.skc_v6_rcv_saddr);
	BPF_CORE_READ_INTO((struct in6_addr *)t->raddr, sk, __sk_common.skc_v6_daddr);
	/* A dual-stack socket talking IPv4 shows ::ffff:a.b.c.d on both ends. */
	bool lmapped = is_v4_mapped(t->laddr), rmapped = is_v4_mapped(t->raddr);
	if ((lmapped && (rmapped || is_zero(t->raddr))) || (rmapped && is_zero(t->laddr))) {
		__u32 *l = (__u32 *)t->laddr, *r = (__u32 *)t->raddr;
		l[0] = l[3];
		r[0] = r[3];
		l[1] = l[2] = l[3] = 0;
		r[1] = r[2] = r[3] = 0;
		t->family = AF_INET;
	}
	return true;
}

/* Unconnected UDP: the peer is in the sockaddr the caller passed (send) or got back (receive, at syscall exit). */
static __always_inline void peer_from_sockaddr(struct adi_tuple *t, __u64 uaddr)
{
	__u16 family = 0;

	if (!uaddr || t->rport)
		return;
	bpf_probe_read_user(&family, sizeof(family), (void *)uaddr);
	if (family == AF_INET) {
		struct sockaddr_in sin = {};
		bpf_probe_read_user(&sin, sizeof(sin), (void *)uaddr);
		t->rport = bpf_ntohs(sin.sin_port);
		__builtin_memset(t->raddr, 0, sizeof(t->raddr));
		*(__u32 *)t->raddr = sin.sin_addr.s_addr;
	} else if (family == AF_INET6) {
		struct sockaddr_in6 sin6 = {};
		bpf_probe_read_user(&sin6, sizeof(sin6), (void *)uaddr);
		t->rport = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(t->raddr, &sin6.sin6_addr, sizeof(t->raddr));
		/* a dual-stack socket's IPv4 peer (::ffff:a.b.c.d) is reported as IPv4, as read_tuple does */
		if (is_v4_mapped(t->raddr) && (t->family == AF_INET || is_v4_mapped(t->laddr) || is_zero(t->laddr))) {
			__u32 *l = (__u32 *)t->laddr, *r = (__u32 *)t->raddr;
			if (t->family != AF_INET) {
				l[0] = l[3];
				l[1] = l[2] = l[3] = 0;
			}
			r[0] = r[3];
			r[1] = r[2] = r[3] = 0;
			t->family = AF_INET;
		}
	}
}

static __always_inline struct adi_listen_key listen_key(const struct sock *sk, __u16 port)
{
	struct adi_listen_key k = { .port = port };
	k.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	return k;
}

/* A listening socket appeared (+1) or went away (-1) on port in sk's namespace. */
static __always_inline void listening_changed(const struct sock *sk, __u16 port, int delta)
{
	struct adi_listen_key k = listen_key(sk, port);
	__u32 *n = bpf_map_lookup_elem(&listening, &k);

	if (delta > 0) {
		if (n) {
			__sync_fetch_and_add(n, 1);
		} else {
			__u32 one = 1;
			bpf_map_update_elem(&listening, &k, &one, BPF_NOEXIST);
		}
	} else if (n) {
		if (*n <= 1)
			bpf_map_delete_elem(&listening, &k);
		else
			__sync_fetch_and_add(n, (__u32)-1);
	}
}

/*
 * A listening socket appeared or went away: a record naming the current process (any process: listeners of those
 * that did not opt in name destinations too), forcing a wake-up so the agent reads its /proc while it is alive.
 * A socket that listens before it has a port (listen() without bind() takes one just after) is left to the
 * agent's /proc rescan.
 */
static __always_inline void emit_listen(struct sock *sk, __u16 kind)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct adi_listen_event ev = {};

	if (!read_tuple(sk, &ev.tuple) || !ev.tuple.lport)
		return;
	struct adi_who w = current_who(start_ticks_of(task));
	fill_header(&ev.h, kind, sizeof(ev), &w);
	ev.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (ev.tuple.family == AF_INET6 && BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_ipv6only))
		ev.flags |= ADI_LISTEN_V6ONLY;
	BPF_CORE_READ_STR_INTO(&ev.comm, task, group_leader, comm);
	if (!output(&ev, sizeof(ev), BPF_RB_FORCE_WAKEUP))
		count_written(0);
}

static __always_inline __u8 tcp_role_of(const struct sock *sk, __u16 lport)
{
	struct adi_listen_key k = listen_key(sk, lport);
	return bpf_map_lookup_elem(&listening, &k) ? ADI_ROLE_SERVER : ADI_ROLE_CLIENT;
}

static __always_inline __u64 next_conn_id(void)
{
	__u32 k = 0;
	__u64 *seq = bpf_map_lookup_elem(&conn_seq, &k);
	if (!seq)
		return 0;
	return conn_id_base + __sync_fetch_and_add(seq, 1) + 1;
}

static __always_inline void emit_conn(__u16 kind, const struct conn_val *c, int fd, int ret, __u16 syscall,
				      const struct adi_who *w)
{
	struct adi_conn_event ev = {};

	fill_header(&ev.h, kind, sizeof(ev), w);
	ev.conn_id = c->conn_id;
	ev.tuple = c->tuple;
	ev.fd = fd;
	ev.ret = ret;
	ev.syscall = syscall;
	ev.role = c->role;
	if (!output(&ev, sizeof(ev), wake_flags()))
		count_written(0);
}

/* Ends a connection: its close record (if its open was emitted) on behalf of its owner, and forgets it. */
static __always_inline void conn_end(__u64 key, struct conn_val *c, __u16 syscall)
{
	if (c->opened)
		emit_conn(ADI_EV_CONN_CLOSE, c, -1, 0, syscall, &c->owner);
	bpf_map_delete_elem(&conns, &key);
}

/*
 * The connection of socket `sk` as the current (opted-in) process uses it, made on first sight: NULL when sk is
 * not an INET TCP/UDP socket, or is a TCP socket seen for the first time after it lost its ports (counted).
 * `role` is the kernel's word when the caller has it (accept), else ADI_ROLE_UNKNOWN (decided here).
 */
static __always_inline struct conn_val *conn_touch(struct sock *sk, __u8 role, int fd, __u16 syscall,
						   __u64 start_ticks)
{
	__u64 key = (__u64)sk;
	struct conn_val *cur = bpf_map_lookup_elem(&conns, &key);
	struct adi_tuple t;

	if (!read_tuple(sk, &t))
		return NULL;
	if (cur) {
		/* A freed socket's memory reused by a new one (an end we did not see): another protocol or port. */
		bool stale = t.protocol != cur->tuple.protocol ||
			     (t.lport && cur->tuple.lport && t.lport != cur->tuple.lport) ||
			     (cur->opened && t.rport && cur->tuple.rport && t.rport != cur->tuple.rport);
		if (!stale) {
			if (!cur->opened && t.lport && (t.rport || t.protocol == IPPROTO_UDP)) {
				struct adi_who w = current_who(start_ticks);
				cur->tuple = t;
				cur->opened = 1;
				emit_conn(ADI_EV_CONN_OPEN, cur, fd, 0, syscall, &w);
			}
			return cur;
		}
		conn_end(key, cur, syscall);
	}
	if (t.protocol == IPPROTO_TCP && (!t.lport || !t.rport)) {
		count_drop(ADI_DROP_NO_TUPLE);
		return NULL;
	}
	struct conn_val val = {
		.tuple = t,
		.conn_id = next_conn_id(),
		.owner = current_who(start_ticks),
		.role = role != ADI_ROLE_UNKNOWN ? role
			: t.protocol == IPPROTO_TCP ? tcp_role_of(sk, t.lport) : ADI_ROLE_UNKNOWN,
		.opened = 1,
	};
	if (bpf_map_update_elem(&conns, &key, &val, BPF_ANY)) {
		count_drop(ADI_DROP_CONN_TABLE_FULL);
		return NULL;
	}
	emit_conn(ADI_EV_CONN_OPEN, &val, fd, 0, syscall, &val.owner);
	return bpf_map_lookup_elem(&conns, &key);
}

/* connect() moved an opted-in process's socket to SYN_SENT: a client, opened once its local port is known. */
static __always_inline void conn_connecting(struct sock *sk, __u64 start_ticks)
{
	__u64 key = (__u64)sk;
	struct conn_val *cur = bpf_map_lookup_elem(&conns, &key);

	if (cur)
		conn_end(key, cur, ADI_SYS_TCP_STATE); /* reconnect of a socket we knew (or its address reused) */
	struct conn_val val = {
		.conn_id = next_conn_id(),
		.owner = current_who(start_ticks),
		.role = ADI_ROLE_CLIENT,
	};
	if (bpf_map_update_elem(&conns, &key, &val, BPF_ANY))
		count_drop(ADI_DROP_CONN_TABLE_FULL);
}

/* The handshake of a client we saw connecting completed: its tuple is whole now (any context: the owner is named). */
static __always_inline void conn_established(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct conn_val *cur = bpf_map_lookup_elem(&conns, &key);
	struct adi_tuple t;

	if (!cur || cur->opened || !read_tuple(sk, &t))
		return;
	cur->tuple = t;
	cur->opened = 1;
	emit_conn(ADI_EV_CONN_OPEN, cur, -1, 0, ADI_SYS_CONNECT, &cur->owner); /* what opened it */
}

struct conn_sweep {
	__u32 tgid;
};

/* At an owner's exit: UDP sockets have no end the kernel reports here, so they end with their owner. */
static long end_udp_of(struct bpf_map *map, __u64 *key, struct conn_val *val, void *data)
{
	struct conn_sweep *sw = data;

	if (val->owner.pid != sw->tgid || val->tuple.protocol != IPPROTO_UDP)
		return 0;
	conn_end(*key, val, ADI_SYS_EXIT);
	return 0;
}

#endif /* __ADI_COMMON_CONN_H */
