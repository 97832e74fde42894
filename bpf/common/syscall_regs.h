/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Socket-layer hooks know the socket and the byte count, not where the bytes are in user memory. The task's
 * saved user registers do: bpf_task_pt_regs() gives them as they were at syscall entry, the syscall number
 * (x86: orig_ax, arm64: syscallno) says which syscall is running, and its arguments say where the buffers are.
 * A send or receive made by anything else (io_uring, sendfile/splice, sendmmsg, a 32-bit process) is described
 * as bytes without a user buffer: a gap of the true length.
 */
#ifndef __ADI_COMMON_SYSCALL_REGS_H
#define __ADI_COMMON_SYSCALL_REGS_H

#define PF_IO_WORKER 0x00000010

#if defined(__TARGET_ARCH_x86)
enum {
	NR_read = 0, NR_write = 1, NR_readv = 19, NR_writev = 20, NR_sendfile = 40, NR_sendto = 44,
	NR_recvfrom = 45, NR_sendmsg = 46, NR_recvmsg = 47, NR_splice = 275, NR_recvmmsg = 299,
	NR_sendmmsg = 307, NR_preadv2 = 327, NR_pwritev2 = 328, NR_io_uring_enter = 426,
};
#define USER64_CS 0x33
#elif defined(__TARGET_ARCH_arm64)
enum {
	NR_read = 63, NR_write = 64, NR_readv = 65, NR_writev = 66, NR_sendfile = 71, NR_splice = 76,
	NR_sendto = 206, NR_recvfrom = 207, NR_sendmsg = 211, NR_recvmsg = 212, NR_recvmmsg = 243,
	NR_sendmmsg = 269, NR_preadv2 = 286, NR_pwritev2 = 287, NR_io_uring_enter = 426,
};
#define PSR_MODE32_BIT 0x10
#else
#error "adi: syscall numbers for this architecture are missing in bpf/common/syscall_regs.h"
#endif

/* Whether the task has an io_uring context (CONFIG_IO_URING kernels; CO-RE: false where the field is absent). */
static __always_inline bool uses_io_uring(struct task_struct *task)
{
	if (!bpf_core_field_exists(task->io_uring))
		return false;
	return BPF_CORE_READ(task, io_uring) != NULL;
}

struct syscall_regs {
	long nr;
	__u64 arg[5];
};

/* The running syscall and its first five arguments; false for a 32-bit (compat) task, whose numbers differ. */
static __always_inline bool current_syscall(struct task_struct *task, struct syscall_regs *r)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	if (!regs)
		return false;
#if defined(__TARGET_ARCH_x86)
	if ((BPF_CORE_READ(regs, cs) & 0xffff) != USER64_CS)
		return false;
	r->nr = BPF_CORE_READ(regs, orig_ax);
	r->arg[0] = BPF_CORE_READ(regs, di);
	r->arg[1] = BPF_CORE_READ(regs, si);
	r->arg[2] = BPF_CORE_READ(regs, dx);
	r->arg[3] = BPF_CORE_READ(regs, r10);
	r->arg[4] = BPF_CORE_READ(regs, r8);
#elif defined(__TARGET_ARCH_arm64)
	if (BPF_CORE_READ(regs, pstate) & PSR_MODE32_BIT)
		return false;
	r->nr = BPF_CORE_READ(regs, syscallno);
	r->arg[0] = BPF_CORE_READ(regs, orig_x0);
	r->arg[1] = BPF_CORE_READ(regs, regs[1]);
	r->arg[2] = BPF_CORE_READ(regs, regs[2]);
	r->arg[3] = BPF_CORE_READ(regs, regs[3]);
	r->arg[4] = BPF_CORE_READ(regs, regs[4]);
#endif
	return true;
}

/*
 * Describes the send (dir EGRESS) or receive (INGRESS) on `sk` the socket layer reports, from the syscall that
 * made it. The syscall's registers are trusted only when its fd argument is this very socket: io_uring completes
 * a receive armed on poll as task work on the way out of whatever syscall the task is in (a read(2) of an eventfd,
 * say), whose buffer holds other bytes. A receive's sockaddr is written back only after the socket layer returns:
 * its UDP peer is not known here.
 */
static __always_inline void io_from_syscall(struct io_req *a, __u8 dir, struct sock *sk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct syscall_regs r = {};

	a->direction = dir;
	a->fd = -1;
	if (BPF_CORE_READ(task, flags) & PF_IO_WORKER) {
		a->syscall = ADI_SYS_IO_URING;
		a->nocopy = 1;
		return;
	}
	if (!current_syscall(task, &r)) {
		a->syscall = ADI_SYS_OTHER;
		a->nocopy = 1;
		return;
	}
	a->fd = (int)r.arg[0];
	bool own_fd = sock_from_fd(a->fd) == sk;
	if (!own_fd && r.nr != NR_sendfile && r.nr != NR_splice) {
		/* not this socket's syscall: bytes of io_uring task work, or of a kernel path we do not know */
		a->syscall = r.nr == NR_io_uring_enter || uses_io_uring(task) ? ADI_SYS_IO_URING : ADI_SYS_OTHER;
		a->nocopy = 1;
		a->fd = -1;
		return;
	}
	switch (r.nr) {
	case NR_read:
	case NR_write:
		a->syscall = r.nr == NR_read ? ADI_SYS_READ : ADI_SYS_WRITE;
		a->buf = r.arg[1];
		a->buf_len = r.arg[2];
		break;
	case NR_readv:
	case NR_writev:
	case NR_preadv2:
	case NR_pwritev2:
		a->syscall = dir == ADI_DIR_INGRESS ? ADI_SYS_READV : ADI_SYS_WRITEV;
		a->iov = r.arg[1];
		a->iov_cnt = r.arg[2];
		break;
	case NR_sendto:
	case NR_recvfrom:
		a->syscall = r.nr == NR_sendto ? ADI_SYS_SENDTO : ADI_SYS_RECVFROM;
		a->buf = r.arg[1];
		a->buf_len = r.arg[2];
		a->addr = r.arg[4];
		break;
	case NR_sendmsg:
	case NR_recvmsg:
		a->syscall = r.nr == NR_sendmsg ? ADI_SYS_SENDMSG : ADI_SYS_RECVMSG;
		a->msg = r.arg[1];
		break;
	case NR_sendfile:
		a->syscall = ADI_SYS_SENDFILE;
		a->nocopy = 1;
		break;
	case NR_splice:
		a->syscall = ADI_SYS_SPLICE;
		a->nocopy = 1;
		break;
	case NR_sendmmsg:
	case NR_recvmmsg:
		a->syscall = r.nr == NR_sendmmsg ? ADI_SYS_SENDMMSG : ADI_SYS_RECVMMSG;
		a->nocopy = 1;
		break;
	case NR_io_uring_enter:
		a->syscall = ADI_SYS_IO_URING;
		a->nocopy = 1;
		a->fd = -1; /* arg0 is the ring's fd */
		break;
	default:
		a->syscall = ADI_SYS_OTHER;
		a->nocopy = 1;
		a->fd = -1;
	}
}

#endif /* __ADI_COMMON_SYSCALL_REGS_H */
