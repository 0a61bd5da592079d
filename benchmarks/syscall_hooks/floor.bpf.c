/*
 * The floor of any tracer built on the socket probe set's hooks: a program that returns at once
 * on every tracepoint src/Beyla.Bpf/bpf/socket.bpf.c attaches. What a window with these costs
 * against an untraced one is what the hooks themselves cost (the tracepoint glue and a program
 * call), whatever the programs do. Both of its hook sets are here: the socket layer's tracepoints
 * (sock_*, tcp_*) and the syscall tracepoints (exit_*, enter_*) of kernels without them;
 * agentbench.FLOORS names the configurations overhead.py, pingpong.py and latency.py --floor time.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";

#define NOOP(section, name) SEC(section) int name(void *ctx) { return 0; }

NOOP("tracepoint/syscalls/sys_exit_read", exit_read)
NOOP("tracepoint/syscalls/sys_exit_recvfrom", exit_recvfrom)
NOOP("tracepoint/syscalls/sys_exit_readv", exit_readv)
NOOP("tracepoint/syscalls/sys_exit_recvmsg", exit_recvmsg)
NOOP("tracepoint/syscalls/sys_exit_write", exit_write)
NOOP("tracepoint/syscalls/sys_exit_sendto", exit_sendto)
NOOP("tracepoint/syscalls/sys_exit_writev", exit_writev)
NOOP("tracepoint/syscalls/sys_exit_sendmsg", exit_sendmsg)
NOOP("tracepoint/syscalls/sys_exit_sendfile64", exit_sendfile)
NOOP("tracepoint/syscalls/sys_exit_accept", exit_accept)
NOOP("tracepoint/syscalls/sys_exit_accept4", exit_accept4)
NOOP("tracepoint/syscalls/sys_enter_connect", connect_enter)
NOOP("tracepoint/syscalls/sys_enter_close", close_enter)
NOOP("tracepoint/syscalls/sys_enter_openat", openat_enter)
NOOP("tracepoint/sched/sched_process_exec", process_exec)
NOOP("tracepoint/sched/sched_process_exit", process_exit)
NOOP("raw_tracepoint/sched_process_fork", process_fork)
/* Reads and writes where the kernel has these: the socket layer's own tracepoints, raw (no perf
 * record built), hit only by socket I/O. */
NOOP("raw_tracepoint/sock_send_length", sock_send_length)
NOOP("raw_tracepoint/sock_recv_length", sock_recv_length)
/* The write entries' counterpart: TCP's own, before the bytes are queued (newer than 6.3; 6.18 has it). */
NOOP("raw_tracepoint/tcp_sendmsg_locked", tcp_sendmsg_locked)
/* Closes and libssl loads where the kernel has the socket layer's tracepoints: a socket's state
 * changes and its end, and a mapping's search for room (raw). */
NOOP("raw_tracepoint/inet_sock_set_state", tcp_set_state)
NOOP("raw_tracepoint/tcp_destroy_sock", tcp_destroy_sock)
NOOP("raw_tracepoint/vm_unmapped_area", map_unmapped_area)
NOOP("tracepoint/syscalls/sys_enter_write", enter_write)
NOOP("tracepoint/syscalls/sys_enter_sendto", enter_sendto)
NOOP("tracepoint/syscalls/sys_enter_writev", enter_writev)
NOOP("tracepoint/syscalls/sys_enter_sendmsg", enter_sendmsg)
NOOP("tracepoint/syscalls/sys_enter_sendfile64", enter_sendfile)
