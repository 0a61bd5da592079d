/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x exchange tracking shared by the probe sets: per-connection state in an LRU map,
 * requests and responses recognised from their first bytes, one http_span_event per
 * finished exchange. The probe set that includes this supplies the data (a pointer to the
 * first bytes, the byte count, the address of the last five bytes) for each read or write.
 */
#ifndef BEYLA_HTTP_TRACKER_H
#define BEYLA_HTTP_TRACKER_H

#include "http_event.h"

#define RESPONSE_HEAD_SCAN 512 /* bytes of a response head searched for Content-Length */
#define MAX_IOVECS 8
#define MAX_HEAD_IOVECS 32 /* buffers of one write that a head split into many is gathered from */
#define IOVS_AT_ONCE 16    /* iovecs read in one go where a head is gathered from many buffers */

#define DIR_INGRESS 1 /* bytes read by the traced process */
#define DIR_EGRESS 2  /* bytes written by the traced process */

#define PHASE_IDLE 0
#define PHASE_REQUEST 1
#define PHASE_RESPONSE 2
#define PHASE_PARTIAL 3  /* fewer than 8 bytes of what may be a request start have arrived */
#define PHASE_UPGRADED 4 /* a 101 (Switching Protocols), or on a proxy a CONNECT's 2xx, answered: the connection speaks another protocol now (WebSocket, h2c, a tunnel) */

#define CONN_LENGTH_KNOWN 0x2   /* response_expected is the response's total size */
#define CONN_AWAIT_LAST_CHUNK 0x4 /* no Content-Length: watch for the terminating chunk */
#define CONN_HEAD_OPEN 0x8   /* the response's head did not end in its first piece: the next pieces are scanned byte by byte (beyla_scan_head_chunk) */
#define CONN_STATUS_OPEN 0x10 /* the response began with fewer bytes than a status line: they gather in status_line */
#define CONN_RX_BASE 0x20 /* a client's response read in several reads: rx_base is where it begins in its socket's byte stream */
/* A response whose end is known, or will be once its head has come whole (a head in pieces): a
 * request seen before it ends is the next one, and waits. */
#define CONN_END_DUE (CONN_LENGTH_KNOWN | CONN_AWAIT_LAST_CHUNK | CONN_HEAD_OPEN | CONN_STATUS_OPEN)

/* Masks v in the very register that is used next, so that the verifier sees the bound even
 * where the compiler has proven it and would otherwise drop the check. */
#define MASK_FOR_VERIFIER(v, mask) asm volatile("%0 &= " #mask : "+r"(v))

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define S_IFMT 00170000
#define S_IFSOCK 0140000

struct conn_key {
	__u32 tgid;
	__u32 fd;
};

/* Reads the first min(8, first_len) bytes of d into p (16 bytes); false when there are none. */
#define read_prefix(p, d) ({                                              \
	__u64 _n = (d)->first_len < 8 ? (d)->first_len : 8;                     \
	MASK_FOR_VERIFIER(_n, 15);                                              \
	_n > 0 && !bpf_probe_read_user((p), _n, (const void *)(d)->first);    \
})

#define SLOT_PARTIAL 2

/* One request: when it started, what it looked like, how big it was. */
struct request_slot {
	__u64 start_ns;
	__u64 bytes;
	__u32 tid;
	__u16 head_len;
	__u8 is_head;          /* HEAD method: the response has no body */
	__u8 used;             /* 1, or in the queue SLOT_PARTIAL: fewer than 8 bytes of what may begin a request */
	__u8 head[256];        /* REQUEST_HEAD_CAPTURE bytes used; 256 so that a masked index is always inside */
};

struct conn_state {
	__u64 end_ns;          /* last response byte so far */
	__u64 write_enter_ns;  /* when the write in progress on this connection entered the kernel */
	__u64 response_bytes;
	__u64 response_expected;
	__u16 status;
	__u8 phase;
	__u8 kind;
	__u8 conn_flags;
	__u8 family;
	__u16 span_flags;
	__u16 local_port;
	__u16 peer_port;
	__u32 request_writer;  /* the thread whose write in progress took its request as it entered (track_request_write), or 0 */
	__u8 local_addr[16];
	__u8 peer_addr[16];
	__u32 tgid;
	__u32 fd;
	/* Requests seen before the current response ended wait in queued_requests under
	 * sequence numbers [queue_head, queue_tail): pipelining, or on loopback the next
	 * request read by one thread before another thread's response write returned. */
	__u32 queue_head;
	__u32 queue_tail;
	struct request_slot req;  /* the exchange in progress */
	__u64 sk;                 /* the socket (struct sock *) behind the fd when tracking started */
	/* A response that comes in pieces (a head written a line at a time, read a byte at a time;
	 * chunks): its last bytes so far (newest in the low byte), and the byte scan's state. */
	__u64 last_bytes;
	__s32 scan_length;        /* the Content-Length the byte scan read, or -1 */
	__u8 scan_line_pos;       /* bytes into the header line the scan is in (saturating) */
	__u8 scan_state;          /* SCAN_* */
	__u8 status_len;          /* bytes in status_line (CONN_STATUS_OPEN) */
	__u8 pad;
	__u8 status_line[16];
	__u32 rx_base;            /* CONN_RX_BASE: the sequence number of the response's first byte (tcp_sock.copied_seq) */
};

/* DeadProcessSweeper.cs reads conn_state by offset and the map keys by size: keep them in step. */
_Static_assert(sizeof(struct conn_state) == 424, "conn_state layout: update DeadProcessSweeper.cs");
_Static_assert(__builtin_offsetof(struct conn_state, req.used) == 119, "conn_state layout: update DeadProcessSweeper.cs");
_Static_assert(sizeof(struct conn_key) == 8, "conn_key layout: update DeadProcessSweeper.cs");

#define MAX_QUEUED 16      /* requests waiting behind the current one, per connection */
#define MAX_PIPELINED 16   /* requests taken from one read (HTTP benchmarks pipeline 16 deep) */

struct queue_key {
	__u32 tgid;
	__u32 fd;
	__u32 seq;
	__u32 pad;
};

/* io_data.tail: the address of a call's last 5 bytes (user addresses stay under 2^56) and, in the
 * top byte, how many bytes of the same buffer come before them (up to 255: a last chunk's trailers
 * are looked for there). Kept in one field: the programs' stacks hold several io_data. */
#define TAIL_AT(addr, room) ((__u64)(addr) | ((__u64)((room) < 255 ? (room) : 255) << 56))
#define TAIL_ADDR(tail) ((tail) & 0x00ffffffffffffffULL)
#define TAIL_ROOM(tail) ((tail) >> 56)

/* What one read or write moved: enough to recognise and measure it. */
struct io_data {
	__u64 first;      /* user address of the first bytes */
	__u64 first_len;  /* bytes readable at first (<= total) */
	__u64 tail;       /* user address of the last 5 bytes, 0 if unknown, with the bytes of its buffer before it (TAIL_AT) */
	__u64 total;      /* bytes moved by the call */
	__u64 iov;        /* user address of the iovec array the bytes came from, 0 if none */
	__u64 iov_count;
	__u64 sk;         /* the socket the bytes moved on, when the hook is told (else 0) */
};

struct scratch {
	__u8 buf[RESPONSE_HEAD_SCAN * 2]; /* slack: 16-byte reads near the end, and a piece appended at
					    * a masked offset (beyla_fill_window), stay inside */
	__u32 head_end;                     /* set by parse_response_head */
	__u32 at_iov;                       /* beyla_fill_window: the position in a call's bytes, */
	__u64 at_offset;                    /* buffer at_iov (0: the first), offset at_offset, */
	__u64 at_seen;                      /* at_seen bytes from the call's start */
	__u32 window_len;                   /* beyla_parse_next_window: the window's length */
	__u32 iovs_first;                   /* beyla_fill_window: the call's iovecs [iovs_first, */
	__u32 iovs_count;                   /* iovs_first + iovs_count) are in iovs */
	struct iovec iovs[IOVS_AT_ONCE];
	__u32 length_line;                  /* where the first Content-Length line starts; 0: none */
	__u64 window;                       /* beyla_ends_with_trailers: the last bytes scanned */
	struct conn_state conn;
	struct request_slot slot;
};

const volatile struct probe_settings settings = {};

/* traced_pids values: a selected process (by user space, or by its command name at exec), or
 * the fork of a traced process (traced until it exits or execs another program). */
#define TRACED_SELECTED 1
#define TRACED_FORKED 2

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} traced_pids SEC(".maps");

/*
 * One bit per process id (PID_MAX_LIMIT is 4,194,304 on 64-bit): the traced set as the hooks
 * see it, so that every syscall of every process, traced or not, is decided with one load
 * instead of a hash lookup. traced_pids holds the same pids with why they are traced, for
 * exec and fork; whoever adds a pid sets its bit first, whoever removes one clears it after:
 * the programs here, and user space through a shared mapping (PidBitmap.cs). tls_pid_bits marks
 * processes that made an SSL call: only they need the TLS bookkeeping on their socket syscalls.
 */
#define PID_BITMAP_WORDS (4194304 / 64)

struct pid_bitmap {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, PID_BITMAP_WORDS);
	__type(key, __u32);
	__type(value, __u64);
};

struct pid_bitmap traced_pid_bits SEC(".maps");
struct pid_bitmap tls_pid_bits SEC(".maps");

static __always_inline __u64 *pid_word(void *bitmap, __u32 pid)
{
	__u32 index = pid >> 6;
	return bpf_map_lookup_elem(bitmap, &index);
}

static __always_inline bool pid_bit(void *bitmap, __u32 pid)
{
	__u64 *word = pid_word(bitmap, pid);
	return word && ((*word >> (pid & 63)) & 1);
}

/* Set and clear write (atomically) only when the bit changes: most calls find it as wanted. */
static __always_inline void set_pid_bit(void *bitmap, __u32 pid)
{
	__u64 *word = pid_word(bitmap, pid);
	__u64 bit = 1ULL << (pid & 63);
	if (word && !(*word & bit))
		__sync_fetch_and_or(word, bit);
}

static __always_inline void clear_pid_bit(void *bitmap, __u32 pid)
{
	__u64 *word = pid_word(bitmap, pid);
	__u64 bit = 1ULL << (pid & 63);
	if (word && (*word & bit))
		__sync_fetch_and_and(word, ~bit);
}

/* Command names (as in /proc/PID/comm, at most 15 characters) whose processes are traced
 * from their exec on, without waiting for user space to notice them. */
struct comm_key {
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct comm_key);
	__type(value, __u8);
} traced_comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} connections SEC(".maps");

/* The fd and process each tracked socket (struct sock *) is tracked under, so that the socket's
 * own events (its close, its end) find its connection, and its tie to an SSL object. A socket is
 * tracked under one fd of one process at a time. Sized by user space at twice connections. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, struct conn_key);
} socket_conns SEC(".maps");

/* Ends the connection tracked on fd of process tgid if it is socket sk's (see track_close). */
__noinline int beyla_end_connection(__u32 tgid, __u32 fd, __u64 sk);

/* Forgets that socket sk is tracked under fd of process tgid (a later claim by another fd stays). */
static __always_inline void forget_socket(__u64 sk, __u32 tgid, __u32 fd)
{
	struct conn_key *tracked = bpf_map_lookup_elem(&socket_conns, &sk);
	if (tracked && tracked->tgid == tgid && tracked->fd == fd)
		bpf_map_delete_elem(&socket_conns, &sk);
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct queue_key);
	__type(value, struct request_slot);
} queued_requests SEC(".maps");

/*
 * One ring buffer per CPU, in an array indexed by CPU: a record is reserved and committed in the
 * ring of the CPU its program runs on (a tracepoint program does not migrate), so producers on
 * different CPUs never contend for one ring's lock and producer position, which would move
 * between their caches with every record. User space creates the rings (the definition here is
 * only a template) and reads them all; the slot of a CPU that was offline then holds another
 * CPU's ring.
 */
