#!/bin/sh
# What a uprobe costs per call, by the probed instruction (shapes.c): the kernel emulates some
# instructions (push, nop, branches) and runs the others out of line with a single-step trap.
# Probes are tracefs uprobe events on shapes' functions, as entry probes and as entry + return
# probes (the TLS probe set puts both on SSL_read, SSL_write and the others), at the entry and,
# for the CET shapes, past endbr64 (+4, where ElfSymbols puts the TLS probes).
# usage: sudo sh benchmarks/uprobe_cost/run.sh [CALLS]
set -eu
calls=${1:-200000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'echo > "$T/uprobe_events" 2>/dev/null || true; rm -rf "$work"' EXIT
T=/sys/kernel/tracing
[ -d $T/events ] || T=/sys/kernel/debug/tracing
cc=$(command -v clang-14 || command -v clang || command -v gcc)
$cc -O2 -o "$work/shapes" "$here/shapes.c"
# a function's file offset (what a uprobe takes) plus $2: its address less its LOAD segment's address, plus the segment's offset
at() {
	v=$((0x$(nm "$work/shapes" | awk -v f="$1" '$3==f{print $1}')))
	readelf -lW "$work/shapes" | awk '$1=="LOAD"{print $2, $3, $6}' | while read -r offset vaddr size; do
		if [ "$v" -ge $((vaddr)) ] && [ "$v" -lt $((vaddr + size)) ]; then
			printf '0x%x\n' $((v - vaddr + offset + $2))
			break
		fi
	done
}
timed() { # shape, probes (uprobe_events lines, or empty)
	echo > $T/uprobe_events
	if [ -n "$2" ]; then
		printf '%s\n' "$2" >> $T/uprobe_events
		for e in $T/events/uprobes/*/enable; do echo 1 > "$e"; done
	fi
	"$work/shapes" "$1" "$calls"
	if [ -n "$2" ]; then for e in $T/events/uprobes/*/enable; do echo 0 > "$e"; done; fi
	echo > $T/uprobe_events
}
echo "| function's first instructions | probed at | none | entry probe | entry + return probes | (ns per call, $calls calls, $(uname -r)) |"
echo "| --- | --- | --- | --- | --- | --- |"
for shape in sub push cet_push cet_sub push_r13 cet_mov; do
	for offset in 0 4; do
		case $shape in cet_*) ;; *) [ $offset = 0 ] || continue ;; esac
		p=$(at $shape $offset)
		none=$(timed $shape "")
		entry=$(timed $shape "p:uc_e $work/shapes:$p")
		both=$(timed $shape "p:uc_e $work/shapes:$p
r:uc_r $work/shapes:$p")
		echo "| $shape | +$offset | $none | $entry | $both | |"
	done
done
lib=$(ldconfig -p | awk '/libssl\.so\.3 /{print $NF; exit}')
if [ -n "$lib" ]; then
	echo
	echo "This machine's $lib:"
	for f in SSL_read SSL_write; do
		a=$(nm -D "$lib" | awk -v f="$f" '$3==f || $3 ~ "^"f"@@"{print $1; exit}')
		echo "  $f: $(objdump -d --start-address=0x$a --stop-address=$(printf '0x%x' $((0x$a + 8))) "$lib" | awk -F'\t' '/^ +[0-9a-f]+:/{print $3}' | head -1)"
	done
fi
