/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Event layouts shared by the kernel program (capture.bpf.c), the addon
 * (services/capture/native) and, through a layout test, the TypeScript codec
 * (shared/src/wire/raw-events.ts). Change a struct here and the codec test
 * fails until the codec follows: bump ADI_WIRE_VERSION when you do.
 *
 * Every record starts with struct adi_event_header; `size` is the whole
 * record, so a reader can skip kinds it does not know. Integers are
 * little-endian (the host's), fields are laid out largest first with explicit
 * padding so no compiler inserts any.
 */
#ifndef __ADI_CAPTURE_H
#define __ADI_CAPTURE_H

#define ADI_WIRE_VERSION 2

#define ADI_TASK_COMM_LEN 16
/* Payload bytes carried by one data record; a syscall that moved more is cut into chunks. */
#define ADI_CHUNK_MAX 16384
/* Upper bound for the configurable per-syscall payload limit. */
#define ADI_PAYLOAD_LIMIT_MAX (1024 * 1024)
/* Entries of an iovec array followed per syscall: the kernel's own limit (UIO_MAXIOV), so every iovec is walked. */
#define ADI_IOV_MAX 1024
#define ADI_PROFILE_LEN 64
#define ADI_CMDLINE_LEN 512
/*
 * Reads the exec hook makes to walk a new environment: one per variable (and one per 255 bytes of a long one).
 * 2,097,152 reads cover every environment the kernel lets an exec pass with the default 8 MiB stack limit (a
 * quarter of it, 2 MiB of strings, even of empty ones). An environment that is longer still is not decided in
 * the kernel: the exec record says ADI_OPTIN_UNDECIDED and user space decides from /proc/PID/environ (logged and
 * counted).
 */
#define ADI_ENV_READS_MAX (1 << 21)
/* USER_HZ: /proc/PID/stat reports start times in these ticks. */
#define ADI_USER_HZ 100

enum adi_event_kind {
	ADI_EV_DATA = 1,
	ADI_EV_CONN_OPEN = 2,
	ADI_EV_CONN_CLOSE = 3,
	ADI_EV_PROC_EXEC = 4,
	ADI_EV_PROC_FORK = 5,
	ADI_EV_PROC_EXIT = 6,
	/*
	 * A TCP socket entered LISTEN / left it (to CLOSE), in any process, opted in or not: struct adi_listen_event.
	 * Side records (never in ADI_RAW): the agent turns them into listener facts while the owner is still alive.
	 */
	ADI_EV_LISTEN_START = 7,
	ADI_EV_LISTEN_STOP = 8,
};

enum adi_direction {
	ADI_DIR_EGRESS = 1, /* the process sent these bytes */
	ADI_DIR_INGRESS = 2, /* the process received these bytes */
};

enum adi_syscall {
	ADI_SYS_READ = 1,
	ADI_SYS_WRITE = 2,
	ADI_SYS_READV = 3,
	ADI_SYS_WRITEV = 4,
	ADI_SYS_RECVFROM = 5,
	ADI_SYS_SENDTO = 6,
	ADI_SYS_RECVMSG = 7,
	ADI_SYS_SENDMSG = 8,
	ADI_SYS_CONNECT = 9,
	ADI_SYS_ACCEPT = 10,
	ADI_SYS_ACCEPT4 = 11,
	ADI_SYS_CLOSE = 12,
	ADI_SYS_SENDFILE = 13, /* payload not captured: the bytes come from a file */
	ADI_SYS_SPLICE = 14, /* payload not captured: the bytes come from a pipe */
	ADI_SYS_IO_URING = 15, /* payload not captured: the buffers are in the ring's submissions */
	ADI_SYS_SENDMMSG = 16, /* payload not captured: which message of the vector is not known */
	ADI_SYS_RECVMMSG = 17,
	ADI_SYS_OTHER = 18, /* a socket send/receive the syscall of which was not recognised */
	ADI_SYS_TCP_STATE = 19, /* connection events from the TCP state machine (sock:inet_sock_set_state) */
	ADI_SYS_TCP_DESTROY = 20, /* connection end from tcp:tcp_destroy_sock */
	ADI_SYS_EXIT = 21, /* connection end swept when its last owner exited (UDP) */
};

/* Which hooks feed the data path (the loader picks one at start; ADI_CAPTURE_HOOKS forces it). */
enum adi_hooks {
	ADI_HOOKS_SOCKET = 1, /* tp_btf sock:sock_send_length / sock_recv_length (Linux 6.3+) */
	ADI_HOOKS_SYSCALL = 2, /* syscalls:sys_enter_* / sys_exit_* (every kernel with BTF) */
};

enum adi_conn_role {
	ADI_ROLE_UNKNOWN = 0, /* UDP sockets: no connection, no side */
	ADI_ROLE_CLIENT = 1, /* TCP: opened by connect() (SYN_SENT), or its local port is not a listening port */
	ADI_ROLE_SERVER = 2, /* TCP: accepted, or its local port is listening in its network namespace */
};

/* adi_data_event.flags */
#define ADI_DATA_TRUNCATED 0x1 /* the syscall moved more than the payload limit */
#define ADI_DATA_LAST_CHUNK 0x2 /* last record of this syscall */
#define ADI_DATA_READ_FAILED 0x4 /* the payload could not be read: len is 0 */
/*
 * Bytes [offset + len, total_len) of this syscall were not captured: there is no user buffer to read (sendfile,
 * splice, io_uring, sendmmsg), an iovec could not be read, or a receive was longer than its buffer. Set on the
 * last record of the syscall, so a reader can skip the gap by length.
 */
#define ADI_DATA_GAP 0x8

/* adi_listen_event.flags */
#define ADI_LISTEN_V6ONLY 0x1 /* an AF_INET6 listener with IPV6_V6ONLY: it does not accept IPv4 */

/* adi_proc_event.optin */
enum adi_optin_verdict {
	ADI_OPTIN_NONE = 0, /* no ADI_PROFILE (or an exec dropped it) */
	ADI_OPTIN_YES = 1,
	ADI_OPTIN_DISABLED = 2, /* ADI_PROFILE_DISABLED=1 */
	ADI_OPTIN_NOT_ALLOWED = 3, /* value outside ADI_PROFILE_ALLOWED */
	ADI_OPTIN_UNDECIDED = 4, /* the environment was longer than the kernel walks, or ADI_PROFILE longer than
				    it keeps with ADI_PROFILE_ALLOWED set: user space decides */
};

/* Indexes of the per-CPU drop counters (map `drops`). */
enum adi_drop_reason {
	ADI_DROP_RINGBUF_FULL = 0,
	ADI_DROP_PAYLOAD_READ = 1,
	ADI_DROP_CONN_TABLE_FULL = 2,
	ADI_DROP_ARGS_TABLE_FULL = 3,
	ADI_DROP_NO_TUPLE = 4, /* bytes moved on a TCP socket that had already lost its ports when first seen */
	ADI_DROP_REASONS = 5,
};

struct adi_event_header {
	__u64 ts_ns; /* kernel: CLOCK_BOOTTIME; the addon rewrites it to UTC wall clock */
	__u64 start_ticks; /* process start (USER_HZ ticks since boot): pid + start is the identity */
	__u64 cgroup_id; /* cgroup v2 id of the process (the inode of its cgroup directory): known after it exited */
	__u32 size; /* whole record in bytes, header included */
	__u16 kind; /* enum adi_event_kind */
	__u16 cpu;
	__u32 pid; /* tgid */
	__u32 tid;
};

/* Local and remote end of a socket, as the kernel holds them. */
struct adi_tuple {
	__u8 laddr[16]; /* IPv4 in the first 4 bytes (v4-mapped IPv6 is normalised to IPv4) */
	__u8 raddr[16];
	__u16 lport; /* host byte order */
	__u16 rport;
	__u16 family; /* AF_INET (2) or AF_INET6 (10) */
	__u8 protocol; /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 _pad;
};

struct adi_data_event {
	struct adi_event_header h;
	__u64 conn_id;
	struct adi_tuple tuple;
	__u32 total_len; /* bytes the syscall actually moved (its return value) */
	__u32 offset; /* offset of this chunk within those bytes */
	__u32 len; /* payload bytes following this struct */
	__s32 fd;
	__u16 syscall; /* enum adi_syscall */
	__u8 direction; /* enum adi_direction */
	__u8 flags; /* ADI_DATA_* */
	__u32 _pad;
	__u8 payload[];
};

struct adi_conn_event {
	struct adi_event_header h;
	__u64 conn_id;
	struct adi_tuple tuple;
	__s32 fd;
	__s32 ret; /* connect(): 0 or -EINPROGRESS; others 0 */
	__u16 syscall; /* what opened or closed it */
	__u8 role; /* enum adi_conn_role */
	__u8 _pad[5];
};

struct adi_proc_event {
	struct adi_event_header h;
	__u32 ppid;
	__u32 optin; /* enum adi_optin_verdict */
	__s32 exit_code;
	__u32 cmdline_len; /* bytes of cmdline used (NUL-separated arguments) */
	char comm[ADI_TASK_COMM_LEN];
	char profile[ADI_PROFILE_LEN]; /* ADI_PROFILE value, NUL-terminated */
	char profile_name[ADI_PROFILE_LEN]; /* ADI_PROFILE_NAME value */
	char cmdline[ADI_CMDLINE_LEN];
};

/*
 * A TCP socket entered LISTEN (ADI_EV_LISTEN_START, in the task calling listen()) or left it for CLOSE
 * (ADI_EV_LISTEN_STOP, in the task closing it). The header names the current process (pid, start_ticks,
 * cgroup_id), whatever its opt-in; comm is its name (the group leader's), so a listener is named after its process
 * even when that exits before user space can read /proc.
 */
struct adi_listen_event {
	struct adi_event_header h;
	struct adi_tuple tuple; /* the bound address and port (laddr, lport; the remote end is zero) */
	__u32 netns; /* inode of the socket's network namespace (/proc/PID/ns/net) */
	__u32 flags; /* ADI_LISTEN_* */
	char comm[ADI_TASK_COMM_LEN];
};

/* Key of the listening-ports map: a TCP port listening in a network namespace (inode of /proc/PID/ns/net). */
struct adi_listen_key {
	__u32 netns;
	__u16 port;
	__u16 _pad;
};

/* Value of the opt-in map (key: tgid). User space adds pre-existing processes. */
struct adi_optin {
	__u64 start_ticks;
	__u32 flags;
	__u32 _pad;
};

/*
 * Value of the opt-in names map (key: tgid): ADI_PROFILE and ADI_PROFILE_NAME of an opted-in process, set at exec
 * (or by user space for processes found running), copied to its forks, so a fork record names its process even
 * when it exits before user space can read /proc.
 */
struct adi_optin_names {
	char profile[ADI_PROFILE_LEN];
	char profile_name[ADI_PROFILE_LEN];
};

/* Key of the allowed-profiles map (ADI_PROFILE_ALLOWED), zero padded. */
struct adi_profile_key {
	char value[ADI_PROFILE_LEN];
};

#endif /* __ADI_CAPTURE_H */
