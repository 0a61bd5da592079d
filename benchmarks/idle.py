#!/usr/bin/env python3
"""What the sample agent costs while there is nothing to trace.

Starts nginx (2 workers, no traffic) on a loopback port and the agent tracing that port
(`--port`, so that the rescans look for listeners), lets it warm up (--warmup, 40 s by
default: the runtime re-JITs hot methods in the first half minute), then reads the CPU time
(utime + stime) of each of its threads over a window (--seconds, 30) and reports ms of CPU per
second, per thread and in all. With several builds (--agent A.dll --agent B.dll) each round
runs every build in turn; the medians over rounds are reported.

Needs root (scripts/setup.sh first). Run nothing else that traces.
usage: sudo python3 benchmarks/idle.py [--rounds 1] [--warmup 40] [--seconds 30] [--agent DLL ...]
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from agentbench import agent_label, start_agent, write_nginx_conf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def thread_cpu(pid):
    """{thread name: CPU ticks} of a process's threads (threads of one name added up)."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                before, _, after = f.read().rpartition(")")
            name = before.partition("(")[2]
            fields = after.split()
            ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return ticks


def measure(agent_dll, port, warmup, seconds):
    agent, _ = start_agent(agent_dll, "--port", str(port), "--quiet")
    try:
        time.sleep(warmup)
        start = thread_cpu(agent.pid)
        time.sleep(seconds)
        end = thread_cpu(agent.pid)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=60)
    clk = os.sysconf("SC_CLK_TCK")
    per_thread = {name: (end[name] - start.get(name, 0)) * 1000 / clk / seconds for name in end}
    return sum(per_thread.values()), {k: v for k, v in per_thread.items() if v > 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--agent", action="append", help="a built beyla-agent.dll (repeatable: A/B); default: build this tree's")
    a = ap.parse_args()
    agents = a.agent
    if not agents:
        subprocess.run(["dotnet", "build", os.path.join(ROOT, "samples/Beyla.Agent"), "-c", "Release", "-nologo", "-v", "quiet"],
                       check=True, capture_output=True)
        agents = [os.path.join(ROOT, "samples/Beyla.Agent/bin/Release/net10.0/beyla-agent.dll")]
    work = tempfile.mkdtemp(prefix="beyla-idle-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = write_nginx_conf(work, port)
    nginx = subprocess.Popen(["nginx", "-c", conf, "-p", work], stdout=subprocess.DEVNULL)
    totals = {agent: [] for agent in agents}
    try:
        time.sleep(1)
        for r in range(a.rounds):
            for agent in agents:
                total, per_thread = measure(agent, port, a.warmup, a.seconds)
                totals[agent].append(total)
                threads = ", ".join(f"{k} {v:.2f}" for k, v in sorted(per_thread.items(), key=lambda kv: -kv[1]))
                print(f"round {r + 1}/{a.rounds}  {agent_label(agent)}: {total:.2f} ms CPU/s  ({threads})", flush=True)
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nidle agent, ms of CPU per second after {a.warmup} s of warm-up, over {a.seconds} s (median of {a.rounds} rounds)")
    print("| agent | ms CPU / s |\n| --- | --- |")
    for agent in agents:
        print(f"| {agent_label(agent)} | {statistics.median(totals[agent]):.2f} |")


if __name__ == "__main__":
    sys.exit(main())
