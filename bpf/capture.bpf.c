// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * adi capture: socket syscalls of opted-in processes, into one ring buffer.
 *
 * Only tracepoints (no kprobes/fentry: not every kernel we run on has them).
 * A process is opted in when its tgid is in `optin`; the exec tracepoint reads
 * the new environment and decides there, so a process is captured from its
 * first byte, and user space adds processes that were running before start.
 * Everything else costs one hash lookup per syscall.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "capture.h"

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115
#define NSEC_PER_TICK (1000000000ULL / ADI_USER_HZ)
#define ENV_ENTRY_LEN 256
/* bpf_loop iterations per syscall: one per payload chunk, one per iovec entry. */
#define EMIT_LOOPS (ADI_PAYLOAD_LIMIT_MAX / ADI_CHUNK_MAX + ADI_IOV_MAX)

/* Keep every record type in the object's BTF: the codec's layout test reads the layouts from there. */
const struct adi_data_event *unused_data_event __attribute__((unused));
const struct adi_conn_event *unused_conn_event __attribute__((unused));
const struct adi_proc_event *unused_proc_event __attribute__((unused));

/* Set by user space between open and load. */
const volatile __u32 payload_limit = 65536;
const volatile __u64 wakeup_bytes = 256 * 1024;
const volatile bool allowlist_enabled = false;
const volatile __u32 self_tgid = 0;
const volatile __u64 conn_id_base = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space (ADI_RINGBUF_BYTES) */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct adi_optin);
} optin SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct adi_profile_key);
	__type(value, __u8);
} allowed_profiles SEC(".maps");

struct conn_key {
	__u32 pid;
	__s32 fd;
};

struct conn_val {
	__u64 conn_id;
	__u64 sk; /* the socket it was opened on: a different one means the fd was reused */
	__u8 role;
	__u8 _pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_val);
} conns SEC(".maps");

/* Arguments saved at syscall entry, keyed by pid_tgid, consumed at exit. */
struct syscall_args {
	__u64 buf; /* buffer, iovec array, or user_msghdr */
	__u64 count; /* iovcnt for readv/writev */
	__u64 addr; /* sockaddr of sendto/recvfrom */
	__u64 start_ticks;
	__s32 fd;
	__u16 syscall;
	__u8 direction;
	__u8 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct syscall_args);
} active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ADI_DROP_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Index 0: records written; 1: payload bytes written. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} conn_seq SEC(".maps");

/* State of one syscall's payload walk, chunk by chunk and iovec by iovec. */
struct emit_ctx {
	struct adi_data_event tmpl;
	__u64 iov; /* user iovec array, 0 for a plain buffer */
	__u64 seg_base; /* current segment */
	__u64 seg_left;
	__u32 iov_idx;
	__u32 iov_cnt;
	__u32 budget; /* bytes still to capture */
};

/*
 * Per-CPU working memory of a data syscall. The walk state lives here, not on
 * the stack, so the verifier sees each bpf_loop iteration as the same state.
 */
struct data_scratch {
	struct emit_ctx c;
	struct adi_data_event ev;
	__u8 payload[ADI_CHUNK_MAX];
};

struct proc_scratch {
	struct adi_proc_event ev;
	char entry[ENV_ENTRY_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct data_scratch);
} data_buf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_scratch);
} proc_buf SEC(".maps");

static __always_inline void count_drop(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&drops, &reason);
	if (v)
		*v += 1;
}

static __always_inline void count_written(__u64 bytes)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&counters, &k);
	if (v)
		*v += 1;
	k = 1;
	v = bpf_map_lookup_elem(&counters, &k);
	if (v)
		*v += bytes;
}

/* Wake user space only once enough is queued; it also polls on a short timer. */
static __always_inline __u64 wake_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									   : BPF_RB_NO_WAKEUP;
}

static __always_inline int output(void *rec, __u64 size, __u64 flags)
{
	if (bpf_ringbuf_output(&events, rec, size, flags)) {
		count_drop(ADI_DROP_RINGBUF_FULL);
		return -1;
	}
	return 0;
}

static __always_inline void fill_header(struct adi_event_header *h, __u16 kind, __u32 size,
					__u64 start_ticks)
{
	__u64 id = bpf_get_current_pid_tgid();
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->start_ticks = start_ticks;
	h->size = size;
	h->kind = kind;
	h->cpu = bpf_get_smp_processor_id();
	h->pid = id >> 32;
	h->tid = (__u32)id;
}

