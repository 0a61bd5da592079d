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

Needs root and clang-14 (scripts/setup.sh); run with no other tracer loaded.
usage: sudo python3 benchmarks/pingpong.py [--rounds 5] [--exchanges 200000] [--agent DLL ...]
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def label(agent_dll):
    """The checkout an agent build comes from (the directory above samples/)."""
    head, _, _ = agent_dll.partition("/samples/")
    return os.path.basename(head) or agent_dll


def timed(binary, exchanges):
    return float(sh(binary, str(exchanges)).strip())


def with_agent(agent_dll, work, exchanges):
    """Starts an agent that traces programs named pingpong, runs pingpong_other (untraced) and
    pingpong (traced), stops the agent; returns (untraced ns, traced ns, spans, lost)."""
    agent = subprocess.Popen(["dotnet", agent_dll, "--exe", "pingpong", "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "ready" not in line:
            line = agent.stderr.readline()
            if not line:
                raise SystemExit("agent ended before it was ready")
        untraced = timed(os.path.join(work, "pingpong_other"), exchanges)
        traced = timed(os.path.join(work, "pingpong"), exchanges)
    finally:
        agent.send_signal(signal.SIGTERM)
    _, stderr = agent.communicate(timeout=60)
    m = re.search(r"summary: spans=(\d+) lost=(\d+)", stderr)
    if not m:
        raise SystemExit(f"no summary from the agent: {stderr}")
    return untraced, traced, int(m.group(1)), int(m.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--exchanges", type=int, default=200000, help="exchanges per timed run")
    ap.add_argument("--agent", action="append", help="a built beyla-agent.dll (repeatable: A/B); default: build this tree's")
    a = ap.parse_args()
    agents = a.agent
    if not agents:
        sh("dotnet", "build", os.path.join(ROOT, "samples/Beyla.Agent"), "-c", "Release", "-nologo", "-v", "quiet")
        agents = [os.path.join(ROOT, "samples/Beyla.Agent/bin/Release/net10.0/beyla-agent.dll")]
    work = tempfile.mkdtemp(prefix="beyla-pingpong-")
    try:
        sh("clang-14", "-O2", os.path.join(ROOT, "benchmarks/syscall_hooks/pingpong.c"), "-o", os.path.join(work, "pingpong"))
        shutil.copy(os.path.join(work, "pingpong"), os.path.join(work, "pingpong_other"))
        none = []
        results = {dll: {"untraced": [], "traced": [], "spans": 0, "lost": 0} for dll in agents}
        for r in range(a.rounds):
            none.append(timed(os.path.join(work, "pingpong"), a.exchanges))
            for dll in agents:
                u, t, spans, lost = with_agent(dll, work, a.exchanges)
                res = results[dll]
                res["untraced"].append(u)
                res["traced"].append(t)
                res["spans"] += spans
                res["lost"] += lost
                print(f"round {r + 1}/{a.rounds}  none {none[-1]:.0f} ns  {label(dll)}: "
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
            print(f"| {label(dll)} | {base:.0f} | {u:.0f} | {t:.0f} | {added_u:+.0f} | {added_t:+.0f} | "
                  f"{res['spans']:,} / {expected:,} (lost {res['lost']}) |")
            if res["spans"] + res["lost"] != expected:
                print(f"  spans + lost != expected for {dll}: something went by uncounted")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
