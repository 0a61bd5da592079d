/*
 * A worst-case HTTP exchange, timed: one thread is both client and server on a loopback TCP
 * connection, and each of N rounds is write (request) -> recv (server reads it) -> writev
 * (head and body of the response) -> read (client reads it). No work between syscalls, so
 * whatever tracing adds per request shows in full. Prints ns per exchange.
 * usage: pingpong [rounds]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200000;
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 1) ||
	    getsockname(listener, (struct sockaddr *)&addr, &len))
		die("listen");
	int client = socket(AF_INET, SOCK_STREAM, 0);
	if (client < 0 || connect(client, (struct sockaddr *)&addr, sizeof(addr)))
		die("connect");
	int server = accept(listener, 0, 0);
	if (server < 0)
		die("accept");
	int one = 1;
	setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	static const char request[] = "GET /hello/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: pingpong\r\n\r\n";
	static const char head[] = "HTTP/1.1 200 OK\r\nServer: pingpong\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 13\r\nConnection: keep-alive\r\n\r\n";
	static const char body[] = "Hello, world!";
	struct iovec response[2] = {{(void *)head, sizeof(head) - 1}, {(void *)body, sizeof(body) - 1}};
	size_t response_len = sizeof(head) - 1 + sizeof(body) - 1;
	char buf[1024];
	struct timespec a, z;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < rounds; i++) {
		if (write(client, request, sizeof(request) - 1) != sizeof(request) - 1)
			die("write");
		if (recv(server, buf, sizeof(buf), 0) != sizeof(request) - 1)
			die("recv");
		if (writev(server, response, 2) != (ssize_t)response_len)
			die("writev");
		size_t got = 0;
		while (got < response_len) {
			ssize_t n = read(client, buf, sizeof(buf));
			if (n <= 0)
				die("read");
			got += n;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &z);
	printf("%.0f\n", ((z.tv_sec - a.tv_sec) * 1e9 + (z.tv_nsec - a.tv_nsec)) / rounds);
	return 0;
}
