#!/usr/bin/env bash
# What syscall hooks cost beyond their programs: ns per writev (hooked) and per getppid (not
# hooked) in an untraced process, with no program, with no-op programs on the per-syscall
# tracepoints sys_enter_writev/sys_exit_writev ("tp"), and on raw_tracepoint sys_enter/sys_exit
# ("raw"). Each program only does the pid lookup our real ones start with (loader.c attaches the
# programs of noop.bpf.o named tp_* or raw_*). Needs root, clang-14,
# libbpf-dev; run with no other tracer loaded.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
clang-14 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c noop.bpf.c -o "$work/noop.bpf.o"
clang-14 -O2 loader.c -o "$work/loader" -lbpf
clang-14 -O2 loop.c -o "$work/loop"
cd "$work"
for mode in none tp raw; do
  loader=""
  if [ "$mode" != none ]; then ./loader noop.bpf.o 60 "${mode}_" & loader=$!; sleep 1.5; fi
  echo "$mode: writev $(./loop) $(./loop) $(./loop) ns; getppid $(./loop getppid) $(./loop getppid) $(./loop getppid) ns"
  if [ -n "$loader" ]; then kill "$loader"; wait "$loader" 2>/dev/null || true; fi
done
