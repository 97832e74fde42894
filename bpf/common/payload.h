/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Payload walking: the bytes a send or receive actually moved (its return value), from a plain buffer, an iovec
 * array (every entry, up to the kernel's UIO_MAXIOV) or a msghdr, cut into records of at most ADI_CHUNK_MAX
 * bytes. Whatever cannot be read (no user buffer: sendfile, splice, io_uring; an unreadable iovec; a receive
 * longer than its buffer) ends the syscall's records with a gap record: len 0, flags LAST_CHUNK|GAP, `offset`
 * where capture stopped, so a reader skips total_len - offset bytes and still frames the stream.
 */
#ifndef __ADI_COMMON_PAYLOAD_H
#define __ADI_COMMON_PAYLOAD_H

#define MSG_PEEK 0x2
#define MSG_TRUNC 0x20
#define MSG_ERRQUEUE 0x2000

/*
 * bpf_loop iterations per syscall: an iovec entry costs two (loading it, then emitting its bytes, more than one
 * chunk when it is long: those are counted once more per chunk), plus one for the gap record. If the walk
 * still ends early, the gap record says so (never a syscall without its last record).
 */
#define EMIT_LOOPS (ADI_PAYLOAD_LIMIT_MAX / ADI_CHUNK_MAX + 2 * ADI_IOV_MAX + 1)

/* One send or receive as the hooks see it: where its bytes are in user memory, if anywhere. */
struct io_req {
	__u64 buf; /* plain buffer, or 0 */
	__u64 buf_len; /* its capacity */
	__u64 iov; /* iovec array, or 0 */
	__u64 iov_cnt;
	__u64 msg; /* user_msghdr (sendmsg/recvmsg), or 0 */
	__u64 addr; /* sockaddr of sendto/recvfrom, when readable */
	__u64 start_ticks;
	__s32 fd;
	__u32 flags; /* send/recv flags */
	__u16 syscall; /* enum adi_syscall */
	__u8 direction; /* enum adi_direction */
	__u8 nocopy; /* no user buffer holds these bytes */
	__u8 peer_known; /* a receive's sockaddr/msg_name has been written by the kernel already */
	__u8 _pad[3];
	__s32 fd_in; /* splice: the other end, a socket when bytes were received into a pipe */
	__u32 _pad2;
};

/* State of one syscall's payload walk, chunk by chunk and iovec by iovec. */
struct emit_ctx {
	struct adi_data_event tmpl;
	__u64 iov; /* user iovec array, 0 for a plain buffer */
	__u64 seg_base; /* current segment */
	__u64 seg_left;
	__u32 iov_idx;
	__u32 iov_cnt;
	__u32 budget; /* bytes still to capture */
	__u32 done; /* the syscall's last record was written */
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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct data_scratch);
} data_buf SEC(".maps");

/* The last record of a syscall whose remaining bytes were not captured. */
static __always_inline void emit_gap(struct data_scratch *s)
{
	s->c.done = 1;
	s->ev = s->c.tmpl;
	s->ev.len = 0;
	s->ev.flags |= ADI_DATA_LAST_CHUNK | ADI_DATA_GAP;
	s->ev.h.size = sizeof(s->ev);
	if (!output(&s->ev, sizeof(s->ev), wake_flags()))
		count_written(0);
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
		if (!c->iov || c->iov_idx >= c->iov_cnt || c->iov_idx >= ADI_IOV_MAX) {
			emit_gap(s);
			return 1;
		}
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(c->iov + c->iov_idx * sizeof(iov)))) {
			count_drop(ADI_DROP_PAYLOAD_READ);
			emit_gap(s);
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
	if (!c->budget) {
		s->ev.flags |= ADI_DATA_LAST_CHUNK;
		c->done = 1;
	}
	__u64 size = sizeof(s->ev) + s->ev.len;
	s->ev.h.size = size;
	if (size > sizeof(s->ev) + ADI_CHUNK_MAX)
		return 1;
	if (output(&s->ev, size, wake_flags()))
		return 1;
	count_written(s->ev.len);
	return 0;
}

/*
 * Records for `ret` bytes moved on socket `sk` by the current (opted-in) process, as described by `a`. Nothing
 * for a peek (MSG_PEEK: the bytes are still queued; the real read records them) or a non-INET socket.
 */
static __always_inline void emit_data(struct sock *sk, const struct io_req *a, long ret)
{
	__u64 iov = a->iov, iov_cnt = a->iov_cnt, addr = a->addr, buf = a->buf, buf_len = a->buf_len;
	__u32 zero = 0;
	bool nocopy = a->nocopy;

	if (ret <= 0 || !sk)
		return;
	/* A peek leaves the bytes queued (the real read records them); the error queue holds no stream bytes. */
	if (a->direction == ADI_DIR_INGRESS && (a->flags & (MSG_PEEK | MSG_ERRQUEUE)))
		return;
	struct data_scratch *s = bpf_map_lookup_elem(&data_buf, &zero);
	if (!s)
		return;
	struct conn_val *conn = conn_touch(sk, ADI_ROLE_UNKNOWN, a->fd, a->syscall, a->start_ticks);
	if (!conn)
		return;
	struct emit_ctx *c = &s->c;
	__builtin_memset(c, 0, sizeof(*c));
	c->tmpl.tuple = conn->tuple;
	c->tmpl.conn_id = conn->conn_id;
	if (a->msg) {
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)a->msg)) {
			count_drop(ADI_DROP_PAYLOAD_READ);
			nocopy = true;
		}
		iov = (__u64)msg.msg_iov;
		iov_cnt = msg.msg_iovlen;
		addr = (__u64)msg.msg_name;
		buf = 0;
	}
	if (c->tmpl.tuple.protocol == IPPROTO_UDP && (a->direction == ADI_DIR_EGRESS || a->peer_known))
		peer_from_sockaddr(&c->tmpl.tuple, addr);
	/* MSG_TRUNC on a TCP receive discards the bytes instead of copying them. */
	if (a->direction == ADI_DIR_INGRESS && (a->flags & MSG_TRUNC) && c->tmpl.tuple.protocol == IPPROTO_TCP)
		nocopy = true;

	struct adi_who w = current_who(a->start_ticks);
	fill_header(&c->tmpl.h, ADI_EV_DATA, 0, &w);
	c->tmpl.total_len = ret;
	c->tmpl.fd = a->fd;
	c->tmpl.syscall = a->syscall;
	c->tmpl.direction = a->direction;
	if (nocopy) {
		emit_gap(s);
		return;
	}
	c->budget = ret < payload_limit ? ret : payload_limit;
	if (ret > payload_limit)
		c->tmpl.flags |= ADI_DATA_TRUNCATED;
	c->iov = iov;
	c->iov_cnt = iov_cnt;
	c->seg_base = buf;
	c->seg_left = buf ? (c->budget < buf_len ? c->budget : buf_len) : 0;
	bpf_loop(EMIT_LOOPS, emit_chunk, NULL, 0);
	if (!s->c.done)
		emit_gap(s); /* the walk stopped before the last byte (a write to the ring buffer failed, counted) */
}

#endif /* __ADI_COMMON_PAYLOAD_H */
