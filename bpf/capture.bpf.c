// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * adi capture: the socket traffic of opted-in processes, into one ring buffer.
 *
 * Only tracepoints (no kprobes/fentry: not every kernel we run on has them). Two data paths, one chosen by the
 * loader at start (the other's programs are not loaded):
 *   socket  tp_btf sock:sock_send_length / sock_recv_length (Linux 6.3+): fire inside every socket send and
 *           receive with the socket and the byte count; the user buffers come from the syscall's saved
 *           registers. No syscall tracepoint is attached, so no task is moved to the slow syscall path and a
 *           file read costs nothing; a socket of a process that did not opt in costs one hash lookup.
 *   syscall sys_enter/sys_exit of read, write, readv, writev, recvfrom, sendto, recvmsg, sendmsg, sendfile,
 *           splice, accept, accept4: the fallback for older kernels (Debian 12's 6.1).
 * Both: the TCP state machine (sock:inet_sock_set_state: listening ports and a record of each socket entering or
 * leaving LISTEN, in any process, connect's SYN_SENT, the handshake's end; tcp:tcp_destroy_sock: the end of a
 * connection), and sched exec/fork/exit for opt-in.
 *
 * The concerns live in common/: maps.h (settings, counters, output), optin.h (process opt-in at exec),
 * conn.h (connection identity by socket), payload.h (walking the bytes), syscall_regs.h (socket path: which
 * syscall, which buffers).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "capture.h"
#include "common/maps.h"
#include "common/fd.h"
#include "common/optin.h"
#include "common/conn.h"
#include "common/payload.h"
#include "common/syscall_regs.h"

/* Keep every record type in the object's BTF: the codec's layout test reads the layouts from there. */
const struct adi_data_event *unused_data_event __attribute__((unused));
const struct adi_conn_event *unused_conn_event __attribute__((unused));
const struct adi_proc_event *unused_proc_event __attribute__((unused));
const struct adi_listen_key *unused_listen_key __attribute__((unused));
const struct adi_optin_names *unused_optin_names __attribute__((unused));
const struct adi_listen_event *unused_listen_event __attribute__((unused));

/* ---- socket path ---- */

static __always_inline int on_socket_io(struct sock *sk, int ret, int flags, __u8 dir)
{
	struct adi_optin *o = opted_in(bpf_get_current_pid_tgid() >> 32);

	if (!o || ret <= 0)
		return 0;
	struct io_req a = { .start_ticks = o->start_ticks, .flags = flags };
	io_from_syscall(&a, dir, sk);
	emit_data(sk, &a, ret);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	return on_socket_io(sk, ret, flags, ADI_DIR_EGRESS);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	return on_socket_io(sk, ret, flags, ADI_DIR_INGRESS);
}

/* ---- syscall path (fallback) ---- */

/* Arguments saved at syscall entry, keyed by pid_tgid, consumed at exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct io_req);
} active SEC(".maps");

static __always_inline int enter_io(struct io_req *a)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct adi_optin *o = opted_in(id >> 32);

	if (!o)
		return 0;
	a->start_ticks = o->start_ticks;
	if (bpf_map_update_elem(&active, &id, a, BPF_ANY))
		count_drop(ADI_DROP_ARGS_TABLE_FULL);
	return 0;
}

/* Pops the arguments saved at entry. */
static __always_inline bool take_args(struct io_req *out)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct io_req *a = bpf_map_lookup_elem(&active, &id);

	if (!a)
		return false;
	*out = *a;
	bpf_map_delete_elem(&active, &id);
	return true;
}

static __always_inline int exit_io(long ret)
{
	struct io_req a;

	if (!take_args(&a) || ret <= 0)
		return 0;
	a.peer_known = 1; /* at exit, a receive's sockaddr has been written back */
	struct sock *sk = sock_from_fd(a.fd);
	if (!sk && a.syscall == ADI_SYS_SPLICE) {
		/* splice from a socket into a pipe: bytes received, not captured */
		sk = sock_from_fd(a.fd_in);
		a.fd = a.fd_in;
		a.direction = ADI_DIR_INGRESS;
	}
	emit_data(sk, &a, ret);
	return 0;
}

#define ARG(n) (ctx->args[n])
#define ENTER_BUF(name, sys, dir)                                                              \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                            \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                                \
	{                                                                                      \
		struct io_req a = { .fd = ARG(0), .buf = ARG(1), .buf_len = ARG(2), .syscall = sys, \
				    .direction = dir };                                        \
		return enter_io(&a);                                                           \
	}
#define EXIT_IO(name)                                           \
	SEC("tracepoint/syscalls/sys_exit_" #name)              \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)   \
	{                                                       \
		return exit_io(ctx->ret);                       \
	}

ENTER_BUF(read, ADI_SYS_READ, ADI_DIR_INGRESS)
ENTER_BUF(write, ADI_SYS_WRITE, ADI_DIR_EGRESS)
EXIT_IO(read)
EXIT_IO(write)
EXIT_IO(readv)
EXIT_IO(writev)
EXIT_IO(recvfrom)
EXIT_IO(sendto)
EXIT_IO(recvmsg)
EXIT_IO(sendmsg)
EXIT_IO(sendfile64)
EXIT_IO(splice)
EXIT_IO(preadv2)
EXIT_IO(pwritev2)

SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(0), .iov = ARG(1), .iov_cnt = ARG(2), .syscall = ADI_SYS_READV,
			    .direction = ADI_DIR_INGRESS };
	return enter_io(&a);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(0), .iov = ARG(1), .iov_cnt = ARG(2), .syscall = ADI_SYS_WRITEV,
			    .direction = ADI_DIR_EGRESS };
	return enter_io(&a);
}

