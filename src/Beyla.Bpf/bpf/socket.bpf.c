// SPDX-License-Identifier: MIT
/*
 * The socket probe set: HTTP/1.x over plain TCP in any language, from tracepoints only (no
 * kprobes). Reads and writes are handled when the socket layer has moved their bytes (the
 * sock_recv_length and sock_send_length tracepoints, or the syscalls' exits), where the byte
 * count is known; the syscall's arguments come from the user registers saved at its entry
 * (bpf_task_pt_regs), so a call that was already blocked when tracing started is still
 * understood and no per-thread map is needed. Writes also have an entry hook (TCP's
 * tcp_sendmsg_locked, or the syscalls' entries): it notes the time, and takes a client's
 * request before the peer can answer it. Closes come from the socket's state changes and its
 * destruction, libssl loads from the memory map's tracepoint: where the kernel has these, no
 * syscall tracepoint is attached (the syscall ones below are the fallback).
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "http_tracker.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define IO_PLAIN 1 /* (fd, buf, len, ...) */
#define IO_IOVEC 2 /* (fd, iov, iovcnt) */
#define IO_MSG 3   /* (fd, msghdr, flags) */
#define IO_FILE 4  /* sendfile(out_fd, in_fd, offset, count), splice(pipe, 0, socket, ...): bytes the process never sees */

/* Traced processes already reported for moving socket data through io_uring, and for beginning
 * a TLS handshake with no SSL call seen before it (forgotten when the process execs another
 * program or exits, as those reported for HTTP/2). */
struct reported_processes uring_reported SEC(".maps");
struct reported_processes tls_unprobed_reported SEC(".maps");

/* Processes with TLS probes of their own in place (set and cleared by user space: TlsProbeSet),
 * and traced processes that mapped or opened a libssl (kept through a fork, cleared at exec):
 * what a TLS handshake no probed SSL call came before is reported with (NOTICE_TLS_UNPROBED). */
struct pid_bitmap tls_probed_pid_bits SEC(".maps");
struct pid_bitmap libssl_pid_bits SEC(".maps");

/*
 * Where the last five bytes of what an iovec array moved are, past its first MAX_IOVECS (done:
 * what those held): Node corks a chunked response's head, chunks and last chunk into one writev
 * of nine buffers or more. Global: verified once, and called only for such writes.
 */
__noinline int beyla_find_tail(struct io_data *d, __u64 done)
{
	if (!d)
		return 0;
	for (int i = MAX_IOVECS; i < MAX_HEAD_IOVECS; i++) {
		if (i >= d->iov_count)
			break;
		struct iovec v = {};
		if (read_iovec(d, i, &v) || ends_in_buffer(d, &v, done))
			break;
		done += v.iov_len;
	}
	return 0;
}

/*
 * Locates the first bytes and the last five bytes of what an iovec array moved (d->total
 * bytes; past the first MAX_IOVECS, beyla_find_tail). At a write's entry (d->total 0) d->total
 * becomes what the first MAX_IOVECS are to move, and the tail stays unknown.
 */
static __always_inline bool resolve_iovecs(struct io_data *d, const struct iovec *iov, __u64 count)
{
	bool entering = d->total == 0;
	if (entering)
		d->total = ~0ULL;
	d->iov = (__u64)iov;
	d->iov_count = count;
	struct iovec v = {};
	/* The first two together, in one read: a response head and its body (nginx, Node). */
	struct iovec pair[2] = {};
	bool paired = count >= 2 && !bpf_probe_read_user(pair, sizeof(pair), iov);
	__u64 done = 0;
	bool ended = false;
	for (int i = 0; i < MAX_IOVECS; i++) {
		if (i >= count)
			break;
		if (paired && i < 2)
			v = pair[i];
		else if (bpf_probe_read_user(&v, sizeof(v), &iov[i]))
			return false;
		if (i == 0) {
			d->first = (__u64)v.iov_base;
			d->first_len = v.iov_len < d->total ? v.iov_len : d->total;
		}
		if (ends_in_buffer(d, &v, done)) {
			ended = true;
			break;
		}
		done += v.iov_len;
	}
	if (entering)
		d->total = done;
	else if (!ended && count > MAX_IOVECS)
		beyla_find_tail(d, done);
	return d->first != 0;
}

/* Where a write's bytes start, and how many are there: its buffer, or its first iovec. */
static __always_inline bool first_segment(__u8 shape, __u64 addr, long ret, __u64 *base, __u64 *len)
{
	struct iovec v = {};
	if (shape == IO_PLAIN) {
		*base = addr;
		*len = (__u64)ret;
		return addr != 0;
	}
	if (shape == IO_MSG) {
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)addr) || !msg.msg_iovlen)
			return false;
		addr = (__u64)msg.msg_iov;
	} else if (shape != IO_IOVEC) {
		return false;
	}
	if (bpf_probe_read_user(&v, sizeof(v), (const void *)addr) || !v.iov_base)
		return false;
	*base = (__u64)v.iov_base;
	*len = v.iov_len < (__u64)ret ? v.iov_len : (__u64)ret;
	return true;
}

/*
 * A socket write, outside any SSL call, by a process whose SSL objects may not know their socket
 * yet (memory BIOs: the program moves the ciphertext itself); sk is the socket the hook saw (0 if
 * not told). If the socket belongs to no SSL object and the bytes are a TLS record: when they begin
 * with ciphertext an SSL object left in OpenSSL's memory BIO, that object's; else, for an object
 * whose BIO is another kind (Node's) or was not seen, the one the thread (or else the process)
 * called last, a guess that overlapping handshakes can get wrong. Returns true when the socket is
 * an SSL object's already: its bytes are ciphertext, for the TLS hooks alone.
 */
