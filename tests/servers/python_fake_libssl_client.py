"""For the kernel tests: HTTP/1.1 through a stand-in for OpenSSL, so that the TLS probes meet
functions built as a test chooses (for example for Intel CET, each starting with endbr64).

Usage: python_fake_libssl_client.py LIBRARY PORT PATH...; prints "ready", waits for a line on
stdin, loads LIBRARY (a file named libssl.so.3 whose SSL_write and SSL_read write and read the
socket whose fd the SSL pointer points to: the "plaintext" is what goes over the wire), prints
"loaded", waits for another line, then GETs each path from 127.0.0.1:PORT over one connection
with SSL_write and SSL_read, printing each status.
"""
import ctypes
import socket
import sys

library, port, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print("ready", flush=True)
sys.stdin.readline()
ssl = ctypes.CDLL(library)
ssl.SSL_write.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
ssl.SSL_read.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
print("loaded", flush=True)
sys.stdin.readline()

connection = socket.create_connection(("127.0.0.1", port))
fd = ctypes.c_int(connection.fileno())
handle = ctypes.cast(ctypes.pointer(fd), ctypes.c_void_p)  # the "SSL object"
buffer = ctypes.create_string_buffer(65536)
pending = b""


def read_more():
    global pending
    n = ssl.SSL_read(handle, buffer, len(buffer))
    if n <= 0:
        raise SystemExit(f"SSL_read returned {n}")
    pending += buffer.raw[:n]


for path in paths:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    if ssl.SSL_write(handle, request, len(request)) != len(request):
        raise SystemExit("SSL_write wrote less than the request")
    while b"\r\n\r\n" not in pending:
        read_more()
    head, _, pending = pending.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    length = next(int(v) for k, _, v in (line.partition(":") for line in lines[1:]) if k.lower() == "content-length")
    while len(pending) < length:
        read_more()
    pending = pending[length:]
    print(lines[0].split()[1], flush=True)
