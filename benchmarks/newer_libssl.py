#!/usr/bin/env python3
"""A real HTTPS client on a newer OpenSSL than this machine's, traced: Python's http.client on
Debian 13's libssl 3.5 (whose public functions begin with `endbr64; sub`, and whose SSL_write_ex
only jumps to SSL_write_ex2), run through Debian 13's own dynamic loader and libc, which the
libssl needs (glibc 2.38 on), against a local Node HTTPS server.

Downloads libc6 and libssl3t64 from deb.debian.org (trixie's package index names the files),
into --cache, unpacked there; nothing is installed. Then, for each round: the client untraced,
and traced by each --agent (`beyla-agent --pid CLIENT --json --verbose`). Prints the client's
time per request (keep-alive, one SSL_write_ex and one SSL_read_ex per request), spans / requests
with their statuses, and where the agent put the TLS probes in that libssl (log events 120, 121).

usage: sudo python3 benchmarks/newer_libssl.py [--requests 3000] [--rounds 2] [--agent DLL ...]
"""
import argparse
import collections
import json
import lzma
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentbench import ROOT, start_agent, wait_port  # noqa: E402
from kernel_cost import free_port, sh  # noqa: E402

MIRROR = "http://deb.debian.org/debian"
PACKAGES = ["libc6", "libssl3t64"]

CLIENT = r"""
import http.client, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
sys.stdin.readline()  # go
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
t0 = time.perf_counter(); codes = {}
for i in range(n):
    c.request("GET", f"/hello/{i}" if i % 10 else "/status/404")
    r = c.getresponse(); r.read(); codes[r.status] = codes.get(r.status, 0) + 1
elapsed = time.perf_counter() - t0
print(f"{ssl.OPENSSL_VERSION}|{elapsed / n * 1e6:.1f}|{codes}", flush=True)
"""


def fetch(cache):
    """Unpacks trixie's libc6 and libssl3t64 into cache/root once; returns its library directory."""
    root = os.path.join(cache, "root")
    lib = os.path.join(root, "usr/lib/x86_64-linux-gnu")
    if os.path.exists(os.path.join(lib, "libssl.so.3")) and os.path.exists(os.path.join(lib, "ld-linux-x86-64.so.2")):
        return lib
    os.makedirs(cache, exist_ok=True)
    with urllib.request.urlopen(f"{MIRROR}/dists/trixie/main/binary-amd64/Packages.xz", timeout=120) as r:
        index = lzma.decompress(r.read()).decode()
    files = {}
    for stanza in index.split("\n\n"):
        name = re.search(r"^Package: (\S+)$", stanza, re.M)
        file = re.search(r"^Filename: (\S+)$", stanza, re.M)
        if name and file and name.group(1) in PACKAGES:
            files[name.group(1)] = file.group(1)
    for package in PACKAGES:
        deb = os.path.join(cache, os.path.basename(files[package]))
        urllib.request.urlretrieve(f"{MIRROR}/{files[package]}", deb)
        sh("dpkg-deb", "-x", deb, root)
    return lib


def run_client(lib, port, requests, agent_dll):
    """(µs per request, OpenSSL version, statuses, spans by status or None, probe log lines)."""
    loader = os.path.join(lib, "ld-linux-x86-64.so.2")
    client = subprocess.Popen([loader, "--library-path", f"{lib}:/lib/x86_64-linux-gnu", "/usr/bin/python3", "-c", CLIENT,
                               str(port), str(requests)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    agent = None
    spans_file = tempfile.NamedTemporaryFile(prefix="beyla-newer-libssl-", suffix=".json", delete=False)
    try:
        if agent_dll:
            agent, _ = start_agent(agent_dll, "--pid", str(client.pid), "--json", "--verbose", stdout=spans_file)
            time.sleep(1)  # the TLS probes for the client's libssl come from the TLS set's own thread
        client.stdin.write("go\n")
        client.stdin.flush()
        version, per_request, codes = client.stdout.readline().strip().split("|")
        client.wait(timeout=60)
        spans = probes = None
        if agent:
            time.sleep(1)
            agent.send_signal(signal.SIGTERM)
            _, stderr = agent.communicate(timeout=60)
            spans_file.close()
            spans = collections.Counter()
            with open(spans_file.name) as f:
                for line in f:
                    s = json.loads(line)
                    spans[(s["kind"], s["status"], s["tls"])] += 1
            probes = [l.split("] ", 1)[1].rstrip() for l in [*agent.before_ready, *stderr.splitlines()]
                      if re.search(r"Beyla\.Bpf\[12[01]\]", l) and lib in l]
        return float(per_request), version, codes, spans, probes
    finally:
        for p in (client, agent):
            if p and p.poll() is None:
                p.kill()
        os.unlink(spans_file.name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--agent", action="append", help="a built beyla-agent.dll (repeatable); default: build this tree's")
    ap.add_argument("--cache", default="/var/cache/beyla-bench/trixie")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("newer_libssl.py needs root (BPF)")
    agents = a.agent
    if not agents:
        sh("dotnet", "build", os.path.join(ROOT, "samples/Beyla.Agent"), "-c", "Release", "-nologo", "-v", "quiet")
        agents = [os.path.join(ROOT, "samples/Beyla.Agent/bin/Release/net10.0/beyla-agent.dll")]
    lib = fetch(a.cache)
    work = tempfile.mkdtemp(prefix="beyla-newer-libssl-")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{work}/key.pem", "-out", f"{work}/cert.pem",
       "-days", "2", "-subj", "/CN=localhost")
    port = free_port()
    server = subprocess.Popen(["node", os.path.join(ROOT, "tests/servers/node_server.js"), str(port), f"{work}/cert.pem", f"{work}/key.pem"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, server, "node")
        for r in range(a.rounds):
            for agent in [None, *agents]:
                per_request, version, codes, spans, probes = run_client(lib, port, a.requests, agent)
                label = "untraced" if not agent else agent.partition("/samples/")[0]
                print(f"round {r + 1}, {label}: {version}, {per_request} µs per request, statuses {codes}")
                if agent:
                    total = sum(spans.values())
                    print(f"  spans / requests: {total} / {a.requests}, by (kind, status, tls): {dict(spans)}")
                    for p in probes:
                        print(f"  {p}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()


if __name__ == "__main__":
    main()