static __always_inline bool learn_ssl_socket(__u64 id, __u32 fd, __u64 sk, __u8 shape, __u64 addr, long ret)
{
	__u32 tgid = (__u32)(id >> 32);
	struct conn_key socket = {.tgid = tgid, .fd = fd};
	struct ssl_socket *tied = bpf_map_lookup_elem(&socket_ssl, &socket);
	if (tied && ((sk && tied->sk == sk) || tied->sk == (__u64)stream_sock_of_fd(fd)))
		return true; /* already an SSL object's (an entry for another socket is stale: its close went unseen);
			      * the hook's socket may be another than the fd's (io_uring's task work): then the fd's */
	__u64 *until = bpf_map_lookup_elem(&tls_ciphertext_until, &tgid);
	bool expecting = until && *until > bpf_ktime_get_ns();
	struct ssl_key *pending = bpf_map_lookup_elem(&tls_pending, &id);
	bool per_thread = pending != 0;
	if (!pending)
		pending = bpf_map_lookup_elem(&tls_pending_process, &tgid);
	if (!pending && !expecting)
		return false;
	__u64 base = 0, len = 0;
	if (!first_segment(shape, addr, ret, &base, &len) || !is_tls_record(base, len))
		return false;
	if (expecting && len >= CIPHERTEXT_HEAD) {
		struct ciphertext_key sent = {.tgid = tgid};
		struct ssl_key *from = 0;
		if (!bpf_probe_read_user(sent.head, sizeof(sent.head), (const void *)base))
			from = bpf_map_lookup_elem(&tls_ciphertexts, &sent);
		if (from) {
			if (!from->ssl)
				return false; /* two objects left these bytes: their next records tell them apart */
			struct ssl_key ssl = *from;
			bpf_map_delete_elem(&tls_ciphertexts, &sent);
			tie_ssl_to_socket(&ssl, fd, 0);
			stat_inc(STAT_TLS_TIED_BY_CIPHERTEXT);
			return false;
		}
	}
	if (!pending)
		return false;
	struct ssl_key ssl = *pending;
	tie_ssl_to_socket(&ssl, fd, 0);
	stat_inc(STAT_TLS_TIED_BY_GUESS);
	if (per_thread)
		bpf_map_delete_elem(&tls_pending, &id);
	struct ssl_key *process_pending = bpf_map_lookup_elem(&tls_pending_process, &tgid);
	if (process_pending && process_pending->ssl == ssl.ssl)
		bpf_map_delete_elem(&tls_pending_process, &tgid);
	return false;
}

#define FLAGS_NONE 0
#define FLAGS_IN_R10 1 /* recvfrom: flags are the 4th argument */
#define FLAGS_IN_DX 2  /* recvmsg: flags are the 3rd argument */
#define MSG_PEEK 0x2

/*
 * The connection that socket sk (0: not told) is tracked under in key's process, on another fd
 * than key's, which holds sk too: a duplicate (inetd-style servers such as busybox httpd read the
 * request on fd 0 and answer on fd 1; C programs fdopen a dup for writing). key moves to it. Null
 * when there is none: the socket is not tracked, or on key's fd, or in another process, or the
 * hook's socket is not key's fd's (bytes the kernel moved in the task for something else: io_uring's
 * task work during an unrelated syscall).
 */
static __always_inline struct conn_state *connection_on_other_fd(struct conn_key *key, __u64 sk)
{
	if (!sk)
		return 0;
	struct conn_key *tracked = bpf_map_lookup_elem(&socket_conns, &sk);
	if (!tracked || tracked->tgid != key->tgid || tracked->fd == key->fd)
		return 0;
	struct conn_key other = *tracked;
	struct conn_state *c = bpf_map_lookup_elem(&connections, &other);
	if (!c || c->sk != sk || (__u64)stream_sock_of_fd(key->fd) != sk)
		return 0;
	*key = other;
	return c;
}

/*
 * The connection on key, or null; sk (when not 0) is the socket a hook saw the bytes move on,
 * with *foreign set when that is not the fd's socket: the socket layer's tracepoints also fire
 * for I/O the kernel does in the task for something else than its syscall (io_uring's task work,
 * a sockmap redirect), and their bytes are not the syscall's. A tracked fd whose socket changed
 * (its close was not seen: dup2, close_range) is ended and forgotten. An fd with no connection
 * of its own gets the one its socket is tracked under on another fd (connection_on_other_fd),
 * and key moves to that.
 */
static __always_inline struct conn_state *connection_of(struct conn_key *key, __u64 sk, bool *foreign)
{
	struct conn_state *c = bpf_map_lookup_elem(&connections, key);
	*foreign = false;
	if (!c)
		return connection_on_other_fd(key, sk);
	if (!sk || c->sk == sk)
		return c;
	if ((__u64)stream_sock_of_fd(key->fd) != sk) {
		*foreign = true;
		return 0;
	}
	track_close(key->tgid, key->fd);
	return connection_on_other_fd(key, sk);
}

/*
 * A data syscall of a traced process moved ret bytes (ret > 0) on fd regs->di, which go to the
 * tracker; a write that moved nothing undoes what its entry took (track_write_failed). regs are
 * the user registers saved at the syscall's entry, which hold its arguments; sk is the socket
 * the bytes moved on when the hook is told it (else 0).
 */
