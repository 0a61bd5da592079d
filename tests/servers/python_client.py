"""Test HTTP client for the kernel tests: waits for a line on stdin, then requests each path.

Usage: python_client.py BASE_URL MODE PATH...
MODE: urllib (a fresh connection per request), keepalive (http.client, one connection),
pipelined (one socket: the first request alone, then all the others in one send, their
responses read after it) or websocket (three paths: a GET of the first, then a WebSocket
handshake at the second and three text frames echoed, whose payloads read like HTTP and are
sent apart from their headers, then a close; the third on a new connection), bytewise (one
connection, every response read a byte at a time: its head, then its Content-Length or chunks),
or early-next:N (one connection; the first N bytes of each response are read a byte at a time,
then the next request is written, then the rest of the response is read: a request sent while
the response before it has only part of its head in; Content-Length responses only), or
splice-body (one connection; each response's head read with recv, the rest of its body moved
from the socket into a pipe by splice, as haproxy's splice-response does, except the last
response's, read with recv (splice-body:all: that one's too; then the client closes);
Content-Length responses only), or splice-pipelined (three paths: the first two pipelined in
one send, the first response's body spliced into a pipe after its head, then the third request,
then the second and third responses read with recv).
Prints "ready" first, then per request: "STATUS START_NS END_NS" (CLOCK_MONOTONIC), and in
early-next and splice modes " RESPONSE_BYTES" after them.
"""
import http.client
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

base, mode, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
print("ready", flush=True)
sys.stdin.readline()


def content_length(lines):
    """The Content-Length of a response head split into lines (the status line first), or None."""
    return next((int(l.split(b":", 1)[1]) for l in lines[1:] if l.lower().startswith(b"content-length:")), None)


def get_request(u, path):
    """A GET of path from the server of URL parts u, as bytes."""
    return f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n\r\n".encode()


def read_head(s, buffered=b""):
    """Reads socket s (after buffered, bytes read from it already) up to the end of a response head,
    4 KiB a recv. Returns the head's size, its status, its Content-Length (or None), and the bytes
    read after it."""
    while b"\r\n\r\n" not in buffered:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("closed")
        buffered += chunk
    end = buffered.index(b"\r\n\r\n") + 4
    lines = buffered[:end - 4].split(b"\r\n")
    return end, int(lines[0].split()[1]), content_length(lines), buffered[end:]


def splice_through_pipe(s, pipe, n):
    """Moves n bytes from socket s into the pipe (read end, write end) by splice and drains them:
    no read of the socket sees them."""
    r, w = pipe
    while n:
        moved = os.splice(s.fileno(), w, min(n, 65536))
        if not moved:
            sys.exit("closed")
        left = moved
        while left:
            left -= len(os.read(r, left))
        n -= moved


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
        length = content_length(lines)
        if length is None:
            sys.exit("pipelined mode needs Content-Length responses")
        while len(buffered) < length:
            buffered += s.recv(65536)
        buffered = buffered[length:]
        return int(lines[0].split()[1])

    for batch in (paths[:1], paths[1:]):
        start = time.monotonic_ns()
        s.sendall(b"".join(get_request(u, p) for p in batch))
        for _ in batch:
            status = response()
            print(status, start, time.monotonic_ns(), flush=True)


