/*
 * An HTTP/1.1 keep-alive server on 127.0.0.1:PORT that moves some of its bytes through io_uring
 * (liburing), for the tests of what the socket probe set says about io_uring. MODE:
 *   send-recv        requests read with IORING_OP_RECV, responses written with IORING_OP_SEND
 *   read-write       the same with IORING_OP_READ and IORING_OP_WRITE on the socket
 *   sqpoll-send-recv send-recv on a ring whose submissions a kernel thread makes (SQPOLL)
 *   fixed-send-recv  send-recv on the connection registered with the ring (IOSQE_FIXED_FILE)
 *   file             the body read from a file with IORING_OP_READ; the socket with recv(2)/send(2)
 * Connections are accepted with accept4(2) and served one after another, on a thread named
 * "uring-worker" (not the process's name). It prints "ready" once it listens. Each response is
 * 200 with the body "uring\n".
 *
 * build: cc -O2 -o uring_server uring_server.c -luring -lpthread
 * usage: uring_server PORT MODE
 */
#define _GNU_SOURCE /* memmem, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum mode { SEND_RECV, READ_WRITE, FILE_BODY };

static struct io_uring ring;
static enum mode mode;
static bool fixed;   /* the connection is registered: requests name it by index 0 */
static int listener;

/* Submits one request and waits for its result (the bytes moved, or -errno). */
static int uring_io(int opcode, int fd, void *buf, unsigned len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	bool registered = fixed && opcode != IORING_OP_READ; /* the body's file is not registered */
	int target = registered ? 0 : fd;
	if (opcode == IORING_OP_RECV)
		io_uring_prep_recv(sqe, target, buf, len, 0);
	else if (opcode == IORING_OP_SEND)
		io_uring_prep_send(sqe, target, buf, len, 0);
	else if (opcode == IORING_OP_READ)
		io_uring_prep_read(sqe, target, buf, len, 0);
	else
		io_uring_prep_write(sqe, target, buf, len, 0);
	if (registered)
		sqe->flags |= IOSQE_FIXED_FILE;
	if (io_uring_submit(&ring) != 1)
		return -EIO;
	struct io_uring_cqe *cqe;
	int rc = io_uring_wait_cqe(&ring, &cqe);
	if (rc < 0)
		return rc;
	int res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

static int receive(enum mode m, int fd, char *buf, unsigned len)
{
	if (m == SEND_RECV)
		return uring_io(IORING_OP_RECV, fd, buf, len);
	if (m == READ_WRITE)
		return uring_io(IORING_OP_READ, fd, buf, len);
	return (int)recv(fd, buf, len, 0);
}

static int send_all(enum mode m, int fd, const char *buf, unsigned len)
{
	while (len > 0) {
		int n = m == SEND_RECV ? uring_io(IORING_OP_SEND, fd, (void *)buf, len)
		      : m == READ_WRITE ? uring_io(IORING_OP_WRITE, fd, (void *)buf, len)
					: (int)send(fd, buf, len, 0);
		if (n <= 0)
			return -1;
		buf += n;
		len -= (unsigned)n;
	}
	return 0;
}

/* The body: "uring\n", read from a file through io_uring in file mode. */
static int body(enum mode m, char *out, unsigned cap)
{
	static const char text[] = "uring\n";
	if (m != FILE_BODY) {
		memcpy(out, text, sizeof(text) - 1);
		return (int)sizeof(text) - 1;
	}
	char path[] = "/tmp/uring_body_XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, sizeof(text) - 1) != (ssize_t)sizeof(text) - 1)
		return -1;
	unlink(path);
	int n = uring_io(IORING_OP_READ, fd, out, cap);
	close(fd);
	return n;
}

static void serve(enum mode m, int fd)
{
	char req[8192];
	size_t used = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(req, used, "\r\n\r\n", 4))) {
			if (used == sizeof(req))
				return;
			int n = receive(m, fd, req + used, (unsigned)(sizeof(req) - used));
			if (n <= 0)
				return;
			used += (size_t)n;
		}
		char text[64];
		int len = body(m, text, sizeof(text));
		if (len < 0)
			return;
		char resp[256];
		int head = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", len);
		memcpy(resp + head, text, (size_t)len);
		if (send_all(m, fd, resp, (unsigned)(head + len)))
			return;
		size_t consumed = (size_t)(end + 4 - req); /* requests without a body */
		memmove(req, req + consumed, used - consumed);
		used -= consumed;
	}
}

static void *accept_loop(void *unused)
{
	(void)unused;
	for (;;) {
		int fd = accept4(listener, 0, 0, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (fixed && io_uring_register_files(&ring, &fd, 1) < 0) {
			close(fd);
			continue;
		}
		serve(mode, fd);
		if (fixed)
			io_uring_unregister_files(&ring);
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: uring_server PORT send-recv|read-write|sqpoll-send-recv|fixed-send-recv|file\n");
		return 2;
	}
	const char *name = argv[2];
	bool sqpoll = !strcmp(name, "sqpoll-send-recv");
	fixed = !strcmp(name, "fixed-send-recv");
	mode = !strcmp(name, "send-recv") || sqpoll || fixed ? SEND_RECV : !strcmp(name, "read-write") ? READ_WRITE
	     : !strcmp(name, "file") ? FILE_BODY : (enum mode)-1;
	if ((int)mode < 0) {
		fprintf(stderr, "unknown mode %s\n", name);
		return 2;
	}
	struct io_uring_params params = {.flags = sqpoll ? IORING_SETUP_SQPOLL : 0, .sq_thread_idle = 1000};
	int rc = io_uring_queue_init_params(8, &ring, &params);
	if (rc < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
		return 1;
	}
	listener = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 64)) {
		perror("bind/listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	pthread_t worker;
	if (pthread_create(&worker, 0, accept_loop, 0)) {
		perror("pthread_create");
		return 1;
	}
	pthread_setname_np(worker, "uring-worker");
	pthread_join(worker, 0);
	return 0;
}