static __always_inline struct adi_optin *opted_in(__u32 tgid)
{
	if (tgid == self_tgid)
		return NULL;
	return bpf_map_lookup_elem(&optin, &tgid);
}

/* task -> files -> fdtable -> file -> socket -> sock, or NULL when fd is not a socket. */
static __always_inline struct sock *sock_from_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

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

/* Unconnected UDP: the peer is in the sockaddr the caller passed. */
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
	}
}

static __always_inline void emit_conn(__u16 kind, __u64 conn_id, const struct adi_tuple *t, int fd,
				      int ret, __u16 syscall, __u8 role, __u64 start_ticks)
{
	struct adi_conn_event ev = {};

	fill_header(&ev.h, kind, sizeof(ev), start_ticks);
	ev.conn_id = conn_id;
	ev.tuple = *t;
	ev.fd = fd;
	ev.ret = ret;
	ev.syscall = syscall;
	ev.role = role;
	if (!output(&ev, sizeof(ev), wake_flags()))
		count_written(0);
}

static __always_inline __u64 next_conn_id(void)
{
	__u32 k = 0;
	__u64 *seq = bpf_map_lookup_elem(&conn_seq, &k);
	if (!seq)
		return 0;
	return conn_id_base + __sync_fetch_and_add(seq, 1) + 1;
}

/*
 * The connection id of (tgid, fd) on socket sk. A new socket behind a known fd
 * (close missed, dup2) closes the old id and opens a new one.
 */
static __always_inline __u64 conn_for(__u32 tgid, int fd, struct sock *sk, const struct adi_tuple *t,
				      __u16 syscall, __u8 role, int ret, bool opening, __u64 start_ticks)
{
	struct conn_key key = { .pid = tgid, .fd = fd };
	struct conn_val *cur = bpf_map_lookup_elem(&conns, &key);

	if (cur) {
		if (cur->sk == (__u64)sk && !opening)
			return cur->conn_id;
		emit_conn(ADI_EV_CONN_CLOSE, cur->conn_id, t, fd, 0, syscall, cur->role, start_ticks);
	}
	struct conn_val val = { .conn_id = next_conn_id(), .sk = (__u64)sk, .role = role };
	if (bpf_map_update_elem(&conns, &key, &val, BPF_ANY))
		count_drop(ADI_DROP_CONN_TABLE_FULL);
	emit_conn(ADI_EV_CONN_OPEN, val.conn_id, t, fd, ret, syscall, role, start_ticks);
	return val.conn_id;
}

static long emit_chunk(__u32 index, void *data)
{
	__u32 zero = 0;
	struct data_scratch *s = bpf_map_lookup_elem(&data_buf, &zero);

	if (!s)
		return 1;
	struct emit_ctx *c = &s->c;
	if (!c->budget)
		return 1;
	if (!c->seg_left) {
		struct iovec iov = {};
		if (!c->iov || c->iov_idx >= c->iov_cnt || c->iov_idx >= ADI_IOV_MAX)
			return 1;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(c->iov + c->iov_idx * sizeof(iov)))) {
			count_drop(ADI_DROP_PAYLOAD_READ);
			return 1;
		}
		c->iov_idx++;
		c->seg_base = (__u64)iov.iov_base;
		c->seg_left = iov.iov_len;
		return 0;
	}
	__u64 n = c->seg_left;
	if (n > c->budget)
		n = c->budget;
	if (n > ADI_CHUNK_MAX)
		n = ADI_CHUNK_MAX;
	s->ev = c->tmpl;
	s->ev.len = n;
	if (bpf_probe_read_user(s->payload, n, (void *)c->seg_base)) {
		count_drop(ADI_DROP_PAYLOAD_READ);
		s->ev.len = 0;
		s->ev.flags |= ADI_DATA_READ_FAILED;
	}
	c->seg_base += n;
	c->seg_left -= n;
	c->budget -= n;
	c->tmpl.offset += n;
	if (!c->budget)
		s->ev.flags |= ADI_DATA_LAST_CHUNK;
	__u64 size = sizeof(s->ev) + s->ev.len;
	s->ev.h.size = size;
	if (size > sizeof(s->ev) + ADI_CHUNK_MAX)
		return 1;
	if (output(&s->ev, size, wake_flags()))
		return 1;
	count_written(s->ev.len);
	return 0;
}

