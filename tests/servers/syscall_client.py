"""Sends one GET over a fresh connection using one pair of syscalls, for the kernel tests.

Usage: syscall_client.py PORT PATH MODE, MODE one of:
  write-read      os.write / os.read
  sendto-recvfrom socket.send / socket.recv (sendto/recvfrom syscalls)
  writev-readv    os.writev (head in two pieces) / os.readv
  sendmsg-recvmsg socket.sendmsg (head in two pieces) / socket.recvmsg
  mmap-send-recv  socket.send from a file mapping the process never touched (the page is
                  only brought in by the syscall: unreadable as the call enters) / recv
  mmap-straddle-send-recv  the same, the head starting 10 bytes before the end of a page the
                  process touched: only its start is readable as the call enters
  failed-send-then-send-recv  first a request on another connection whose write side is shut
                  down (the send fails with EPIPE: nothing was sent), then send / recv
  nonblocking-post  a POST of a 4 MiB body on a non-blocking socket: sends that move part of
                  what they were given, and sends that fail with EAGAIN, between them / recv
The two pieces are split after 10 bytes, or after N with MODE:N (writev-readv:3: the first
piece alone is too short to tell a request); MODE:bytesN writes the head's first N bytes a
byte per buffer, then the rest in one (a request line gathered from many buffers).
Waits for a line on stdin first (after printing "ready"), then prints
"STATUS REQUEST_BYTES RESPONSE_BYTES START_NS END_NS".
"""
import os
import socket
import sys
import time

port, path, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
mode, _, split = mode.partition(":")
head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
if mode == "nonblocking-post":
    body = b"x" * (4 << 20)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
if split.startswith("bytes"):
    n = int(split[len("bytes"):])
    pieces = [head[i:i + 1] for i in range(n)] + [head[n:]]
else:
    n = int(split or 10)
    pieces = [head[:n], head[n:]]
s = socket.create_connection(("127.0.0.1", port))
if mode.startswith("mmap-"):
    import ctypes
    import mmap
    import tempfile
    PAGE = mmap.PAGESIZE

    def file_with(data):
        """An unlinked file holding data, not even in the page cache."""
        f = tempfile.TemporaryFile()
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        return f

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x02, 0x10, 0x20
    # Two pages from two files, so that touching the first cannot map the second too (the
    # kernel maps the cached neighbours of a faulting page within its mapping, not across).
    # straddle: the head starts 10 bytes before the end of the first page, which the process
    # touches; otherwise it is all in the second page, which nothing touches.
    straddle = mode == "mmap-straddle-send-recv"
    start_at = PAGE - 10 if straddle else PAGE
    first = file_with(b"x" * (PAGE - 10) + head[:10])
    second = file_with(head[10:] if straddle else head)
    base = libc.mmap(None, 2 * PAGE, mmap.PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    for i, f in enumerate((first, second)):
        if libc.mmap(base + i * PAGE, PAGE, mmap.PROT_READ, MAP_PRIVATE | MAP_FIXED, f.fileno(), 0) != base + i * PAGE:
            sys.exit(f"mmap failed: errno {ctypes.get_errno()}")
    if straddle:
        ctypes.string_at(base, 1)  # the first page only
    with open("/proc/self/pagemap", "rb") as pagemap:  # the precondition, from the page table
        present = []
        for page in (base // PAGE, base // PAGE + 1):
            pagemap.seek(page * 8)
            present.append(bool(int.from_bytes(pagemap.read(8), "little") >> 63))
    if present != [straddle, False]:
        sys.exit(f"precondition not met: pages present {present}")
    request = (ctypes.c_char * len(head)).from_address(base + start_at)
print("ready", flush=True)
sys.stdin.readline()
start = time.monotonic_ns()
fd = s.fileno()
if mode == "write-read":
    os.write(fd, head)
elif mode == "sendto-recvfrom":
    s.send(head)
elif mode == "writev-readv":
    os.writev(fd, pieces)
elif mode.startswith("mmap-"):
    s.send(request)
elif mode == "failed-send-then-send-recv":
    shut = socket.create_connection(("127.0.0.1", port))
    shut.shutdown(socket.SHUT_WR)
    try:
        shut.send(head)
        sys.exit("precondition not met: a send after shutdown(SHUT_WR) succeeded")
    except BrokenPipeError:
        pass
    shut.close()
    s.send(head)
elif mode == "nonblocking-post":
    import select
    # a small send buffer: it fills after a few pieces, so that sends move part of what they
    # are given and some find it full (EAGAIN) however fast the server reads
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
    s.setblocking(False)
    sent, short, again = 0, 0, 0
    while sent < len(head):
        try:
            n = s.send(head[sent:])
        except BlockingIOError:
            again += 1
            select.select([], [s], [])
            continue
        short += n < len(head) - sent
        sent += n
    if not short or not again:
        sys.exit(f"precondition not met: {short} short sends, {again} sends failed with EAGAIN")
    s.setblocking(True)
else:
    s.sendmsg(pieces)

response = b""
while True:
    if mode == "write-read":
        chunk = os.read(fd, 65536)
    elif mode in ("sendto-recvfrom", "failed-send-then-send-recv", "nonblocking-post") or mode.startswith("mmap-"):
        chunk = s.recv(65536)
    elif mode == "writev-readv":
        buf = bytearray(65536)
        n = os.readv(fd, [buf])
        chunk = bytes(buf[:n])
    else:
        chunk = s.recvmsg(65536)[0]
    if not chunk:
        break
    response += chunk
end = time.monotonic_ns()
status = int(response[9:12])
print(status, len(head), len(response), start, end, flush=True)
s.close()
