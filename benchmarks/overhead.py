#!/usr/bin/env python3
"""End-to-end overhead of tracing HTTP servers: untraced, traced from the kernel, and
(Kestrel) instrumented in-process by the OpenTelemetry .NET SDK.

For each server (nginx with 2 workers, 1 when pinned; the Kestrel test server, tests/Beyla.TestServer) it
measures, on loopback with wrk, in interleaved rounds so that the noise of a shared machine
falls on every configuration alike:

  untraced  the server alone
  traced    the server traced by the sample agent (samples/Beyla.Agent, Release) by --pid,
            the agent started before and stopped after each measured window
  otel      (Kestrel) a second Kestrel process started with BEYLA_TESTSERVER_OTEL=1: the
            OpenTelemetry SDK's ASP.NET Core instrumentation, traces through a batch
            processor and metrics through a periodic reader into exporters that count

and with --floor two more, the floor under any tracer on these hooks:

  hooks only            every tracepoint the socket probe set attaches on this kernel, each
                        with a program that returns at once (benchmarks/syscall_hooks/floor.bpf.c)
  syscall hooks         the same for the syscall tracepoints it attaches on kernels without the
                        socket layer's (and did everywhere before 2026-12-05)

and reports per configuration the median requests/s and p99 latency over the rounds, their
ratios to untraced (paired within each round, median over rounds), CPU per 1,000 requests
(the server's, from /proc/<pid>/stat, the agent's, over the measured window only, and wrk's,
which shares the two cores and whose own syscalls pay the hooks' early exits), spans
seen / requests sent, and the BPF programs' run time per request (bpftool,
kernel.bpf_stats_enabled=1, which itself adds two clock reads per program run;
--no-bpf-stats to leave it off).

"Requests sent" is counted by a wrk Lua script (every request wrk wrote, whatever the
status), not wrk's own figure, which leaves out the requests still in flight when it stops.

Another tracer's syscall tracepoint programs (someone else's tests on a shared machine) run
on every syscall of our servers too: the script waits for them to go away before each
window and measures a window again when they were loaded during it (--quiet-wait, --redo).

Needs root; run scripts/setup.sh first (it installs wrk, nginx, bpftool).

With --close wrk sends "Connection: close": a new connection per request, so what the hooks
cost per connection (accept, close, the socket's state changes) shows; wrk then needs about
twice the server's CPU.

With --tls the servers answer HTTPS (a self-signed certificate made for the run): the TLS probe
set's uprobes in the servers' OpenSSL calls are measured too.

With --pin the server (its workers, and the floor's loader) runs on CPU 0 and wrk on CPU 1
(taskset), and the agent on CPU 0 with the server (what it takes, the server loses: the worst
case) or with --pin-agent load on CPU 1 with wrk. Unpinned, a saturated 2-core machine is
bimodal: in some windows wrk and the servers' processes wait on each other and a core idles,
whatever is traced, and throughput falls by a third; pinned, the rounds after the first agree
within a few per cent. Use --threads 1 with it. Pinned, nginx runs one worker: two workers on
one CPU take turns in scheduler slices of several milliseconds once neither runs out of work,
and p99 then measures those slices (0.36 ms untraced against 7.3 ms traced on 2026-12-05, with
either build: tracing made the workers busy enough to stop blocking); with one worker it was
0.24 ms untraced against 2.3 ms traced.

With --server-cpu PCT (with --pin) the server's processes run in a cgroup whose CPU quota is PCT %
of one CPU (cgroup v1's cpu controller, or v2's where it has one), so that the server, not wrk, is
what saturates, as a server with a CPU limit (a container's) does: wrk has a core of its own and
room to spare. The BPF programs run in the server's syscalls and count against its quota; the
agent runs outside it (on CPU 0 with the server, or with --pin-agent load on CPU 1). Without it,
on a machine where wrk needs more CPU per request than the server (2026-12-06: 13.1 against
11.8 ms per 1,000 requests), the pinned runs measure wrk's saturation, not the server's.

With --agent DLL given more than once, every round traces each server with each of those agent
builds in turn ("traced <checkout>" rows): an A/B of two commits in one run, on the same noise.

usage: sudo python3 benchmarks/overhead.py [--seconds 8] [--rounds 3] [--servers nginx,kestrel]
           [--connections 32] [--threads 2] [--warmup 5] [--tls] [--agent-warmup 3] [--quiet-wait 15] [--redo 4] [--no-bpf-stats]
           [--agent CHECKOUT/samples/Beyla.Agent/bin/Release/net10.0/beyla-agent.dll ...] [--floor]
           [--pin [--pin-agent server|load] [--server-cpu PCT]] [--close]
"""
import argparse
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from agentbench import FLOORS, agent_label, build_floor, children, cpu_ms, start_agent, start_floor, steal_ms, stop_agent, wait_port, write_nginx_conf