struct event_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* the number of CPUs, set before load */
	__type(key, __u32);
	__array(values, struct event_ring);
} event_rings SEC(".maps");

/* The ring of the CPU this runs on; null only before user space has put the rings in. */
static __always_inline void *this_cpu_ring(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&event_rings, &cpu);
}

/* Tells user space about process pid, with the path in s (NOTICE_LIBSSL_OPENED), or with the
 * process's command name (its main thread's, not the current thread's) when name is set.
 * Returns whether the notice is on its way (false: the ring is full, or not there yet). */
static __always_inline bool notify_process(__u32 pid, __u32 reason, __u32 detail, struct scratch *s, bool name)
{
	void *ring = this_cpu_ring();
	struct process_notice_event *e = ring ? bpf_ringbuf_reserve(ring, sizeof(*e), 0) : 0;
	if (!e)
		return false;
	e->type = EVENT_PROCESS_NOTICE;
	e->pid = pid;
	e->reason = reason;
	e->detail = detail;
	e->path[0] = 0;
	if (s) {
		__builtin_memcpy(e->path, s->buf, NOTICE_PATH_CAPTURE);
	} else if (name) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct task_struct *leader = BPF_CORE_READ(task, group_leader);
		if (bpf_probe_read_kernel_str(e->path, 16, &leader->comm) < 0)
			e->path[0] = 0;
	}
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return true;
}

/* Processes already told about (struct process_notice_event), by reason. */
struct reported_processes {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
};

/* Traced processes already reported for beginning an HTTP/2 connection (NOTICE_HTTP2), in either
 * probe set (shared); forgotten when the process execs another program or exits. */
struct reported_processes http2_reported SEC(".maps");

/* Tells user space reason (with detail and the command name) about process tgid, once until it
 * execs or exits: reported holds the processes told. */
static __always_inline void notify_once(void *reported, __u32 tgid, __u32 reason, __u32 detail)
{
	__u8 told = 1;
	/* looked up first: an update of an LRU map takes a free entry even when it then fails */
	if (bpf_map_lookup_elem(reported, &tgid) || bpf_map_update_elem(reported, &tgid, &told, BPF_NOEXIST))
		return; /* told already, or another thread of the process is telling */
	if (!notify_process(tgid, reason, detail, 0, true))
		bpf_map_delete_elem(reported, &tgid); /* not told: the next time tries again */
}


/* 1 while the reader sleeps for want of records (user space sets it after a while with nothing
 * to read): the next record wakes it at once and clears it, whatever wakeup_bytes says. An idle
 * reader need not poll the ring on a short timer then, and the first span after a quiet spell is
 * not held back until the next poll. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} reader_asleep SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_space SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* A thread's last SSL call (see tls.bpf.c): in progress while active is 1. The entry stays when
 * the call returns, and the thread's next call writes it again in place: an update of the map
 * at each entry and a delete at each return cost more than the rest of the two programs. A
 * thread's entry goes when the thread ends (on_process_exit). */
struct tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 out_len;   /* size_t * of the _ex variants, 0 otherwise */
	__u64 enter_ns;
	__u64 sk;        /* the socket (struct sock *) a socket hook saw fd_plus_one's bytes move on; 0 if not told */
	__u32 fd_plus_one; /* set by a socket syscall made inside the call; 0 when none was */
	__u8 dir;
	__u8 ex;         /* an _ex variant: the byte count is at out_len */
	__u8 active;     /* the call has not returned yet */
	__u8 pad;
};

struct ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct tls_call);
} tls_calls SEC(".maps");

/* The SSL call in progress on thread id, or null. */
static __always_inline struct tls_call *tls_call_in_progress(__u64 id)
{
	struct tls_call *call = bpf_map_lookup_elem(&tls_calls, &id);
	return call && call->active ? call : 0;
}

/* Which socket an SSL object reads and writes: its fd, and the socket (struct sock *) read from
 * the fd when they were tied (0 if it had none). A connection tracked on that fd with that socket
 * confirms the tie without more lookups (ssl_exit). */
struct ssl_fd {
	__u32 fd;
	__u32 pad;
	__u64 sk;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ssl_key);
	__type(value, struct ssl_fd);
} ssl_fds SEC(".maps");

/* Threads that just left an SSL call on an SSL object whose socket is still unknown, and whose
 * BIO is not OpenSSL's memory BIO (Node's own; see tls_ciphertexts for those): the next socket
 * write on the thread is taken to carry that object's ciphertext. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct ssl_key);
} tls_pending SEC(".maps");

/* The same, per process: the program may hand the ciphertext to another thread to send. Only
 * a socket with no SSL object yet, whose bytes look like a TLS record, is taken. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ssl_key);
} tls_pending_process SEC(".maps");

/* The first bytes of a TLS record an SSL object left in its memory BIO for the program to send:
 * enough of them that two records do not share them (a record's header is 5 bytes; the rest is
 * a handshake message's random, or ciphertext). */
#define CIPHERTEXT_HEAD 32

struct ciphertext_key {
	__u32 tgid;
	__u32 pad;
	__u8 head[CIPHERTEXT_HEAD];
};

/* Ciphertext waiting to be sent, and the SSL object it came from: the socket write that begins
 * with it ties the two, whichever thread makes it and in whatever order (memory BIOs: .NET). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ciphertext_key);
	__type(value, struct ssl_key);
} tls_ciphertexts SEC(".maps");

/* The data (BIO_BUF_MEM *) of the BIO an SSL object writes its ciphertext to, when that is
 * OpenSSL's memory BIO: from SSL_set0_wbio (which SSL_set_bio and SSL_set_fd call). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ssl_key);
	__type(value, __u64);
} ssl_mem_wbio SEC(".maps");

/* Until when (CLOCK_MONOTONIC ns) a process's socket writes may begin with ciphertext in
 * tls_ciphertexts: only then are their first bytes looked up. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} tls_ciphertext_until SEC(".maps");

/* An SSL object and the socket (struct sock *) it was tied to through an fd. */
struct ssl_socket {
	__u64 ssl;
	__u64 sk;
};

/* Which SSL object uses a socket: so that a socket is never given to two. An entry whose sk is
 * not the fd's socket any more is left from a connection whose close was not seen. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct conn_key);
	__type(value, struct ssl_socket);
} socket_ssl SEC(".maps");

/* The first bytes of a TLS record: content type 20-23 (handshake 22, data 23), version 3.x. */
static __always_inline bool is_tls_record(__u64 addr, __u64 len)
{
	__u8 h[2] = {};
	if (len < 5 || bpf_probe_read_user(h, 2, (const void *)addr))
		return false;
	return h[0] >= 20 && h[0] <= 23 && h[1] == 3;
}

/* What track_io found on a connection it does not track: a TLS handshake's first record. */
#define TRACKED_TLS_HELLO 1

/* Whether the first 8 bytes a socket moved open a TLS handshake: a handshake record (22, version
 * 3.x) holding a ClientHello (1) or a ServerHello (2). */
static __always_inline bool is_tls_hello(const __u8 *p)
{
	return p[0] == 22 && p[1] == 3 && p[2] <= 4 && (p[5] == 1 || p[5] == 2);
}

static __always_inline void stat_inc(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&stats, &index);
	if (value)
		*value += 1;
}

static __always_inline bool is_traced(__u32 tgid)
{
	if (settings.trace_all_processes)
		return true;
	return pid_bit(&traced_pid_bits, tgid);
}

/* "PRI * HT": the start of the preface an HTTP/2 client opens each connection with
 * ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", after TLS's ALPN chose h2, or with prior knowledge). */
static __always_inline bool is_http2_preface(const __u8 *p)
{
	return p[0] == 'P' && p[1] == 'R' && p[2] == 'I' && p[3] == ' ' && p[4] == '*' && p[5] == ' ' && p[6] == 'H' && p[7] == 'T';
}

/* 'GET ', 'POST ', ... : the start of an HTTP/1.x request line. */
static __always_inline bool is_request_start(const __u8 *p)
{
	switch (p[0]) {
	case 'G':
		return p[1] == 'E' && p[2] == 'T' && p[3] == ' ';
	case 'P':
		if (p[1] == 'U' && p[2] == 'T' && p[3] == ' ')
			return true;
		if (p[1] == 'O' && p[2] == 'S' && p[3] == 'T' && p[4] == ' ')
			return true;
		return p[1] == 'A' && p[2] == 'T' && p[3] == 'C' && p[4] == 'H' && p[5] == ' ';
	case 'H':
		return p[1] == 'E' && p[2] == 'A' && p[3] == 'D' && p[4] == ' ';
	case 'D':
		return p[1] == 'E' && p[2] == 'L' && p[3] == 'E' && p[4] == 'T' && p[5] == 'E' && p[6] == ' ';
	case 'O':
		return p[1] == 'P' && p[2] == 'T' && p[3] == 'I' && p[4] == 'O' && p[5] == 'N' && p[6] == 'S' && p[7] == ' ';
	case 'C':
		return p[1] == 'O' && p[2] == 'N' && p[3] == 'N' && p[4] == 'E' && p[5] == 'C' && p[6] == 'T' && p[7] == ' ';
	case 'T':
		return p[1] == 'R' && p[2] == 'A' && p[3] == 'C' && p[4] == 'E' && p[5] == ' ';
	}
	return false;
}

/* 'HTTP/1.x NNN' */
static __always_inline bool is_response_start(const __u8 *p)
{
	return p[0] == 'H' && p[1] == 'T' && p[2] == 'T' && p[3] == 'P' && p[4] == '/' && p[5] == '1' && p[6] == '.';
}

static __always_inline bool prefix_of(const __u8 *p, __u32 n, const char *method, __u32 method_len)
{
#pragma unroll
	for (int k = 0; k < 8; k++) {
		if (k >= n || k >= method_len)
			break;
		if (p[k] != (__u8)method[k])
			return false;
	}
	return true;
}

/* The first n (< 8) bytes of a read could still become a request start ('G', 'PO', ...). */
static __always_inline bool could_be_request_start(const __u8 *p, __u32 n)
{
	if (n == 0)
		return false;
	return prefix_of(p, n, "GET ", 4) || prefix_of(p, n, "POST ", 5) || prefix_of(p, n, "PUT ", 4) ||
	       prefix_of(p, n, "HEAD ", 5) || prefix_of(p, n, "DELETE ", 7) || prefix_of(p, n, "PATCH ", 6) ||
	       prefix_of(p, n, "OPTIONS ", 8) || prefix_of(p, n, "CONNECT ", 8) || prefix_of(p, n, "TRACE ", 6);
}

static __always_inline bool is_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

