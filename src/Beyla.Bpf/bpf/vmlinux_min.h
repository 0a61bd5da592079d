/* SPDX-License-Identifier: MIT */
/*
 * The few kernel types the probes read, declared with preserve_access_index so that
 * libbpf relocates every field access against the running kernel's BTF (CO-RE).
 * Only the fields named here are used; their order and the omitted fields do not matter.
 */
#ifndef BEYLA_VMLINUX_MIN_H
#define BEYLA_VMLINUX_MIN_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_F_MMAPABLE = (1U << 10),
};

#define EEXIST 17

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
	BPF_RB_RING_SIZE = 1,
	BPF_RB_CONS_POS = 2,
	BPF_RB_PROD_POS = 3,
};

struct in6_addr {
	__u8 s6_addr[16];
};

struct inode {
	unsigned short i_mode;
} __attribute__((preserve_access_index));

struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
	struct inode *f_inode;
	void *private_data;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct thread_info {
	__u32 status; /* TS_COMPAT: a 32-bit syscall in progress (x86) */
} __attribute__((preserve_access_index));

struct mm_struct {
	struct file *exe_file;
} __attribute__((preserve_access_index));

struct task_struct {
	struct thread_info thread_info;
	unsigned int flags; /* PF_* */
	int pid;
	int tgid;
	struct mm_struct *mm;
	struct files_struct *files;
	struct task_struct *group_leader;
	char comm[16];
} __attribute__((preserve_access_index));

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol; /* a plain field since Linux 5.6 */
} __attribute__((preserve_access_index));

/* A TCP socket (struct sock is its first member): where its reader has consumed up to. */
struct tcp_sock {
	__u32 copied_seq;
} __attribute__((preserve_access_index));

#define IPPROTO_TCP 6

struct socket {
	short type;
	struct sock *sk;
} __attribute__((preserve_access_index));

/* What a send has left to copy (tcp_sendmsg_locked's msg): count and nr_segs sit in unions. */
struct iov_iter {
	__u64 iov_offset;
	__u64 count;
	unsigned long nr_segs;
} __attribute__((preserve_access_index));

struct msghdr {
	struct iov_iter msg_iter;
} __attribute__((preserve_access_index));

/* io_uring: a request being submitted (Linux 6.0 on), and where it keeps the fd it names. */
struct io_cqe {
	union {
		__u32 flags;
		int fd;
	};
} __attribute__((preserve_access_index));

struct io_kiocb {
	struct io_cqe cqe;
} __attribute__((preserve_access_index));

/* Contexts of the io_uring:io_uring_submit_req tracepoint (Linux 6.5 on) and of its earlier name,
 * io_uring_submit_sqe: the fields move between kernels (flags was 32 bits before 6.3). */
struct trace_event_raw_io_uring_submit_req {
	void *req; /* struct io_kiocb * */
	__u8 opcode;
	__u64 flags; /* the request's REQ_F_* flags */
} __attribute__((preserve_access_index));

struct trace_event_raw_io_uring_submit_sqe {
	void *req;
	__u8 opcode;
	__u64 flags;
} __attribute__((preserve_access_index));

/* User registers (x86_64). At syscall entry and exit the syscall's arguments are di, si,
 * dx, r10, r8, r9; in a uprobe a function's are di, si, dx, cx, r8, r9, and ax holds the
 * return value in a uretprobe. */
struct pt_regs {
	unsigned long orig_ax; /* at a syscall: its number */
	unsigned long r10;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
} __attribute__((preserve_access_index));

/* User-space ABI structures (not relocated). */
struct iovec {
	void *iov_base;
	__u64 iov_len;
};

struct user_msghdr {
	void *msg_name;
	int msg_namelen;
	struct iovec *msg_iov;
	__u64 msg_iovlen;
	void *msg_control;
	__u64 msg_controllen;
	unsigned int msg_flags;
};

/* Contexts of the syscalls:sys_enter_* and sys_exit_* tracepoints (stable ABI). */
struct syscall_enter_ctx {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__u64 args[6];
};

struct syscall_exit_ctx {
	__u64 common;
	__s32 syscall_nr;
	__u32 pad;
	__s64 ret;
};

#endif