sys.dont_write_bytecode = True  # no __pycache__ in the tree from importing kernel_cost
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernel_cost import ROOT, free_port, nginx_tls_options, owned_programs, prog_stats, sh, wait_programs_freed  # noqa: E402

AGENT_DLL = os.path.join(ROOT, "samples/Beyla.Agent/bin/Release/net10.0/beyla-agent.dll")
SERVER_DLL = os.path.join(ROOT, "tests/Beyla.TestServer/bin/Release/net10.0/Beyla.TestServer.dll")
PATH = "/hello/1"
AGENTS = []  # every agent started, to kill any still running if the script stops early
DISTURBED = []  # (server, configuration) of windows kept although another tracer was loaded
OUR_PROGRAMS = set()  # ids of every BPF program our agents loaded (freed a little after the agent exits)
SCHEME = ["http"]  # "https" with --tls

# Counts, per wrk thread, every request wrk writes (request() runs once per request, on
# every connection, including retries after a reconnect); done() prints the sum, less the
# one call wrk makes on thread 0 before starting, to check the request
# (script_verify_request in wrk.c), which sends nothing.
WRK_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) sent = 0; req = wrk.format() end
function request() sent = sent + 1; return req end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("sent") end
  io.write(string.format("sent: %d\\n", n - 1))
