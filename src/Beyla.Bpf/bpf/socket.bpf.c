// SPDX-License-Identifier: MIT
/*
 * The socket probe set: HTTP/1.x over plain TCP in any language, from syscall tracepoints
 * only (no kprobes). Each traced read or write is remembered at syscall entry and handed
 * to the HTTP tracker at exit, when the byte count is known.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "http_tracker.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define IO_PLAIN 1 /* (fd, buf, len) */
#define IO_IOVEC 2 /* (fd, iov, iovcnt) */
#define IO_MSG 3   /* (fd, msghdr, flags) */

#define MSG_PEEK 0x2

struct pending_io {
	__u64 addr;
	__u64 count;
	__u32 fd;
	__u8 shape;
	__u8 dir;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct pending_io);
} pending SEC(".maps");

static __always_inline int remember_io(struct syscall_enter_ctx *ctx, __u8 shape, __u8 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!is_traced((__u32)(pid_tgid >> 32)))
		return 0;
	struct pending_io io = {
		.addr = ctx->args[1],
		.count = ctx->args[2],
		.fd = (__u32)ctx->args[0],
		.shape = shape,
		.dir = dir,
	};
	bpf_map_update_elem(&pending, &pid_tgid, &io, BPF_ANY);
	return 0;
}

/* Locates the first bytes and the last five bytes of what an iovec array moved. */
static __always_inline bool resolve_iovecs(struct io_data *d, const struct iovec *iov, __u64 count)
{
	struct iovec v = {};
	__u64 done = 0;
	for (int i = 0; i < MAX_IOVECS; i++) {
		if (i >= count)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), &iov[i]))
			return false;
		if (i == 0) {
			d->first = (__u64)v.iov_base;
			d->first_len = v.iov_len < d->total ? v.iov_len : d->total;
		}
		__u64 end = done + v.iov_len;
		if (end >= d->total) {
			__u64 offset = d->total - done;
			if (offset >= 5)
				d->tail = (__u64)v.iov_base + offset - 5;
			break;
		}
		done = end;
	}
	return d->first != 0;
}

static __always_inline int complete_io(struct syscall_exit_ctx *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending_io *io = bpf_map_lookup_elem(&pending, &pid_tgid);
	if (!io)
		return 0;
	struct pending_io p = *io;
	bpf_map_delete_elem(&pending, &pid_tgid);
	if (ctx->ret <= 0)
		return 0;

	struct io_data d = {.total = (__u64)ctx->ret};
	if (p.shape == IO_PLAIN) {
		d.first = p.addr;
		d.first_len = d.total;
		if (d.total >= 5)
			d.tail = p.addr + d.total - 5;
	} else if (p.shape == IO_IOVEC) {
		if (!resolve_iovecs(&d, (const struct iovec *)p.addr, p.count))
			return 0;
	} else {
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)p.addr))
			return 0;
		if (!resolve_iovecs(&d, msg.msg_iov, msg.msg_iovlen))
			return 0;
	}
	track_io(p.fd, p.dir, &d);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct syscall_enter_ctx *ctx) { return remember_io(ctx, IO_PLAIN, DIR_INGRESS); }
SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct syscall_exit_ctx *ctx) { return complete_io(ctx); }

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct syscall_enter_ctx *ctx)
{
	if (ctx->args[3] & MSG_PEEK)
		return 0; /* a peek consumes nothing */
	return remember_io(ctx, IO_PLAIN, DIR_INGRESS);
}
SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct syscall_exit_ctx *ctx) { return complete_io(ctx); }

SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct syscall_enter_ctx *ctx) { return remember_io(ctx, IO_IOVEC, DIR_INGRESS); }
SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct syscall_exit_ctx *ctx) { return complete_io(ctx); }

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct syscall_enter_ctx *ctx)
{
	if (ctx->args[2] & MSG_PEEK)
		return 0;
	return remember_io(ctx, IO_MSG, DIR_INGRESS);
}
SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct syscall_exit_ctx *ctx) { return complete_io(ctx); }

SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct syscall_enter_ctx *ctx) { return remember_io(ctx, IO_PLAIN, DIR_EGRESS); }
SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct syscall_exit_ctx *ctx) { return complete_io(ctx); }

SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct syscall_enter_ctx *ctx) { return remember_io(ctx, IO_PLAIN, DIR_EGRESS); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct syscall_exit_ctx *ctx) { return complete_io(ctx); }

SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct syscall_enter_ctx *ctx) { return remember_io(ctx, IO_IOVEC, DIR_EGRESS); }
SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct syscall_exit_ctx *ctx) { return complete_io(ctx); }

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct syscall_enter_ctx *ctx) { return remember_io(ctx, IO_MSG, DIR_EGRESS); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct syscall_exit_ctx *ctx) { return complete_io(ctx); }

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct syscall_enter_ctx *ctx)
{
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (!is_traced(tgid))
		return 0;
	track_close(tgid, (__u32)ctx->args[0]);
	return 0;
}

/* A new fd from accept or connect starts a new connection: drop state left by an old one. */
static __always_inline int forget_fd(__u32 fd)
{
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (!is_traced(tgid))
		return 0;
	struct conn_key key = {.tgid = tgid, .fd = fd};
	bpf_map_delete_elem(&connections, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct syscall_exit_ctx *ctx) { return ctx->ret >= 0 ? forget_fd((__u32)ctx->ret) : 0; }
SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct syscall_exit_ctx *ctx) { return ctx->ret >= 0 ? forget_fd((__u32)ctx->ret) : 0; }
SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct syscall_enter_ctx *ctx) { return forget_fd((__u32)ctx->args[0]); }