static __always_inline void emit_data(const struct syscall_args *a, long ret)
{
	struct sock *sk = sock_from_fd(a->fd);
	__u64 buf = a->buf, iov = 0, iov_cnt = 0, addr = a->addr;
	__u32 zero = 0;
	struct data_scratch *s = bpf_map_lookup_elem(&data_buf, &zero);

	if (!s || !sk)
		return;
	struct emit_ctx *c = &s->c;
	__builtin_memset(c, 0, sizeof(*c));
	if (!read_tuple(sk, &c->tmpl.tuple))
		return;
	if (a->syscall == ADI_SYS_SENDMSG || a->syscall == ADI_SYS_RECVMSG) {
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)buf)) {
			count_drop(ADI_DROP_PAYLOAD_READ);
			return;
		}
		iov = (__u64)msg.msg_iov;
		iov_cnt = msg.msg_iovlen;
		addr = (__u64)msg.msg_name;
		buf = 0;
	} else if (a->syscall == ADI_SYS_READV || a->syscall == ADI_SYS_WRITEV) {
		iov = buf;
		iov_cnt = a->count;
		buf = 0;
	}
	if (c->tmpl.tuple.protocol == IPPROTO_UDP)
		peer_from_sockaddr(&c->tmpl.tuple, addr);

	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	c->tmpl.conn_id = conn_for(tgid, a->fd, sk, &c->tmpl.tuple, a->syscall, ADI_ROLE_UNKNOWN, 0, false,
				   a->start_ticks);
	fill_header(&c->tmpl.h, ADI_EV_DATA, 0, a->start_ticks);
	c->tmpl.total_len = ret;
	c->tmpl.fd = a->fd;
	c->tmpl.syscall = a->syscall;
	c->tmpl.direction = a->direction;
	c->budget = ret < payload_limit ? ret : payload_limit;
	if (ret > payload_limit)
		c->tmpl.flags |= ADI_DATA_TRUNCATED;
	c->iov = iov;
	c->iov_cnt = iov_cnt;
	c->seg_base = buf;
	c->seg_left = buf ? c->budget : 0;
	bpf_loop(EMIT_LOOPS, emit_chunk, NULL, 0);
}

static __always_inline int enter_io(int fd, __u64 buf, __u64 count, __u64 addr, __u16 syscall, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct adi_optin *o = opted_in(id >> 32);

	if (!o)
		return 0;
	struct syscall_args a = {
		.buf = buf, .count = count, .addr = addr, .start_ticks = o->start_ticks,
		.fd = fd, .syscall = syscall, .direction = dir,
	};
	if (bpf_map_update_elem(&active, &id, &a, BPF_ANY))
		count_drop(ADI_DROP_ARGS_TABLE_FULL);
	return 0;
}

/* Pops the arguments saved at entry; NULL-safe copy into *out. */
static __always_inline bool take_args(struct syscall_args *out)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct syscall_args *a = bpf_map_lookup_elem(&active, &id);

	if (!a)
		return false;
	*out = *a;
	bpf_map_delete_elem(&active, &id);
	return true;
}

static __always_inline int exit_io(long ret)
{
	struct syscall_args a;

	if (!take_args(&a))
		return 0;
	if (ret > 0)
		emit_data(&a, ret);
	return 0;
}

static __always_inline int exit_open(long ret, __u8 role)
{
	struct syscall_args a;
	struct adi_tuple t;

	if (!take_args(&a))
		return 0;
	/* connect: the socket is a's fd; accept: the new fd is the return value */
	int fd = role == ADI_ROLE_CLIENT ? a.fd : (int)ret;
	if (role == ADI_ROLE_CLIENT ? (ret != 0 && ret != -EINPROGRESS) : ret < 0)
		return 0;
	struct sock *sk = sock_from_fd(fd);
	if (!sk || !read_tuple(sk, &t))
		return 0;
	conn_for(bpf_get_current_pid_tgid() >> 32, fd, sk, &t, a.syscall, role, ret, true, a.start_ticks);
	return 0;
}

#define ARG(n) (ctx->args[n])

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), ARG(1), 0, 0, ADI_SYS_READ, ADI_DIR_INGRESS); }
SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), ARG(1), 0, 0, ADI_SYS_WRITE, ADI_DIR_EGRESS); }
SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), ARG(1), ARG(2), 0, ADI_SYS_READV, ADI_DIR_INGRESS); }
SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), ARG(1), ARG(2), 0, ADI_SYS_WRITEV, ADI_DIR_EGRESS); }
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), ARG(1), 0, ARG(4), ADI_SYS_RECVFROM, ADI_DIR_INGRESS); }
SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), ARG(1), 0, ARG(4), ADI_SYS_SENDTO, ADI_DIR_EGRESS); }
SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), ARG(1), 0, 0, ADI_SYS_RECVMSG, ADI_DIR_INGRESS); }
SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), ARG(1), 0, 0, ADI_SYS_SENDMSG, ADI_DIR_EGRESS); }
SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), 0, 0, 0, ADI_SYS_CONNECT, 0); }
SEC("tracepoint/syscalls/sys_enter_accept")
int enter_accept(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), 0, 0, 0, ADI_SYS_ACCEPT, 0); }
SEC("tracepoint/syscalls/sys_enter_accept4")
int enter_accept4(struct trace_event_raw_sys_enter *ctx) { return enter_io(ARG(0), 0, 0, 0, ADI_SYS_ACCEPT4, 0); }

SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx) { return exit_io(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct trace_event_raw_sys_exit *ctx) { return exit_io(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct trace_event_raw_sys_exit *ctx) { return exit_io(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct trace_event_raw_sys_exit *ctx) { return exit_io(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct trace_event_raw_sys_exit *ctx) { return exit_io(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct trace_event_raw_sys_exit *ctx) { return exit_io(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx) { return exit_io(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct trace_event_raw_sys_exit *ctx) { return exit_io(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx) { return exit_open(ctx->ret, ADI_ROLE_CLIENT); }
SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx) { return exit_open(ctx->ret, ADI_ROLE_SERVER); }
SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx) { return exit_open(ctx->ret, ADI_ROLE_SERVER); }

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct adi_optin *o = opted_in(tgid);
	struct conn_key key = { .pid = tgid, .fd = (int)ARG(0) };
	struct adi_tuple t = {};

	if (!o)
		return 0;
	struct conn_val *cur = bpf_map_lookup_elem(&conns, &key);
	if (!cur)
		return 0;
	struct sock *sk = sock_from_fd(key.fd);
	if (sk)
		read_tuple(sk, &t);
	emit_conn(ADI_EV_CONN_CLOSE, cur->conn_id, &t, key.fd, 0, ADI_SYS_CLOSE, cur->role, o->start_ticks);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* ---- processes ---- */

struct env_scan {
	__u64 cur;
	__u64 end;
	struct proc_scratch *s;
	bool has_profile;
	bool disabled;
	bool in_entry; /* the previous read stopped inside a long entry */
};

/* Compare with a string literal, unrolled: the verifier sees constant offsets. */
#define HAS_PREFIX(s, lit)                                        \
	({                                                        \
		bool __ok = true;                                 \
		_Pragma("unroll") for (int __i = 0; __i < (int)sizeof(lit) - 1; __i++) \
			if ((s)[__i] != (lit)[__i])               \
				__ok = false;                     \
		__ok;                                             \
	})

static long scan_env_entry(__u32 index, void *data)
{
	struct env_scan *c = data;
	char *e = c->s->entry;

	if (c->cur >= c->end)
		return 1;
	long n = bpf_probe_read_user_str(e, ENV_ENTRY_LEN, (void *)c->cur);
	if (n <= 0)
		return 1;
	bool continues = c->in_entry;
	/* n == ENV_ENTRY_LEN: the entry goes on past this read (no NUL yet) */
	c->in_entry = n == ENV_ENTRY_LEN && e[ENV_ENTRY_LEN - 1] == 0 ? false : n == ENV_ENTRY_LEN;
	c->cur += c->in_entry ? ENV_ENTRY_LEN - 1 : n;
	if (continues)
		return 0;
	if (HAS_PREFIX(e, "ADI_PROFILE=")) {
		c->has_profile = e[12] != 0;
		bpf_probe_read_kernel_str(c->s->ev.profile, ADI_PROFILE_LEN, e + 12);
	} else if (HAS_PREFIX(e, "ADI_PROFILE_NAME=")) {
		bpf_probe_read_kernel_str(c->s->ev.profile_name, ADI_PROFILE_LEN, e + 17);
	} else if (HAS_PREFIX(e, "ADI_PROFILE_DISABLED=")) {
		c->disabled = e[21] == '1' && e[22] == 0;
	}
	return 0;
}

static __always_inline __u64 start_ticks_of(struct task_struct *p)
{
	return BPF_CORE_READ(p, group_leader, start_boottime) / NSEC_PER_TICK;
}

static __always_inline void emit_proc(struct proc_scratch *s, __u16 kind, __u32 pid, __u32 ppid,
				      __u64 start_ticks, __u32 verdict)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	fill_header(&s->ev.h, kind, sizeof(s->ev), start_ticks);
	s->ev.h.pid = pid;
	s->ev.ppid = ppid;
	s->ev.optin = verdict;
	/* The process's name, not the thread's: exit is reported by whichever thread is last. */
	BPF_CORE_READ_STR_INTO(&s->ev.comm, task, group_leader, comm);
	if (!output(&s->ev, sizeof(s->ev), BPF_RB_FORCE_WAKEUP))
		count_written(0);
}

static __always_inline struct proc_scratch *proc_scratch(void)
{
	__u32 zero = 0;
	struct proc_scratch *s = bpf_map_lookup_elem(&proc_buf, &zero);
	if (s)
		__builtin_memset(&s->ev, 0, sizeof(s->ev));
	return s;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct proc_scratch *s = proc_scratch();
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!s || tgid == self_tgid)
		return 0;
	struct env_scan c = {
		.cur = BPF_CORE_READ(p, mm, env_start),
		.end = BPF_CORE_READ(p, mm, env_end),
		.s = s,
	};
	bpf_loop(ADI_ENV_ENTRIES_MAX, scan_env_entry, &c, 0);

	__u32 verdict = ADI_OPTIN_NONE;
	if (c.has_profile) {
		verdict = ADI_OPTIN_YES;
		if (c.disabled)
			verdict = ADI_OPTIN_DISABLED;
		else if (allowlist_enabled) {
			struct adi_profile_key key = {};
			bpf_probe_read_kernel_str(key.value, sizeof(key.value), s->ev.profile);
			if (!bpf_map_lookup_elem(&allowed_profiles, &key))
				verdict = ADI_OPTIN_NOT_ALLOWED;
		}
	}
	__u64 start = start_ticks_of(p);
	bool was_in = bpf_map_lookup_elem(&optin, &tgid) != NULL;
	if (verdict == ADI_OPTIN_YES) {
		struct adi_optin o = { .start_ticks = start };
		bpf_map_update_elem(&optin, &tgid, &o, BPF_ANY);
	} else if (was_in) {
		bpf_map_delete_elem(&optin, &tgid);
	} else {
		return 0;
	}
	__u64 arg_start = BPF_CORE_READ(p, mm, arg_start), arg_end = BPF_CORE_READ(p, mm, arg_end);
	__u64 len = arg_end - arg_start;
	if (len > ADI_CMDLINE_LEN)
		len = ADI_CMDLINE_LEN;
	if (bpf_probe_read_user(s->ev.cmdline, len, (void *)arg_start) == 0)
		s->ev.cmdline_len = len;
	emit_proc(s, ADI_EV_PROC_EXEC, tgid, BPF_CORE_READ(p, real_parent, tgid), start, verdict);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 pid = BPF_CORE_READ(child, pid), tgid = BPF_CORE_READ(child, tgid);

	if (pid != tgid || !opted_in(ptgid)) /* threads share their process's verdict */
		return 0;
	struct adi_optin o = { .start_ticks = BPF_CORE_READ(child, start_boottime) / NSEC_PER_TICK };
	bpf_map_update_elem(&optin, &tgid, &o, BPF_ANY);
	struct proc_scratch *s = proc_scratch();
	if (s)
		emit_proc(s, ADI_EV_PROC_FORK, tgid, ptgid, o.start_ticks, ADI_OPTIN_YES);
	return 0;
}

struct conn_sweep {
	__u32 tgid;
	__u64 start_ticks;
};

static long close_conns_of(struct bpf_map *map, struct conn_key *key, struct conn_val *val, void *data)
{
	struct conn_sweep *sw = data;
	struct adi_tuple t = {};

	if (key->pid != sw->tgid)
		return 0;
	emit_conn(ADI_EV_CONN_CLOSE, val->conn_id, &t, key->fd, 0, 0, val->role, sw->start_ticks);
	bpf_map_delete_elem(map, key);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct adi_optin *o = opted_in(tgid);

	/* Only the last thread out ends the process. */
	if (!o || BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	struct conn_sweep sw = { .tgid = tgid, .start_ticks = o->start_ticks };
	bpf_for_each_map_elem(&conns, close_conns_of, &sw, 0);
	struct proc_scratch *s = proc_scratch();
	if (s) {
		s->ev.exit_code = BPF_CORE_READ(task, exit_code);
		emit_proc(s, ADI_EV_PROC_EXIT, tgid, BPF_CORE_READ(task, real_parent, tgid), sw.start_ticks,
			  ADI_OPTIN_YES);
	}
	bpf_map_delete_elem(&optin, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
