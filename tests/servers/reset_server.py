#!/usr/bin/env python3
"""An HTTP/1.1 server that resets connections in the middle of a response, for the
connection-reset kernel tests.

GET /reset-mid/N -> the head of a 200 response announcing 2N body bytes (one send), N body
                    bytes (a second send), then a reset: SO_LINGER 0 and close
anything else    -> 200 with the body "ok\\n", keep-alive
Usage: reset_server.py PORT. Prints "listening PORT" when ready.
"""
import socket
import socketserver
import struct
import sys


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        buffered = b""
        while True:
            while b"\r\n\r\n" not in buffered:
                try:
                    data = self.request.recv(65536)
                except ConnectionError:
                    return
                if not data:
                    return
                buffered += data
            head, buffered = buffered.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1].decode()
            if path.startswith("/reset-mid/"):
                n = int(path.split("/")[2])
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (2 * n))
                self.request.sendall(b"x" * n)
                self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.request.close()
                return
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    port = int(sys.argv[1])
    with Server(("127.0.0.1", port), Handler) as server:
        print("listening", port, flush=True)
        server.serve_forever()
