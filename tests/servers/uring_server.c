/*
 * An HTTP/1.1 keep-alive server on 127.0.0.1:PORT that moves some of its bytes through io_uring
 * (liburing), for the tests of what the socket probe set says about io_uring. MODE:
 *   send-recv   requests read with IORING_OP_RECV, responses written with IORING_OP_SEND
 *   read-write  the same with IORING_OP_READ and IORING_OP_WRITE on the socket
 *   file        the body read from a file with IORING_OP_READ; the socket with recv(2)/send(2)
 * Connections are accepted with accept4(2) and served one after another. It prints "ready" once
 * it listens. Each response is 200 with the body "uring\n".
 *
 * build: cc -O2 -o uring_server uring_server.c -luring
 * usage: uring_server PORT MODE
 */
#define _GNU_SOURCE /* memmem, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum mode { SEND_RECV, READ_WRITE, FILE_BODY };

static struct io_uring ring;

/* Submits one request and waits for its result (the bytes moved, or -errno). */
static int uring_io(int opcode, int fd, void *buf, unsigned len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (opcode == IORING_OP_RECV)
		io_uring_prep_recv(sqe, fd, buf, len, 0);
	else if (opcode == IORING_OP_SEND)
		io_uring_prep_send(sqe, fd, buf, len, 0);
	else if (opcode == IORING_OP_READ)
		io_uring_prep_read(sqe, fd, buf, len, 0);
	else
		io_uring_prep_write(sqe, fd, buf, len, 0);
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

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: uring_server PORT send-recv|read-write|file\n");
		return 2;
	}
	enum mode m = !strcmp(argv[2], "send-recv") ? SEND_RECV : !strcmp(argv[2], "read-write") ? READ_WRITE
		    : !strcmp(argv[2], "file") ? FILE_BODY : -1;
	if ((int)m < 0) {
		fprintf(stderr, "unknown mode %s\n", argv[2]);
		return 2;
	}
	int rc = io_uring_queue_init(8, &ring, 0);
	if (rc < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
		return 1;
	}
	int listener = socket(AF_INET, SOCK_STREAM, 0);
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
	for (;;) {
		int fd = accept4(listener, 0, 0, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve(m, fd);
		close(fd);
	}
}
