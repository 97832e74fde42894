/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Process opt-in: the Go tool's rules (ADI_PROFILE non-empty, ADI_PROFILE_DISABLED≠1, value in
 * ADI_PROFILE_ALLOWED when set) decided at exec from the new environment, inherited at fork, dropped at exit.
 * Every other hook asks `opted_in(tgid)`: one hash lookup for a process that did not opt in.
 */
#ifndef __ADI_COMMON_OPTIN_H
#define __ADI_COMMON_OPTIN_H

#define NSEC_PER_TICK (1000000000ULL / ADI_USER_HZ)
#define ENV_ENTRY_LEN 256

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct adi_optin);
} optin SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct adi_optin_names);
} optin_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct adi_profile_key);
	__type(value, __u8);
} allowed_profiles SEC(".maps");

struct proc_scratch {
	struct adi_proc_event ev;
	char entry[ENV_ENTRY_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_scratch);
} proc_buf SEC(".maps");

static __always_inline struct adi_optin *opted_in(__u32 tgid)
{
	if (tgid == self_tgid)
		return NULL;
	return bpf_map_lookup_elem(&optin, &tgid);
}

static __always_inline __u64 start_ticks_of(struct task_struct *p)
{
	return BPF_CORE_READ(p, group_leader, start_boottime) / NSEC_PER_TICK;
}

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

/* One bpf_loop step: read the next (piece of an) environment entry and apply the rules to it. */
static long scan_env_entry(__u32 index, void *data)
{
	struct env_scan *c = data;
	char *e = c->s->entry;

	if (c->cur >= c->end)
		return 1;
	long n = bpf_probe_read_user_str(e, ENV_ENTRY_LEN, (void *)c->cur);
	if (n <= 0)
		return 1; /* unreadable: the walk stops short, and user space decides */
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

/*
 * The exec-time verdict for the new image of `p`, from its whole environment (ADI_ENV_READS_MAX reads of at most
 * 255 bytes; a longer environment is ADI_OPTIN_UNDECIDED). Leaves ADI_PROFILE and ADI_PROFILE_NAME in s->ev.
 */
static __always_inline __u32 exec_verdict(struct task_struct *p, struct proc_scratch *s)
{
	struct env_scan c = {
		.cur = BPF_CORE_READ(p, mm, env_start),
		.end = BPF_CORE_READ(p, mm, env_end),
		.s = s,
	};
	bpf_loop(ADI_ENV_READS_MAX, scan_env_entry, &c, 0);
	if (c.cur < c.end)
		return ADI_OPTIN_UNDECIDED;
	if (!c.has_profile)
		return ADI_OPTIN_NONE;
	if (c.disabled)
		return ADI_OPTIN_DISABLED;
	if (allowlist_enabled) {
		struct adi_profile_key key = {};
		bpf_probe_read_kernel_str(key.value, sizeof(key.value), s->ev.profile);
		if (!bpf_map_lookup_elem(&allowed_profiles, &key))
			return ADI_OPTIN_NOT_ALLOWED;
	}
	return ADI_OPTIN_YES;
}

static __always_inline struct proc_scratch *proc_scratch(void)
{
	__u32 zero = 0;
	struct proc_scratch *s = bpf_map_lookup_elem(&proc_buf, &zero);
	if (s)
		__builtin_memset(&s->ev, 0, sizeof(s->ev));
	return s;
}

static __always_inline void emit_proc(struct proc_scratch *s, __u16 kind, __u32 pid, __u32 ppid,
				      __u64 start_ticks, __u32 verdict)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct adi_who w = current_who(start_ticks);

	w.pid = pid;
	fill_header(&s->ev.h, kind, sizeof(s->ev), &w);
	s->ev.ppid = ppid;
	s->ev.optin = verdict;
	/* The process's name, not the thread's: exit is reported by whichever thread is last. */
	BPF_CORE_READ_STR_INTO(&s->ev.comm, task, group_leader, comm);
	if (!output(&s->ev, sizeof(s->ev), BPF_RB_FORCE_WAKEUP))
		count_written(0);
}

#endif /* __ADI_COMMON_OPTIN_H */
