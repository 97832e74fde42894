/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Settings, maps shared by every concern, loss counters and the one way a record
 * leaves the kernel (the ring buffer). Included once, by capture.bpf.c.
 */
#ifndef __ADI_COMMON_MAPS_H
#define __ADI_COMMON_MAPS_H

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

/* Whose record this is: the current process, or (softirq, another task) the owner a connection remembers. */
struct adi_who {
	__u64 start_ticks;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
};

static __always_inline struct adi_who current_who(__u64 start_ticks)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct adi_who w = {
		.start_ticks = start_ticks,
		.cgroup_id = bpf_get_current_cgroup_id(),
		.pid = id >> 32,
		.tid = (__u32)id,
	};
	return w;
}

static __always_inline void fill_header(struct adi_event_header *h, __u16 kind, __u32 size,
					const struct adi_who *w)
{
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->start_ticks = w->start_ticks;
	h->cgroup_id = w->cgroup_id;
	h->size = size;
	h->kind = kind;
	h->cpu = bpf_get_smp_processor_id();
	h->pid = w->pid;
	h->tid = w->tid;
}

#endif /* __ADI_COMMON_MAPS_H */
