"""Test HTTP/1.1 server (keep-alive, threaded) for the kernel tests.

GET /hello/...   -> 200 with a small body
GET /status/NNN  -> status NNN
GET /big/N       -> 200 with an N-byte body
GET /slow/MS     -> 200 after MS milliseconds
GET /drop/...    -> the connection is closed with no response
POST ...         -> 200, body = number of request body bytes read (POST /slow/MS: after MS milliseconds)
GET /chunked/N   -> 200 with an N-byte body, chunked (two chunks, then the last one)
GET /trailers/N  -> the same, with two trailer fields after the last chunk
GET /interim/NNN -> an interim response NNN (100, 103) and a 200 in one write
GET /pieces/HOW/NNN -> status NNN, its head written in one buffer per word and line end (as
                    varnish does), in one os.writev (HOW writev) or socket.sendmsg (sendmsg); or
                    a line per write (writes: Perl's HTTP::Daemon)
GET /longhead/HOW/N -> 200 with an N-byte head, its Content-Length the last field: head and
                    body in one write (HOW one), in one writev of a buffer per line and line end
                    (writev), the head in two writes cut in its Content-Length line's value
                    (split), or a chunked body (chunked)
GET /splice/N    -> 200 with an N-byte body that goes from a pipe to the socket by splice (as
                    haproxy's splice-response moves bodies), the head written before it
GET /dup/N       -> 200 with an N-byte body, head and body written on a duplicate of the
                    connection's fd (os.dup, closed after: as inetd-style servers answer on fd 1)
GET /ws          -> 101, then echoes WebSocket frames (a minimal one: payloads under 126 bytes);
                    GET /ws?split: the 101's status line and headers in two writes
anything else    -> 404
Usage: python_server.py PORT [CERT KEY]; with a certificate and key it serves HTTPS.
Prints "listening PORT" when ready.
"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/hello"):
            self._send(200, "hello from python\n")
        elif path.startswith("/status/"):
            self._send(int(path.split("/")[2]), "status\n")
        elif path.startswith("/big/"):
            self._send(200, "x" * int(path.split("/")[2]))
        elif path.startswith("/slow/"):
            time.sleep(int(path.split("/")[2]) / 1000)
            self._send(200, "slow\n")
        elif path.startswith("/drop/"):
            self.close_connection = True
        elif path.startswith("/chunked/"):
            self._send_chunked(int(path.split("/")[2]))
        elif path.startswith("/interim/"):
            # an interim response (100, 103) and the final one in a single write
            body = b"after interim\n"
            self.wfile.write(b"HTTP/1.1 %s Interim\r\nLink: </a.css>; rel=preload\r\n\r\n" % path.split("/")[2].encode()
                             + b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        elif path.startswith("/trailers/"):
            self._send_chunked(int(path.split("/")[2]), b"X-Checksum: abc123\r\nX-Count: 2\r\n")
        elif path.startswith("/pieces/"):
            self._send_in_pieces(path.split("/")[2], int(path.split("/")[3]))
        elif path.startswith("/longhead/"):
            self._send_long_head(path.split("/")[2], int(path.split("/")[3]))
        elif path.startswith("/splice/"):
            self._send_spliced(int(path.split("/")[2]))
        elif path.startswith("/dup/"):
            n = int(path.split("/")[2])
            data = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (n, b"d" * n)
            fd = os.dup(self.connection.fileno())
            try:
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)
        elif path == "/ws":
            self._websocket()
        else:
            self._send(404, "not found\n")

    def _send_chunked(self, n, trailers=b""):
        # the head, each chunk and the last chunk ("0\r\n\r\n", 5 bytes; with trailer fields
        # before its blank line if given) in writes of their own
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
        for size in (n // 2, n - n // 2):
            if size:
                self.wfile.write(b"%x\r\n%s\r\n" % (size, b"c" * size))
        self.wfile.write(b"0\r\n" + trailers + b"\r\n")

    def _send_spliced(self, n):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % n)
        r, w = os.pipe()
        try:
            left = n
            while left:
                piece = os.write(w, b"s" * min(left, 65536))
                while piece:
                    moved = os.splice(r, self.connection.fileno(), piece)
                    piece -= moved
                    left -= moved
        finally:
            os.close(r)
            os.close(w)

    def _send_in_pieces(self, how, status):
        body = b"pieces\n"
        pieces = [b"HTTP/1.1", b" ", str(status).encode(), b" ", b"Whatever", b"\r\n"]
        for name, value in ((b"Server", b"pieces"), (b"Content-Type", b"text/plain"), (b"Content-Length", str(len(body)).encode())):
            pieces += [name + b": " + value, b"\r\n"]
        pieces += [b"\r\n", body]
        if how == "sendmsg":
            self.connection.sendmsg(pieces)
        elif how == "writes":
            # a line per write, as Perl's HTTP::Daemon writes its heads
            for line in b"".join(pieces[:-1]).split(b"\r\n")[:-1]:
                self.connection.sendall(line + b"\r\n")
            self.connection.sendall(body)
        else:
            os.writev(self.connection.fileno(), pieces)

    def _send_long_head(self, how, n):
        # a head of exactly n bytes (filler fields, then a pad field to make up the rest), its
        # Content-Length (or Transfer-Encoding) the last field
        body = b"long head\n"
        last = b"Transfer-Encoding: chunked\r\n" if how == "chunked" else b"Content-Length: %d\r\n" % len(body)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        rest = n - len(head) - len(last) - 2
        i = 0
        while rest >= 62 + 10:
            head += b"X-Filler-%03d: %s\r\n" % (i, b"f" * 46)
            rest -= 62
            i += 1
        head += b"X-Pad: %s\r\n" % (b"p" * (rest - 9)) + last + b"\r\n"
        assert len(head) == n, (len(head), n)
        if how == "chunked":
            self.connection.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        elif how == "writev":
            # in one os.writev, a buffer per line and one per line end (as varnish writes its heads)
            pieces = []
            for line in head[:-2].split(b"\r\n")[:-1]:
                pieces += [line, b"\r\n"]
            os.writev(self.connection.fileno(), pieces + [b"\r\n", body])
        elif how == "split":
            cut = head.index(b"Content-Length: ") + len(b"Content-Length: 1")
            self.connection.sendall(head[:cut])
            time.sleep(0.005)
            self.connection.sendall(head[cut:] + body)
        else:
            self.connection.sendall(head + body)

    def _websocket(self):
        if "split" in self.path:
            # the status line and the headers in two writes
            self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\n")
            time.sleep(0.02)
            self.wfile.write(b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        else:
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        while True:
            header = self.rfile.read(2)
            if len(header) < 2:
                return
            mask = self.rfile.read(4) if header[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(header[1] & 0x7F)))
            if header[0] & 0x0F == 8:
                self.wfile.write(b"\x88\x00")
                return
            self.wfile.write(bytes([0x81, len(payload)]) + payload)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        path = self.path.split("?")[0]
        if path.startswith("/slow/"):
            time.sleep(int(path.split("/")[2]) / 1000)
        self._send(200, "%d\n" % len(body))


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
if len(sys.argv) > 3:
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening", sys.argv[1], flush=True)
server.serve_forever()
