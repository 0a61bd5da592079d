/*
 * loader OBJECT SECONDS [PREFIX...]: loads a BPF object and attaches its programs (those whose
 * names start with one of the prefixes, or all of them), prints "attached N", then sleeps
 * SECONDS or until killed.
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int wanted(const char *name, int prefixes, char **prefix)
{
	if (prefixes == 0)
		return 1;
	for (int i = 0; i < prefixes; i++)
		if (strncmp(name, prefix[i], strlen(prefix[i])) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: loader OBJECT SECONDS [PREFIX...]\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "load of %s failed\n", argv[1]);
		return 1;
	}
	int attached = 0;
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		const char *name = bpf_program__name(p);
		if (!wanted(name, argc - 3, argv + 3))
			continue;
		if (!bpf_program__attach(p)) {
			fprintf(stderr, "attach %s failed\n", name);
			return 1;
		}
		attached++;
	}
	printf("attached %d\n", attached);
	fflush(stdout);
	sleep(atoi(argv[2]));
	return 0;
}
