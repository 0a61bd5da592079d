"""For the kernel tests: HTTP/1.1 through a stand-in for OpenSSL, so that the TLS probes meet
functions built as a test chooses (for example for Intel CET, each starting with endbr64).

Usage: python_fake_libssl_client.py [--ex] LIBRARY PORT PATH...; prints "ready", waits for a
line on stdin, loads LIBRARY (a file named libssl.so.3 whose SSL_write and SSL_read write and
read the socket whose fd the SSL pointer points to: the "plaintext" is what goes over the wire),
prints "loaded", waits for another line, then GETs each path from 127.0.0.1:PORT over one
connection with SSL_write and SSL_read (with --ex: SSL_write_ex and SSL_read_ex), printing each
status.
"""
import ctypes
import socket
import sys

args = sys.argv[1:]
ex = args[0] == "--ex"
if ex:
    args = args[1:]
library, port, paths = args[0], int(args[1]), args[2:]
print("ready", flush=True)
sys.stdin.readline()
ssl = ctypes.CDLL(library)
ssl.SSL_write.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
ssl.SSL_read.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
if ex:
    ssl.SSL_write_ex.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
    ssl.SSL_read_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]


def ssl_write(data):
    if not ex:
        return ssl.SSL_write(handle, data, len(data))
    written = ctypes.c_size_t(0)
    return written.value if ssl.SSL_write_ex(handle, data, len(data), ctypes.byref(written)) == 1 else -1


def ssl_read():
    if not ex:
        return ssl.SSL_read(handle, buffer, len(buffer))
    read = ctypes.c_size_t(0)
    return read.value if ssl.SSL_read_ex(handle, buffer, len(buffer), ctypes.byref(read)) == 1 else -1


print("loaded", flush=True)
sys.stdin.readline()

connection = socket.create_connection(("127.0.0.1", port))
fd = ctypes.c_int(connection.fileno())
handle = ctypes.cast(ctypes.pointer(fd), ctypes.c_void_p)  # the "SSL object"
buffer = ctypes.create_string_buffer(65536)
pending = b""


def read_more():
    global pending
    n = ssl_read()
    if n <= 0:
        raise SystemExit(f"SSL_read returned {n}")
    pending += buffer.raw[:n]


for path in paths:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    if ssl_write(request) != len(request):
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