static __always_inline int on_data(__u64 id, struct pt_regs *regs, __u32 fd, long ret, __u8 shape, __u8 dir, unsigned long flags, __u64 sk)
{
	struct conn_key key = {.tgid = (__u32)(id >> 32), .fd = fd};
	bool foreign;
	struct conn_state *c;
	if (ret <= 0) {
		c = connection_of(&key, sk, &foreign);
		if (c)
			track_write_failed(c);
		return 0;
	}
	__u64 addr = regs->si;
	__u64 count = regs->dx;
	/* a peek consumes nothing: the same bytes are read again */
	if (flags & MSG_PEEK)
		return 0;

	if (settings.tls_enabled && pid_bit(&tls_pid_bits, (__u32)(id >> 32))) {
		/* Inside SSL_read/SSL_write: these are ciphertext bytes, and they tell which
		 * socket the SSL object uses. Outside, a write of ciphertext an SSL object whose
		 * socket is unknown left in its BIO tells it too (learn_ssl_socket). */
		struct tls_call *call = tls_call_in_progress(id);
		if (call) {
			if ((call->dir == dir || !call->dir) && !call->fd_plus_one) {
				call->fd_plus_one = fd + 1;
				call->sk = sk;
			}
			return 0;
		}
		if (dir == DIR_EGRESS && learn_ssl_socket(id, fd, sk, shape, addr, ret))
			return 0;
	}

	c = connection_of(&key, sk, &foreign);
	if (foreign || (c && (c->span_flags & SPAN_FLAG_TLS)))
		return 0; /* not the syscall's bytes; or ciphertext, whose plaintext comes through the TLS hooks */
	struct io_data d = {.total = (__u64)ret, .sk = sk};
	if (shape == IO_PLAIN) {
		d.first = addr;
		d.first_len = d.total;
		if (d.total >= 5)
			d.tail = TAIL_AT(addr + d.total - 5, d.total - 5);
	} else if (shape == IO_IOVEC) {
		if (!resolve_iovecs(&d, (const struct iovec *)addr, count))
			return 0;
	} else if (shape == IO_MSG) {
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)addr))
			return 0;
		if (!resolve_iovecs(&d, msg.msg_iov, msg.msg_iovlen))
			return 0;
	}
	/* IO_FILE: no bytes to look at; only a response body in progress can use the count. */
	if (track_io(&key, c, dir, &d, false, 0) == TRACKED_TLS_HELLO && dir == DIR_EGRESS && settings.tls_enabled &&
	    !pid_bit(&tls_pid_bits, key.tgid)) {
		/* A TLS handshake with no SSL call before it (OpenSSL's, probed, makes one first): the
		 * probes came too late for this connection, the process's TLS is not OpenSSL's, or it
		 * relays TLS it does not make (a TLS passthrough proxy). */
		__u32 known = (settings.trace_all_processes || pid_bit(&tls_probed_pid_bits, key.tgid) ? TLS_UNPROBED_PROBES_IN_PLACE : 0) |
			      (pid_bit(&libssl_pid_bits, key.tgid) ? TLS_UNPROBED_MAPS_LIBSSL : 0);
		notify_once(&tls_unprobed_reported, key.tgid, NOTICE_TLS_UNPROBED, known);
	}
	return 0;
}

/*
 * The socket layer's tracepoints (Linux 6.3 on): sock_recv_length and sock_send_length fire
 * after each receive and send on a socket, and only there, so reads and writes of files and
 * pipes pay nothing; raw, they cost a program call and build no perf record. The syscall is
 * told by its number in the user registers; a send or receive made for another syscall
 * (sendmmsg, io_uring's) or by a kernel thread is left alone. sendfile and splice (from a pipe)
 * reach the socket in pieces, each a send of its own, counted as bytes the process never saw;
 * a splice from a socket into a pipe passes neither tracepoint. Kernels without these tracepoints (or without
 * tcp_sendmsg_locked, below), and BEYLA_SYSCALL_HOOKS=1, use the syscall exits and entries
 * further down instead: SocketProbeSet leaves one set or the other out.
 */
struct raw_sock_length_args {
	__u64 sk;    /* struct sock * */
	__u64 ret;   /* an int: bytes moved, or -errno (the upper half is not sign-extended) */
	__u64 flags; /* an int: MSG_* of a receive; 0 for a send */
};

#define PF_IO_WORKER 0x00000010
#define PF_KTHREAD 0x00200000
#define TS_COMPAT 0x0002

/* x86_64 syscall numbers */
#define NR_READ 0
#define NR_WRITE 1
#define NR_READV 19
#define NR_WRITEV 20
#define NR_SENDTO 44
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47
#define NR_SENDFILE 40
#define NR_SPLICE 275

/* The user registers of task's syscall, or null for a task that makes none here (a kernel
 * thread, an io_uring worker: their registers are not a syscall's), or a 32-bit one (other
 * numbers and registers; the syscall tracepoints never showed those either). */
static __always_inline struct pt_regs *syscall_regs(struct task_struct *task)
{
	if (task->flags & (PF_KTHREAD | PF_IO_WORKER))
		return 0;
	if (bpf_core_field_exists(task->thread_info.status) && (task->thread_info.status & TS_COMPAT))
		return 0;
	return (struct pt_regs *)bpf_task_pt_regs(task);
}

/* The user registers of a traced process's syscall (see syscall_regs), or null; *id gets the
 * current pid_tgid, read from the task (one helper call fewer than bpf_get_current_pid_tgid's:
 * every send and receive of every process passes here). */
