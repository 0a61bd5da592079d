"""A server that takes up HTTP/1.1's upgrade to cleartext HTTP/2 (Upgrade: h2c, as curl --http2 asks
for http:// URLs): it answers 101, then the upgraded request (stream 1) over HTTP/2 with 200 and
"ok", the least HTTP/2 a client takes. Any other request gets a 200 over HTTP/1.1.
Usage: h2c_upgrade_server.py PORT. Prints "listening PORT" when ready."""
import socketserver
import sys

SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"          # empty SETTINGS
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"
HEADERS_200 = b"\x00\x00\x01\x01\x04\x00\x00\x00\x01\x88"    # stream 1, END_HEADERS, :status 200 (HPACK index 8)
DATA_OK = b"\x00\x00\x02\x00\x01\x00\x00\x00\x01ok"          # stream 1, END_STREAM


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.request.recv(65536)
            if not data:
                return
            head += data
        if b"h2c" not in head.lower():
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            return
        self.request.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        self.request.sendall(SETTINGS + SETTINGS_ACK + HEADERS_200 + DATA_OK)
        while self.request.recv(65536):
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
print("listening", sys.argv[1], flush=True)
server.serve_forever()
