"""Test HTTP client for the kernel tests: waits for a line on stdin, then requests each path.

Usage: python_client.py BASE_URL MODE PATH...
MODE: urllib (a fresh connection per request), keepalive (http.client, one connection) or
pipelined (one socket: the first request alone, then all the others in one send, their
responses read after it).
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


def pipelined():
    import socket
    u = urllib.parse.urlsplit(base)
    s = socket.create_connection((u.hostname, u.port))
    buffered = b""

    def response():
        nonlocal buffered
        while b"\r\n\r\n" not in buffered:
            buffered += s.recv(65536)
        head, _, buffered = buffered.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next((int(l.split(b":", 1)[1]) for l in lines[1:] if l.lower().startswith(b"content-length:")), None)
        if length is None:
            sys.exit("pipelined mode needs Content-Length responses")
        while len(buffered) < length:
            buffered += s.recv(65536)
        buffered = buffered[length:]
        return int(lines[0].split()[1])

    def request(path):
        return f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n\r\n".encode()

    for batch in (paths[:1], paths[1:]):
        start = time.monotonic_ns()
        s.sendall(b"".join(request(p) for p in batch))
        for _ in batch:
            status = response()
            print(status, start, time.monotonic_ns(), flush=True)


if mode == "pipelined":
    pipelined()
    sys.exit(0)
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