/* The status of the status line at b (12 bytes readable: "HTTP/1.x NNN"), or 0 where there is none. */
static __always_inline __u16 status_line_status(const __u8 *b)
{
	if (!is_response_start(b) || !is_digit(b[9]) || !is_digit(b[10]) || !is_digit(b[11]))
		return 0;
	return (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
}

/* The file behind fd in the current task's file table, or null (none, or the task has no files left: it is exiting). */
static __always_inline struct file *file_of_fd(__u32 fd)
{
	/* Through the task's BTF pointer: plain loads (a fault reads 0), not a helper call each;
	 * only the table's slot, indexed by a variable, needs the helper. */
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
	if (!fdt)
		return 0;
	if (fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *file = 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return 0;
	return file;
}

/* The stream socket behind fd in the current task's file table, or null (not a socket, not a stream). */
static __always_inline struct sock *stream_sock_of_fd(__u32 fd)
{
	struct file *file = file_of_fd(fd);
	if (!file)
		return 0;
	unsigned short mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *sock = (struct socket *)BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return 0;
	return BPF_CORE_READ(sock, sk);
}

/* Whether fd is a TCP socket (a stream socket of an IPv4 or IPv6 family) in the current task. */
static __always_inline bool is_tcp_socket(__u32 fd)
{
	struct sock *sk = stream_sock_of_fd(fd);
	if (!sk)
		return false;
	unsigned short family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6;
}

/*
 * The socket (struct sock *) SSL object ssl was tied with on fd, while that socket lives: its
 * socket_conns entry, which its end removes, still names ssl's process and fd. Else 0, and the
 * socket is to be read from the fd table. Lookups only.
 */
static __always_inline __u64 tied_socket(const struct ssl_key *ssl, __u32 fd)
{
	struct conn_key socket = {.tgid = ssl->tgid, .fd = fd};
	struct ssl_socket *tied = bpf_map_lookup_elem(&socket_ssl, &socket);
	if (!tied || tied->ssl != ssl->ssl)
		return 0;
	struct conn_key *owner = bpf_map_lookup_elem(&socket_conns, &tied->sk);
	return owner && owner->tgid == ssl->tgid && owner->fd == fd ? tied->sk : 0;
}

/*
 * Ties SSL object ssl to the socket on fd (of the current task, ssl's process); returns that
 * socket (struct sock *, 0 if fd has none). seen, when not 0, is the socket a hook saw the
 * call's ciphertext move on: if ssl and fd are tied to it already (every call after a
 * connection's first), nothing is read or written but lookups. A seen socket is only
 * compared, never stored: the tie's socket is always read from fd.
 */
static __always_inline __u64 tie_ssl_to_socket(const struct ssl_key *ssl, __u32 fd, __u64 seen)
{
	struct conn_key socket = {.tgid = ssl->tgid, .fd = fd};
	if (seen) {
		struct ssl_fd *tied_fd = bpf_map_lookup_elem(&ssl_fds, ssl);
		if (tied_fd && tied_fd->fd == fd && tied_socket(ssl, fd) == seen)
			return seen;
	}
	struct sock *sk = stream_sock_of_fd(fd);
	struct ssl_socket tie = {.ssl = ssl->ssl, .sk = (__u64)sk};
	struct ssl_fd uses = {.fd = fd, .sk = (__u64)sk};
	bpf_map_update_elem(&ssl_fds, ssl, &uses, BPF_ANY);
	bpf_map_update_elem(&socket_ssl, &socket, &tie, BPF_ANY);
	/* so that the socket's end unties it, tracked or not (a connection tracked on it keeps its
	 * entry). Looked up first: an update of an LRU map takes a free entry even when it then
	 * fails. TCP only: no other socket's end is seen. */
	if (sk && !bpf_map_lookup_elem(&socket_conns, &tie.sk) && BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP)
		bpf_map_update_elem(&socket_conns, &tie.sk, &socket, BPF_NOEXIST);
	return tie.sk;
}

/* Finds the TCP socket behind fd in the current task and records it and its addresses; false if
 * there is none, or it is not expect (when not 0: the socket a hook saw the bytes move on). */
static __always_inline bool read_socket_addresses(__u32 fd, struct conn_state *c, __u64 expect)
{
	struct sock *sk = stream_sock_of_fd(fd);
	if (!sk || (expect && (__u64)sk != expect) || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return false; /* MPTCP, SCTP: stream sockets whose end tcp_destroy_sock does not see */
	c->sk = (__u64)sk;
	unsigned short family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		__be32 local = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 peer = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(c->local_addr, &local, 4);
		__builtin_memcpy(c->peer_addr, &peer, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&c->local_addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&c->peer_addr, sk, __sk_common.skc_v6_daddr);
		c->span_flags |= SPAN_FLAG_IPV6;
	} else {
		return false;
	}
	c->family = (__u8)family;
	c->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	__be16 dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	c->peer_port = (__u16)((dport >> 8) | (dport << 8));
	return true;
}

static __always_inline void emit_span(struct conn_state *c, __u8 end_reason)
{
	void *ring = this_cpu_ring();
	struct http_span_event *e = ring ? bpf_ringbuf_reserve(ring, sizeof(*e), 0) : 0;
	if (!e) {
		stat_inc(STAT_EVENTS_LOST_RINGBUF);
		return;
	}
	e->type = EVENT_HTTP_SPAN;
	e->kind = c->kind;
	e->end_reason = end_reason;
	e->flags = c->span_flags;
	e->start_ns = c->req.start_ns;
	e->end_ns = end_reason == END_NO_RESPONSE ? c->req.start_ns : c->end_ns;
	e->request_bytes = c->req.bytes;
	e->response_bytes = end_reason == END_NO_RESPONSE ? 0 : c->response_bytes;
	e->pid = 0;
	e->tid = c->req.tid;
	e->status = end_reason == END_NO_RESPONSE ? 0 : c->status;
	e->local_port = c->local_port;
	e->peer_port = c->peer_port;
	e->head_len = c->req.head_len;
	__builtin_memcpy(e->local_addr, c->local_addr, 16);
	__builtin_memcpy(e->peer_addr, c->peer_addr, 16);
	__builtin_memcpy(e->head, c->req.head, REQUEST_HEAD_CAPTURE);
	e->pid = c->tgid;
	/* In the traced process's own syscall or SSL call, its main thread names it (read through the
	 * task's BTF pointer: plain loads, no helper call). A socket's end seen in another task
	 * (tcp_destroy) leaves the name to user space. */
	*(__u64 *)&e->comm[0] = 0;
	*(__u64 *)&e->comm[8] = 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->tgid == c->tgid) {
		struct task_struct *leader = task->group_leader;
		*(__u64 *)&e->comm[0] = *(const __u64 *)&leader->comm[0];
		*(__u64 *)&e->comm[8] = *(const __u64 *)&leader->comm[8];
	}
	/* Wake the reader only when the data waiting in this ring crosses a multiple of wakeup_bytes: it polls
	 * on a short timer anyway, and a wakeup costs several microseconds (an interrupt, a VM exit
	 * in a guest). Not on every event while that much waits: the reader, busy with a batch,
	 * moves the consumer position only when the batch is done. A reader asleep for want of
	 * records (reader_asleep) is woken by the first. */
	__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	__u64 footprint = (sizeof(*e) + 8 + 7) & ~7ULL; /* this record with its header, reserved already */
	__u64 step = settings.wakeup_bytes ? settings.wakeup_bytes : 1;
	bool wake = avail >= footprint && avail / step != (avail - footprint) / step;
	__u32 zero = 0;
	__u32 *asleep = bpf_map_lookup_elem(&reader_asleep, &zero);
	if (asleep && *asleep) {
		*asleep = 0;
		wake = true;
	}
	bpf_ringbuf_submit(e, wake ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	stat_inc(STAT_EVENTS_SUBMITTED);
}

static __always_inline void reset_response(struct conn_state *c)
{
	c->status = 0;
	c->response_bytes = 0;
	c->response_expected = 0;
	c->conn_flags = 0;
	c->last_bytes = 0;
}

/* On an idle connection, the oldest queued request, if any, becomes the current exchange. */
static __always_inline void take_queued_request(struct conn_state *c)
{
	if (c->phase != PHASE_IDLE)
		return;
	/* Empty, or overtaken: two racing takers may both have moved the head (the state is not
	 * locked). The head never stays past the tail, or every later request would be dropped. */
	if ((__s32)(c->queue_tail - c->queue_head) <= 0) {
		c->queue_head = c->queue_tail;
		return;
	}
	struct queue_key key = {.tgid = c->tgid, .fd = c->fd, .seq = c->queue_head};
	c->queue_head++;
	struct request_slot *waiting = bpf_map_lookup_elem(&queued_requests, &key);
	if (!waiting) {
		stat_inc(STAT_REQUESTS_DROPPED); /* evicted from the queue */
		return;
	}
	c->req = *waiting;
	bpf_map_delete_elem(&queued_requests, &key);
	/* the start of a request that has not all come yet waits for the rest as the current one */
	c->phase = c->req.used == SLOT_PARTIAL ? PHASE_PARTIAL : PHASE_REQUEST;
	c->req.used = 1;
}

/* Reports the exchange in progress; a request waiting behind it becomes the current one. */
static __always_inline void finish_exchange(struct conn_state *c, __u8 end_reason)
{
	emit_span(c, end_reason);
	reset_response(c);
	c->req.used = 0;
	c->phase = PHASE_IDLE;
	take_queued_request(c);
}

/* Forgets the requests queued on c (on an upgraded connection: another protocol's bytes).
 * Global: verified once (its loop would be verified again at every place it is used). */
__noinline int beyla_drop_queued_requests(struct conn_state *c)
{
	if (!c)
		return 0;
	for (int i = 0; i < MAX_QUEUED; i++) {
		if ((__s32)(c->queue_tail - c->queue_head) <= 0)
			break;
		struct queue_key key = {.tgid = c->tgid, .fd = c->fd, .seq = c->queue_head};
		bpf_map_delete_elem(&queued_requests, &key);
		c->queue_head++;
	}
	c->queue_head = c->queue_tail;
	return 0;
}

/* Whether r's captured head asks to switch to HTTP/2 in cleartext: an "h2c" token (Upgrade: h2c).
 * Global: verified once; run once per upgrade. */
__noinline int beyla_asks_h2c(struct request_slot *r)
{
	if (!r)
		return 0;
	__u32 len = r->head_len;
	for (__u32 i = 0; i + 3 <= REQUEST_HEAD_CAPTURE; i++) {
		if (i + 3 > len)
			break;
		if ((r->head[i & 255] | 0x20) == 'h' && r->head[(i + 1) & 255] == '2' && (r->head[(i + 2) & 255] | 0x20) == 'c')
			return 1;
	}
	return 0;
}

/* A head that begins "CONN": the CONNECT method, whose 2xx answer opens a tunnel. */
static __always_inline bool is_connect_method(const __u8 *head)
{
	return head[0] == 'C' && head[1] == 'O' && head[2] == 'N' && head[3] == 'N';
}

/* Whether the final response begun on c ends HTTP/1 on the connection: a 101 (Switching
 * Protocols), or a 2xx to CONNECT (a tunnel). Neither has a body. */
static __always_inline bool switches_protocol(const struct conn_state *c)
{
	return c->status == 101 || (c->status >= 200 && c->status < 300 && is_connect_method(c->req.head));
}

/* Reports the exchange a 101 (Switching Protocols) or a CONNECT's 2xx answered: the rest of the
 * connection is another protocol's (its first bytes may have come with the answer), and anything
 * queued as a request behind it was that protocol's too. On a server (a proxy) nothing on the
 * connection is traced any more. A client's tunnel carries its own exchanges, in HTTP or TLS: the
 * connection is forgotten, and what the client sends through the tunnel is tracked as on a new
 * one. */
static __always_inline void upgrade(struct conn_state *c)
{
	/* to HTTP/2, which is not traced: said once per process (NOTICE_HTTP2) */
	if (beyla_asks_h2c(&c->req))
		notify_once(&http2_reported, c->tgid, NOTICE_HTTP2, c->kind == SPAN_KIND_SERVER ? DIR_INGRESS : DIR_EGRESS);
	bool client_tunnel = c->kind == SPAN_KIND_CLIENT && c->status != 101;
	beyla_drop_queued_requests(c);
	finish_exchange(c, END_BY_LENGTH); /* with the queue empty, nothing is taken after it */
	c->phase = PHASE_UPGRADED;
	if (client_tunnel) {
		struct conn_key key = {.tgid = c->tgid, .fd = c->fd};
		forget_socket(c->sk, key.tgid, key.fd);
		bpf_map_delete_elem(&connections, &key);
	}
}

__noinline int beyla_append_iovecs(struct request_slot *r, struct io_data *d);

/* Reads buffer i of the iovec array that d's bytes came from (d->iov, in user memory). */
static __always_inline long read_iovec(const struct io_data *d, __u32 i, struct iovec *v)
{
	return bpf_probe_read_user(v, sizeof(*v), (const void *)(d->iov + i * sizeof(struct iovec)));
}

/* Notes where d's last five bytes are (d->tail) when buffer v, after the done bytes before it,
 * holds the end of what the call moved: true then. */
static __always_inline bool ends_in_buffer(struct io_data *d, const struct iovec *v, __u64 done)
{
	if (done + v->iov_len < d->total)
		return false;
	__u64 offset = d->total - done;
	if (offset >= 5)
		d->tail = TAIL_AT((__u64)v->iov_base + offset - 5, offset - 5);
	return true;
}

/* A head that begins "HE": the HEAD method, whose response has no body. */
static __always_inline bool is_head_method(const __u8 *head)
{
	return head[0] == 'H' && head[1] == 'E';
}

static __always_inline void record_request(struct request_slot *r, const struct io_data *d, __u64 now)
{
	__u64 len = d->first_len > REQUEST_HEAD_CAPTURE ? REQUEST_HEAD_CAPTURE : d->first_len;
	MASK_FOR_VERIFIER(len, 255); /* len <= 224 < 256 = sizeof(head): the mask changes nothing */
	bpf_probe_read_user(r->head, len, (const void *)d->first);
	r->head_len = (__u16)len;
	/* a head written from several buffers (writev, sendmsg): gather the rest of it */
	if (d->iov && d->iov_count > 1 && len < REQUEST_HEAD_CAPTURE && d->first_len < d->total)
		beyla_append_iovecs(r, (struct io_data *)d);
	r->start_ns = now;
	r->tid = (__u32)bpf_get_current_pid_tgid();
	r->bytes = d->total;
	r->is_head = is_head_method(r->head);
	r->used = 1;
}

/*
 * Appends n bytes from s->buf to the head captured for r, as far as the capture goes: a
 * request line that arrives in pieces (even byte by byte) is still captured whole.
 * Global: verified once.
 */
__noinline int beyla_append_head(struct request_slot *r, struct scratch *s, __u32 n)
{
	if (!r || !s)
		return 0;
	__u32 at = r->head_len;
	for (__u32 i = 0; i < REQUEST_HEAD_CAPTURE; i++) {
		if (i >= n || at >= REQUEST_HEAD_CAPTURE)
			break;
		__u64 to = at;
		__u64 from = i;
		MASK_FOR_VERIFIER(to, 255);
		MASK_FOR_VERIFIER(from, 511);
		r->head[to] = s->buf[from];
		at++;
	}
	r->head_len = at;
	return 0;
}

#define LOW7 0x7f7f7f7f7f7f7f7fULL
/* 0x80 in exactly the bytes of w equal to the byte repeated in pattern (no false positives) */
#define BYTES_EQUAL_TO(w, pattern) (~(((((w) ^ (pattern)) & LOW7) + LOW7) | ((w) ^ (pattern)) | LOW7))
#define NEWLINES 0x0a0a0a0a0a0a0a0aULL

/* The index (0-7) of the lowest byte marked 0x80 in m (m != 0, as BYTES_EQUAL_TO gives), without
 * branches: the lowest mark shifted to bit 0 of its byte is 1 << 8j; times 0x0001020304050607 it
 * puts byte 7 - j of the constant, which is j, in the top byte. Branches here multiplied the
 * paths the verifier walks in every scan loop (loading took seconds). */
static __always_inline __u32 lowest_marked_byte(__u64 m)
{
	return (__u32)((((m & -m) >> 7) * 0x0001020304050607ULL) >> 56);
}

#define HEAD_WORDS_PER_CALL 32 /* 256 bytes per call of the word scanners: one call for a request head, at most two for a
                                * response head (a call and its return cost more than a word without a newline) */

/*
 * Looks at the 8 captured bytes of r's head at word index w for the newline that ends the
 * head ("\n\r\n"). Returns the offset just past it, 0 to go on, or -1 when the capture ends.
 */
static __always_inline int request_head_end_in_word(struct request_slot *r, __u32 w, __u32 len)
{
	__u32 base = (w & 31) * 8; /* the mask keeps the word inside head[256] for the verifier */
	if (base >= len)
		return -1;
	__u64 newlines = BYTES_EQUAL_TO(*(const __u64 *)(r->head + (base & 255)), NEWLINES);
	/* one pass per newline in the word (usually none or one), not one per byte: a bounded
	 * loop, not unrolled (it exits early) */
	for (int k = 0; k < 8; k++) {
		if (!newlines)
			break;
		__u32 at = base + lowest_marked_byte(newlines);
		newlines &= newlines - 1;
		if (at >= len)
			return -1;
		if (at >= 3 && r->head[(at - 1) & 255] == '\r' && r->head[(at - 2) & 255] == '\n')
			return at + 1;
	}
	return 0;
}

/* request_head_end_in_word for the words of group g. Global: verified once, not once per group. */
__noinline int beyla_request_head_end_words(struct request_slot *r, __u32 g)
{
	if (!r)
		return -1;
	__u32 len = r->head_len;
#pragma unroll
	for (__u32 k = 0; k < HEAD_WORDS_PER_CALL; k++) {
		int end = request_head_end_in_word(r, g * HEAD_WORDS_PER_CALL + k, len);
		if (end)
			return end;
	}
	return 0;
}

/* Offset just past the blank line ending the captured head of r, or 0 if the capture has none. */
static __always_inline __u32 request_head_end(struct request_slot *r)
{
	for (__u32 g = 0; g < (REQUEST_HEAD_CAPTURE / 8 + HEAD_WORDS_PER_CALL - 1) / HEAD_WORDS_PER_CALL; g++) {
		int end = beyla_request_head_end_words(r, g);
		if (end < 0)
			return 0;
		if (end > 0)
			return (__u32)end;
	}
	return 0;
}

/* Methods whose requests carry no body: bytes after their head belong to the next request. */
static __always_inline bool has_no_body(const struct request_slot *r)
{
	return r->head[0] == 'G' || r->head[0] == 'H' || r->head[0] == 'D' || r->head[0] == 'O' || r->head[0] == 'T';
}

#define TAKE_QUEUED 0   /* the first request waits in the queue */
#define TAKE_CURRENT 1  /* the first request becomes the current exchange */
#define TAKE_RECORDED 2 /* the same, and record_request(&c->req, d, now) was done already */

/*
 * Takes the request that starts at d: it becomes the current exchange or waits in the queue
 * (how: TAKE_*; one pipelined behind another waits: TAKE_QUEUED). 1 when a bodiless request's
 * head ends before the read's bytes and another request begins there (pipelined): d is moved to it.
 */
static __always_inline int take_request(struct conn_state *c, struct io_data *d, __u64 now, int how, struct scratch *s)
{
	__u8 p[8] = {};
	bool current = how != TAKE_QUEUED;
	struct request_slot *r = current ? &c->req : &s->slot;
	if (how != TAKE_RECORDED)
		record_request(r, d, now);
	__u32 end = request_head_end(r);
	bool more = false;
	if (end && end < d->total && end + 8 <= d->first_len && has_no_body(r) &&
	    !bpf_probe_read_user(p, 8, (const void *)(d->first + end)) && is_request_start(p)) {
		/* d moves to the next request: the rest of its first buffer (no stack copy of d: this
		 * is inlined in two frames of one call chain) */
		more = true;
		r->bytes = end;
		d->first += end;
		d->first_len -= end;
		d->total -= end;
		d->iov = 0;
		d->iov_count = 0;
		d->sk = 0;
	}
	if (!current) {
		if (c->queue_tail - c->queue_head >= MAX_QUEUED) {
			stat_inc(STAT_REQUESTS_DROPPED);
		} else {
			struct queue_key key = {.tgid = c->tgid, .fd = c->fd, .seq = c->queue_tail};
			bpf_map_update_elem(&queued_requests, &key, r, BPF_ANY);
			c->queue_tail++;
		}
	}
	return more;
}

/* take_request for a request pipelined behind another in the same read. Global: verified once. */
__noinline int beyla_take_pipelined(struct conn_state *c, struct io_data *d, __u64 now, struct scratch *s)
{
	if (!c || !d || !s)
		return 0;
	return take_request(c, d, now, TAKE_QUEUED, s);
}

/*
 * Takes the requests that start at d (take_request): the first, and bodiless requests pipelined
 * behind it in the same read, up to MAX_PIPELINED. Global: verified once.
 */
__noinline int beyla_take_requests(struct conn_state *c, struct io_data *d, __u64 now, int how)
{
	if (!c || !d)
		return 0;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);
	if (!s || !take_request(c, d, now, how, s))
		return 0;
	for (int i = 1; i < MAX_PIPELINED; i++) {
		if (!beyla_take_pipelined(c, d, now, s))
			break;
	}
	return 0;
}

static __always_inline void append_request_bytes(struct request_slot *r, const struct io_data *d)
{
	r->bytes += d->total;
	if (r->head_len >= REQUEST_HEAD_CAPTURE)
		return;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);
	if (!s)
		return;
	__u64 n = REQUEST_HEAD_CAPTURE - r->head_len;
	if (n > d->first_len)
		n = d->first_len;
	MASK_FOR_VERIFIER(n, 255); /* n <= 224: the mask changes nothing */
	if (bpf_probe_read_user(s->buf, n, (const void *)d->first))
		return;
	beyla_append_head(r, s, n);
}

