#!/usr/bin/env python3
"""A TCP server that speaks whatever: it answers every read with "+PONG\r\n" (Redis style),
except a read that starts with "GET /real", which gets a proper HTTP/1.1 response, and one that
starts with "GET /unframed/N", which gets an HTTP/1.0 response of N body bytes with no length,
ended by the close (socketserver shuts the socket down for writing, then closes it); "GET
/lingering/N" the same with a send buffer that takes it all, for a client that does not read.
Used to check that non-HTTP traffic on a traced socket never becomes an HTTP span."""
import socket
import socketserver
import sys

class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            try:
                data = self.request.recv(65536)
            except ConnectionError:
                return
            if not data:
                return
            if data.startswith(b"GET /unframed/") or data.startswith(b"GET /lingering/"):
                size = int(data.split(b" ")[1].split(b"/")[2])
                if data.startswith(b"GET /lingering/"):
                    # room for the whole body in the send buffer: the close comes while the
                    # client, which does not read, still has most of it to take
                    self.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
                self.request.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"x" * size)
                return
            if data.startswith(b"GET /real"):
                body = b"real\n"
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                self.request.sendall(b"+PONG\r\n")

class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True

if __name__ == "__main__":
    port = int(sys.argv[1])
    with Server(("127.0.0.1", port), Handler) as server:
        print("listening", port, flush=True)
        server.serve_forever()
