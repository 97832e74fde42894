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
	/* bit per enum env_var: the first occurrence of a variable wins, as getenv(3) and Go's os.Getenv read it */
	__u8 seen;
	bool profile_truncated; /* ADI_PROFILE longer than the kernel keeps: the allow-list cannot be checked here */
};

/*
 * Variable names compared a word at a time (little-endian loads of the entry's first bytes): few branches, so the
 * verifier's walk of the bpf_loop callback stays small.
 */
#define W64(a, b, c, d, e, f, g, h)                                                                          \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 |             \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define W32(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)

enum env_var { VAR_OTHER, VAR_PROFILE, VAR_NAME, VAR_DISABLED };

static __always_inline int env_var_of(const char *e)
{
	__u64 w0 = *(const __u64 *)e, w1 = *(const __u64 *)(e + 8), w2 = *(const __u64 *)(e + 16);

	if (w0 != W64('A', 'D', 'I', '_', 'P', 'R', 'O', 'F'))
		return VAR_OTHER;
	if ((__u32)w1 == W32('I', 'L', 'E', '='))
		return VAR_PROFILE; /* ADI_PROFILE= */
	if ((__u32)w1 != W32('I', 'L', 'E', '_'))
		return VAR_OTHER;
	if ((w1 >> 32) == W32('N', 'A', 'M', 'E') && (__u8)w2 == '=')
		return VAR_NAME; /* ADI_PROFILE_NAME= */
	if ((w1 >> 32) == W32('D', 'I', 'S', 'A') && (__u32)w2 == W32('B', 'L', 'E', 'D') && (__u8)(w2 >> 32) == '=')
		return VAR_DISABLED; /* ADI_PROFILE_DISABLED= */
	return VAR_OTHER;
}

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
	/*
	 * n < ENV_ENTRY_LEN: the entry ended in this read. n == ENV_ENTRY_LEN: 255 bytes were copied and the helper
	 * wrote the NUL itself, whether or not the entry ends there: the source byte after them says which. (Taking
	 * the helper's NUL for the entry's made every 256th byte of a long value look like a new variable: a value
	 * could carry "ADI_PROFILE=" and opt a process in.)
	 */
	if (n == ENV_ENTRY_LEN) {
		char next = 1;
		bpf_probe_read_user(&next, 1, (void *)(c->cur + ENV_ENTRY_LEN - 1));
		c->in_entry = next != 0;
		c->cur += c->in_entry ? ENV_ENTRY_LEN - 1 : ENV_ENTRY_LEN;
	} else {
		c->in_entry = false;
		c->cur += n;
	}
	if (continues)
		return 0;
	int var = env_var_of(e);
	if (var == VAR_OTHER || (c->seen & (1 << var)))
		return 0;
	c->seen |= 1 << var;
	if (var == VAR_PROFILE) {
		c->has_profile = e[12] != 0;
		long len = bpf_probe_read_kernel_str(c->s->ev.profile, ADI_PROFILE_LEN, e + 12);
		c->profile_truncated = len >= ADI_PROFILE_LEN || c->in_entry;
	} else if (var == VAR_NAME) {
		bpf_probe_read_kernel_str(c->s->ev.profile_name, ADI_PROFILE_LEN, e + 17);
	} else {
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
		if (c.profile_truncated)
			return ADI_OPTIN_UNDECIDED; /* compared in full by user space */
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