#define LAST_CHUNK 0x300d0a0d0aULL /* "0\r\n\r\n", the last byte lowest: the terminating chunk */
#define TRAILER_SCAN 128           /* bytes before a call's end looked at for a last chunk with trailers */

/*
 * Whether the call's bytes, which end with a blank line but not with "0\r\n\r\n", end with a
 * last chunk followed by trailer fields ("0\r\nName: value\r\n\r\n"): in their last bytes
 * (up to TRAILER_SCAN, within the tail's buffer, and of the body: body bytes of it seen), a
 * "\n0\r\n" after which every line up to the blank line holds a colon. One pass over the bytes,
 * in s->buf; the scan's state in s (memory, not registers, so that the verifier's paths meet).
 * Global: verified once; called only for such calls.
 */
__noinline int beyla_ends_with_trailers(struct scratch *s, struct io_data *d, __u64 body)
{
	if (!s || !d || !d->tail)
		return 0;
	__u64 back = TAIL_ROOM(d->tail) < TRAILER_SCAN - 5 ? TAIL_ROOM(d->tail) : TRAILER_SCAN - 5;
	if (back > body - 5)
		back = body - 5;
	__u64 n = back + 5;
	MASK_FOR_VERIFIER(n, 255);
	if (n < 8 || bpf_probe_read_user(s->buf, n, (const void *)(TAIL_ADDR(d->tail) - back)))
		return 0;
	/* head_end: 1 once a "\n0\r\n" was seen, and no colonless line since; length_line: 1 once
	 * the line being read holds a colon; window: the last bytes. Volatile: kept in memory, so that
	 * the verifier's paths through the loop meet again. */
	volatile struct scratch *v = s;
	v->head_end = 0;
	v->length_line = 0;
	/* bytes that begin their buffer begin a line (the last chunk is often written alone) */
	v->window = back == TAIL_ROOM(d->tail) ? '\n' : 0;
	for (__u32 i = 0; i < TRAILER_SCAN; i++) {
		if (i + 2 >= n)
			break; /* the blank line that ends the call */
		__u8 ch = s->buf[i & (RESPONSE_HEAD_SCAN - 1)];
		v->window = (v->window << 8) | ch;
		if ((v->window & 0xffffffff) == 0x0a300d0a) { /* "\n0\r\n" */
			v->head_end = 1;
			v->length_line = 0;
		} else if (ch == ':') {
			v->length_line = 1;
		} else if (ch == '\n' && !v->length_line) {
			v->head_end = 0; /* a line without a colon: not trailers (or a chunk's data) */
		} else if (ch == '\n') {
			v->length_line = 0;
		}
	}
	return s->head_end;
}

