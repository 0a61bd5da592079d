#!/usr/bin/env python3
"""What tracing adds to one HTTP exchange in the worst case: no work between the syscalls.

benchmarks/syscall_hooks/pingpong.c is one thread that is both client and server on a loopback
TCP connection: write (request), recv, writev (response head and body), read, N times. It is
timed (ns per exchange):
  - none:      no agent;
  - untraced:  an agent runs, tracing a program of another name (what every process on the
               machine pays: the hooks' early exit);
  - traced:    the agent traces it (two spans per exchange, client and server; every span the
               agent must report, 2 x N per run, is checked against its summary line).
Rounds alternate (none, untraced, traced), so that the machine's noise falls on all three; the
medians are reported. With several agent builds (--agent A.dll --agent B.dll), each round runs
every build in turn: an A/B of two commits on the same machine at the same time.

--agent-cpu measures the agent instead: its CPU time (utime + stime of every thread) and its
threads' context switches while it traces one long run (--exchanges, 1,000,000 by default, after
300,000 unmeasured to warm it up), per 1,000 spans. Runs of about a second do not do for that:
the agent's fixed cost for a newly traced process swamps its cost per span.

--floor adds the floor under any tracer on these hooks: pingpong timed with no-op programs on
every tracepoint the socket probe set uses (benchmarks/syscall_hooks/floor.bpf.c), and on the
syscall tracepoints it used before (and still does on kernels without the socket layer's;
agentbench.FLOORS). The difference to "none" is what the hooks cost whatever their programs do.

--bpf-time measures the kernel side instead: with kernel.bpf_stats_enabled=1, each BPF program's
run time per exchange (bpftool prog show) while the agent traces a run, medians over rounds. The
stats add two clock reads per program run: compare builds with each other, not with the
figures measured without them.

Needs root and clang-14 (scripts/setup.sh); run with no other tracer loaded.
usage: sudo python3 benchmarks/pingpong.py [--rounds 5] [--exchanges 200000] [--agent DLL ...] [--floor] [--agent-cpu | --bpf-time]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from agentbench import FLOORS, agent_label, build_floor, start_agent, start_floor, stop_agent

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def timed(binary, exchanges):
    return float(sh(binary, str(exchanges)).strip())


def start_pingpong_agent(agent_dll):
    """An agent that traces programs named pingpong, started and ready."""
    return start_agent(agent_dll, "--exe", "pingpong", "--quiet")[0]


def with_agent(agent_dll, work, exchanges):
    """Starts an agent that traces programs named pingpong, runs pingpong_other (untraced) and
    pingpong (traced), stops the agent; returns (untraced ns, traced ns, spans, lost)."""
    agent = start_pingpong_agent(agent_dll)
    try:
        untraced = timed(os.path.join(work, "pingpong_other"), exchanges)
        traced = timed(os.path.join(work, "pingpong"), exchanges)
    finally:
        spans, lost, stderr = stop_agent(agent)
    if spans + lost != 2 * exchanges:
        # Never expected: show what the agent said (a drain abandoned at dispose, for example).
        print(f"  {agent_label(agent_dll)}: spans={spans} lost={lost}, expected {2 * exchanges}; agent's stderr:\n{stderr}", flush=True)
    return untraced, traced, spans, lost


def agent_cpu(agent_dll, work, warm, exchanges):
    """Traces a warm-up run, then a measured one; returns (agent CPU ms, context switches, spans, lost)
    for the measured run (spans and lost are the agent's whole count: both runs)."""
    agent = start_pingpong_agent(agent_dll)
    clk = os.sysconf("SC_CLK_TCK")

    def snapshot():
        cpu = switches = 0
        for tid in os.listdir(f"/proc/{agent.pid}/task"):
            try:
                with open(f"/proc/{agent.pid}/task/{tid}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()
                cpu += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
                with open(f"/proc/{agent.pid}/task/{tid}/status") as f:
                    switches += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
            except FileNotFoundError:
                pass  # a thread that ended meanwhile
        return cpu * 1000 / clk, switches

    try:
        timed(os.path.join(work, "pingpong"), warm)
        time.sleep(0.5)
        cpu0, sw0 = snapshot()
        timed(os.path.join(work, "pingpong"), exchanges)
        time.sleep(0.3)  # the last spans through the ring buffer
        cpu1, sw1 = snapshot()
    finally:
        spans, lost, _ = stop_agent(agent)
    return cpu1 - cpu0, sw1 - sw0, spans, lost


def program_stats():
    """Every loaded BPF program by id, from bpftool."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True, check=True).stdout
    return {p["id"]: p for p in json.loads(out)}


def bpf_time(agent_dll, work, exchanges):
    """The run time per exchange of each program the agent loaded, while it traces one run."""
    before = set(program_stats())
    agent = start_pingpong_agent(agent_dll)
    try:
        ours = set(program_stats()) - before
        timed(os.path.join(work, "pingpong"), 20_000)  # warm-up
        start = program_stats()
        timed(os.path.join(work, "pingpong"), exchanges)
        end = program_stats()
    finally:
        stop_agent(agent)
    per_program = {}
    for i in ours & set(start) & set(end):
        ns = end[i].get("run_time_ns", 0) - start[i].get("run_time_ns", 0)
        if end[i].get("run_cnt", 0) > start[i].get("run_cnt", 0):
            name = end[i].get("name", str(i))
            per_program[name] = per_program.get(name, 0) + ns / exchanges
    return per_program


def report_bpf_time(a, agents, work):
    stats_path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(stats_path) as f:
        previous = f.read().strip()
    times = {dll: [] for dll in agents}
    try:
        with open(stats_path, "w") as f:
            f.write("1")
        for r in range(a.rounds):
            for dll in agents:
                t = bpf_time(dll, work, a.exchanges)
                times[dll].append(t)
                print(f"round {r + 1}/{a.rounds}  {agent_label(dll)}: {sum(t.values()):.0f} ns of BPF time per exchange", flush=True)
    finally:
        with open(stats_path, "w") as f:
            f.write(previous)
    names = sorted({n for runs in times.values() for t in runs for n in t},
                   key=lambda n: -max(statistics.median(t.get(n, 0) for t in times[dll]) for dll in agents))
    print()
    print(f"BPF run time per exchange (2 spans), ns, median of {a.rounds} rounds of {a.exchanges:,} exchanges; bpf_stats on")
    print("| program | " + " | ".join(agent_label(dll) for dll in agents) + " |")
    print("| --- |" + " --- |" * len(agents))
    for n in names:
        medians = [statistics.median(t.get(n, 0) for t in times[dll]) for dll in agents]
        if max(medians) >= 0.5:  # programs that did not run per exchange (exec, exit, ...) are left out
            print(f"| {n} | " + " | ".join(f"{m:.0f}" for m in medians) + " |")
    print("| **total** | " + " | ".join(f"**{statistics.median(sum(t.values()) for t in times[dll]):.0f}**" for dll in agents) + " |")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--exchanges", type=int, default=200000, help="exchanges per timed run")
    ap.add_argument("--agent", action="append", help="a built beyla-agent.dll (repeatable: A/B); default: build this tree's")
    ap.add_argument("--agent-cpu", action="store_true", help="measure the agent's CPU and context switches per 1,000 spans instead")
    ap.add_argument("--floor", action="store_true", help="also time pingpong under no-op programs on the same hooks")
    ap.add_argument("--bpf-time", action="store_true", help="measure each BPF program's run time per exchange instead (bpf_stats)")
    a = ap.parse_args()
    if a.agent_cpu and "--exchanges" not in sys.argv:
        a.exchanges = 1_000_000
    agents = a.agent
    if not agents:
        sh("dotnet", "build", os.path.join(ROOT, "samples/Beyla.Agent"), "-c", "Release", "-nologo", "-v", "quiet")
        agents = [os.path.join(ROOT, "samples/Beyla.Agent/bin/Release/net10.0/beyla-agent.dll")]
    work = tempfile.mkdtemp(prefix="beyla-pingpong-")
    try:
        sh("clang-14", "-O2", os.path.join(ROOT, "benchmarks/syscall_hooks/pingpong.c"), "-o", os.path.join(work, "pingpong"))
        shutil.copy(os.path.join(work, "pingpong"), os.path.join(work, "pingpong_other"))
        if a.agent_cpu:
            return report_agent_cpu(a, agents, work)
        if a.bpf_time:
            return report_bpf_time(a, agents, work)
        none = []
        results = {dll: {"untraced": [], "traced": [], "spans": 0, "lost": 0} for dll in agents}
        loader = build_floor(work) if a.floor else None
        floors = {f: [] for f in FLOORS} if a.floor else {}
        for r in range(a.rounds):
            none.append(timed(os.path.join(work, "pingpong"), a.exchanges))
            for f, times in floors.items():
                floor = start_floor(loader, f)
                try:
                    times.append(timed(os.path.join(work, "pingpong"), a.exchanges))
                finally:
                    floor.terminate()
                    floor.wait()
                print(f"round {r + 1}/{a.rounds}  {f}: {times[-1]:.0f} ns", flush=True)
            for dll in agents:
                u, t, spans, lost = with_agent(dll, work, a.exchanges)
                res = results[dll]
                res["untraced"].append(u)
                res["traced"].append(t)
                res["spans"] += spans
                res["lost"] += lost
                print(f"round {r + 1}/{a.rounds}  none {none[-1]:.0f} ns  {agent_label(dll)}: "
                      f"untraced {u:.0f} ns  traced {t:.0f} ns  spans={spans} lost={lost}", flush=True)
        base = statistics.median(none)
        print()
        print(f"{a.rounds} rounds of {a.exchanges:,} exchanges; medians, ns per exchange (two spans when traced)")
        print("(added: the median over rounds of each round's difference to that round's run without agent)")
        print(f"| agent | none | untraced (agent loaded) | traced | added, untraced | added, traced | spans / expected |")
        print(f"| --- | --- | --- | --- | --- | --- | --- |")
        for dll in agents:
            res = results[dll]
            u = statistics.median(res["untraced"])
            t = statistics.median(res["traced"])
            added_u = statistics.median(x - n for x, n in zip(res["untraced"], none))
            added_t = statistics.median(x - n for x, n in zip(res["traced"], none))
            expected = 2 * a.exchanges * a.rounds
            print(f"| {agent_label(dll)} | {base:.0f} | {u:.0f} | {t:.0f} | {added_u:+.0f} | {added_t:+.0f} | "
                  f"{res['spans']:,} / {expected:,} (lost {res['lost']}) |")
            if res["spans"] + res["lost"] != expected:
                print(f"  spans + lost != expected for {dll}: something went by uncounted")
        for f, times in floors.items():
            added = statistics.median(x - n for x, n in zip(times, none))
            print(f"| {f} (no-op programs) | {base:.0f} | | {statistics.median(times):.0f} | | {added:+.0f} | |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report_agent_cpu(a, agents, work):
    warm = 300_000
    per_k = {dll: [] for dll in agents}
    switches = {dll: [] for dll in agents}
    uncounted = []
    for r in range(a.rounds):
        for dll in agents:
            cpu, sw, spans, lost = agent_cpu(dll, work, warm, a.exchanges)
            k = 2 * a.exchanges / 1000
            per_k[dll].append(cpu / k)
            switches[dll].append(sw / k)
            if spans + lost != 2 * (warm + a.exchanges):
                uncounted.append(f"{agent_label(dll)} round {r + 1}: spans={spans} lost={lost}, expected {2 * (warm + a.exchanges)}")
            print(f"round {r + 1}/{a.rounds}  {agent_label(dll)}: agent {cpu:.0f} ms CPU, {sw} context switches "
                  f"for {2 * a.exchanges:,} spans  (spans={spans} lost={lost})", flush=True)
    print()
    print(f"{a.rounds} rounds; agent per 1,000 spans while it traced {a.exchanges:,} exchanges (medians; range)")
    print("| agent | CPU ms / 1k spans | context switches / 1k spans |")
    print("| --- | --- | --- |")
    for dll in agents:
        c, s = per_k[dll], switches[dll]
        print(f"| {agent_label(dll)} | {statistics.median(c):.2f} ({min(c):.2f}–{max(c):.2f}) | "
              f"{statistics.median(s):.1f} ({min(s):.1f}–{max(s):.1f}) |")
    for line in uncounted:
        print(f"  spans + lost != expected: {line}: something went by uncounted")
    return 1 if uncounted else 0


if __name__ == "__main__":
    sys.exit(main())
