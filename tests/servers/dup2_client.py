#!/usr/bin/env python3
"""A client whose fd changes socket without a close: one request on a connection to PORT1,
then os.dup2 puts a new connection to PORT2 on the same fd number (the kernel closes the first
socket inside dup2; no close() syscall is made), and a second request goes out on it.
usage: dup2_client.py PORT1 PORT2
Prints "ready", waits for a line on stdin, then prints "PORT STATUS" per request."""
import os
import socket
import sys


def exchange(fd, port):
    os.write(fd, f"GET /hello/{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += os.read(fd, 65536)
    head, _, body = response.partition(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += os.read(fd, 65536)
    print(port, int(head[9:12]), flush=True)


port1, port2 = int(sys.argv[1]), int(sys.argv[2])
first = socket.create_connection(("127.0.0.1", port1))
second = socket.create_connection(("127.0.0.1", port2))
print("ready", flush=True)
sys.stdin.readline()
fd = first.fileno()
exchange(fd, port1)
os.dup2(second.fileno(), fd)  # the first connection goes, its fd number now names the second
second.close()
exchange(fd, port2)
os.close(fd)
first.detach()