/* True when the response's bytes so far end with the terminating chunk, after its head (whose
 * length set_response_end left in response_expected: a head ending "Age: 0" is not taken for
 * it). The last five bytes the call moved are read; a call that moved fewer (a client reading a
 * byte at a time) adds its bytes to those before it, kept in c->last_bytes. */
static __always_inline bool ends_with_last_chunk(struct conn_state *c, const struct io_data *d)
{
	__u8 t[8] = {};
	__u64 last = c->last_bytes;
	if (d->total >= 5) {
		last = 0;
		if (!d->tail || bpf_probe_read_user(t, 5, (const void *)TAIL_ADDR(d->tail))) {
			c->last_bytes = 0;
			return false;
		}
		if (t[0] != '0' && t[1] == '\r' && t[2] == '\n' && t[3] == '\r' && t[4] == '\n' &&
		    c->response_bytes > c->response_expected + 8) {
			__u32 zero = 0;
			c->last_bytes = 0;
			return beyla_ends_with_trailers(bpf_map_lookup_elem(&scratch_space, &zero), (struct io_data *)d,
							c->response_bytes - c->response_expected);
		}
	} else if (d->first_len != d->total || bpf_probe_read_user(t, d->total & 7, (const void *)d->first)) {
		c->last_bytes = 0;
		return false;
	}
#pragma unroll
	for (int k = 0; k < 5; k++) {
		if (k < d->total)
			last = (last << 8) | t[k];
	}
	c->last_bytes = last;
	return (last & 0xffffffffffULL) == LAST_CHUNK && c->response_bytes >= c->response_expected + 5;
}

#define HEAD_MASK (RESPONSE_HEAD_SCAN - 1)
#define CONTENT_ 0x2d746e65746e6f63ULL /* "content-", first byte lowest */
#define LENGTH_ 0x003a6874676e656cULL  /* "length:", then a byte left out */

/* Whether the header line that starts at offset start of b[0, len) is a Content-Length line:
 * "content-" and "length:" compared 8 bytes at a time, letters folded to lower case. Offsets
 * are masked, not range-checked, so that the verifier sees the bound. */
static __always_inline bool names_content_length(const __u8 *b, __u32 start, __u32 len)
{
	if (start + 16 > len)
		return false;
	__u64 first = *(const __u64 *)(b + (start & HEAD_MASK)) | 0x2020202020202020ULL;
	__u64 second = (*(const __u64 *)(b + ((start + 8) & HEAD_MASK)) & 0x00ffffffffffffffULL) | 0x0020202020202020ULL;
	return first == CONTENT_ && second == LENGTH_;
}

/* The value of the Content-Length line that starts at offset start (names_content_length said
 * so), or -1. Global: verified once; called once per head (the scan only notes where the line is). */
__noinline int beyla_content_length_at(struct scratch *s, __u32 start, __u32 len)
{
	if (!s || start + 16 > len)
		return -1;
	const __u8 *b = s->buf;
	__s32 value = 0;
	bool digits = false;
	for (int k = 0; k < 14; k++) {
		__u32 at = start + 15 + k;
		if (at >= len)
			break;
		__u8 ch = b[at & HEAD_MASK];
		if (is_digit(ch)) {
			if (value > 100000000)
				return -1; /* over 1 GB: treat as unknown */
			value = value * 10 + (ch - '0');
			digits = true;
		} else if (digits) {
			return value; /* the value ends where the bytes scanned still go on */
		} else if (ch != ' ' && ch != '\t') {
			break;
		}
	}
	return -1; /* no value, or one cut by the end of the bytes scanned (the next window has it) */
}

/*
 * Looks at the 8 bytes of s->buf at word index w: for each newline, notes the end of the
 * head (a blank line) or where the first Content-Length line starts after it. Returns 1 when
 * the scan is over.
 */
static __always_inline int scan_head_word(struct scratch *s, __u32 w, __u32 len)
{
	__u32 base = (w & (RESPONSE_HEAD_SCAN / 8 - 1)) * 8;
	if (base >= len)
		return 1;
	const __u8 *b = s->buf;
	__u64 newlines = BYTES_EQUAL_TO(*(const __u64 *)(b + base), NEWLINES);
	/* one pass per newline in the word (usually none or one), not one per byte: a bounded
	 * loop, not unrolled (it exits early) */
	for (int k = 0; k < 8; k++) {
		if (!newlines)
			break;
		__u32 at = base + lowest_marked_byte(newlines);
		newlines &= newlines - 1;
		if (at >= len)
			return 1;
		if (at >= 3 && b[(at - 1) & HEAD_MASK] == '\r' && b[(at - 2) & HEAD_MASK] == '\n') {
			s->head_end = at + 1;
			return 1;
		}
		if (!s->length_line && (b[(at + 1) & HEAD_MASK] | 0x20) == 'c' && names_content_length(b, at + 1, len))
			s->length_line = at + 1;
	}
	return 0;
}

/* scan_head_word for the words of group g; 1 when the scan is over. Global: the verifier
 * checks it once, not once per group; words without a newline cost a few instructions. */
__noinline int beyla_scan_head_words(struct scratch *s, __u32 g, __u32 len)
{
	if (!s)
		return 1;
#pragma unroll
	for (__u32 k = 0; k < HEAD_WORDS_PER_CALL; k++) {
		if (scan_head_word(s, g * HEAD_WORDS_PER_CALL + k, len))
			return 1;
	}
	return 0;
}

/* Finds the end of the response head (just past the blank line) in s->buf[0, len), 8 bytes at
 * a time, and returns its Content-Length, or -1. */
static __always_inline __s32 parse_response_head(struct scratch *s, __u32 len)
{
	s->head_end = 0;
	s->length_line = 0;
	for (__u32 g = 0; g < RESPONSE_HEAD_SCAN / 8 / HEAD_WORDS_PER_CALL; g++) {
		if (beyla_scan_head_words(s, g, len))
			break;
	}
	return s->length_line ? beyla_content_length_at(s, s->length_line, len) : -1;
}

/* The response's end once its head's end is known (head_end bytes from its start) and its
 * Content-Length (length, or -1): no body (HEAD, 101, a CONNECT's 2xx, 204, 304), its length, or
 * its last chunk (chunked; or ended by the close, which the close then tells). */
static __always_inline void set_response_end(struct conn_state *c, __u64 head_end, __s32 length)
{
	bool no_body = c->req.is_head || switches_protocol(c) || c->status == 204 || c->status == 304;
	if (no_body || length >= 0) {
		c->response_expected = head_end + (no_body ? 0 : (__u64)length);
		c->conn_flags |= CONN_LENGTH_KNOWN;
	} else {
		c->response_expected = head_end; /* where the chunks begin (ends_with_last_chunk) */
		c->conn_flags |= CONN_AWAIT_LAST_CHUNK;
	}
}

#define SCAN_OTHER 0 /* in a line that is not a Content-Length line (the status line, another header) */
#define SCAN_NAME 1  /* in a line that reads "content-length:" so far */
#define SCAN_VALUE 2 /* in a Content-Length line's value */

#define SCAN_BYTES_PER_CALL 32

/*
 * Bytes [from, from + SCAN_BYTES_PER_CALL) of s->buf[0, len), a piece of a response whose head
 * did not end in its first piece (CONN_HEAD_OPEN), scanned byte by byte, the state kept in c
 * between calls and pieces (in memory, not registers, so that the verifier's paths through the
 * loop meet again). before: the response's bytes before the piece. At the blank line that ends
 * the head, the response's end is set (set_response_end). 1 when the scan of the piece is over.
 * Global: verified once.
 */
__noinline int beyla_scan_head_chunk(struct conn_state *c, struct scratch *s, __u32 from, __u32 len, __u64 before)
{
	if (!c || !s)
		return 1;
	for (__u32 k = 0; k < SCAN_BYTES_PER_CALL; k++) {
		__u32 i = from + k;
		if (i >= len)
			return 1;
		__u8 ch = s->buf[i & HEAD_MASK];
		__u64 last = (c->last_bytes << 8) | ch;
		c->last_bytes = last;
		if (ch == '\n') {
			if ((last & 0xffffffff) == 0x0d0a0d0a || (last & 0xffff) == 0x0a0a) {
				c->conn_flags &= ~CONN_HEAD_OPEN;
				set_response_end(c, before + i + 1, c->scan_length);
				return 1;
			}
			c->scan_line_pos = 0;
			c->scan_state = SCAN_NAME;
			continue;
		}
		__u8 pos = c->scan_line_pos;
		if (c->scan_state == SCAN_NAME) {
			__u64 word = pos < 8 ? CONTENT_ : LENGTH_;
			__u8 want = (__u8)(word >> ((pos & 7) * 8));
			if ((ch | 0x20) != want || pos > 14)
				c->scan_state = SCAN_OTHER;
			else if (pos == 14)
				c->scan_state = c->scan_length < 0 ? SCAN_VALUE : SCAN_OTHER; /* the first one counts */
			c->scan_line_pos = pos < 255 ? pos + 1 : pos;
		} else if (c->scan_state == SCAN_VALUE) {
			__s32 length = c->scan_length;
			if (is_digit(ch)) {
				if (length > 100000000) {
					c->scan_length = -1; /* over 1 GB: treat as unknown */
					c->scan_state = SCAN_OTHER;
				} else {
					c->scan_length = (length < 0 ? 0 : length * 10) + (ch - '0');
				}
			} else if (ch != ' ' && ch != '\t' && ch != '\r') {
				c->scan_state = SCAN_OTHER;
			}
		}
	}
	return 0;
}

#define HEAD_WINDOW (RESPONSE_HEAD_SCAN - 1) /* bytes of a head read and scanned at a time */
#define HEAD_OVERLAP 32 /* bytes a window shares with the one before: a blank line, or a Content-Length
			 * line cut by a window's end (its value is not taken then), is whole in one of them */
#define MAX_HEAD_WINDOWS 32 /* a head is followed up to about 15 KB (HEAD_WINDOW - HEAD_OVERLAP a window;
			     * less where its buffers are tiny: MAX_HEAD_IOVECS buffers fill a window) */

/* Scans s->buf[0, len) of a response whose head is open (beyla_scan_head_chunk), a call per 32 bytes. */
static __always_inline void scan_head_bytes(struct conn_state *c, struct scratch *s, __u32 len, __u64 before)
{
	for (__u32 g = 0; g < RESPONSE_HEAD_SCAN / SCAN_BYTES_PER_CALL; g++) {
		if (beyla_scan_head_chunk(c, s, g * SCAN_BYTES_PER_CALL, len, before))
			break;
	}
}

/* Starts beyla_fill_window at the call's first byte, or after the first len bytes of its first buffer. */
static __always_inline void fill_from(struct scratch *s, __u64 len)
{
	s->iovs_count = 0;
	s->at_iov = 0;
	s->at_offset = len;
	s->at_seen = len;
}

/*
 * Appends to s->buf[0, len) the bytes of d's call from the position in s (fill_from), across its
 * buffers (the first is d->first; then d->iov's), up to HEAD_WINDOW bytes in all, the end of the
 * call's bytes or MAX_HEAD_IOVECS buffers a window (a head written from many, as varnish writes
 * one per word and line end); stops at a buffer it cannot read; moves the position on and
 * returns the new length. Global: verified once (a limit passed in, not this constant, made every
 * program that calls it verify about 70,000 instructions more).
 */