static __always_inline struct pt_regs *traced_syscall_regs(__u64 *id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid;
	if (!is_traced(tgid))
		return 0;
	*id = ((__u64)tgid << 32) | (__u32)task->pid;
	return syscall_regs(task);
}

SEC("raw_tracepoint/sock_recv_length")
int sock_recv(struct raw_sock_length_args *ctx)
{
	long ret = (int)ctx->ret;
	if (ret <= 0)
		return 0;
	__u64 id;
	struct pt_regs *regs = traced_syscall_regs(&id);
	if (!regs)
		return 0;
	unsigned long flags = (unsigned long)ctx->flags;
	switch (regs->orig_ax) {
	case NR_READ:
	case NR_RECVFROM:
		return on_data(id, regs, (__u32)regs->di, ret, IO_PLAIN, DIR_INGRESS, flags, ctx->sk);
	case NR_READV:
		return on_data(id, regs, (__u32)regs->di, ret, IO_IOVEC, DIR_INGRESS, flags, ctx->sk);
	case NR_RECVMSG:
		return on_data(id, regs, (__u32)regs->di, ret, IO_MSG, DIR_INGRESS, flags, ctx->sk);
	}
	return 0;
}

SEC("raw_tracepoint/sock_send_length")
int sock_send(struct raw_sock_length_args *ctx)
{
	__u64 id;
	struct pt_regs *regs = traced_syscall_regs(&id);
	if (!regs)
		return 0;
	long ret = (int)ctx->ret;
	switch (regs->orig_ax) {
	case NR_WRITE:
	case NR_SENDTO:
		return on_data(id, regs, (__u32)regs->di, ret, IO_PLAIN, DIR_EGRESS, 0, ctx->sk);
	case NR_WRITEV:
		return on_data(id, regs, (__u32)regs->di, ret, IO_IOVEC, DIR_EGRESS, 0, ctx->sk);
	case NR_SENDMSG:
		return on_data(id, regs, (__u32)regs->di, ret, IO_MSG, DIR_EGRESS, 0, ctx->sk);
	case NR_SENDFILE:
		/* a piece of the file (splice): no bytes to look at, only their count */
		return on_data(id, regs, (__u32)regs->di, ret, IO_FILE, DIR_EGRESS, 0, ctx->sk);
	case NR_SPLICE:
		/* from a pipe (haproxy's splice-response): the socket is fd_out, the third argument */
		return on_data(id, regs, (__u32)regs->dx, ret, IO_FILE, DIR_EGRESS, 0, ctx->sk);
	}
	return 0;
}

/* The same at the syscalls' exits: every read and write of every process passes them. */
static __always_inline int on_data_exit(struct syscall_exit_ctx *ctx, __u8 shape, __u8 dir, int flags_at)
{
	if (ctx->ret <= 0 && dir == DIR_INGRESS)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (!is_traced((__u32)(id >> 32)))
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	unsigned long flags = flags_at == FLAGS_IN_R10 ? regs->r10 : flags_at == FLAGS_IN_DX ? regs->dx : 0;
	return on_data(id, regs, (__u32)regs->di, ctx->ret, shape, dir, flags, 0);
}

SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct syscall_exit_ctx *ctx) { return on_data_exit(ctx, IO_PLAIN, DIR_INGRESS, FLAGS_NONE); }

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct syscall_exit_ctx *ctx) { return on_data_exit(ctx, IO_PLAIN, DIR_INGRESS, FLAGS_IN_R10); }

SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct syscall_exit_ctx *ctx) { return on_data_exit(ctx, IO_IOVEC, DIR_INGRESS, FLAGS_NONE); }

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct syscall_exit_ctx *ctx) { return on_data_exit(ctx, IO_MSG, DIR_INGRESS, FLAGS_IN_DX); }

SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct syscall_exit_ctx *ctx) { return on_data_exit(ctx, IO_PLAIN, DIR_EGRESS, FLAGS_NONE); }

SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct syscall_exit_ctx *ctx) { return on_data_exit(ctx, IO_PLAIN, DIR_EGRESS, FLAGS_NONE); }

SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct syscall_exit_ctx *ctx) { return on_data_exit(ctx, IO_IOVEC, DIR_EGRESS, FLAGS_NONE); }

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct syscall_exit_ctx *ctx) { return on_data_exit(ctx, IO_MSG, DIR_EGRESS, FLAGS_NONE); }

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int exit_sendfile(struct syscall_exit_ctx *ctx) { return on_data_exit(ctx, IO_FILE, DIR_EGRESS, FLAGS_NONE); }

/* Whether a send at TCP's entry has copied nothing yet: what its msg has left is all the
 * syscall gave (bytes for a plain write; iovecs for writev and sendmsg, segs). */
static __always_inline bool nothing_sent_yet(__u64 msg, __u64 bytes, __u64 segs)
{
	struct iov_iter *it = &((struct msghdr *)msg)->msg_iter;
	if (BPF_CORE_READ(it, iov_offset))
		return false;
	return bytes ? BPF_CORE_READ(it, count) == bytes : BPF_CORE_READ(it, nr_segs) == segs;
}

/*
 * Entry of the writes: the time on tracked connections, and a client's request (see
 * track_write_enter). The bytes are looked at only where a request may start. fd, buf and
 * count are the write's first three arguments (buf: the bytes, the iovecs or the msghdr).
 * From TCP's tracepoint, sk is the socket and msg (struct msghdr *) what is left to send: it
 * passes there once per piece of a send. On a connection not tracked yet only a first pass
 * looks at bytes (bulk traffic of a traced process would read them again for every piece); on
 * a tracked one a later pass reads the same first bytes again and decides as the first did,
 * which costs less than asking each time. Both 0 from the syscall's entry.
 */
