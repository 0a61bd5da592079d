// SPDX-License-Identifier: MIT
/*
 * The TLS probe set: uprobes on OpenSSL's SSL_read, SSL_write, SSL_read_ex and SSL_write_ex (or
 * the internal functions they call: TlsProbeSet), SSL_do_handshake and SSL_set0_wbio see the
 * plaintext of HTTPS in any program that uses OpenSSL (libssl.so.3 / 1.1, or a copy linked into
 * the program). Its maps are the socket probe set's (shared before load), so
 * the same tracker pairs requests and responses. The socket an SSL object uses is learned
 * from the read/write syscalls made inside its calls (socket BIOs: nginx, curl, Python), or,
 * where the program moves the ciphertext itself (memory BIOs: .NET, Node), from the socket
 * write that begins with the ciphertext the object's call left in its BIO (OpenSSL's own memory
 * BIO, known from SSL_set0_wbio), or else from the write the same thread makes next.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "http_tracker.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TLS_COOKIE_EX 0x100 /* in sync with TlsProbeSet.CookieEx */
#define TLS_COOKIE_SET_WBIO 0x200 /* SSL_set0_wbio, an entry with no return probe: TlsProbeSet.CookieSetWbio */
#define TLS_COOKIE_COUNT_IN_R8 0x400 /* with TLS_COOKIE_EX: the byte count's address is the 5th argument (OpenSSL 3.3's ssl_write_internal) */

/* How long after an SSL call a process's writes are checked for the ciphertext it left. */
#define CIPHERTEXT_WAIT_NS 5000000000ULL

/* OpenSSL's BIO_s_mem() is named so (struct bio_method_st: int type, then char *name). */
#define MEM_BIO_NAME_0 0x622079726f6d656dULL /* "memory b" */
#define MEM_BIO_NAME_1 0x7265666675ULL       /* "uffer" and its terminating zero */

/*
 * The data of bio if it is OpenSSL's memory BIO (a BIO_BUF_MEM *), else 0. struct bio_st is
 * OpenSSL's own: 3.x has the library context first, then the method, and the data at 64; 1.1.1
 * has the method first and the data at 56. The method's name tells which, if either, holds.
 */
static __always_inline __u64 mem_bio_data(__u64 bio)
{
	__u64 method, name, data;
	__u64 s[2];
#pragma unroll
	for (int layout = 0; layout < 2; layout++) {
		__u64 method_at = layout == 0 ? 8 : 0, data_at = layout == 0 ? 64 : 56;
		if (bpf_probe_read_user(&method, sizeof(method), (const void *)(bio + method_at)) || !method ||
		    bpf_probe_read_user(&name, sizeof(name), (const void *)(method + 8)) || !name ||
		    bpf_probe_read_user(s, sizeof(s), (const void *)name))
			continue;
		if (s[0] != MEM_BIO_NAME_0 || (s[1] & 0xffffffffffffULL) != MEM_BIO_NAME_1)
			continue;
		if (bpf_probe_read_user(&data, sizeof(data), (const void *)(bio + data_at)))
			return 0;
		return data;
	}
	return 0;
}

/*
 * After a call on SSL object key whose socket is unknown: if it writes to OpenSSL's memory BIO,
 * notes the first bytes of the ciphertext waiting there, so that the socket write that begins
 * with them ties the object to its socket, and returns true (with or without ciphertext waiting:
 * the object's socket is not guessed then). False when its BIO is another kind (Node's own) or
 * was not seen, for a guess.
 */