__noinline __u32 beyla_fill_window(struct scratch *s, struct io_data *d, __u32 len)
{
	if (!s || !d)
		return 0;
	for (int k = 0; k < MAX_HEAD_IOVECS; k++) {
		if (len >= HEAD_WINDOW || s->at_seen >= d->total)
			break;
		__u32 i = s->at_iov;
		struct iovec v = {.iov_base = (void *)d->first, .iov_len = d->first_len};
		if (i) {
			if (!d->iov || i >= d->iov_count)
				break;
			if (i - s->iovs_first >= s->iovs_count) {
				/* the next IOVS_AT_ONCE iovecs in one read, not one read each */
				__u64 n = d->iov_count - i < IOVS_AT_ONCE ? d->iov_count - i : IOVS_AT_ONCE;
				__u64 size = n * sizeof(struct iovec);
				MASK_FOR_VERIFIER(size, 511);
				if (size > sizeof(s->iovs) ||
				    bpf_probe_read_user(s->iovs, size, (const void *)(d->iov + i * sizeof(struct iovec))))
					break;
				s->iovs_first = i;
				s->iovs_count = (__u32)n;
			}
			v = s->iovs[(i - s->iovs_first) & (IOVS_AT_ONCE - 1)];
		}
		if (s->at_offset >= v.iov_len) {
			s->at_iov = i + 1;
			s->at_offset = 0;
			continue;
		}
		__u64 n = v.iov_len - s->at_offset;
		if (n > d->total - s->at_seen)
			n = d->total - s->at_seen;
		if (n > HEAD_WINDOW - len)
			n = HEAD_WINDOW - len;
		__u32 at = len & (RESPONSE_HEAD_SCAN - 1);
		MASK_FOR_VERIFIER(n, 511); /* n <= 511 - len: the mask changes nothing */
		if (bpf_probe_read_user(s->buf + at, n, (const void *)((__u64)v.iov_base + s->at_offset)))
			break;
		len += n;
		s->at_seen += n;
		s->at_offset += n;
		if (s->at_offset >= v.iov_len) {
			s->at_iov = i + 1; /* not read again for nothing */
			s->at_offset = 0;
		}
	}
	return len;
}

/* Appends to r's head, as far as its capture goes, what d's call carried after its first buffer:
 * a window of it (beyla_fill_window from there), of which beyla_append_head keeps what fits.
 * Global: verified once. */
__noinline int beyla_append_iovecs(struct request_slot *r, struct io_data *d)
{
	if (!r || !d || r->head_len >= REQUEST_HEAD_CAPTURE)
		return 0;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);
	if (!s)
		return 0;
	fill_from(s, d->first_len);
	beyla_append_head(r, s, beyla_fill_window(s, d, 0));
	return 0;
}

/* The call's next window of bytes (beyla_fill_window) byte-scanned as the head they go on (before:
 * the response's bytes before the call); returns how many, 0 when none could be read. Global:
 * verified once. */
__noinline __u32 beyla_scan_next_window(struct conn_state *c, struct scratch *s, struct io_data *d, __u64 before)
{
	if (!c || !s || !d)
		return 0;
	__u64 from = s->at_seen;
	__u32 len = beyla_fill_window(s, d, 0);
	if (len)
		scan_head_bytes(c, s, len, before + from);
	return len;
}

/* A response whose head goes on after the bytes seen so far: the byte scan takes over, from the
 * start of the status line. */
static __always_inline void open_head(struct conn_state *c)
{
	c->conn_flags |= CONN_HEAD_OPEN;
	c->last_bytes = 0;
	c->scan_line_pos = 0;
	c->scan_state = SCAN_OTHER;
	c->scan_length = -1;
}

/*
 * A piece of a response whose head is open (d; c->response_bytes counts it already): while fewer
 * than 12 bytes came, they gather in c->status_line while they may begin one ("HTTP/1.") until
 * its status can be read; not a response after all, or an interim one: the exchange waits for its
 * response as before these bytes, and 1 is returned (the caller begins a response at this piece if
 * it can hold one). Then the byte scan, across the piece's buffers. A piece longer than
 * MAX_HEAD_WINDOWS windows leaves the response's end unknown (the next request or the close ends it). Global: verified once.
 */
__noinline int beyla_head_piece(struct conn_state *c, struct scratch *s, struct io_data *d)
{
	if (!c || !s || !d)
		return 0;
	fill_from(s, 0);
	__u32 n = beyla_fill_window(s, d, 0);
	if (!n) {
		c->conn_flags &= ~(CONN_HEAD_OPEN | CONN_STATUS_OPEN);
		return 0;
	}
	if (c->conn_flags & CONN_STATUS_OPEN) {
		__u32 have = c->status_len;
#pragma unroll
		for (int k = 0; k < 12; k++) {
			if (k < n && have < 12) {
				c->status_line[have & 15] = s->buf[k];
				have++;
			}
		}
		c->status_len = (__u8)have;
		const __u8 *b = c->status_line;
		__u16 status = have >= 12 ? status_line_status(b) : 0;
		/* (have is 1 or more: the piece had bytes) */
		if (have >= 12 ? status < 200 && status != 101 : !prefix_of(b, have, "HTTP/1.", 7)) {
			/* no response (or an interim one, whose rest is then no response start either):
			 * the exchange waits for its response as before these bytes */
			reset_response(c);
			c->phase = PHASE_REQUEST;
			return 1;
		}
		if (have < 12)
			return 0; /* no line end in a status line's first 12 bytes: nothing for the scan yet */
		c->status = status;
		c->conn_flags &= ~CONN_STATUS_OPEN;
	}
	__u64 before = c->response_bytes - d->total;
	scan_head_bytes(c, s, n, before);
	/* a longer piece: its next windows (a head written in two writes, the first over 511 bytes) */
	for (int w = 1; w < MAX_HEAD_WINDOWS; w++) {
		if (!(c->conn_flags & CONN_HEAD_OPEN) || s->at_seen >= d->total)
			break;
		if (!beyla_scan_next_window(c, s, d, before))
			break;
	}
	if ((c->conn_flags & CONN_HEAD_OPEN) && s->at_seen < d->total)
		c->conn_flags &= ~(CONN_HEAD_OPEN | CONN_STATUS_OPEN); /* bytes not looked at: the end stays unknown */
	return 0;
}

/*
 * The next window of a head longer than one: the last HEAD_OVERLAP bytes of the window
 * s->buf[0, len) moved to its start and the call's next bytes after them (beyla_fill_window);
 * s->window_len is the new window's length. Scanned as the first window was (parse_response_head,
 * which sets s->head_end): returns its Content-Length or -1, and -2 when no new bytes came (or
 * len was shorter than the overlap). Global: verified once.
 */
__noinline int beyla_parse_next_window(struct scratch *s, struct io_data *d, __u32 len)
{
	if (!s || !d || len < HEAD_OVERLAP)
		return -2;
	__u64 kept[HEAD_OVERLAP / 8];
#pragma unroll
	for (int k = 0; k < HEAD_OVERLAP / 8; k++)
		kept[k] = *(const __u64 *)(s->buf + ((len - HEAD_OVERLAP + k * 8) & HEAD_MASK));
#pragma unroll
	for (int k = 0; k < HEAD_OVERLAP / 8; k++)
		*(__u64 *)(s->buf + k * 8) = kept[k];
	len = beyla_fill_window(s, d, HEAD_OVERLAP);
	s->window_len = len;
	if (len <= HEAD_OVERLAP)
		return -2;
	return parse_response_head(s, len);
}

/*
 * A response head longer than the first window s->buf[0, len) (scanned already: length is what
 * it said), the call's bytes after it from the position in s (beyla_fill_window): the windows
 * after it, overlapping, scanned as the first one was, until the blank line, which sets the
 * response's end. A head that goes on after the call's bytes goes on in the next writes: the byte
 * scan takes over at their last bytes (open_head). A head longer than MAX_HEAD_WINDOWS windows (or
 * bytes that could not be read) leaves the end unknown. Global: verified once.
 */
__noinline int beyla_scan_long_head(struct conn_state *c, struct scratch *s, struct io_data *d, __s32 length, __u32 len)
{
	if (!c || !s || !d)
		return 0;
	for (int w = 1; w < MAX_HEAD_WINDOWS; w++) {
		if (s->at_seen >= d->total)
			break;
		__s32 more = beyla_parse_next_window(s, d, len);
		if (more == -2)
			return 0;
		len = s->window_len;
		if (length < 0)
			length = more;
		if (s->head_end) {
			set_response_end(c, s->at_seen - len + s->head_end, length);
			return 1;
		}
	}
	if (s->at_seen < d->total || len < HEAD_OVERLAP)
		return 0;
	open_head(c);
	c->scan_length = length;
	/* a Content-Length line cut by the call's end, and the blank line's first bytes, are in its
	 * last HEAD_OVERLAP bytes; the lines before them were scanned (their state is SCAN_OTHER) */
	beyla_scan_head_chunk(c, s, len - HEAD_OVERLAP, len, s->at_seen - len);
	return 0;
}

/*
 * Reads the status line and headers at the start of a response and works out where the
 * response ends: header length + Content-Length, no body (HEAD, 101, a CONNECT's 2xx, 204, 304),
 * or unknown (chunked or close-delimited). Interim responses (1xx but 101) are passed over: the
 * final one follows (returned: the length of an interim head that the final response follows in
 * the same buffer, which the caller begins there). A 101 is final: what follows its head is
 * another protocol's. A head whose end is not in this write goes on in the next ones (open_head).
 */
__noinline int beyla_begin_response(struct conn_state *c, struct scratch *s, struct io_data *d, __u64 now)
{
	if (!c || !s || !d)
		return 0;
	__u64 len = d->first_len > RESPONSE_HEAD_SCAN - 1 ? RESPONSE_HEAD_SCAN - 1 : d->first_len;
	MASK_FOR_VERIFIER(len, 511);
	if (bpf_probe_read_user(s->buf, len, (const void *)d->first))
		return 0;
	/* the head scanned once where the first buffer holds all of it (most servers); gathered from
	 * the write's other buffers and scanned again where it does not */
	__s32 length = -1;
	s->head_end = 0;
	if (len >= 12)
		length = parse_response_head(s, len);
	bool gathered = !s->head_end && d->iov && d->iov_count > 1 && len < d->total && len < HEAD_WINDOW;
	if (gathered) {
		/* a head written from many buffers (varnish writes one per word and line end) */
		fill_from(s, len);
		len = beyla_fill_window(s, d, (__u32)len);
		length = parse_response_head(s, len);
	}
	__u16 status = len >= 12 ? status_line_status(s->buf) : 0;
	if (status < 200 && status != 101) {
		/* not a status line (status 0), or an interim response: where the final one follows it
		 * in the same buffer, where that begins */
		__u32 interim = s->head_end;
		return status && interim && interim + 12 <= d->first_len ? (int)interim : 0;
	}

	c->status = status;
	c->phase = PHASE_RESPONSE;
	c->response_bytes = d->total;
	c->end_ns = now;

	c->last_bytes = 0;
	if (s->head_end) {
		set_response_end(c, s->head_end, length);
	} else if (switches_protocol(c)) {
		/* the head goes on in the next write, which is the last HTTP/1 on the connection: the
		 * exchange ends here (the rest of the head goes uncounted) */
		c->response_expected = d->total;
		c->conn_flags |= CONN_LENGTH_KNOWN;
	} else if (len == d->total) {
		/* the head goes on in the next pieces (written a line at a time): scanned byte by byte
		 * from its start */
		open_head(c);
		scan_head_bytes(c, s, (__u32)len, 0);
	} else {
		/* a head longer than the first window (cookies, security headers; or from many buffers) */
		if (!gathered)
			fill_from(s, len);
		beyla_scan_long_head(c, s, d, length, (__u32)len);
	}
	return 0;
}

