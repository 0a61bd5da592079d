"""Sends one GET over a fresh connection using one pair of syscalls, for the kernel tests.

Usage: syscall_client.py PORT PATH MODE, MODE one of:
  write-read      os.write / os.read
  sendto-recvfrom socket.send / socket.recv (sendto/recvfrom syscalls)
  writev-readv    os.writev (head in two pieces) / os.readv
  sendmsg-recvmsg socket.sendmsg (head in two pieces) / socket.recvmsg
  mmap-send-recv  socket.send from a file mapping the process never touched (the page is
                  only brought in by the syscall: unreadable as the call enters) / recv
The two pieces are split after 10 bytes, or after N with MODE:N (writev-readv:3: the first
piece alone is too short to tell a request).
Waits for a line on stdin first (after printing "ready"), then prints
"STATUS REQUEST_BYTES RESPONSE_BYTES START_NS END_NS".
"""
import os
import socket
import sys
import time

port, path, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
mode, _, split = mode.partition(":")
split = int(split or 10)
head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
s = socket.create_connection(("127.0.0.1", port))
if mode == "mmap-send-recv":
    import mmap
    import tempfile
    with tempfile.TemporaryFile() as f:
        f.write(head)
        f.flush()
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)  # not even in the page cache
        mapped = mmap.mmap(f.fileno(), len(head), prot=mmap.PROT_READ)
print("ready", flush=True)
sys.stdin.readline()
start = time.monotonic_ns()
fd = s.fileno()
if mode == "write-read":
    os.write(fd, head)
elif mode == "sendto-recvfrom":
    s.send(head)
elif mode == "writev-readv":
    os.writev(fd, [head[:split], head[split:]])
elif mode == "mmap-send-recv":
    s.send(memoryview(mapped))
else:
    s.sendmsg([head[:split], head[split:]])

response = b""
while True:
    if mode == "write-read":
        chunk = os.read(fd, 65536)
    elif mode in ("sendto-recvfrom", "mmap-send-recv"):
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
