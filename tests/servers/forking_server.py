#!/usr/bin/env python3
"""An HTTP/1.1 server that forks a process of its own for every connection (ForkingMixIn),
for the kernel tests of short-lived server processes.

GET /status/NNN/... -> status NNN
anything else       -> 200
Usage: forking_server.py PORT. Prints "listening PORT" when ready.
"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ForkingMixIn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        status = int(path.split("/")[2]) if path.startswith("/status/") else 200
        body = b"forked\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ForkingMixIn, HTTPServer):
    allow_reuse_address = True


server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
print("listening", sys.argv[1], flush=True)
server.serve_forever()