static __always_inline bool response_complete(struct conn_state *c, const struct io_data *d)
{
	if (c->conn_flags & CONN_LENGTH_KNOWN)
		return c->response_bytes >= c->response_expected;
	if (c->conn_flags & CONN_AWAIT_LAST_CHUNK)
		return ends_with_last_chunk(c, d);
	return false;
}

/*
 * What the captured start of a request that arrives in pieces says: 1 a request (8 bytes are there
 * and begin one; is_head is set from them), 0 not known yet, -1 no request.
 */
static __always_inline int request_start_verdict(struct request_slot *r)
{
	if (r->head_len < 8)
		return could_be_request_start(r->head, r->head_len & 7) ? 0 : -1;
	if (!is_request_start(r->head))
		return -1;
	r->is_head = is_head_method(r->head);
	return 1;
}

/*
 * Whether all of the current request, of a method that may have a body, has come: its captured
 * head ends, and as many bytes as its Content-Length came after it; a head with no Content-Length
 * has no body (a chunked one's chunks follow, and none reads like a request's start for long:
 * those bytes go back to it). Not known (false) for a head longer than the capture, or a length
 * not understood. The capture is scanned as a response head is, in s->buf.
 */
static __always_inline bool whole_request_with_body(struct conn_state *c, struct scratch *s)
{
	__builtin_memcpy(s->buf, c->req.head, sizeof(c->req.head));
	__s32 length = parse_response_head(s, c->req.head_len);
	/* more would mean that a read held the next request's start already (a body is never split
	 * from what follows it): these bytes are not a start then */
	if (!s->head_end || (s->length_line && length < 0))
		return false;
	return c->req.bytes == (__u64)s->head_end + (__u64)(s->length_line ? length : 0);
}

/*
 * Request bytes that came while a response is still due for the current request, and that do not
 * begin a whole request head (d). Fewer than 8 bytes that could begin a request, after the whole
 * current request (its head, and its body where the head gives its length), are the start of the
 * next one, come early (a pipelining client, or a next request read before the hook of the write
 * that answered the current one returned): they wait in the queue until the rest tells. More bytes of such a start are added to it; when they show it
 * is no request, its bytes go back to the request before it. Anything else is the body of the
 * last request queued, or of the current one. Global: verified once.
 */
__noinline int beyla_more_request_bytes(struct conn_state *c, struct io_data *d, __u64 now)
{
	if (!c || !d)
		return 0;
	if (c->queue_head != c->queue_tail) {
		struct queue_key last = {.tgid = c->tgid, .fd = c->fd, .seq = c->queue_tail - 1};
		struct request_slot *waiting = bpf_map_lookup_elem(&queued_requests, &last);
		if (!waiting)
			return 0;
		if (waiting->used != SLOT_PARTIAL) {
			waiting->bytes += d->total;
			return 0;
		}
		append_request_bytes(waiting, d);
		int verdict = request_start_verdict(waiting);
		if (verdict > 0)
			waiting->used = 1;
		if (verdict >= 0)
			return 0;
		/* no request after all: bytes of the one before it */
		__u64 bytes = waiting->bytes;
		bpf_map_delete_elem(&queued_requests, &last);
		c->queue_tail--;
		if (c->queue_head == c->queue_tail) {
			c->req.bytes += bytes;
		} else {
			last.seq = c->queue_tail - 1;
			waiting = bpf_map_lookup_elem(&queued_requests, &last);
			if (waiting)
				waiting->bytes += bytes;
		}
		return 0;
	}
	__u8 p[16] = {};
	__u32 zero = 0;
	struct scratch *s = 0;
	/* after the whole current request: of a request without a body, the whole head (the answer
	 * has begun, or the blank line is in its capture); of one with a body, as many bytes as its
	 * head and Content-Length say (both in the capture). The scratch space only then: most
	 * bytes here are bodies. */
	if (d->first_len < 8 && read_prefix(p, d) && could_be_request_start(p, (__u32)d->first_len) &&
	    (s = bpf_map_lookup_elem(&scratch_space, &zero)) &&
	    (has_no_body(&c->req) ? c->phase == PHASE_RESPONSE || c->write_enter_ns || request_head_end(&c->req)
				  : whole_request_with_body(c, s))) {
		record_request(&s->slot, d, now);
		/* the queue is empty here; a write of several buffers may have brought 8 bytes already */
		int verdict = request_start_verdict(&s->slot);
		if (verdict < 0) {
			c->req.bytes += d->total;
			return 0;
		}
		s->slot.used = verdict > 0 ? 1 : SLOT_PARTIAL;
		struct queue_key key = {.tgid = c->tgid, .fd = c->fd, .seq = c->queue_tail};
		bpf_map_update_elem(&queued_requests, &key, &s->slot, BPF_ANY);
		c->queue_tail++;
		return 0;
	}
	if (c->phase == PHASE_REQUEST)
		append_request_bytes(&c->req, d);
	else
		c->req.bytes += d->total;
	return 0;
}

/*
 * A request start arriving in pieces (PHASE_PARTIAL): decided once 8 bytes are captured.
 * They may all be there at once: a write of several buffers whose first is shorter.
 */
static __always_inline void settle_partial_request(struct conn_state *c)
{
	int verdict = request_start_verdict(&c->req);
	if (verdict > 0) {
		c->phase = PHASE_REQUEST;
	} else if (verdict < 0) {
		c->req.used = 0;
		c->phase = PHASE_IDLE;
	}
}

/*
 * Starts tracking the connection on key's fd: the current task's socket, whose first bytes
 * were the start of a request, read (a server: kind SPAN_KIND_SERVER) or written (a client).
 */
static __always_inline struct conn_state *start_tracking(const struct conn_key *key, __u8 kind, bool tls, __u64 expect_sk)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);
	if (!s)
		return 0;
	__builtin_memset(&s->conn, 0, sizeof(s->conn));
	if (!read_socket_addresses(key->fd, &s->conn, expect_sk))
		return 0;
	s->conn.kind = kind;
	s->conn.tgid = key->tgid;
	s->conn.fd = key->fd;
	if (tls)
		s->conn.span_flags |= SPAN_FLAG_TLS;
	/* tracked on another fd or in another process until now (passed on, inherited): it ends
	 * there, as at a close, and the socket is tracked here */
	struct conn_key *before = bpf_map_lookup_elem(&socket_conns, &s->conn.sk);
	if (before && (before->tgid != key->tgid || before->fd != key->fd))
		beyla_end_connection(before->tgid, before->fd, s->conn.sk);
	bpf_map_update_elem(&connections, key, &s->conn, BPF_ANY);
	bpf_map_update_elem(&socket_conns, &s->conn.sk, key, BPF_ANY);
	stat_inc(STAT_CONNECTIONS_TRACKED);
	return bpf_map_lookup_elem(&connections, key);
}

/*
 * The response in progress on c, complete with the bytes of d: its exchange is finished. Where d
 * goes past its declared end, the next response begins there (d moves to it) and 1 is returned
 * when that one is complete too.
 */
static __always_inline int end_response(struct conn_state *c, struct io_data *d, __u64 now)
{
	__u64 excess = 0;
	if ((c->conn_flags & CONN_LENGTH_KNOWN) && c->response_bytes > c->response_expected) {
		excess = c->response_bytes - c->response_expected;
		c->response_bytes = c->response_expected;
	}
	if (switches_protocol(c)) {
		upgrade(c);
		return 0;
	}
	finish_exchange(c, END_BY_LENGTH);
	if (!excess || excess > d->total || c->phase != PHASE_REQUEST)
		return 0;
	__u64 offset = d->total - excess;
	if (offset + 12 > d->first_len)
		return 0;
	d->first += offset;
	d->first_len -= offset;
	d->total = excess;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);
	if (!s)
		return 0;
	beyla_begin_response(c, s, d, now);
	return c->phase == PHASE_RESPONSE && response_complete(c, d);
}

/* end_response for the second and later responses in one write (answers to pipelined requests).
 * Global: verified once. */
__noinline int beyla_end_response(struct conn_state *c, struct io_data *d, __u64 now)
{
	if (!c || !d)
		return 0;
	return end_response(c, d, now);
}

/* How far the reader of c's socket (TCP: tracked connections are) has consumed its byte stream. */
static __always_inline __u32 consumed_seq(const struct conn_state *c)
{
	struct tcp_sock *tp = (struct tcp_sock *)c->sk; /* apart: inside BPF_CORE_READ c->sk would be relocated too */
	return BPF_CORE_READ(tp, copied_seq);
}

/*
 * Whether client c's response, of known length, was consumed whole by its reader though the
 * reads seen did not reach its end: the rest went where no hook sees it (splice from the socket
 * into a pipe, as haproxy's splice-response does). Needs CONN_RX_BASE: responses read in one
 * read never get there.
 */
static __always_inline bool response_consumed_unseen(const struct conn_state *c)
{
	return c->phase == PHASE_RESPONSE && (c->conn_flags & CONN_RX_BASE) && (c->conn_flags & CONN_LENGTH_KNOWN) &&
	       c->response_bytes < c->response_expected && (__u64)(__u32)(consumed_seq(c) - c->rx_base) >= c->response_expected;
}

/* Where c's response was consumed whole unseen (response_consumed_unseen), it has all its bytes
 * and no end is due any more: what comes next (a request, the close) ends it. */
static __always_inline void settle_unseen_end(struct conn_state *c)
{
	if (!response_consumed_unseen(c))
		return;
	c->response_bytes = c->response_expected;
	c->conn_flags &= ~CONN_END_DUE;
}

/*
 * One read (DIR_INGRESS) or write (DIR_EGRESS) of d->total bytes on key's fd by the current
 * task: plain bytes of the socket itself (tls false), or the plaintext of a TLS connection on
 * the fd (tls true; write_ns is when SSL_write was entered). c is the fd's tracked connection,
 * or null.
 */
