#!/usr/bin/env python3
"""Latency below saturation: nginx at a fixed request rate, untraced and traced, in one run.

wrk keeps every connection busy, so its p99 at saturation is mostly queueing, and on a shared
2-core machine it moves by several times between windows. Here benchmarks/latency/paced.c sends
at a fixed rate (open loop: a request's latency runs from when it was due), so a traced window
and an untraced one see the same offered load, and the tail shows what tracing adds to it: the
programs on every request, and the agent's reader taking a core for its bursts.

Rounds alternate the configurations; the table shows medians over rounds, nginx's CPU per request
(its workers' utime + stime over the window: the BPF programs run in their syscalls), and spans
seen against requests sent (every request sent, the warm-up included, must be one span).

usage: sudo python3 benchmarks/latency.py [--rate 20000] [--connections 16] [--seconds 10]
                                          [--rounds 3] [--agent DLL ...] [--max-steal-ms 100] [--floor]
                                          [--select port|pid] [--idle-agent]
--agent: an agent build (repeat for an A/B); default: this tree's, built first. --floor: also a
window under every hook the socket probe set attaches, with no-op programs
(benchmarks/syscall_hooks), which tells the hooks' share from the agent's. A window during
which the hypervisor took more than --max-steal-ms of CPU is measured again (up to --redo times
in all): on a shared VM such a window says nothing about tracing. --idle-agent: also a window with
the (first) agent build tracing an idle process instead of nginx, which tells the cost of the
agent's presence (its programs stop at the pid check, its threads wait) from that of tracing nginx.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from agentbench import FLOORS, ROOT, agent_label, build_floor, children, cpu_ms, start_agent, start_floor, steal_ms, stop_agent, wait_port, write_nginx_conf

sys.dont_write_bytecode = True  # no __pycache__ in the tree from importing kernel_cost
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_cost import free_port, owned_programs, prog_stats, wait_programs_freed  # noqa: E402


def paced(binary, port, a):
    out = subprocess.run([binary, str(port), "/hello", str(a.rate), str(a.connections), str(a.warmup), str(a.seconds)],
                         check=True, capture_output=True, text=True).stdout
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", out)}


IDLE_AGENT = "idle agent"


def window(binary, port, a, config, loader, selection, server_pids):
    """One window at the fixed rate: traced by the agent build config (its summary checked), under
    the floor's no-op programs (config in FLOORS), with an agent that traces another process
    (config IDLE_AGENT), or untraced (None). selection: the agent options that select nginx
    ("nginx"), and the build and options of the idle agent (IDLE_AGENT). server_pids: nginx's
    workers, whose CPU per request is measured (the programs run in their syscalls)."""
    agent = floor = None
    ours = set()
    if config in FLOORS:
        floor = start_floor(loader, config)
        ours = owned_programs(floor.pid) & set(prog_stats())
    elif config:
        build, options = (selection[IDLE_AGENT] if config == IDLE_AGENT else (config, selection["nginx"]))
        agent, _ = start_agent(build, *options, "--quiet")
        ours = owned_programs(agent.pid) & set(prog_stats())
    try:
        steal0 = steal_ms()
        cpu0 = sum(cpu_ms(server_pids))
        r = paced(binary, port, a)
        r["server_us"] = (sum(cpu_ms(server_pids)) - cpu0) * 1000 / max(r["sent"], 1)
        r["steal_ms"] = steal_ms() - steal0
    finally:
        if agent:
            time.sleep(1)  # the last spans through the ring buffer
            spans, lost, _ = stop_agent(agent)
        if floor:
            floor.terminate()
            floor.wait()
        wait_programs_freed(ours)
    if agent:
        r["spans"], r["lost"] = spans, lost
    return r


def label_of(config):
    return "untraced" if config is None else config if config in FLOORS or config == IDLE_AGENT else agent_label(config)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=20000, help="requests per second (default 20000)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10, help="each measured window (default 10)")
    ap.add_argument("--warmup", type=float, default=2, help="unmeasured seconds at the start of each window")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--agent", action="append", help="a built beyla-agent.dll (repeat for an A/B)")
    ap.add_argument("--max-steal-ms", type=float, default=100,
                    help="measure a window again when the hypervisor took more CPU than this during it (default 100)")
    ap.add_argument("--redo", type=int, default=6, help="windows that may be measured again (default 6)")
    ap.add_argument("--select", choices=["port", "pid"], default="port",
                    help="how the agent selects nginx: by its port (rescanned every second), or by the pids of its processes")
    ap.add_argument("--idle-agent", action="store_true",
                    help="also a window with the agent tracing an idle process, not nginx")
    ap.add_argument("--floor", action="store_true",
                    help="also every hook the socket probe set attaches, with programs that return at once")
    a = ap.parse_args()
    agents = a.agent
    if not agents:
        subprocess.run(["dotnet", "build", os.path.join(ROOT, "samples/Beyla.Agent"), "-c", "Release", "-nologo", "-v", "quiet"], check=True)
        agents = [os.path.join(ROOT, "samples/Beyla.Agent/bin/Release/net10.0/beyla-agent.dll")]
    work = tempfile.mkdtemp(prefix="beyla-latency-")
    binary = os.path.join(work, "paced")
    subprocess.run(["clang-14", "-O2", "-pthread", os.path.join(ROOT, "benchmarks/latency/paced.c"), "-o", binary], check=True)
    port = free_port()
    conf = write_nginx_conf(work, port)
    nginx = subprocess.Popen(["nginx", "-c", conf, "-p", work], stdout=subprocess.DEVNULL)
    floors = ["hooks only"] if a.floor else []
    loader = build_floor(work) if a.floor else None
    configs = [None] + agents + ([IDLE_AGENT] if a.idle_agent else []) + floors
    results = {c: [] for c in configs}
    idle = None
    try:
        wait_port(port, nginx, "nginx")
        workers = children(nginx.pid)
        selection = {"nginx": (["--port", str(port)] if a.select == "port"
                               else [x for pid in [nginx.pid] + workers for x in ("--pid", str(pid))])}
        if a.idle_agent:
            idle = subprocess.Popen(["sleep", "infinity"])
            selection[IDLE_AGENT] = (agents[0], ["--pid", str(idle.pid)])
        paced(binary, port, argparse.Namespace(rate=a.rate, connections=a.connections, warmup=0, seconds=3))  # warm nginx
        redone = 0
        for r in range(a.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for c in order:
                label = label_of(c)
                res = window(binary, port, a, c, loader, selection, workers)
                while res["steal_ms"] > a.max_steal_ms and redone < a.redo:
                    print(f"round {r + 1}/{a.rounds} {label:>12}: {res['steal_ms']:.0f} ms stolen, measured again", flush=True)
                    redone += 1
                    res = window(binary, port, a, c, loader, selection, workers)
                results[c].append(res)
                extra = f"  spans={res['spans']} lost={res['lost']}" if c in agents or c == IDLE_AGENT else ""
                print(f"round {r + 1}/{a.rounds} {label:>12}: p50 {res['p50_ns'] / 1e3:.0f} µs  p99 {res['p99_ns'] / 1e3:.0f} µs  "
                      f"p99.9 {res['p999_ns'] / 1e3:.0f} µs  max {res['max_ns'] / 1e3:.0f} µs  nginx CPU {res['server_us']:.2f} µs/request  "
                      f"sent={res['sent']} late={res['late']}  "
                      f"stolen {res['steal_ms']:.0f} ms{extra}",
                      flush=True)
    finally:
        nginx.send_signal(signal.SIGTERM)
        nginx.wait(timeout=30)
        if idle:
            idle.kill()
            idle.wait()

    def med(c, k):
        return statistics.median(x[k] for x in results[c])

    print()
    stolen = sum(x["steal_ms"] for c in configs for x in results[c])
    print(f"{time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} cores; nginx (2 workers), {a.rate:,.0f} requests/s "
          f"over {a.connections} keep-alive connections, {a.rounds} rounds of {a.seconds:g} s (+{a.warmup:g} s warm-up), medians; "
          f"{stolen:.0f} ms stolen by the hypervisor in all")
    print()
    print("| configuration | p50 µs | p99 µs | × untraced | p99.9 µs | × untraced | nginx CPU µs / request | late sends | spans / requests sent |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    base99, base999 = med(None, "p99_ns"), med(None, "p999_ns")
    for c in configs:
        label = (f"traced ({agent_label(c)})" if c in agents
                 else f"agent tracing another process ({agent_label(agents[0])})" if c == IDLE_AGENT else label_of(c))
        spans = ""
        if c in agents:
            sent = sum(x["sent"] for x in results[c])
            seen = sum(x["spans"] for x in results[c])
            lost = sum(x["lost"] for x in results[c])
            spans = f"{seen:,} / {sent:,}" + (f" (lost {lost})" if lost else "")
        elif c == IDLE_AGENT:
            spans = f"{sum(x['spans'] for x in results[c]):,} (none expected)"
        late = sum(x["late"] for x in results[c])
        print(f"| {label} | {med(c, 'p50_ns') / 1e3:.0f} | {med(c, 'p99_ns') / 1e3:.0f} | {med(c, 'p99_ns') / base99:.2f} | "
              f"{med(c, 'p999_ns') / 1e3:.0f} | {med(c, 'p999_ns') / base999:.2f} | {med(c, 'server_us'):.2f} | {late} | {spans} |")
    bad = [c for c in agents if sum(x["spans"] + x["lost"] for x in results[c]) != sum(x["sent"] for x in results[c])]
    if a.idle_agent and sum(x["spans"] for x in results[IDLE_AGENT]):
        bad.append(IDLE_AGENT)
    for c in bad:
        print(f"  spans + lost != requests sent for {label_of(c)}" if c != IDLE_AGENT else "  the idle agent reported spans", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
