#!/usr/bin/env python3
"""Sends requests with large bodies on one keep-alive connection, each body in one blocking
write on a thread of its own, while the main thread reads the response: against a server
that answers before it reads the body, the response arrives while the write is still in the
kernel (as with .NET's read-ahead or Go's readLoop, where another thread reads).

Usage: early_response_client.py PORT BODY_BYTES PATH...
Waits for a line on stdin first (after printing "ready"), then prints
"STATUS REQUEST_BYTES START_NS END_NS WRITE_RETURNED_NS" per request.
"""
import socket
import sys
import threading
import time

port, body_bytes, paths = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port))
print("ready", flush=True)
sys.stdin.readline()
body = b"x" * body_bytes
for path in paths:
    request = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {body_bytes}\r\n\r\n".encode() + body
    returned = []
    writer = threading.Thread(target=lambda: (s.sendall(request), returned.append(time.monotonic_ns())))
    start = time.monotonic_ns()
    writer.start()
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed before the response head")
        response += chunk
    head, _, rest = response.partition(b"\r\n\r\n")
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(rest) < length:
        rest += s.recv(65536)
    end = time.monotonic_ns()
    writer.join()
    print(int(head[9:12]), len(request), start, end, returned[0], flush=True)
s.close()