static __always_inline int track_io(const struct conn_key *key, struct conn_state *c, __u8 dir, const struct io_data *d, bool tls, __u64 write_ns)
{
	__u64 now;
	__u32 zero = 0;
	struct scratch *s = 0;
	__u8 p[16] = {};

	if (!c) {
		/* Unknown connection: only the start of a request makes it worth tracking. Files,
		 * pipes and other traffic leave here, before the clock is read. A write was looked at
		 * as it entered too (track_request_write), but its bytes may not have been readable
		 * then: a page the program never touched is only brought in by the syscall itself. */
		if (!read_prefix(p, d))
			return 0;
		bool partial = d->first_len < 8;
		if (partial ? !could_be_request_start(p, (__u32)d->first_len) : !is_request_start(p)) {
			if (!partial && is_http2_preface(p))
				notify_once(&http2_reported, key->tgid, NOTICE_HTTP2, dir | (tls ? HTTP2_OVER_TLS : 0));
			return !partial && is_tls_hello(p) ? TRACKED_TLS_HELLO : 0;
		}
		now = bpf_ktime_get_ns();
		c = start_tracking(key, dir == DIR_INGRESS ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT, tls, d->sk);
		if (!c)
			return 0;
		if (partial) {
			record_request(&c->req, d, now);
			c->phase = PHASE_PARTIAL;
			settle_partial_request(c);
		} else {
			struct io_data taken = *d;
			beyla_take_requests(c, &taken, now, TAKE_CURRENT);
			c->phase = PHASE_REQUEST;
		}
		return 0;
	}

	/* Ciphertext of a TLS connection is not HTTP: its plaintext comes through the TLS hooks. Nor
	 * is what an upgraded connection carries. */
	if (!!(c->span_flags & SPAN_FLAG_TLS) != tls || c->phase == PHASE_UPGRADED)
		return 0;

	/* Written bytes count from when the write entered the kernel (or SSL_write was called):
	 * the peer may have them before the call returns; then the clock is not read again (a
	 * clock read is tens of nanoseconds in a VM). Read bytes count from the return. */
	__u64 entered = 0;
	if (dir == DIR_EGRESS) {
		entered = tls ? write_ns : c->write_enter_ns;
		if (!tls) {
			c->write_enter_ns = 0;
			if (c->request_writer && c->request_writer == (__u32)bpf_get_current_pid_tgid()) {
				/* The request was taken as this write entered, and may be answered already.
				 * It was sized by what the write asked to move; the rest of a shorter
				 * write comes in the next one and is added then. */
				c->request_writer = 0;
				if ((c->phase == PHASE_REQUEST || c->phase == PHASE_RESPONSE) && c->queue_head == c->queue_tail)
					c->req.bytes = d->total;
				return 0;
			}
		}
	}
	now = entered ? entered : bpf_ktime_get_ns();

	__u8 request_dir = c->kind == SPAN_KIND_SERVER ? DIR_INGRESS : DIR_EGRESS;
	if (dir == request_dir) {
		/* A request queued while the connection went idle (a race, see below) comes first: it
		 * may be the start of one (beyla_more_request_bytes), which these bytes go on. */
		take_queued_request(c);
		if (c->phase == PHASE_PARTIAL) {
			append_request_bytes(&c->req, d);
			settle_partial_request(c);
			return 0;
		}
		if (c->phase == PHASE_IDLE) {
			/* c->req is free: the head is read straight into it, once */
			if (d->first_len >= 8) {
				record_request(&c->req, d, now);
				if (!is_request_start(c->req.head)) {
					c->req.used = 0;
					return 0;
				}
				reset_response(c);
				c->phase = PHASE_REQUEST;
				/* most reads hold one request: only bytes after its head, behind a request
				 * without a body, may be more requests (pipelined), which the queue takes */
				__u32 end = request_head_end(&c->req);
				if (end && end < d->total && end < d->first_len && has_no_body(&c->req)) {
					struct io_data taken = *d;
					beyla_take_requests(c, &taken, now, TAKE_RECORDED);
				}
				return 0;
			}
			if (!read_prefix(p, d) || !could_be_request_start(p, (__u32)d->first_len & 7))
				return 0;
			reset_response(c);
			record_request(&c->req, d, now);
			c->phase = PHASE_PARTIAL;
			settle_partial_request(c);
			return 0;
		}
		bool starts = d->first_len >= 8 && !bpf_probe_read_user(p, 8, (const void *)d->first) && is_request_start(p);
		if (starts)
			settle_unseen_end(c); /* read unseen, it ended: this request is the next one */
		if (c->phase == PHASE_REQUEST || (c->conn_flags & CONN_END_DUE)) {
			/* a response is still due for the current request, or its end (its head is in pieces) */
			struct io_data taken = *d;
			if (starts)
				beyla_take_requests(c, &taken, now, TAKE_QUEUED);
			else
				beyla_more_request_bytes(c, &taken, now);
		} else if (starts) {
			/* the response had no known end (or its last bytes went unseen): the next request ends it */
			finish_exchange(c, END_BY_NEXT_REQUEST);
			struct io_data taken = *d;
			if (c->phase == PHASE_REQUEST) {
				/* a request queued behind it is the current one now: this one waits behind that */
				beyla_take_requests(c, &taken, now, TAKE_QUEUED);
			} else {
				reset_response(c);
				beyla_take_requests(c, &taken, now, TAKE_CURRENT);
				c->phase = PHASE_REQUEST;
			}
		}
		return 0;
	}

	/* Idle with a request queued: two threads raced, one queueing the next request while the
	 * other finished the previous exchange (the connection's state is not locked). The queued
	 * request is the one this response answers. */
	take_queued_request(c);
	__u64 began = 0; /* bytes of a response that began in this read, from its first */
	if (c->phase == PHASE_REQUEST) {
		s = bpf_map_lookup_elem(&scratch_space, &zero);
		if (!s)
			return 0;
		struct io_data head = *d;
		__u8 first = 0;
		if (d->first_len && d->first_len < 12 && (d->iov_count < 2 || d->total < 12) &&
		    !bpf_probe_read_user(&first, 1, (const void *)d->first) && first == 'H') {
			/* fewer bytes than a status line (a client reading a byte at a time): the response
			 * is taken to begin, its status line gathered until it can tell */
			c->phase = PHASE_RESPONSE;
			c->status = 0;
			c->response_bytes = d->total;
			c->end_ns = now;
			c->conn_flags = CONN_STATUS_OPEN;
			c->status_len = 0;
			open_head(c);
			beyla_head_piece(c, s, &head);
		} else {
			/* beyla_begin_response reads the head once and checks that it is a status line; an
			 * interim response (100 Continue, 103 Early Hints) with the final one after it in the
			 * same write or read is passed over (its bytes are not the response's) */
			for (int k = 0; k < 2; k++) {
				int interim = beyla_begin_response(c, s, &head, now);
				if (interim <= 0 || c->phase != PHASE_REQUEST)
					break;
				head.first += interim;
				head.first_len -= interim;
				head.total -= interim;
			}
		}
		began = head.total;
	} else if (c->phase == PHASE_RESPONSE) {
		c->response_bytes += d->total;
		c->end_ns = now;
		if (c->conn_flags & CONN_HEAD_OPEN) {
			s = bpf_map_lookup_elem(&scratch_space, &zero);
			if (!s)
				return 0;
			struct io_data piece = *d;
			if (beyla_head_piece(c, s, &piece) && c->phase == PHASE_REQUEST && piece.first_len >= 12)
				beyla_begin_response(c, s, &piece, now);
		}
	} else {
		/* A status line with no request waiting (or only the start of one): a request went by
		 * unseen (for example pipelined behind another in one read). Count it; never report
		 * it silently. */
		if ((c->phase == PHASE_IDLE || c->phase == PHASE_PARTIAL) && d->first_len >= 12 && !bpf_probe_read_user(p, 8, (const void *)d->first) && is_response_start(p))
			stat_inc(STAT_RESPONSES_UNMATCHED);
		return 0;
	}
	/* One write may hold several responses (answers to pipelined requests): what goes
	 * past the declared end of one is the start of the next. */
	if (c->phase != PHASE_RESPONSE || !response_complete(c, d)) {
		if (began && c->phase == PHASE_RESPONSE && c->kind == SPAN_KIND_CLIENT && !tls) {
			/* a client's response that goes on past this read: where it began in the socket's
			 * byte stream (response_consumed_unseen) */
			c->rx_base = consumed_seq(c) - (__u32)began;
			c->conn_flags |= CONN_RX_BASE;
		}
		return 0;
	}
	struct io_data rest = *d;
	if (!end_response(c, &rest, now))
		return 0;
	for (int i = 1; i < MAX_PIPELINED; i++) {
		if (!beyla_end_response(c, &rest, now))
			break;
	}
	return 0;
}

/*
 * A write on key's fd is entering the kernel. On a tracked connection the time is noted: the
 * peer may have the bytes before the call returns (track_io). A client's request is taken
 * here, before the peer can answer it: another thread of the client may read the response
 * before this write returns (.NET's read-ahead, Go's readLoop; or a large body that the server
 * answers before reading it). Taken at the write's exit, the request would come after its
 * response, and every later response would be paired with the request before it.
 * c is the write's tracked connection; now gets the time noted.
 */
static __always_inline void track_write_enter(struct conn_state *c, __u32 tid, __u64 *now)
{
	*now = bpf_ktime_get_ns();
	c->write_enter_ns = *now;
	if (c->request_writer == tid)
		c->request_writer = 0; /* this thread's, from a write whose exit was not seen */
}

/* A response whose end is not known (its head came whole with no Content-Length, not chunked):
 * the next request ends it. */
static __always_inline bool response_without_end(const struct conn_state *c)
{
	return c->phase == PHASE_RESPONSE && !(c->conn_flags & CONN_END_DUE);
}

/* Whether a write entering on c (not null) may start the next request (see track_write_enter). */
static __always_inline bool awaits_request_write(const struct conn_state *c)
{
	return c->kind == SPAN_KIND_CLIENT && (c->phase == PHASE_IDLE || response_without_end(c)) &&
	       c->queue_head == c->queue_tail && !(c->span_flags & SPAN_FLAG_TLS) && !c->request_writer;
}

/*
 * The write entering on key's fd, by thread tid (connection c, or null: not tracked yet), moves d: if it
 * starts a request, the request is taken now. Shorter starts (fewer than 8 bytes), and bytes
 * not readable yet (a page the program never touched: the syscall brings it in), are left to
 * the write's exit.
 */
static __always_inline void track_request_write(const struct conn_key *key, __u32 tid, struct conn_state *c, struct io_data *d, __u64 now)
{
	__u8 p[16] = {};
	if (d->first_len < 8 || !read_prefix(p, d) || !is_request_start(p))
		return;
	if (!c) {
		now = bpf_ktime_get_ns();
		c = start_tracking(key, SPAN_KIND_CLIENT, false, d->sk);
		if (!c)
			return;
		c->write_enter_ns = now;
	} else if (c->phase == PHASE_RESPONSE) {
		finish_exchange(c, END_BY_NEXT_REQUEST);
	}
	reset_response(c);
	__u32 tail = c->queue_tail;
	beyla_take_requests(c, d, now, TAKE_CURRENT);
	if (!is_request_start(c->req.head) || c->queue_tail != tail) {
		/* The head ran into a page not readable yet (its read failed whole), or the write
		 * holds pipelined requests: if it fails or moves only part of them, the exit could
		 * not tell which were sent. The exit takes them instead. */
		for (int i = 0; i < MAX_PIPELINED; i++) {
			if (c->queue_tail == tail)
				break;
			c->queue_tail--;
			struct queue_key queued = {.tgid = c->tgid, .fd = c->fd, .seq = c->queue_tail};
			bpf_map_delete_elem(&queued_requests, &queued);
		}
		c->req.used = 0;
		return;
	}
	c->phase = PHASE_REQUEST;
	c->request_writer = tid;
}

/* A write on tracked connection c failed (nothing moved): a request its thread took as it entered was not sent. */
static __always_inline void track_write_failed(struct conn_state *c)
{
	if (!c->request_writer || c->request_writer != (__u32)bpf_get_current_pid_tgid())
		return;
	c->request_writer = 0;
	if (c->phase == PHASE_REQUEST && c->queue_head == c->queue_tail) {
		c->req.used = 0;
		c->phase = PHASE_IDLE;
	}
}

/* The request in progress on c and those queued behind it got no response: each is a span so.
 * Global: verified once. */
__noinline int beyla_finish_unanswered(struct conn_state *c)
{
	if (!c)
		return 0;
	for (int i = 0; i <= MAX_QUEUED; i++) {
		if (c->phase != PHASE_REQUEST)
			break;
		finish_exchange(c, END_NO_RESPONSE);
	}
	return 0;
}

/* The connection on fd is going away: report what is in flight, forget the rest. */
static __always_inline void track_close(__u32 tgid, __u32 fd)
{
	struct conn_key key = {.tgid = tgid, .fd = fd};
	struct conn_state *c = bpf_map_lookup_elem(&connections, &key);
	if (!c)
		return;
	if (c->phase == PHASE_UPGRADED)
		beyla_drop_queued_requests(c); /* queued by a thread that raced the upgrade */
	if (c->phase == PHASE_RESPONSE) {
		settle_unseen_end(c);
		finish_exchange(c, END_BY_CLOSE);
	}
	take_queued_request(c);
	beyla_finish_unanswered(c);
	forget_socket(c->sk, tgid, fd);
	bpf_map_delete_elem(&connections, &key);
}

__noinline int beyla_end_connection(__u32 tgid, __u32 fd, __u64 sk)
{
	struct conn_key key = {.tgid = tgid, .fd = fd};
	struct conn_state *c = bpf_map_lookup_elem(&connections, &key);
	if (c && c->sk == sk)
		track_close(tgid, fd);
	return 0;
}

#endif