static __always_inline bool expect_ciphertext(const struct ssl_key *key)
{
	__u64 *data = bpf_map_lookup_elem(&ssl_mem_wbio, key);
	if (!data)
		return false;
	/* BIO_BUF_MEM: BUF_MEM *buf, *readp; readp's BUF_MEM (size_t length; char *data; size_t max)
	 * is what waits to be read */
	__u64 readp, waiting[3];
	if (bpf_probe_read_user(&readp, sizeof(readp), (const void *)(*data + 8)) || !readp ||
	    bpf_probe_read_user(waiting, sizeof(waiting), (const void *)readp) || waiting[0] > waiting[2])
		return false;
	if (waiting[0] < CIPHERTEXT_HEAD)
		return true; /* nothing to send, or too little to tell apart: the object's next call */
	struct ciphertext_key head = {.tgid = key->tgid};
	if (bpf_probe_read_user(head.head, sizeof(head.head), (const void *)waiting[1]))
		return false;
	struct ssl_key *noted = bpf_map_lookup_elem(&tls_ciphertexts, &head);
	if (!noted)
		bpf_map_update_elem(&tls_ciphertexts, &head, key, BPF_NOEXIST);
	else if (noted->ssl != key->ssl)
		noted->ssl = 0; /* another object's bytes begin alike (a HelloRetryRequest's random is fixed): neither's */
	__u64 until = bpf_ktime_get_ns() + CIPHERTEXT_WAIT_NS;
	bpf_map_update_elem(&tls_ciphertext_until, &key->tgid, &until, BPF_ANY);
	return true;
}

static __always_inline int tls_enter(struct pt_regs *ctx, __u8 dir, bool ex, bool count_in_r8)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = (__u32)(id >> 32);
	if (!is_traced(tgid))
		return 0;
	/* from now on this process's socket syscalls may be ciphertext of its SSL calls */
	set_pid_bit(&tls_pid_bits, tgid);
	/* both loaded, then chosen: the verifier refuses a context pointer moved by a computed offset */
	__u64 cx = ctx->cx, r8 = ctx->r8;
	asm volatile("" : "+r"(cx), "+r"(r8));
	struct tls_call call = {
		.ssl = ctx->di,
		.buf = ctx->si,
		.out_len = !ex ? 0 : count_in_r8 ? r8 : cx,
		.enter_ns = bpf_ktime_get_ns(),
		.dir = dir,
		.ex = ex,
		.active = 1,
	};
	/* the thread's entry written in place after its first call (see struct tls_call) */
	struct tls_call *noted = bpf_map_lookup_elem(&tls_calls, &id);
	if (noted)
		*noted = call;
	else
		bpf_map_update_elem(&tls_calls, &id, &call, BPF_ANY);
	return 0;
}

/* The return of any of the probed functions: what it was is in the call its entry noted. */
SEC("uretprobe")
int ssl_exit(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *found = tls_call_in_progress(id);
	if (!found)
		return 0;
	struct tls_call call = *found;
	found->active = 0;

	struct ssl_key key = {.ssl = call.ssl, .tgid = (__u32)(id >> 32)};
	/* the fd (and socket) an earlier call taught: for a call with no syscall inside, its fd */
	struct ssl_fd *known = bpf_map_lookup_elem(&ssl_fds, &key);
	__u32 fd = call.fd_plus_one ? call.fd_plus_one - 1 : known ? known->fd : 0;
	struct conn_key socket = {.tgid = key.tgid, .fd = fd};
	struct conn_state *c = 0;
	__u64 sk = 0;
	if (call.fd_plus_one || known) {
		c = bpf_map_lookup_elem(&connections, &socket);
		if (known && known->sk && known->fd == fd && c && c->sk == known->sk && (!call.fd_plus_one || call.sk == known->sk))
			sk = known->sk; /* tied already, to the socket tracked on the fd (and the one the call's syscall moved bytes on) */
		else if (call.fd_plus_one)
			sk = tie_ssl_to_socket(&key, fd, call.sk);
		else
			sk = tied_socket(&key, fd); /* not the fd table at every call of a program that moves its ciphertext itself */
	} else if (!expect_ciphertext(&key)) {
		/* the program moves the ciphertext itself, from a BIO of its own: guess the socket from its next write */
		__u32 tgid = key.tgid;
		bpf_map_update_elem(&tls_pending, &id, &key, BPF_ANY);
		bpf_map_update_elem(&tls_pending_process, &tgid, &key, BPF_ANY);
	}
	if (!call.dir)
		return 0; /* a handshake: no application data */

	long ret = (long)ctx->ax;
	__u64 bytes = 0;
	if (call.ex) {
		if ((int)ret != 1 || bpf_probe_read_user(&bytes, sizeof(bytes), (const void *)call.out_len))
			return 0;
	} else {
		if ((int)ret <= 0)
			return 0;
		bytes = (__u64)(int)ret;
	}
	if (!bytes)
		return 0;

	if (!call.fd_plus_one && !known) {
		/* served from OpenSSL's buffer, or a memory BIO, with no socket known: count a request
		 * that goes unreported, once: where its plaintext starts */
		__u8 p[16] = {};
		if (bytes >= 8 && !bpf_probe_read_user(p, 8, (const void *)call.buf) && is_request_start(p))
			stat_inc(STAT_TLS_NO_SOCKET);
		return 0;
	}
	struct io_data d = {
		.first = call.buf,
		.first_len = bytes,
		.total = bytes,
		.tail = bytes >= 5 ? TAIL_AT(call.buf + bytes - 5, bytes - 5) : 0,
	};
	d.sk = sk ? sk : (__u64)stream_sock_of_fd(fd); /* the tie's socket: fd's, read just now or confirmed */
	if (c && c->sk != d.sk) {
		/* a connection left on the fd whose end went unseen: this is another socket */
		beyla_end_connection(socket.tgid, fd, c->sk);
		c = 0;
	}
	track_io(&socket, c, call.dir, &d, true, call.enter_ns);
	return 0;
}

