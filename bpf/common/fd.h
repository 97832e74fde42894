/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* File descriptors to sockets, in the current task's file table. */
#ifndef __ADI_COMMON_FD_H
#define __ADI_COMMON_FD_H

#define S_IFMT 00170000
#define S_IFSOCK 0140000

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

#endif /* __ADI_COMMON_FD_H */