end
"""


def parse_duration(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]


# --pin: taskset prefixes that put the server (with the agent or the floor's loader) on CPU 0 and
# wrk on CPU 1; empty otherwise.
SERVER_CPU = []
LOAD_CPU = []
AGENT_CPU = []  # the agent's: the server's CPU, or with --pin-agent load wrk's


class CpuQuota:
    """A cgroup whose processes get at most pct % of one CPU: v1's cpu controller where it is
    mounted on its own (/sys/fs/cgroup/cpu), else v2's (/sys/fs/cgroup, or its unified
    mount) where it offers cpu."""

    def __init__(self, name, pct):
        period = 10_000  # µs: throttled for at most a few ms at a time (at 100 ms, p99 was the throttling's ~45 ms)
        quota = int(period * pct / 100)
        v1 = "/sys/fs/cgroup/cpu"
        if os.path.exists(os.path.join(v1, "cpu.cfs_quota_us")):
            self.path = os.path.join(v1, name)
            os.makedirs(self.path, exist_ok=True)
            write(os.path.join(self.path, "cpu.cfs_period_us"), str(period))
            write(os.path.join(self.path, "cpu.cfs_quota_us"), str(quota))
            return
        for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            controllers = os.path.join(root, "cgroup.controllers")
            if os.path.exists(controllers) and "cpu" in open(controllers).read().split():
                write(os.path.join(root, "cgroup.subtree_control"), "+cpu")
                self.path = os.path.join(root, name)
                os.makedirs(self.path, exist_ok=True)
                write(os.path.join(self.path, "cpu.max"), f"{quota} {period}")
                return
        raise SystemExit("--server-cpu: this machine has no cgroup cpu controller (v1 or v2) to set a quota with")

    def add(self, pid):
        write(os.path.join(self.path, "cgroup.procs"), str(pid))

    def remove(self):
        """Removes the cgroup (its processes have exited)."""
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


SERVER_QUOTA = []  # --server-cpu: [CpuQuota] the servers' processes go into


class Server:
    """A server under test: its processes, its port, and what was sent to it."""

    def __init__(self, name, command, port, env=None, cwd=None):
        self.name = name
        self.port = port
        self.out = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen([*SERVER_CPU, *command], stdout=self.out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        if SERVER_QUOTA:  # before it forks workers, which stay in their parent's cgroup
            SERVER_QUOTA[0].add(self.proc.pid)
        wait_port(port, self.proc, name)
        self.sent_total = 0

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.seek(0)
        return self.out.read()


def start_nginx(work, workers, tls):
    port = free_port()
    conf = write_nginx_conf(work, port, *nginx_tls_options(work, tls), workers=workers)
    server = Server("nginx", ["nginx", "-c", conf, "-p", work], port)
    for _ in range(50):  # the workers
        if len(server.pids()) >= 1 + workers:
            break
        time.sleep(0.1)
    for pid in server.pids() if SERVER_QUOTA else []:  # any forked before the master was moved
        SERVER_QUOTA[0].add(pid)
    return server


def start_kestrel(otel, work, tls):
    port = free_port()
    env = dict(os.environ, DOTNET_CLI_TELEMETRY_OPTOUT="1", DOTNET_NOLOGO="1")
    env.pop("BEYLA_TESTSERVER_OTEL", None)
    if otel:
        env["BEYLA_TESTSERVER_OTEL"] = "1"
    if tls:
        nginx_tls_options(work, tls)  # the certificate
        env["ASPNETCORE_Kestrel__Certificates__Default__Path"] = f"{work}/cert.pem"
        env["ASPNETCORE_Kestrel__Certificates__Default__KeyPath"] = f"{work}/key.pem"
    return Server("kestrel+otel" if otel else "kestrel", ["dotnet", SERVER_DLL, "--urls", f"{SCHEME[0]}://127.0.0.1:{port}"], port, env=env)


def children_cpu_ms():
    """User + system CPU, in ms, of this script's finished children (wrk among them) so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000


def wrk(a, server, seconds, lua):
    cpu0 = children_cpu_ms()
    close = ["-H", "Connection: close"] if a.close else []
    out = sh(*LOAD_CPU, "wrk", "-t", str(a.threads), "-c", str(a.connections), "-d", f"{seconds}s", "--latency",
             *close, "-s", lua, f"{SCHEME[0]}://127.0.0.1:{server.port}{PATH}")
    sent = int(re.search(r"^sent: (\d+)", out, re.M).group(1))
    server.sent_total += sent
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "completed": int(re.search(r"(\d+) requests in", out).group(1)),
        "sent": sent,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p99_ms": parse_duration(p99.group(1), p99.group(2)),
        "errors": (errors.group(1) if errors else "") + (f" non-2xx {non2xx.group(1)}" if non2xx else ""),
        "wrk_cpu_ms": children_cpu_ms() - cpu0,
    }


def foreign_tracepoint_programs():
    """Syscall tracepoint programs someone else loaded (another engineer's tests or agent): they
    run on every syscall of our servers too, so a window measured with them loaded is disturbed."""
    return sorted({p.get("name", "?") for i, p in prog_stats().items()
                   if i not in OUR_PROGRAMS and p.get("type") == "tracepoint" and re.match(r"(enter|exit)_", p.get("name", ""))})


def wait_quiet(seconds):
    """Waits up to this long for other tracers to go away; returns those still loaded."""
    deadline = time.monotonic() + seconds
    while (foreign := foreign_tracepoint_programs()) and time.monotonic() < deadline:
        time.sleep(1)
    return foreign


