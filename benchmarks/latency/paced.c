// SPDX-License-Identifier: MIT
/*
 * An open-loop HTTP/1.1 load at a fixed rate, for latency below saturation (wrk's closed loop
 * measures queueing at saturation instead).
 *
 *   paced PORT PATH RATE CONNECTIONS WARMUP_S SECONDS
 *
 * One thread per keep-alive connection to 127.0.0.1:PORT; each sends GET PATH on its own fixed
 * schedule (RATE / CONNECTIONS per second, the connections evenly staggered) and reads the whole
 * response (Content-Length) before the next. A request's latency runs from the time it was due,
 * not the time it went out: a send delayed by a slow earlier response counts against it (no
 * coordinated omission). Requests due in the first WARMUP_S seconds are not measured.
 * Prints one line: sent=N measured=N late=N p50_ns=.. p90_ns=.. p99_ns=.. p999_ns=.. max_ns=..
 * (late: sent more than 1 ms after they were due).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct worker {
	pthread_t thread;
	int index;
	uint64_t *latencies;
	size_t measured;
	size_t capacity;
	uint64_t sent;
	uint64_t late;
};

static int port, connections;
static double rate, warmup_s, seconds;
static char request[512];
static size_t request_len;
static uint64_t start_ns;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Reads one response (head, then Content-Length bytes of body) from fd. */
static void read_response(int fd)
{
	char buf[4096];
	size_t have = 0;
	long body = -1;
	size_t head_end = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			die("read");
		have += (size_t)n;
		if (body < 0) {
			char *end = memmem(buf, have, "\r\n\r\n", 4);
			if (!end) {
				if (have == sizeof(buf))
					die("response head too long");
				continue;
			}
			head_end = (size_t)(end - buf) + 4;
			char *cl = memmem(buf, head_end, "Content-Length:", 15);
			if (!cl)
				cl = memmem(buf, head_end, "content-length:", 15);
			body = cl ? atol(cl + 15) : 0;
		}
		if (have >= head_end + (size_t)body) {
			if (have > head_end + (size_t)body)
				die("more bytes than one response");
			return;
		}
		if (have == sizeof(buf)) {
			/* a long body: keep only the count */
			body -= (long)(have - head_end);
			head_end = 0;
			have = 0;
		}
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("connect");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	double period = 1e9 * connections / rate;
	uint64_t warm_end = start_ns + (uint64_t)(warmup_s * 1e9);
	uint64_t end = warm_end + (uint64_t)(seconds * 1e9);
	for (uint64_t k = 0;; k++) {
		uint64_t due = start_ns + (uint64_t)(period * ((double)k + (double)w->index / connections));
		if (due >= end)
			break;
		struct timespec t = {.tv_sec = (time_t)(due / 1000000000ull), .tv_nsec = (long)(due % 1000000000ull)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL))
			;
		if (now_ns() > due + 1000000)
			w->late++;
		if (write(fd, request, request_len) != (ssize_t)request_len)
			die("write");
		read_response(fd);
		uint64_t done = now_ns();
		w->sent++;
		if (due >= warm_end && w->measured < w->capacity)
			w->latencies[w->measured++] = done - due;
	}
	close(fd);
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: paced PORT PATH RATE CONNECTIONS WARMUP_S SECONDS\n");
		return 2;
	}
	port = atoi(argv[1]);
	rate = atof(argv[3]);
	connections = atoi(argv[4]);
	warmup_s = atof(argv[5]);
	seconds = atof(argv[6]);
	if (port <= 0 || rate <= 0 || connections <= 0 || seconds <= 0)
		return 2;
	request_len = (size_t)snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: paced\r\n\r\n", argv[2], port);
	struct worker *workers = calloc((size_t)connections, sizeof(*workers));
	size_t per = (size_t)(rate / connections * seconds) + 16;
	start_ns = now_ns() + 100000000; /* 100 ms to connect */
	for (int i = 0; i < connections; i++) {
		workers[i].index = i;
		workers[i].capacity = per;
		workers[i].latencies = malloc(per * sizeof(uint64_t));
		if (!workers[i].latencies || pthread_create(&workers[i].thread, NULL, run, &workers[i]))
			die("thread");
	}
	size_t total = 0;
	uint64_t sent = 0, late = 0;
	for (int i = 0; i < connections; i++) {
		pthread_join(workers[i].thread, NULL);
		total += workers[i].measured;
		sent += workers[i].sent;
		late += workers[i].late;
	}
	uint64_t *all = malloc((total + 1) * sizeof(uint64_t));
	size_t at = 0;
	for (int i = 0; i < connections; i++) {
		memcpy(all + at, workers[i].latencies, workers[i].measured * sizeof(uint64_t));
		at += workers[i].measured;
	}
	if (!total)
		return 1;
	qsort(all, total, sizeof(uint64_t), by_value);
#define PCT(p) all[(size_t)((double)(total - 1) * (p))]
	printf("sent=%lu measured=%zu late=%lu p50_ns=%lu p90_ns=%lu p99_ns=%lu p999_ns=%lu max_ns=%lu\n", (unsigned long)sent, total,
	       (unsigned long)late, (unsigned long)PCT(0.5), (unsigned long)PCT(0.9), (unsigned long)PCT(0.99), (unsigned long)PCT(0.999),
	       (unsigned long)all[total - 1]);
	return 0;
}