/* SSL_set0_wbio(ssl, wbio): where the object's ciphertext goes. Kept only for OpenSSL's memory
 * BIO (a socket BIO's writes are seen inside the calls); an earlier object's entry at the same
 * address goes. */
static __always_inline int note_wbio(struct pt_regs *ctx)
{
	__u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	if (!is_traced(tgid))
		return 0;
	struct ssl_key key = {.ssl = ctx->di, .tgid = tgid};
	__u64 data = mem_bio_data(ctx->si);
	if (data)
		bpf_map_update_elem(&ssl_mem_wbio, &key, &data, BPF_ANY);
	else
		bpf_map_delete_elem(&ssl_mem_wbio, &key);
	return 0;
}

/* Entries, one program per function, for perf-event uprobes (kernels without uprobe_multi links
 * that filter by process: TlsProbeSet). */
SEC("uprobe")
int ssl_handshake_enter(struct pt_regs *ctx) { return tls_enter(ctx, 0, false, false); }
SEC("uprobe")
int ssl_read_enter(struct pt_regs *ctx) { return tls_enter(ctx, DIR_INGRESS, false, false); }
SEC("uprobe")
int ssl_read_ex_enter(struct pt_regs *ctx) { return tls_enter(ctx, DIR_INGRESS, true, false); }
SEC("uprobe")
int ssl_write_enter(struct pt_regs *ctx) { return tls_enter(ctx, DIR_EGRESS, false, false); }
SEC("uprobe")
int ssl_write_ex_enter(struct pt_regs *ctx) { return tls_enter(ctx, DIR_EGRESS, true, false); }
SEC("uprobe")
int ssl_write_flags_enter(struct pt_regs *ctx) { return tls_enter(ctx, DIR_EGRESS, true, true); }
SEC("uprobe")
int ssl_set0_wbio_enter(struct pt_regs *ctx) { return note_wbio(ctx); }

/* Every entry in one program, for a uprobe_multi link per process and file (6.10; 6.6.35, 6.9.6): the
 * function is told by the attach cookie, its direction (0 for the handshake) | TLS_COOKIE_EX for
 * the _ex variants (and TLS_COOKIE_COUNT_IN_R8), or TLS_COOKIE_SET_WBIO. One link for the six functions' entries and one for
 * the five returns, where perf-event uprobes take eleven: attaching and releasing a process's
 * probes is that much faster. */
SEC("uprobe")
int ssl_enter(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	if (cookie & TLS_COOKIE_SET_WBIO)
		return note_wbio(ctx);
	return tls_enter(ctx, (__u8)cookie, (cookie & TLS_COOKIE_EX) != 0, (cookie & TLS_COOKIE_COUNT_IN_R8) != 0);
}
