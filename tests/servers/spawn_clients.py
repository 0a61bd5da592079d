#!/usr/bin/env python3
"""Reads URLs from stdin, one a line, and fetches each with a curl process of its own,
PARALLEL at a time. Prints one line per curl once it has exited: "index pid status", index
counting the URLs from 0. Used by the kernel tests as a launcher of its own, so that the
short-lived clients are not children of the test host (they would share its file
descriptors until their exec).
Usage: spawn_clients.py PARALLEL < urls
"""
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

parallel = int(sys.argv[1])
urls = [line.strip() for line in sys.stdin if line.strip()]
lock = threading.Lock()


def run(index):
    p = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", urls[index]],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out, _ = p.communicate()
    with lock:
        print(index, p.pid, out.decode() or "000", flush=True)


with ThreadPoolExecutor(parallel) as pool:
    list(pool.map(run, range(len(urls))))