/* preadv2/pwritev2 with offset -1 work on sockets, as readv/writev */
SEC("tracepoint/syscalls/sys_enter_preadv2")
int enter_preadv2(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(0), .iov = ARG(1), .iov_cnt = ARG(2), .syscall = ADI_SYS_READV,
			    .direction = ADI_DIR_INGRESS };
	return enter_io(&a);
}

SEC("tracepoint/syscalls/sys_enter_pwritev2")
int enter_pwritev2(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(0), .iov = ARG(1), .iov_cnt = ARG(2), .syscall = ADI_SYS_WRITEV,
			    .direction = ADI_DIR_EGRESS };
	return enter_io(&a);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(0), .buf = ARG(1), .buf_len = ARG(2), .flags = ARG(3), .addr = ARG(4),
			    .syscall = ADI_SYS_RECVFROM, .direction = ADI_DIR_INGRESS };
	return enter_io(&a);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(0), .buf = ARG(1), .buf_len = ARG(2), .flags = ARG(3), .addr = ARG(4),
			    .syscall = ADI_SYS_SENDTO, .direction = ADI_DIR_EGRESS };
	return enter_io(&a);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(0), .msg = ARG(1), .flags = ARG(2), .syscall = ADI_SYS_RECVMSG,
			    .direction = ADI_DIR_INGRESS };
	return enter_io(&a);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(0), .msg = ARG(1), .flags = ARG(2), .syscall = ADI_SYS_SENDMSG,
			    .direction = ADI_DIR_EGRESS };
	return enter_io(&a);
}

SEC("tracepoint/syscalls/sys_enter_sendfile64")
int enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(0), .syscall = ADI_SYS_SENDFILE, .direction = ADI_DIR_EGRESS, .nocopy = 1 };
	return enter_io(&a);
}

SEC("tracepoint/syscalls/sys_enter_splice")
int enter_splice(struct trace_event_raw_sys_enter *ctx)
{
	struct io_req a = { .fd = ARG(2), .fd_in = ARG(0), .syscall = ADI_SYS_SPLICE, .direction = ADI_DIR_EGRESS,
			    .nocopy = 1 };
	return enter_io(&a);
}

/* accept: the kernel's word that this end is the server (the listening-ports map says so too, later). */
static __always_inline int enter_accept_common(__u16 sys)
{
	struct io_req a = { .syscall = sys };
	return enter_io(&a);
}

