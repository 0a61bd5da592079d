/* Times N calls of one syscall in this (untraced) process: writev of 1 byte to /dev/null, or getppid. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const int n = 2000000;
	int getppid_mode = argc > 1 && strcmp(argv[1], "getppid") == 0;
	int fd = open("/dev/null", O_WRONLY);
	char b[16] = "x";
	struct iovec iov = {b, 1};
	struct timespec a, z;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		if (getppid_mode)
			syscall(SYS_getppid);
		else
			writev(fd, &iov, 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &z);
	printf("%.1f", ((z.tv_sec - a.tv_sec) * 1e9 + (z.tv_nsec - a.tv_nsec)) / n);
	return 0;
}
