/* Loads noop.bpf.o and attaches the programs whose names start with argv[1] ("tp" or "raw"), then sleeps argv[2] seconds. */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	struct bpf_object *obj = bpf_object__open_file("noop.bpf.o", NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "load failed\n");
		return 1;
	}
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		const char *name = bpf_program__name(p);
		if (strncmp(name, argv[1], strlen(argv[1])) == 0 && !bpf_program__attach(p)) {
			fprintf(stderr, "attach %s failed\n", name);
			return 1;
		}
	}
	sleep(atoi(argv[2]));
	return 0;
}
