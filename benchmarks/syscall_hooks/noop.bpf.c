/* No-op programs with the pid filter our syscall programs start with: per-syscall tracepoints (tp_*) and raw syscall tracepoints (raw_*). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
/* tgid filter like the real programs: a hash lookup of the current tgid */
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8192); __type(key, __u32); __type(value, __u8); } traced SEC(".maps");
static __always_inline int filter(void) { __u32 tgid = bpf_get_current_pid_tgid() >> 32; return bpf_map_lookup_elem(&traced, &tgid) != 0; }
SEC("tracepoint/syscalls/sys_enter_writev") int tp_enter(void *ctx) { filter(); return 0; }
SEC("tracepoint/syscalls/sys_exit_writev") int tp_exit(void *ctx) { filter(); return 0; }
SEC("raw_tracepoint/sys_enter") int raw_enter(struct bpf_raw_tracepoint_args *ctx) { if (ctx->args[1] != 20 /* writev */) return 0; filter(); return 0; }
SEC("raw_tracepoint/sys_exit") int raw_exit(struct bpf_raw_tracepoint_args *ctx) { filter(); return 0; }
