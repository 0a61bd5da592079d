#!/usr/bin/env python3
"""Where the BPF programs spend their time, by source line: a perf profile of traced nginx mapped
onto the lines of socket.bpf.c and http_tracker.h.

Starts nginx (2 workers) on a loopback port, the sample agent tracing it (--quiet), and wrk
against it; records every CPU with perf (cpu-clock, call graphs) while wrk runs; then, with the
agent's programs still loaded, reads where the JIT put each source line (bpf_lines/jitlines.c:
the program's line info and machine code, as `bpftool prog dump jited linum` would print them
with libbfd). Each sample whose call chain passes through one of the chosen programs is charged
to the program's source line it was in, or to the kernel function the program had called
(helpers, map lookups, and what they call in turn). bpf_stats stays off: its two clock reads per
run would be charged to the programs' entry.

cpu-clock samples land where interrupts were enabled again: time spent with interrupts off (the
ring buffer's reserve) shows at the instruction after. Samples at a program's first
instructions are the cost of the indirect call into it.

usage: sudo python3 benchmarks/bpf_lines.py [--seconds 8] [--programs sock_send,sock_recv] [--tls] [--server kestrel]
                                           [--annotate socket.bpf.c:143] [--agent DLL]
"""
import argparse
import bisect
import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentbench import ROOT, start_agent, write_nginx_conf  # noqa: E402
from kernel_cost import free_port, kestrel_test_server, nginx_tls_options, owned_programs, prog_stats, sh  # noqa: E402


def program_layout(jitlines, prog_id, work):
    """(functions [(address, length)], lines sorted [(address, "file:line")], machine code)."""
    image = os.path.join(work, f"{prog_id}.img")
    funcs, lines = [], []
    for row in sh(jitlines, str(prog_id), image).splitlines():
        f = row.split("\t")
        if f[0] == "func":
            funcs.append((int(f[1], 16), int(f[2])))
        elif f[0] == "line":
            lines.append((int(f[1], 16), f[2]))
    lines.sort()
    with open(image, "rb") as f:
        return funcs, lines, f.read()


def samples(perf_data):
    """Each sample's call chain, leaf first, as [(address, symbol)]."""
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "ip,sym"], capture_output=True, text=True).stdout
    for block in out.split("\n\n"):
        chain = []
        for row in block.strip().splitlines():
            parts = row.split(None, 1)
            if len(parts) == 2 and re.fullmatch(r"[0-9a-f]+", parts[0]):
                chain.append((int(parts[0], 16), parts[1].split("+")[0]))
        if chain:
            yield chain