static __always_inline int on_write_enter(__u64 id, __u64 fd, __u64 buf, __u64 count, __u8 shape, __u64 sk, __u64 msg)
{
	__u32 tgid = (__u32)(id >> 32);
	struct conn_key key = {.tgid = tgid, .fd = (__u32)fd};
	bool foreign;
	struct conn_state *c = connection_of(&key, sk, &foreign);
	if (foreign)
		return 0;
	__u64 now = 0;
	if (c) {
		if ((c->span_flags & SPAN_FLAG_TLS) || c->phase == PHASE_UPGRADED)
			return 0; /* ciphertext: the plaintext's time is SSL_write's (ssl_exit); or no HTTP/1 any more */
		if (msg && c->request_writer == (__u32)id)
			return 0; /* the send that took its request, going on (after a wait for buffer space) */
		track_write_enter(c, (__u32)id, &now);
	}
	if (shape == IO_FILE || (c && !awaits_request_write(c)))
		return 0;
	/* inside SSL_write: ciphertext, or with kernel TLS the plaintext, which the TLS probes report */
	if (settings.tls_enabled && pid_bit(&tls_pid_bits, tgid) && tls_call_in_progress(id))
		return 0;
	struct io_data d = {.sk = sk};
	if (shape == IO_PLAIN) {
		if (msg && !c && !nothing_sent_yet(msg, count, 0))
			return 0;
		d.first = buf;
		d.first_len = d.total = count;
	} else if (shape == IO_IOVEC) {
		if (msg && !c && !nothing_sent_yet(msg, 0, count))
			return 0;
		if (!resolve_iovecs(&d, (const struct iovec *)buf, count))
			return 0;
	} else {
		struct user_msghdr m = {};
		if (bpf_probe_read_user(&m, sizeof(m), (const void *)buf) ||
		    (msg && !c && !nothing_sent_yet(msg, 0, m.msg_iovlen)) ||
		    !resolve_iovecs(&d, m.msg_iov, m.msg_iovlen))
			return 0;
	}
	track_request_write(&key, (__u32)id, c, &d, now);
	return 0;
}

/*
 * The same from TCP's own tracepoint (a recent one: 6.18 has it), which only TCP sends pass: it
 * fires in tcp_sendmsg_locked before each piece of a send is queued, so before the peer can
 * have it.
 * A long send passes it once per piece: a later pass notes the time again (a response ends when
 * its last piece went, after any wait for buffer space), and never looks at bytes again.
 * MPTCP sends do not pass it (their requests are taken at the exit), nor data that TCP Fast
 * Open sends with the SYN.
 */
struct raw_tcp_sendmsg_args {
	__u64 sk;  /* struct sock * */
	__u64 msg; /* struct msghdr * */
	__u64 skb;
	__u64 size_goal;
};

SEC("raw_tracepoint/tcp_sendmsg_locked")
int tcp_send_enter(struct raw_tcp_sendmsg_args *ctx)
{
	__u64 id;
	struct pt_regs *regs = traced_syscall_regs(&id);
	if (!regs)
		return 0;
	switch (regs->orig_ax) {
	case NR_WRITE:
	case NR_SENDTO:
		return on_write_enter(id, regs->di, regs->si, regs->dx, IO_PLAIN, ctx->sk, ctx->msg);
	case NR_WRITEV:
		return on_write_enter(id, regs->di, regs->si, regs->dx, IO_IOVEC, ctx->sk, ctx->msg);
	case NR_SENDMSG:
		return on_write_enter(id, regs->di, regs->si, regs->dx, IO_MSG, ctx->sk, ctx->msg);
	case NR_SENDFILE:
		/* in pieces: each notes the time, so the last one's is when the body's end went */
		return on_write_enter(id, regs->di, 0, 0, IO_FILE, ctx->sk, ctx->msg);
	case NR_SPLICE:
		return on_write_enter(id, regs->dx, 0, 0, IO_FILE, ctx->sk, ctx->msg);
	}
	return 0;
}

/* The same at the syscalls' entries: every write of every process passes them. */
static __always_inline int on_write_syscall_enter(struct syscall_enter_ctx *ctx, __u8 shape)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!is_traced((__u32)(id >> 32)))
		return 0;
	return on_write_enter(id, ctx->args[0], ctx->args[1], ctx->args[2], shape, 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct syscall_enter_ctx *ctx) { return on_write_syscall_enter(ctx, IO_PLAIN); }
SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct syscall_enter_ctx *ctx) { return on_write_syscall_enter(ctx, IO_PLAIN); }
SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct syscall_enter_ctx *ctx) { return on_write_syscall_enter(ctx, IO_IOVEC); }
SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct syscall_enter_ctx *ctx) { return on_write_syscall_enter(ctx, IO_MSG); }
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int enter_sendfile(struct syscall_enter_ctx *ctx) { return on_write_syscall_enter(ctx, IO_FILE); }

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct syscall_enter_ctx *ctx)
{
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (!is_traced(tgid))
		return 0;
	track_close(tgid, (__u32)ctx->args[0]);
	if (settings.tls_enabled && pid_bit(&tls_pid_bits, tgid)) {
		struct conn_key socket = {.tgid = tgid, .fd = (__u32)ctx->args[0]};
		struct ssl_socket *tied = bpf_map_lookup_elem(&socket_ssl, &socket);
		if (tied) {
			/* the tie's entry in socket_conns (tcp_destroy, which would drop it, is the socket hooks') */
			forget_socket(tied->sk, tgid, socket.fd);
			bpf_map_delete_elem(&socket_ssl, &socket);
		}
	}
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

/*
 * Closes, with the socket hooks. No syscall tracepoint is attached then: while any is, every
 * syscall of every process takes the kernel's slow path (benchmarks/README.md). A TCP socket
 * changes state when its last file reference goes (close, dup2 or close_range over its fd, the
 * process's exit, a kill included), whatever state it was in; the connection ends there when the
 * process that tracks it no longer has the socket on its fd: what was in flight is reported as
 * at a close (a request without response, a response ended by the close). Other state changes
 * (the peer's FIN or RST, a shutdown) leave the fd in place, and often run in softirq context,
 * in whatever task was there.
 * A socket closed in a state that needs no change (reset by the peer already), or whose last
 * reference another process held, ends at its destruction (tcp_destroy_sock), in any task: so no
 * state outlives its socket, whose address a new socket may get.
 */
struct raw_sock_state_args {
	__u64 sk;       /* struct sock * */
	__u64 oldstate; /* an int */
	__u64 newstate; /* an int */
};

struct raw_sock_args {
	__u64 sk; /* struct sock * */
};

/* Socket sk, tracked under key, has gone: the connection ends, and what tied it to an SSL object. */
static __always_inline void socket_ended(const struct conn_key *key, __u64 sk)
{
	beyla_end_connection(key->tgid, key->fd, sk);
	bpf_map_delete_elem(&socket_conns, &sk);
	struct ssl_socket *tied = bpf_map_lookup_elem(&socket_ssl, key);
	if (!tied || tied->sk != sk)
		return;
	struct ssl_key ssl = {.ssl = tied->ssl, .tgid = key->tgid};
	struct ssl_fd *uses = bpf_map_lookup_elem(&ssl_fds, &ssl);
	if (uses && uses->fd == key->fd)
		bpf_map_delete_elem(&ssl_fds, &ssl);
	bpf_map_delete_elem(&socket_ssl, key);
}

#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9
#define PF_EXITING 0x00000004

SEC("raw_tracepoint/inet_sock_set_state")
int tcp_state(struct raw_sock_state_args *ctx)
{
	/* Every TCP state change on the machine passes here, about five per connection, most in
	 * softirq context. A close moves the socket to FIN_WAIT1, LAST_ACK or CLOSE, or leaves it
	 * where a shutdown had put it (FIN_WAIT2, CLOSING: the state is set again); and it runs in
	 * the tracking process, traced, or exiting (no longer traced when its files are closed). */
	int newstate = (int)ctx->newstate;
	if (newstate != TCP_FIN_WAIT1 && newstate != TCP_LAST_ACK && newstate != TCP_CLOSE && newstate != (int)ctx->oldstate)
		return 0;
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (!is_traced(tgid) && !(bpf_get_current_task_btf()->flags & PF_EXITING))
		return 0;
	__u64 sk = ctx->sk;
	struct conn_key *tracked = bpf_map_lookup_elem(&socket_conns, &sk);
	if (!tracked || tracked->tgid != tgid)
		return 0;
	struct conn_key key = *tracked;
	if ((__u64)stream_sock_of_fd(key.fd) == sk)
		return 0; /* still on its fd: not a close */
	socket_ended(&key, sk);
	return 0;
}

SEC("raw_tracepoint/tcp_destroy_sock")
int tcp_destroy(struct raw_sock_args *ctx)
{
	__u64 sk = ctx->sk;
	struct conn_key *tracked = bpf_map_lookup_elem(&socket_conns, &sk);
	if (!tracked)
		return 0;
	struct conn_key key = *tracked;
	socket_ended(&key, sk);
	return 0;
}

/* "libssl.so" at the start of the last path component of s->buf[0, len). Global: verified once. */
__noinline int beyla_is_libssl_path(struct scratch *s, __u32 len)
{
	if (!s)
		return 0;
	/* len counts the final NUL: search back from the last character for the last '/' */
	__u32 base = 0;
	for (__u32 i = 2; i <= NOTICE_PATH_CAPTURE; i++) {
		if (i > len)
			break;
		__u64 at = len - i;
		MASK_FOR_VERIFIER(at, 127);
		if (s->buf[at] == '/') {
			base = (__u32)at + 1;
			break;
		}
	}
	__u64 b = base;
	MASK_FOR_VERIFIER(b, 127);
	const __u8 *name = s->buf + b;
	return name[0] == 'l' && name[1] == 'i' && name[2] == 'b' && name[3] == 's' && name[4] == 's' &&
	       name[5] == 'l' && name[6] == '.' && name[7] == 's' && name[8] == 'o';
}

/* A process became a new program: trace it if its command name is selected. A fork of a
 * traced process that becomes another program is not the traced program any more. A process
 * selected otherwise (by pid or port) stays traced: user space is told, to attach the TLS
 * probes to the new program's OpenSSL. */
struct sched_process_exec_args {
	__u64 common;
	__u32 filename; /* __data_loc */
	__s32 pid;
	__s32 old_pid; /* the thread's id before: a thread other than the main one takes the process's id */
};

/* Whether the file the current process now runs is named as a selected command: a program
 * started through a link of another name (php for php8.2, a versioned interpreter), whose
 * command name is the link's. The first 15 bytes, as the command names are kept. */
static __always_inline bool runs_selected_file(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const unsigned char *name = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	struct comm_key key = {};
	return name && bpf_probe_read_kernel_str(key.comm, sizeof(key.comm), name) > 1 && bpf_map_lookup_elem(&traced_comms, &key);
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct sched_process_exec_args *ctx)
{
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (settings.tls_enabled) {
		/* the new program has made no SSL call yet; a thread that took the process's id leaves
		 * its notes under its old id, which no exit of its will delete */
		clear_pid_bit(&tls_pid_bits, tgid);
		if ((__u32)ctx->old_pid != tgid) {
			__u64 old = ((__u64)tgid << 32) | (__u32)ctx->old_pid;
			bpf_map_delete_elem(&tls_calls, &old);
			bpf_map_delete_elem(&tls_pending, &old);
		}
	}
	/* another program: reported anew, and it has mapped no libssl yet */
	bpf_map_delete_elem(&uring_reported, &tgid);
	bpf_map_delete_elem(&tls_unprobed_reported, &tgid);
	bpf_map_delete_elem(&http2_reported, &tgid);
	if (settings.tls_enabled)
		bpf_map_delete_elem(&tls_ciphertext_until, &tgid);
	clear_pid_bit(&libssl_pid_bits, tgid);
	if (settings.trace_all_processes)
		return 0;
	struct comm_key key = {};
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	if (!bpf_map_lookup_elem(&traced_comms, &key) && !runs_selected_file()) {
		__u8 *traced = bpf_map_lookup_elem(&traced_pids, &tgid);
		if (traced && *traced == TRACED_FORKED) {
			bpf_map_delete_elem(&traced_pids, &tgid);
			clear_pid_bit(&traced_pid_bits, tgid);
		} else if (traced && settings.tls_enabled) {
			notify_process(tgid, NOTICE_EXEC, 0, 0, false);
		}
		return 0;
	}
	__u8 selected = TRACED_SELECTED;
	set_pid_bit(&traced_pid_bits, tgid);
	bpf_map_update_elem(&traced_pids, &tgid, &selected, BPF_ANY);
	if (settings.tls_enabled)
		notify_process(tgid, NOTICE_EXEC, 0, 0, false);
	return 0;
}

struct raw_fork_args {
	__u64 parent; /* struct task_struct * */
	__u64 child;  /* struct task_struct * */
};

/* A traced process forked: the child runs the same program (a worker of a forking server, for
 * example, that may live a few milliseconds) and is traced from its first instruction, until
 * it exits or becomes another program. User space would only notice it at its next rescan, if
 * at all. A new thread is no new process: it has its process's tgid already. */
SEC("raw_tracepoint/sched_process_fork")
int on_fork(struct raw_fork_args *ctx)
{
	if (settings.trace_all_processes)
		return 0;
	/* the context is read as it is; only the task fields are relocated */
	struct task_struct *parent_task = (struct task_struct *)ctx->parent;
	struct task_struct *child_task = (struct task_struct *)ctx->child;
	__u32 parent = (__u32)BPF_CORE_READ(parent_task, tgid);
	__u32 child = (__u32)BPF_CORE_READ(child_task, tgid);
	if (child == parent || !pid_bit(&traced_pid_bits, parent))
		return 0;
	if (pid_bit(&libssl_pid_bits, parent))
		set_pid_bit(&libssl_pid_bits, child); /* the child has the parent's mappings */
	__u8 forked = TRACED_FORKED;
	set_pid_bit(&traced_pid_bits, child);
	long err = bpf_map_update_elem(&traced_pids, &child, &forked, BPF_NOEXIST);
	if (err && err != -EEXIST)
		clear_pid_bit(&traced_pid_bits, child); /* map full: not traced rather than traced for life */
	return 0;
}

/* A traced process opens a file: if it is a libssl, user space attaches the TLS probes to it
 * for this process before the library is mapped and used. */
SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct syscall_enter_ctx *ctx)
{
	/* not loaded when TLS is not traced (SocketProbeSet) */
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (!is_traced(tgid))
		return 0;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);
	if (!s)
		return 0;
	long len = bpf_probe_read_user_str(s->buf, NOTICE_PATH_CAPTURE, (const void *)ctx->args[1]);
	if (len <= 0 || !beyla_is_libssl_path(s, (__u32)len))
		return 0;
	set_pid_bit(&libssl_pid_bits, tgid);
	notify_process(tgid, NOTICE_LIBSSL_OPENED, (__u32)len, s, false);
	return 0;
}