def measure(a, server, config, lua, tracers, loader=None):
    """One measured window: wrk for a.seconds against server, traced (config in tracers: its
    agent build and mode), under the floor's no-op programs (config in FLOORS), or neither."""
    agent = None
    floor = None
    ours = set()
    if config in FLOORS:
        floor = start_floor(loader, config, prefix=SERVER_CPU)
        ours = owned_programs(floor.pid) & set(prog_stats())
        OUR_PROGRAMS.update(ours)
    if config in tracers:
        agent_dll, agent_mode = tracers[config]
        options = [x for pid in server.pids() for x in ("--pid", str(pid))]
        options += ["--quiet"] if agent_mode == "quiet" else ["--json"]
        agent, _ = start_agent(agent_dll, *options, prefix=AGENT_CPU)
        AGENTS.append(agent)
        ours = owned_programs(agent.pid) & set(prog_stats())
        OUR_PROGRAMS.update(ours)
    warm_sent = 0
    if agent and a.agent_warmup:
        # The agent's JIT and pools warm up under load first: a deployed agent runs for hours,
        # so its steady state is what is measured. Those requests are in its span count.
        warm_sent = wrk(a, server, a.agent_warmup, lua)["sent"]
    foreign = foreign_tracepoint_programs()
    start_progs = {i: p for i, p in prog_stats().items() if i in ours}
    server_cpu0 = cpu_ms(server.pids())
    agent_cpu0 = cpu_ms([agent.pid]) if agent else (0, 0)
    steal0 = steal_ms()
    r = wrk(a, server, a.seconds, lua)
    r["warm_sent"] = warm_sent
    r["steal_ms"] = steal_ms() - steal0
    server_cpu1 = cpu_ms(server.pids())
    agent_cpu1 = cpu_ms([agent.pid]) if agent else (0, 0)
    end_progs = prog_stats()
    foreign += foreign_tracepoint_programs()
    r["disturbed"] = sorted(set(foreign))
    r["server_cpu_ms"] = sum(server_cpu1) - sum(server_cpu0)
    r["agent_user_ms"] = agent_cpu1[0] - agent_cpu0[0]
    r["agent_sys_ms"] = agent_cpu1[1] - agent_cpu0[1]
    r["agent_cpu_ms"] = r["agent_user_ms"] + r["agent_sys_ms"]
    r["programs"] = {}
    for i in ours:
        name = end_progs.get(i, start_progs[i]).get("name", "?")
        cnt = end_progs.get(i, {}).get("run_cnt", 0) - start_progs[i].get("run_cnt", 0)
        ns = end_progs.get(i, {}).get("run_time_ns", 0) - start_progs[i].get("run_time_ns", 0)
        old = r["programs"].get(name, (0, 0))
        r["programs"][name] = (old[0] + cnt, old[1] + ns)
    if agent:
        time.sleep(1)  # the last spans through the ring buffer
        r["spans"], r["lost"], err = stop_agent(agent)
        if r["lost"]:  # the agent says why (its warning on stopping)
            for line in err.splitlines():
                if "not reported" in line:
                    print(f"  {config}: {line.strip()}", file=sys.stderr)
        wait_programs_freed(ours)
    if floor:
        floor.terminate()
        floor.wait()
        wait_programs_freed(ours)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=8, help="each measured window (default 8)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over every configuration (default 3)")
    ap.add_argument("--servers", default="nginx,kestrel", help="comma-separated: nginx, kestrel")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5, help="seconds of unmeasured load per server process first")
    ap.add_argument("--agent-warmup", type=int, default=3,
                    help="seconds of unmeasured load on each newly started agent before its window (default 3; 0 measures its start-up too)")
    ap.add_argument("--quiet-wait", type=int, default=15,
                    help="before each window, wait up to this many seconds for other tracers' programs to go away (default 15)")
    ap.add_argument("--redo", type=int, default=4,
                    help="windows disturbed by another tracer that may be measured again (default 4)")
    ap.add_argument("--close", action="store_true", help="a new connection per request (Connection: close)")
    ap.add_argument("--tls", action="store_true", help="HTTPS, with a self-signed certificate")
    ap.add_argument("--no-bpf-stats", action="store_true", help="leave kernel.bpf_stats_enabled alone (no BPF ns/request)")
    ap.add_argument("--agent", action="append", default=[], metavar="DLL",
                    help="an agent build to trace with (repeat for an A/B; default: this tree's, built first)")
    ap.add_argument("--floor", action="store_true",
                    help="also measure the hooks alone, with programs that return at once, with and without the write-entry hooks")
    ap.add_argument("--pin", action="store_true",
                    help="the server, the agent and the floor's programs' loader on CPU 0, wrk on CPU 1 (taskset): "
                         "the bimodal scheduling of a saturated 2-core machine out of the ratios")
    ap.add_argument("--pin-agent", choices=["server", "load"], default="server",
                    help="with --pin, the agent's CPU: the server's (default; what it takes, the server loses) or wrk's")
    ap.add_argument("--server-cpu", type=float, metavar="PCT",
                    help="with --pin, the server's processes in a cgroup with a quota of PCT %% of one CPU: the server, "
                         "not wrk, saturates (as under a container's CPU limit)")
    a = ap.parse_args()
    if a.server_cpu is not None and (not a.pin or not 0 < a.server_cpu <= 100):
        ap.error("--server-cpu takes a percentage in (0, 100] and needs --pin")
    if a.tls:
        SCHEME[0] = "https"
    if a.pin:
        SERVER_CPU[:] = ["taskset", "-c", "0"]
        LOAD_CPU[:] = ["taskset", "-c", "1"]
        AGENT_CPU[:] = SERVER_CPU if a.pin_agent == "server" else LOAD_CPU
    servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    if any(s not in ("nginx", "kestrel") for s in servers) or not servers:
        ap.error("--servers takes nginx and/or kestrel")
    if os.geteuid() != 0:
        raise SystemExit("overhead.py needs root (BPF, bpf_stats_enabled)")
    if subprocess.run(["pgrep", "-f", "ci-clone"], capture_output=True).returncode == 0:
        print("warning: a CI run is in progress; the figures will be disturbed", file=sys.stderr)
    if shutil.which("wrk") is None:
        subprocess.run([os.path.join(ROOT, "scripts/setup.sh")], check=True)

    t_start = time.monotonic()
    print("building the agent and the Kestrel test server (Release)...", file=sys.stderr)
    if not a.agent:
        sh("dotnet", "build", os.path.join(ROOT, "samples/Beyla.Agent"), "-c", "Release", "-nologo", "-v", "quiet")
    if "kestrel" in servers:
        sh("dotnet", "build", os.path.join(ROOT, "tests/Beyla.TestServer"), "-c", "Release", "-nologo", "-v", "quiet")
    agent_dlls = [os.path.abspath(d) for d in a.agent] or [AGENT_DLL]
    tracers = {}  # configuration -> (agent build, "quiet" or "json")
    for dll in agent_dlls:
        helptext = subprocess.run(["dotnet", dll, "--help"], capture_output=True, text=True)
        mode = "quiet" if "--quiet" in helptext.stdout + helptext.stderr else "json"
        tracers["traced" if len(agent_dlls) == 1 else f"traced {agent_label(dll)}"] = (dll, mode)
    modes = {mode for _, mode in tracers.values()}
    agent_desc = ("beyla-agent --pid ... --quiet" if modes == {"quiet"}
                  else "beyla-agent --pid ... --quiet, or --json > /dev/null where it has no --quiet")

    work = tempfile.mkdtemp(prefix="beyla-overhead-")
    lua = os.path.join(work, "count.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    stats_path = "/proc/sys/kernel/bpf_stats_enabled"
    previous_stats = open(stats_path).read().strip()
    started = []
    results = {}  # (server, config) -> [round results]
    floors = list(FLOORS) if a.floor else []
    loader = build_floor(work) if a.floor else None
    if a.server_cpu is not None:
        SERVER_QUOTA.append(CpuQuota(f"beyla-overhead-{os.getpid()}", a.server_cpu))
    try:
        if not a.no_bpf_stats:
            write(stats_path, "1")
        plan = []  # (server label, Server, [configs])
        for s in servers:
            if s == "nginx":
                srv = start_nginx(work, 1 if a.pin else 2, a.tls)
                started.append(srv)
                plan.append(("nginx", {"untraced": srv, **{t: srv for t in tracers}, **{f: srv for f in floors}}))
            else:
                plain = start_kestrel(False, work, a.tls)
                started.append(plain)
                otel = start_kestrel(True, work, a.tls)
                started.append(otel)
                plan.append(("kestrel", {"untraced": plain, **{t: plain for t in tracers}, **{f: plain for f in floors}, "otel": otel}))
        for label, configs in plan:
            for srv in dict.fromkeys(configs.values()):
                print(f"warm-up: {srv.name} {a.warmup} s", file=sys.stderr)
                wrk(a, srv, a.warmup, lua)

        redos = 0
        for rnd in range(a.rounds):
            for label, configs in plan:
                names = list(configs)
                order = names[rnd % len(names):] + names[:rnd % len(names)]  # rotate: no config always first
                for config in order:
                    while True:
                        foreign = wait_quiet(a.quiet_wait)
                        if foreign:
                            print(f"  another tracer is still loaded after {a.quiet_wait} s ({', '.join(foreign[:4])}...)", file=sys.stderr)
                        r = measure(a, configs[config], config, lua, tracers, loader)
                        if not r["disturbed"] or redos >= a.redo:
                            break
                        redos += 1
                        print(f"  round {rnd + 1} {label} {config}: another tracer was loaded during the window "
                              f"({', '.join(r['disturbed'][:4])}...); measuring it again ({redos}/{a.redo})", file=sys.stderr)
                    if r["disturbed"]:
                        DISTURBED.append((label, config))
                    results.setdefault((label, config), []).append(r)
                    extra = f" spans={r['spans']} lost={r['lost']}" if "spans" in r else ""
                    print(f"round {rnd + 1}/{a.rounds} {label:<8} {config:<9} {r['rps']:>9.0f} req/s  p99 {r['p99_ms']:.2f} ms  "
                          f"wrk cpu {r['wrk_cpu_ms']:.0f} ms  "
                          f"sent={r['sent']} completed={r['completed']}{extra}"
                          f"  server cpu {r['server_cpu_ms']:.0f} ms  agent cpu {r['agent_user_ms']:.0f} user + {r['agent_sys_ms']:.0f} sys ms"
                          f"  steal {r['steal_ms']:.0f} ms"
                          f"{'  ' + r['errors'] if r['errors'] else ''}", file=sys.stderr)
    finally:
        otel_exported = None
        for agent in AGENTS:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
        for srv in started:
            out = srv.stop()
            m = re.search(r"otel: spans exported=(\d+)", out)
            if m:
                otel_exported = (int(m.group(1)), srv.sent_total)
        write(stats_path, previous_stats)
        shutil.rmtree(work, ignore_errors=True)
        for quota in SERVER_QUOTA:
            quota.remove()

    # The table.
    rows = []
    for label in servers:
        base = results[(label, "untraced")]
        base_cpu = sum(r["server_cpu_ms"] for r in base) / sum(r["sent"] for r in base) * 1000
        base_wrk = sum(r["wrk_cpu_ms"] for r in base) / sum(r["sent"] for r in base) * 1000
        for config in ("untraced", *tracers, *floors, "otel"):
            rs = results.get((label, config))
            if not rs:
                continue
            rps = statistics.median(r["rps"] for r in rs)
            p99 = statistics.median(r["p99_ms"] for r in rs)
            # Ratios paired within a round (windows next to each other share the machine's mood),
            # then the median over rounds.
            rps_ratio = statistics.median(r["rps"] / b["rps"] for r, b in zip(rs, base))
            p99_ratio = statistics.median(r["p99_ms"] / b["p99_ms"] for r, b in zip(rs, base))
            sent = sum(r["sent"] for r in rs)
            server_cpu = sum(r["server_cpu_ms"] for r in rs) / sent * 1000
            agent_cpu = sum(r["agent_cpu_ms"] for r in rs) / sent * 1000
            agent_user = sum(r["agent_user_ms"] for r in rs) / sent * 1000
            wrk_cpu = sum(r["wrk_cpu_ms"] for r in rs) / sent * 1000
            bpf_ns = sum(ns for r in rs for _, ns in r["programs"].values()) / sent
            if config in tracers:
                spans = sum(r["spans"] for r in rs)
                lost = sum(r["lost"] for r in rs)
                to_agent = sum(r["sent"] + r.get("warm_sent", 0) for r in rs)  # the agent also saw its warm-up
                seen = f"{spans:,} / {to_agent:,} = {spans / to_agent:.4f}" + (f" (lost {lost})" if lost else "")
            elif config == "otel" and otel_exported:
                seen = f"{otel_exported[0]:,} / {otel_exported[1]:,} = {otel_exported[0] / otel_exported[1]:.4f} (whole run)"
            else:
                seen = ""
            added = server_cpu - base_cpu + agent_cpu
            added_all = added + wrk_cpu - base_wrk
            rows.append([
                label, ("traced (Beyla agent)" if config == "traced" else "untraced" if config == "untraced"
                        else "OpenTelemetry SDK in-process" if config == "otel"
                        else f"{config} (no-op programs)" if config in FLOORS else f"{config} (Beyla agent)"),
                f"{rps:,.0f}", f"{rps_ratio:.2f}", f"{p99:.2f}", f"{p99_ratio:.2f}",
                f"{server_cpu:.1f}", f"{agent_cpu:.1f} ({agent_user:.1f} user)" if config in tracers else "",
                f"{added:+.1f}" if config != "untraced" else "",
                f"{wrk_cpu:.1f}", f"{added_all:+.1f}" if config != "untraced" else "",
                f"{bpf_ns / 1000:.2f}" if config in tracers and not a.no_bpf_stats else "",
                seen,
            ])
    header = ["server", "configuration", "req/s (median)", "× untraced (median of rounds)", "p99 ms (median)", "× untraced",
              "server CPU ms / 1k req", "agent CPU ms / 1k req", "added CPU ms / 1k req",
              "wrk CPU ms / 1k req", "added CPU with wrk's", "BPF µs / req", "spans / requests sent"]
    pinning = ""
    if a.pin:
        pinning = f"; pinned: server (nginx: 1 worker) and loader on CPU 0, wrk on CPU 1, agent on CPU {0 if a.pin_agent == 'server' else 1}"
        if a.server_cpu is not None:
            pinning += f"; the server's CPU quota {a.server_cpu:g} % of one CPU"
    print()
    print(f"{time.strftime('%Y-%m-%d')}, {os.uname().release}, {os.cpu_count()} cores; wrk -t{a.threads} -c{a.connections}, "
          f"{a.rounds} rounds of {a.seconds} s interleaved{pinning}; agent: {agent_desc}; bpf_stats {'off' if a.no_bpf_stats else 'on'}; "
          f"{redos} disturbed windows measured again")
    print()
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    steals = [r["steal_ms"] for rs in results.values() for r in rs]
    print()
    print(f"CPU stolen by the hypervisor during the windows: {sum(steals):.0f} ms in all, at most {max(steals):.0f} ms in one window")
    if DISTURBED:
        print()
        print(f"{len(DISTURBED)} of {sum(len(v) for v in results.values())} windows kept were measured while another tracer's "
              f"syscall tracepoint programs were loaded: {', '.join(f'{s} {c}' for s, c in DISTURBED)}")

    if not a.no_bpf_stats:
        print()
        print("BPF programs per request (traced, all rounds):")
        print()
        print("| server | agent | program | runs / req | ns / run | ns / req |")
        print("| --- | --- | --- | --- | --- | --- |")
        for label in servers:
            for config in tracers:
                rs = results[(label, config)]
                sent = sum(r["sent"] for r in rs)
                total = {}
                for r in rs:
                    for name, (cnt, ns) in r["programs"].items():
                        c0, n0 = total.get(name, (0, 0))
                        total[name] = (c0 + cnt, n0 + ns)
                for name, (cnt, ns) in sorted(total.items(), key=lambda kv: -kv[1][1]):
                    if cnt:
                        print(f"| {label} | {agent_label(tracers[config][0])} | {name} | {cnt / sent:.2f} | {ns / cnt:.0f} | {ns / sent:.0f} |")
    print(f"\ntotal run time {time.monotonic() - t_start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
