#!/usr/bin/env python3
"""Kernel-side cost of the socket probe set per request, and how long attaching takes.

Starts a server (nginx with 2 workers by default; or the Python, Node, Go or Kestrel test
server) on a loopback port, the sample agent tracing that port, and wrk
against it; reads each of the agent's BPF programs' run count and run time (bpftool, with
kernel.bpf_stats_enabled=1), and divides by the requests wrk completed. Also reports the
spans the agent saw against the requests sent. Needs root; run scripts/setup.sh first
(this script installs wrk itself).

--access-log has nginx write its access log (a file write per request: the hooks' cost on a
traced process's non-socket fds shows in exit_write). --close sends "Connection: close": a new
connection per request, so the cost of connections (accept, close, the socket's state changes
and end) shows per request. --agent runs a given agent build instead
of building this tree's: run once per build for an A/B.

usage: benchmarks/kernel_cost.py [--server nginx|python|node|go|kestrel] [--seconds 10] [--connections 4]
                                 [--tls] [--compare] [--access-log] [--close] [--agent DLL] [--path P] [--pipeline N]
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from agentbench import start_agent, wait_port, write_nginx_conf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def prog_stats():
    return {p["id"]: p for p in json.loads(sh("bpftool", "prog", "show", "--json"))}

def owned_programs(pid):
    """The BPF programs a process holds open (prog_id in /proc/PID/fdinfo): its own, even when
    another tracer loads programs of the same names at the same time."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                m = re.search(r"^prog_id:\s+(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    return ids



def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_programs_freed(ids, seconds=10):
    """The kernel frees a process's programs a little after it exits: the next window starts without them."""
    deadline = time.monotonic() + seconds
    while ids & set(prog_stats()) and time.monotonic() < deadline:
        time.sleep(0.2)



def nginx_tls_options(work, tls):
    """(listen options, server options) for write_nginx_conf: HTTPS with a self-signed certificate
    made in work, or plain HTTP."""
    if not tls:
        return "", ""
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
       "-keyout", f"{work}/key.pem", "-out", f"{work}/cert.pem")
    return " ssl", f"ssl_certificate {work}/cert.pem; ssl_certificate_key {work}/key.pem;"