#define NR_MMAP 9
#define MAP_ANONYMOUS 0x20

/* The same with the socket hooks, without the openat tracepoint: a traced process maps a file
 * named libssl.so* (the dynamic loader's first mapping of a library asks the kernel for room,
 * which this tracepoint reports; its later mappings are fixed). User space reads the process's
 * memory map then: the mapping is in place by the time it looks. */
SEC("raw_tracepoint/vm_unmapped_area")
int map_file(void *ctx)
{
	/* not loaded when TLS is not traced (SocketProbeSet) */
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (!is_traced(tgid))
		return 0;
	struct pt_regs *regs = syscall_regs(bpf_get_current_task_btf());
	if (!regs || regs->orig_ax != NR_MMAP || ((int)regs->r10 & MAP_ANONYMOUS))
		return 0;
	struct file *file = file_of_fd((__u32)regs->r8);
	if (!file)
		return 0;
	const unsigned char *name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);
	if (!s)
		return 0;
	long len = bpf_probe_read_kernel_str(s->buf, NOTICE_PATH_CAPTURE, name);
	if (len <= 0 || !beyla_is_libssl_path(s, (__u32)len))
		return 0;
	set_pid_bit(&libssl_pid_bits, tgid);
	notify_process(tgid, NOTICE_LIBSSL_MAPPED, (__u32)len, s, false);
	return 0;
}

