/*
 * jitlines ID [IMAGE]: what the kernel's JIT made of a loaded BPF program, for mapping profiler
 * samples to source lines. Prints "func<TAB>address<TAB>length" for the program and each of its
 * subprograms, then "line<TAB>address<TAB>file:line<TAB>source" for each line-info record (the
 * address of the first machine instruction of that line); writes the machine code of all the
 * functions, one after another, to IMAGE if given. bpftool does this only when built with libbfd.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
	int fd = bpf_prog_get_fd_by_id(atoi(argv[1]));
	if (fd < 0) { perror("prog fd"); return 1; }
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) { perror("info"); return 1; }
	__u32 nli = info.nr_line_info, njli = info.nr_jited_line_info, nks = info.nr_jited_ksyms;
	__u32 nfl = info.nr_jited_func_lens;
	__u32 jlen = info.jited_prog_len;
	unsigned char *image = calloc(1, jlen);
	struct bpf_line_info *li = calloc(nli, sizeof(*li));
	__u64 *jli = calloc(njli, 8);
	__u64 *ks = calloc(nks, 8);
	__u32 *fl = calloc(nfl, 4);
	__u32 btf_id = info.btf_id;
	memset(&info, 0, sizeof(info));
	info.nr_line_info = nli; info.line_info_rec_size = sizeof(*li); info.line_info = (__u64)li;
	info.nr_jited_line_info = njli; info.jited_line_info_rec_size = 8; info.jited_line_info = (__u64)jli;
	info.nr_jited_ksyms = nks; info.jited_ksyms = (__u64)ks;
	info.nr_jited_func_lens = nfl; info.jited_func_lens = (__u64)fl;
	info.jited_prog_len = jlen; info.jited_prog_insns = (__u64)image;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) { perror("info2"); return 1; }
	struct btf *btf = btf__load_from_kernel_by_id(btf_id);
	if (!btf) { perror("btf"); return 1; }
	if (argc > 2) { FILE *f = fopen(argv[2], "wb"); fwrite(image, 1, jlen, f); fclose(f); }
	for (__u32 i = 0; i < nks; i++) printf("func\t%llx\t%u\n", (unsigned long long)ks[i], i < nfl ? fl[i] : 0);
	for (__u32 i = 0; i < nli && i < njli; i++) {
		const char *file = btf__name_by_offset(btf, li[i].file_name_off);
		const char *line = btf__name_by_offset(btf, li[i].line_off);
		const char *base = file ? strrchr(file, '/') : 0;
		printf("line\t%llx\t%s:%u\t%s\n", (unsigned long long)jli[i], base ? base + 1 : file, BPF_LINE_INFO_LINE_NUM(li[i].line_col), line ? line : "");
	}
	return 0;
}