def annotate(name, funcs, lines, image, where, hits):
    """The machine code of one source line with the samples at each instruction."""
    addrs = [a for a, _ in lines]
    offset = 0
    print(f"\n{name}, {where}: samples per instruction")
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        for start, length in funcs:
            f.seek(0)
            f.truncate()
            f.write(image[offset:offset + length])
            f.flush()
            offset += length
            listing = sh("objdump", "-D", "-b", "binary", "-mi386:x86-64", f"--adjust-vma={start:#x}", f.name)
            for row in listing.splitlines():
                m = re.match(r"\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(.*)$", row)
                if not m:
                    continue
                address = int(m.group(1), 16)
                i = bisect.bisect_right(addrs, address) - 1
                if i >= 0 and lines[i][1] == where:
                    print(f"{hits.get(address, 0):6d}  {m.group(2)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--programs", default="sock_send,sock_recv,tcp_send_enter")
    ap.add_argument("--annotate", action="append", default=[], metavar="FILE:LINE",
                    help="also print the machine code of this source line with its samples (repeatable)")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--tls", action="store_true", help="over HTTPS (then ssl_enter and ssl_exit are worth choosing)")
    ap.add_argument("--server", choices=["nginx", "kestrel"], default="nginx",
                    help="kestrel: the test server (tests/Beyla.TestServer), whose TLS goes through memory BIOs")
    ap.add_argument("--agent", help="a built beyla-agent.dll; default: build this tree's")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bpf_lines.py needs root (BPF, perf -a)")
    wanted = a.programs.split(",")
    agent_dll = a.agent
    if not agent_dll:
        sh("dotnet", "build", os.path.join(ROOT, "samples/Beyla.Agent"), "-c", "Release", "-nologo", "-v", "quiet")
        agent_dll = os.path.join(ROOT, "samples/Beyla.Agent/bin/Release/net10.0/beyla-agent.dll")
    work = tempfile.mkdtemp(prefix="beyla-lines-")
    jitlines = os.path.join(work, "jitlines")
    sh("clang-14", "-O2", os.path.join(ROOT, "benchmarks/bpf_lines/jitlines.c"), "-o", jitlines, "-lbpf")
    port = free_port()
    conf = write_nginx_conf(work, port, *nginx_tls_options(work, a.tls))  # also the certificate
    if a.server == "nginx":
        nginx = subprocess.Popen(["nginx", "-c", conf, "-p", work], stdout=subprocess.DEVNULL)
    else:
        command, environment = kestrel_test_server(work, port, a.tls)
        nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=environment)
    agent = None
    try:
        time.sleep(1 if a.server == "nginx" else 4)
        agent, _ = start_agent(agent_dll, "--port", str(port), "--quiet")
        url = f"{'https' if a.tls else 'http'}://127.0.0.1:{port}/{'' if a.server == 'nginx' else 'hello/1'}"
        sh("wrk", "-t2", f"-c{a.connections}", "-d2s", url)  # warm-up
        perf_data = os.path.join(work, "perf.data")
        perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "4999", "-o", perf_data, "--", "sleep", str(a.seconds)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = sh("wrk", "-t2", f"-c{a.connections}", f"-d{a.seconds}s", url)
        perf.wait()
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
        stats = prog_stats()
        layouts = {}
        for i in owned_programs(agent.pid) & set(stats):
            if stats[i].get("name") in wanted:
                layouts[stats[i]["name"]] = program_layout(jitlines, i, work)
    finally:
        if agent:
            agent.send_signal(signal.SIGTERM)
            agent.communicate(timeout=60)
        nginx.send_signal(signal.SIGTERM)
        nginx.wait()

    # which program (if any) each address belongs to, and its source line
    ranges = sorted((start, start + length, name) for name, (funcs, _, _) in layouts.items() for start, length in funcs)
    starts = [r[0] for r in ranges]

    def program_of(address):
        i = bisect.bisect_right(starts, address) - 1
        return ranges[i][2] if i >= 0 and address < ranges[i][1] else None

    line_starts = {name: [x for x, _ in lines] for name, (_, lines, _) in layouts.items()}
    per_program = {name: collections.Counter() for name in layouts}
    totals = collections.Counter()
    hits = collections.Counter()
    all_samples = 0
    for chain in samples(perf_data):
        all_samples += 1
        for depth, (address, _) in enumerate(chain):
            name = program_of(address)
            if not name:
                continue
            totals[name] += 1
            if depth == 0:
                lines = layouts[name][1]
                i = bisect.bisect_right(line_starts[name], address) - 1
                per_program[name][lines[i][1] if i >= 0 else "?"] += 1
                hits[address] += 1
            else:
                per_program[name][f"(kernel) {chain[0][1]}"] += 1
            break

    print(f"{a.server}{' (https)' if a.tls else ''} under wrk -t2 -c{a.connections}: {rps} requests/s; {all_samples} samples on all CPUs in {a.seconds} s")
    for name in wanted:
        if name not in layouts:
            print(f"\n{name}: not loaded")
            continue
        n = totals[name]
        print(f"\n{name}: {n} samples ({100 * n / max(all_samples, 1):.1f} % of all)")
        print("| share | where |")
        print("| --- | --- |")
        for where, k in per_program[name].most_common(a.top):
            print(f"| {100 * k / n:.1f} % | {where} |")
    for where in a.annotate:
        for name, (funcs, lines, image) in layouts.items():
            if any(line == where for _, line in lines):
                annotate(name, funcs, lines, image, where, hits)


if __name__ == "__main__":
    sys.exit(main())