/* io_uring opcodes (uapi, stable) that move a socket's bytes */
#define IORING_OP_READV 1
#define IORING_OP_WRITEV 2
#define IORING_OP_READ_FIXED 4
#define IORING_OP_WRITE_FIXED 5
#define IORING_OP_SENDMSG 9
#define IORING_OP_RECVMSG 10
#define IORING_OP_READ 22
#define IORING_OP_WRITE 23
#define IORING_OP_SEND 26
#define IORING_OP_RECV 27
#define IORING_OP_SEND_ZC 47
#define IORING_OP_SENDMSG_ZC 48
#define IORING_OP_READ_MULTISHOT 49
#define IORING_OP_RECV_ZC 58
#define IORING_OP_READV_FIXED 60
#define IORING_OP_WRITEV_FIXED 61
#define REQ_F_FIXED_FILE 1 /* the request names a registered file, not an fd */

/*
 * A traced process submits io_uring request req (opcode op, REQ_F_* flags). Bytes moved through
 * io_uring pass none of the syscall hooks, so HTTP on a socket there is not traced: the first
 * such request of a process is reported (NOTICE_IO_URING), so that user space says so instead of
 * staying silent. Reads, writes, sends and receives count on an fd that is a TCP socket. On a
 * registered file, which cannot be looked at here, sends and receives count (a socket's, of
 * whatever kind), reads and writes do not (they may be a file's).
 */
static __always_inline int on_uring_request(struct io_kiocb *req, __u8 op, __u64 flags)
{
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	bool socket_only;
	switch (op) {
	case IORING_OP_SENDMSG:
	case IORING_OP_RECVMSG:
	case IORING_OP_SEND:
	case IORING_OP_RECV:
	case IORING_OP_SEND_ZC:
	case IORING_OP_SENDMSG_ZC:
	case IORING_OP_RECV_ZC:
		socket_only = true;
		break;
	case IORING_OP_READV:
	case IORING_OP_WRITEV:
	case IORING_OP_READ_FIXED:
	case IORING_OP_WRITE_FIXED:
	case IORING_OP_READ:
	case IORING_OP_WRITE:
	case IORING_OP_READ_MULTISHOT:
	case IORING_OP_READV_FIXED:
	case IORING_OP_WRITEV_FIXED:
		socket_only = false;
		break;
	default:
		return 0;
	}
	if (bpf_map_lookup_elem(&uring_reported, &tgid))
		return 0;
	if (flags & REQ_F_FIXED_FILE) {
		if (!socket_only)
			return 0;
	} else if (!bpf_core_field_exists(req->cqe.fd) || !is_tcp_socket((__u32)BPF_CORE_READ(req, cqe.fd))) {
		return 0;
	}
	notify_once(&uring_reported, tgid, NOTICE_IO_URING, op);
	return 0;
}

/* The tracepoint of Linux 6.5 on, and its name before (the same fields). User space attaches the
 * one this kernel has. Fields a kernel lacks leave the program doing nothing rather than failing
 * to load with the whole probe set. */
SEC("tracepoint/io_uring/io_uring_submit_req")
int on_uring_submit(struct trace_event_raw_io_uring_submit_req *ctx)
{
	if (!is_traced((__u32)(bpf_get_current_pid_tgid() >> 32)) || !bpf_core_field_exists(ctx->req) ||
	    !bpf_core_field_exists(ctx->opcode) || !bpf_core_field_exists(ctx->flags))
		return 0;
	return on_uring_request((struct io_kiocb *)ctx->req, ctx->opcode, ctx->flags);
}

SEC("tracepoint/io_uring/io_uring_submit_sqe")
int on_uring_submit_sqe(struct trace_event_raw_io_uring_submit_sqe *ctx)
{
	if (!is_traced((__u32)(bpf_get_current_pid_tgid() >> 32)) || !bpf_core_field_exists(ctx->req) ||
	    !bpf_core_field_exists(ctx->opcode) || !bpf_core_field_exists(ctx->flags))
		return 0;
	return on_uring_request((struct io_kiocb *)ctx->req, ctx->opcode, ctx->flags);
}

/* A process ended: its id may be reused by a process nobody selected. */
SEC("tracepoint/sched/sched_process_exit")
int on_process_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(id >> 32);
	/* A thread's last SSL call stays noted until the thread ends (struct tls_call), and so may
	 * an SSL object waiting for its socket. Whatever tls_pid_bits says: the process's main
	 * thread, which clears its bit, may end before the others. */
	if (settings.tls_enabled) {
		bpf_map_delete_elem(&tls_calls, &id);
		bpf_map_delete_elem(&tls_pending, &id);
	}
	if ((__u32)id != tgid)
		return 0; /* a thread, not the process */
	clear_pid_bit(&tls_pid_bits, tgid);
	/* deleted whatever the bit says: an entry whose bit a race cleared must not stay behind */
	bpf_map_delete_elem(&traced_pids, &tgid);
	clear_pid_bit(&traced_pid_bits, tgid);
	bpf_map_delete_elem(&uring_reported, &tgid);
	bpf_map_delete_elem(&tls_unprobed_reported, &tgid);
	bpf_map_delete_elem(&http2_reported, &tgid);
	if (settings.tls_enabled)
		bpf_map_delete_elem(&tls_ciphertext_until, &tgid);
	clear_pid_bit(&libssl_pid_bits, tgid);
	clear_pid_bit(&tls_probed_pid_bits, tgid);
	return 0;
}
