// SPDX-License-Identifier: MIT
/*
 * Functions with the entry instructions the TLS probes meet, called in a loop: what a uprobe on
 * each costs per call (run.sh). Usage: shapes FUNCTION CALLS; prints ns per call.
 *   sub       sub $0x18,%rsp first: Debian's libssl (SSL_read, SSL_write; no CET, no frame pointer)
 *   push      push %rbp first: frame pointers without CET
 *   cet_push  endbr64, then push %rbp: CET and frame pointers (Ubuntu 24.04, Fedora)
 *   cet_sub   endbr64, then sub $0x18,%rsp: CET without frame pointers
 *   push_r13  push %r13 first (REX prefix): Debian's ssl_read_internal, ssl_write_internal
 *   cet_mov   endbr64, then mov %rcx,%r8: OpenSSL 3.3's SSL_write_ex (Debian 13), which then jumps to SSL_write_ex2
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((noinline, naked)) long sub(long x) { __asm__("sub $0x18,%rsp\n lea 1(%rdi),%rax\n add $0x18,%rsp\n ret"); }
__attribute__((noinline, naked)) long push(long x) { __asm__("push %rbp\n mov %rsp,%rbp\n lea 1(%rdi),%rax\n pop %rbp\n ret"); }
__attribute__((noinline, naked)) long cet_push(long x) { __asm__("endbr64\n push %rbp\n mov %rsp,%rbp\n lea 1(%rdi),%rax\n pop %rbp\n ret"); }
__attribute__((noinline, naked)) long cet_sub(long x) { __asm__("endbr64\n sub $0x18,%rsp\n lea 1(%rdi),%rax\n add $0x18,%rsp\n ret"); }
__attribute__((noinline, naked)) long push_r13(long x) { __asm__("push %r13\n lea 1(%rdi),%rax\n pop %r13\n ret"); }
__attribute__((noinline, naked)) long cet_mov(long x) { __asm__("endbr64\n mov %rcx,%r8\n lea 1(%rdi),%rax\n ret"); }

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	long (*f)(long) = !strcmp(argv[1], "sub") ? sub : !strcmp(argv[1], "push") ? push : !strcmp(argv[1], "cet_push") ? cet_push :
			  !strcmp(argv[1], "push_r13") ? push_r13 : !strcmp(argv[1], "cet_mov") ? cet_mov : cet_sub;
	long n = atol(argv[2]), acc = 0;
	double start = now_ns();
	for (long i = 0; i < n; i++)
		acc = f(acc);
	printf("%.0f\n", (now_ns() - start) / n);
	return acc == n ? 0 : 1; /* the return value went through any return probe intact */
}