static __always_inline int exit_accept_common(long ret)
{
	struct io_req a;

	if (!take_args(&a) || ret < 0)
		return 0;
	struct sock *sk = sock_from_fd((int)ret);
	if (sk)
		conn_touch(sk, ADI_ROLE_SERVER, (int)ret, a.syscall, a.start_ticks);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int enter_accept(struct trace_event_raw_sys_enter *ctx) { return enter_accept_common(ADI_SYS_ACCEPT); }
SEC("tracepoint/syscalls/sys_enter_accept4")
int enter_accept4(struct trace_event_raw_sys_enter *ctx) { return enter_accept_common(ADI_SYS_ACCEPT4); }
SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx) { return exit_accept_common(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx) { return exit_accept_common(ctx->ret); }

/* ---- connections (both paths) ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state, const struct sock *csk, const int oldstate, const int newstate)
{
	struct sock *sk = (struct sock *)csk;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_LISTEN) {
		listening_changed(sk, BPF_CORE_READ(sk, __sk_common.skc_num), 1);
		emit_listen(sk, ADI_EV_LISTEN_START);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		/* (a connection request is cloned from its listener and so leaves LISTEN too, for SYN_RECV) */
		listening_changed(sk, BPF_CORE_READ(sk, __sk_common.skc_num), -1);
		emit_listen(sk, ADI_EV_LISTEN_STOP);
	} else if (newstate == TCP_SYN_SENT) {
		/* connect() runs in the connecting task: is it one of ours? */
		struct adi_optin *o = opted_in(bpf_get_current_pid_tgid() >> 32);
		if (o)
			conn_connecting(sk, o->start_ticks);
	} else if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_SENT) {
		conn_established(sk);
	}
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tcp_destroy, struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct conn_val *cur = bpf_map_lookup_elem(&conns, &key);

	if (cur)
		conn_end(key, cur, ADI_SYS_TCP_DESTROY);
	return 0;
}

/* ---- processes ---- */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct proc_scratch *s = proc_scratch();
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!s || tgid == self_tgid)
		return 0;
	__u32 verdict = exec_verdict(p, s);
	__u64 start = start_ticks_of(p);
	bool was_in = bpf_map_lookup_elem(&optin, &tgid) != NULL;
	if (verdict == ADI_OPTIN_YES) {
		struct adi_optin o = { .start_ticks = start };
		bpf_map_update_elem(&optin, &tgid, &o, BPF_ANY);
		/* s->ev.profile and s->ev.profile_name are adjacent, as in struct adi_optin_names */
		bpf_map_update_elem(&optin_names, &tgid, s->ev.profile, BPF_ANY);
	} else if (was_in) {
		/* opted out, or undecided: nothing is captured until user space has read the environment */
		bpf_map_delete_elem(&optin, &tgid);
		bpf_map_delete_elem(&optin_names, &tgid);
	} else if (verdict != ADI_OPTIN_UNDECIDED) {
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
	struct adi_optin_names *names = bpf_map_lookup_elem(&optin_names, &ptgid);
	if (names)
		bpf_map_update_elem(&optin_names, &tgid, names, BPF_ANY);
	struct proc_scratch *s = proc_scratch();
	if (!s)
		return 0;
	/* The exec-time verdict's names, inherited: the child may exit before /proc/PID/environ can be read. */
	if (names) {
		__builtin_memcpy(s->ev.profile, names->profile, sizeof(s->ev.profile));
		__builtin_memcpy(s->ev.profile_name, names->profile_name, sizeof(s->ev.profile_name));
	}
	emit_proc(s, ADI_EV_PROC_FORK, tgid, ptgid, o.start_ticks, ADI_OPTIN_YES);
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
	__u64 start_ticks = o->start_ticks;
	struct conn_sweep sw = { .tgid = tgid };
	bpf_for_each_map_elem(&conns, end_udp_of, &sw, 0);
	struct proc_scratch *s = proc_scratch();
	if (s) {
		/* The exec-time (or inherited) names: an exit fact of a process /proc never showed still carries them. */
		struct adi_optin_names *names = bpf_map_lookup_elem(&optin_names, &tgid);
		if (names) {
			__builtin_memcpy(s->ev.profile, names->profile, sizeof(s->ev.profile));
			__builtin_memcpy(s->ev.profile_name, names->profile_name, sizeof(s->ev.profile_name));
		}
		s->ev.exit_code = BPF_CORE_READ(task, exit_code);
		emit_proc(s, ADI_EV_PROC_EXIT, tgid, BPF_CORE_READ(task, real_parent, tgid), start_ticks,
			  ADI_OPTIN_YES);
	}
	bpf_map_delete_elem(&optin, &tgid);
	bpf_map_delete_elem(&optin_names, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
