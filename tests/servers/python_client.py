"""Test HTTP client for the kernel tests: waits for a line on stdin, then requests each path.

Usage: python_client.py BASE_URL MODE PATH...
MODE: urllib (a fresh connection per request) or keepalive (http.client, one connection).
Prints "ready" first, then per request: "STATUS START_NS END_NS" (CLOCK_MONOTONIC).
"""
import http.client
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

base, mode, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
print("ready", flush=True)
sys.stdin.readline()
connection = None
if mode == "keepalive":
    u = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(u.hostname, u.port)
for path in paths:
    start = time.monotonic_ns()
    if connection:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        status = response.status
    else:
        try:
            with urllib.request.urlopen(base + path) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as e:
            e.read()
            status = e.code
    print(status, start, time.monotonic_ns(), flush=True)
