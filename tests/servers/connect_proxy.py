#!/usr/bin/env python3
"""A minimal HTTP proxy that only tunnels: it answers "CONNECT host:port HTTP/1.1" with "200
Connection established" and then relays bytes both ways until either side closes (what squid and
other forward proxies do for HTTPS_PROXY). Anything else gets a 405. Loopback targets only.
usage: connect_proxy.py PORT"""
import socket
import socketserver
import sys
import threading


def relay(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.request.recv(4096)
            if not data:
                return
            head += data
        line = head.split(b"\r\n", 1)[0].split(b" ")
        if line[0] != b"CONNECT":
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = line[1].rsplit(b":", 1)
        if host not in (b"127.0.0.1", b"localhost"):
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream = socket.create_connection((host.decode(), int(port)))
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        back = threading.Thread(target=relay, args=(upstream, self.request))
        back.start()
        relay(self.request, upstream)
        back.join()
        upstream.close()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
print("listening", sys.argv[1], flush=True)
server.serve_forever()
