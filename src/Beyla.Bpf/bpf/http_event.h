/* SPDX-License-Identifier: MIT */
/*
 * The records the probes put on the ring buffer. This layout is an ABI shared with the
 * managed decoder (src/Beyla.Core/Implementation/HttpEventLayout.cs): change both together
 * and bump BEYLA_EVENT_VERSION.
 */
#ifndef BEYLA_HTTP_EVENT_H
#define BEYLA_HTTP_EVENT_H

#define BEYLA_EVENT_VERSION 1

/* record types */
#define EVENT_HTTP_SPAN 1
#define EVENT_PROCESS_NOTICE 2 /* for the probe set's own user side; never reaches the decoder */

/* why a process notice was sent */
#define NOTICE_EXEC 1          /* a selected program started */
#define NOTICE_LIBSSL_OPENED 2 /* a traced process opened a libssl: attach TLS probes now */
#define NOTICE_IO_URING 3      /* a traced process moves socket data through io_uring, which no hook sees */
#define NOTICE_LIBSSL_MAPPED 4 /* a traced process maps a libssl (path: the file's name): attach TLS probes now */
#define NOTICE_TLS_UNPROBED 5  /* a traced process began a TLS handshake that no SSL call of its came before: its TLS probes came later, or its TLS is not OpenSSL's */
#define TLS_UNPROBED_PROBES_IN_PLACE 1 /* NOTICE_TLS_UNPROBED detail: the process had TLS probes then */
#define TLS_UNPROBED_MAPS_LIBSSL 2     /* NOTICE_TLS_UNPROBED detail: the process had mapped (or opened) a libssl */
#define NOTICE_HTTP2 6         /* a traced process began an HTTP/2 connection (its preface), which is not traced */
#define HTTP2_OVER_TLS 4       /* NOTICE_HTTP2 detail, with the direction (1: the process read the preface, a server; 2: wrote it, a client) */

#define NOTICE_PATH_CAPTURE 128

struct process_notice_event {
	__u32 type;            /* EVENT_PROCESS_NOTICE */
	__u32 pid;
	__u32 reason;          /* NOTICE_* */
	__u32 detail;          /* NOTICE_LIBSSL_OPENED and _MAPPED: bytes of path read, its NUL included; NOTICE_IO_URING: the io_uring opcode */
	char path[NOTICE_PATH_CAPTURE]; /* NOTICE_LIBSSL_OPENED: the file; NOTICE_LIBSSL_MAPPED: its name; NOTICE_IO_URING, NOTICE_TLS_UNPROBED and NOTICE_HTTP2: the process's command name; NUL-terminated */
};

/* bytes of the request head (request line and first headers) carried by each span */
#define REQUEST_HEAD_CAPTURE 224

/* span kinds */
#define SPAN_KIND_SERVER 1
#define SPAN_KIND_CLIENT 2

/* how the kernel knew the exchange had ended */
#define END_BY_LENGTH 1        /* response reached its Content-Length or last chunk */
#define END_BY_NEXT_REQUEST 2  /* a new request started on the connection */
#define END_BY_CLOSE 3         /* the connection was closed after a response */
#define END_NO_RESPONSE 4      /* the connection was closed before any response */

/* flags */
#define SPAN_FLAG_IPV6 0x1
#define SPAN_FLAG_TLS 0x2

/* stats counters (index in the "stats" per-CPU array) */
#define STAT_EVENTS_SUBMITTED 0
#define STAT_EVENTS_LOST_RINGBUF 1   /* ring buffer full: a finished request was dropped */
#define STAT_CONNECTIONS_TRACKED 2
#define STAT_RESPONSES_UNMATCHED 3   /* a response on a tracked connection with no request seen: a request missed */
#define STAT_TLS_NO_SOCKET 4         /* TLS plaintext whose socket was never learned: not reported */
#define STAT_REQUESTS_DROPPED 5      /* more requests queued on a connection than it can hold */
#define STAT_TLS_TIED_BY_CIPHERTEXT 6 /* a memory-BIO SSL object's socket found by its ciphertext's first bytes */
#define STAT_TLS_TIED_BY_GUESS 7     /* ... or taken as the socket written next (a BIO of another kind, or not seen) */
#define STAT_COUNT 8

/* settings written into .rodata before the object is loaded */
struct probe_settings {
	__u32 trace_all_processes; /* 1: every process; 0: only the tgids in traced_pids */
	__u32 wakeup_bytes;        /* wake the reader when this much data waits in the ring */
	__u32 tls_enabled;         /* 1: the TLS probe set shares the maps; socket hooks feed it fds */
	__u32 reserved;
};

struct http_span_event {
	__u32 type;            /* EVENT_HTTP_SPAN */
	__u8 kind;             /* SPAN_KIND_* */
	__u8 end_reason;       /* END_* */
	__u16 flags;           /* SPAN_FLAG_* */
	__u64 start_ns;        /* CLOCK_MONOTONIC, first request byte */
	__u64 end_ns;          /* CLOCK_MONOTONIC, last response byte (start_ns when no response) */
	__u64 request_bytes;
	__u64 response_bytes;
	__u32 pid;             /* tgid */
	__u32 tid;
	__u16 status;          /* 0 when no response */
	__u16 local_port;      /* host order */
	__u16 peer_port;       /* host order */
	__u16 head_len;        /* valid bytes in head[] */
	__u8 local_addr[16];   /* IPv4 in the first 4 bytes unless SPAN_FLAG_IPV6 */
	__u8 peer_addr[16];
	__u8 head[REQUEST_HEAD_CAPTURE];
	__u8 comm[16];         /* the process's command name (its main thread's, as /proc/PID/comm): read
	                        * here because a short-lived process may be gone when user space looks */
};

#endif