def kestrel_test_server(work, port, tls):
    """Builds the Kestrel test server (tests/Beyla.TestServer); returns its command on
    127.0.0.1:port and its environment: over HTTPS, with the certificate nginx_tls_options made in work."""
    sh("dotnet", "build", os.path.join(ROOT, "tests/Beyla.TestServer"), "-c", "Release", "-nologo", "-v", "quiet")
    environment = dict(os.environ)
    if tls:
        environment["ASPNETCORE_Kestrel__Certificates__Default__Path"] = f"{work}/cert.pem"
        environment["ASPNETCORE_Kestrel__Certificates__Default__KeyPath"] = f"{work}/key.pem"
    return (["dotnet", os.path.join(ROOT, "tests/Beyla.TestServer/bin/Release/net10.0/Beyla.TestServer.dll"),
             "--urls", f"{'https' if tls else 'http'}://127.0.0.1:{port}"], environment)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--server", choices=["nginx", "python", "node", "go", "kestrel"], default="nginx")
    ap.add_argument("--tls", action="store_true", help="HTTPS (a self-signed certificate; not the Go server)")
    ap.add_argument("--compare", action="store_true", help="first run the same load untraced and report the throughput ratio")
    ap.add_argument("--access-log", action="store_true", help="nginx writes an access log (a file write per request)")
    ap.add_argument("--close", action="store_true", help="a new connection per request (Connection: close)")
    ap.add_argument("--agent", help="a built beyla-agent.dll; default: build this tree's")
    ap.add_argument("--pipeline", type=int, default=1, help="requests pipelined per write (wrk counts responses: "
                    "up to this many per connection are in flight when it stops)")
    ap.add_argument("--path", default="/hello/1", help="the path wrk requests (python: /longhead/one/2000 answers with a 2,000-byte head)")
    a = ap.parse_args()
    close = ["-H", "Connection: close"] if a.close else []
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    agent_dll = a.agent
    if not agent_dll:
        sh("dotnet", "build", os.path.join(ROOT, "samples/Beyla.Agent"), "-c", "Release", "-nologo", "-v", "quiet")
        agent_dll = os.path.join(ROOT, "samples/Beyla.Agent/bin/Release/net10.0/beyla-agent.dll")

    previous_stats = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    work = tempfile.mkdtemp(prefix="beyla-cost-")
    if a.pipeline > 1:
        with open(os.path.join(work, "pipeline.lua"), "w") as f:
            f.write("init = function(args)\n  local r = {}\n"
                    f"  for i = 1, {a.pipeline} do r[i] = wrk.format(nil) end\n"
                    "  req = table.concat(r)\nend\nrequest = function() return req end\n")
        close += ["-s", os.path.join(work, "pipeline.lua")]
    port = free_port()
    if a.tls and a.server == "go":
        raise SystemExit("--tls: the Go test server serves plain HTTP only")
    write_nginx_conf(work, port, *nginx_tls_options(work, a.tls), f"{work}/access.log" if a.access_log else "off")
    certificate = [f"{work}/cert.pem", f"{work}/key.pem"] if a.tls else []  # made by nginx_tls_options
    servers = os.path.join(ROOT, "tests", "servers")
    environment = dict(os.environ)
    if a.server == "nginx":
        command = ["nginx", "-c", f"{work}/nginx.conf", "-p", work]
    elif a.server == "python":
        command = ["python3", os.path.join(servers, "python_server.py"), str(port), *certificate]
    elif a.server == "node":
        command = ["node", os.path.join(servers, "node_server.js"), str(port), *certificate]
    elif a.server == "go":
        subprocess.run(["go", "build", "-o", f"{work}/go_http", "main.go"], cwd=os.path.join(servers, "go_http"), check=True,
                       env={**os.environ, "GOPROXY": "off", "GOTOOLCHAIN": "local"})
        command = [f"{work}/go_http", "server", str(port)]
    else:
        command, environment = kestrel_test_server(work, port, a.tls)
    nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=environment)
    agent = None
    try:
        wait_port(port, nginx, a.server)
        url = f"{'https' if a.tls else 'http'}://127.0.0.1:{port}{a.path}"
        untraced_rps = None
        if a.compare:
            out = sh("wrk", "-t", "2", "-c", str(a.connections), "-d", f"{a.seconds}s", *close, url)
            untraced_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        t0 = time.monotonic()
        # --quiet: the agent writes nothing per span, so that its own writes (hooked syscalls
        # too) are not counted as the cost of the requests
        agent, ready_line = start_agent(agent_dll, "--port", str(port), "--quiet")
        ready_s = time.monotonic() - t0
        attach_ms = float(re.search(r"attached in (\d+) ms", ready_line).group(1))
        ours = owned_programs(agent.pid) & set(prog_stats())
        start = {i: prog_stats()[i] for i in ours}

        out = sh("wrk", "-t", "2", "-c", str(a.connections), "-d", f"{a.seconds}s", *close, url)
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        end = prog_stats()
        time.sleep(1)
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=30)
        summary = [l for l in stderr.splitlines() if l.startswith("summary:")]
        if not summary:
            raise SystemExit(f"no summary from the agent: {stderr}")
        spans = int(re.search(r"spans=(\d+)", summary[0]).group(1))

        print(f"build+attach (Build()): {attach_ms:.0f} ms; agent start to ready: {ready_s:.1f} s")
        print(f"server: {a.server}{' (https)' if a.tls else ''}")
        print(f"wrk: {requests} requests in {a.seconds} s ({rps:.0f} req/s), {a.connections} connections")
        if untraced_rps:
            print(f"untraced: {untraced_rps:.0f} req/s; traced/untraced throughput: {rps / untraced_rps:.3f}")
        print(f"spans seen / requests sent: {spans} / {requests} = {spans / requests:.4f}   {summary[0]}")
        for line in (l for l in stderr.splitlines() if l.startswith("warn:")):
            print(f"agent: {line}")  # what it missed, by reason
        total_ns = total_cnt = 0
        print(f"{'program':<16}{'runs/request':>14}{'ns/run':>10}{'ns/request':>12}")
        for i in sorted(ours, key=lambda i: end[i].get("name", "")):
            cnt = end[i].get("run_cnt", 0) - start[i].get("run_cnt", 0)
            ns = end[i].get("run_time_ns", 0) - start[i].get("run_time_ns", 0)
            total_ns += ns
            total_cnt += cnt
            if cnt:
                print(f"{end[i].get('name', '?'):<16}{cnt / requests:>14.2f}{ns / cnt:>10.0f}{ns / requests:>12.0f}")
        print(f"{'total':<16}{total_cnt / requests:>14.2f}{(total_ns / total_cnt if total_cnt else 0):>10.0f}{total_ns / requests:>12.0f}")
    finally:
        if agent and agent.poll() is None:
            agent.kill()
        nginx.terminate()
        nginx.wait()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(previous_stats)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