def websocket():
    import socket
    u = urllib.parse.urlsplit(base)
    host = f"Host: {u.hostname}:{u.port}\r\n"
    s = socket.create_connection((u.hostname, u.port))
    buffered = b""

    def fill():
        nonlocal buffered
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        buffered += chunk

    def take(n):
        nonlocal buffered
        while len(buffered) < n:
            fill()
        data, buffered = buffered[:n], buffered[n:]
        return data

    def exchange(head):
        start = time.monotonic_ns()
        s.sendall(head)
        while b"\r\n\r\n" not in buffered:
            fill()
        lines = take(buffered.index(b"\r\n\r\n") + 4).split(b"\r\n")
        status = int(lines[0].split()[1])
        if status != 101:
            take(content_length(lines))
        print(status, start, time.monotonic_ns(), flush=True)
        return status

    exchange(f"GET {paths[0]} HTTP/1.1\r\n{host}\r\n".encode())
    if exchange(f"GET {paths[1]} HTTP/1.1\r\n{host}Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()) != 101:
        sys.exit("no 101")
    for text in (b"hello", b"GET /in-a-frame HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"):
        s.sendall(bytes([0x81, 0x80 | len(text), 0, 0, 0, 0]))  # mask 0: the payload goes as written
        time.sleep(0.02)
        s.sendall(text)
        if take(take(2)[1] & 0x7F) != text:
            sys.exit("echo differs")
    s.sendall(bytes([0x88, 0x80, 0, 0, 0, 0]))
    take(take(2)[1] & 0x7F)  # the server's close frame
    s.close()
    s = socket.create_connection((u.hostname, u.port))
    buffered = b""
    exchange(f"GET {paths[2]} HTTP/1.1\r\n{host}\r\n".encode())


def bytewise():
    import socket
    u = urllib.parse.urlsplit(base)
    s = socket.create_connection((u.hostname, u.port))

    def line():
        data = b""
        while not data.endswith(b"\r\n"):
            byte = s.recv(1)
            if not byte:
                sys.exit("closed")
            data += byte
        return data[:-2]

    def take(n):
        for _ in range(n):
            if not s.recv(1):
                sys.exit("closed")

    for path in paths:
        start = time.monotonic_ns()
        s.sendall(get_request(u, path))
        status = int(line().split(b" ")[1])
        headers = {}
        while True:
            header = line()
            if not header:
                break
            name, _, value = header.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            take(int(headers[b"content-length"]))
        else:
            while True:
                size = int(line().split(b";")[0], 16)
                if size == 0:
                    line()
                    break
                take(size + 2)
        print(status, start, time.monotonic_ns(), flush=True)


def early_next(n):
    import socket
    u = urllib.parse.urlsplit(base)
    s = socket.create_connection((u.hostname, u.port))

    def send(path):
        starts.append(time.monotonic_ns())
        s.sendall(get_request(u, path))

    def byte():
        b = s.recv(1)
        if not b:
            sys.exit("closed")
        return b

    starts = []
    send(paths[0])
    for i in range(len(paths)):
        data = b"".join(byte() for _ in range(n))
        if i + 1 < len(paths):
            send(paths[i + 1])
        while not data.endswith(b"\r\n\r\n"):  # a byte at a time: nothing of the next response
            data += byte()
        lines = data[:-4].split(b"\r\n")
        length = content_length(lines)
        if length is None:
            sys.exit("early-next mode needs Content-Length responses")
        size = len(data) + length
        while length:
            chunk = s.recv(length)
            if not chunk:
                sys.exit("closed")
            length -= len(chunk)
        print(int(lines[0].split()[1]), starts[i], time.monotonic_ns(), size, flush=True)


def splice_body(all_of_them):
    import socket
    u = urllib.parse.urlsplit(base)
    s = socket.create_connection((u.hostname, u.port))
    pipe = os.pipe()
    for i, path in enumerate(paths):
        start = time.monotonic_ns()
        s.sendall(get_request(u, path))
        size, status, length, body = read_head(s)
        if length is None:
            sys.exit("splice-body mode needs Content-Length responses")
        left = length - len(body)
        if all_of_them or i + 1 < len(paths):
            splice_through_pipe(s, pipe, left)
        else:
            while left:
                moved = len(s.recv(left))
                if not moved:
                    sys.exit("closed")
                left -= moved
        print(status, start, time.monotonic_ns(), size + length, flush=True)
    s.close()


def splice_pipelined():
    import socket
    u = urllib.parse.urlsplit(base)
    s = socket.create_connection((u.hostname, u.port))
    start = time.monotonic_ns()
    s.sendall(get_request(u, paths[0]) + get_request(u, paths[1]))
    size, status, length, buffered = read_head(s)
    # the first response's body: all but what came with its head goes by splice
    splice_through_pipe(s, os.pipe(), length - len(buffered))
    print(status, start, time.monotonic_ns(), size + length, flush=True)
    second_start = start
    start = time.monotonic_ns()
    s.sendall(get_request(u, paths[2]))
    buffered = b""
    for began in (second_start, start):
        size, status, length, buffered = read_head(s, buffered)
        while len(buffered) < length:
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("closed")
            buffered += chunk
        buffered = buffered[length:]
        print(status, began, time.monotonic_ns(), size + length, flush=True)


if mode == "splice-pipelined":
    splice_pipelined()
    sys.exit(0)
if mode in ("splice-body", "splice-body:all"):
    splice_body(mode.endswith(":all"))
    sys.exit(0)
if mode.startswith("early-next:"):
    early_next(int(mode.partition(":")[2]))
    sys.exit(0)
if mode == "pipelined":
    pipelined()
    sys.exit(0)
if mode == "bytewise":
    bytewise()
    sys.exit(0)
if mode == "websocket":
    websocket()
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
