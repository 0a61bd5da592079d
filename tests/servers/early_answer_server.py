#!/usr/bin/env python3
"""An HTTP/1.1 server that answers as soon as it has a request's head, before its body: as a
server refusing an upload does. It waits 0.2 s, then reads and discards the body, so that a
client still inside the write of a large body has the response first. The status is the
number at the end of the path (/status/201 answers 201). Keep-alive."""
import socketserver
import sys
import time

class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        buffered = b""
        while True:
            while b"\r\n\r\n" not in buffered:
                data = self.request.recv(65536)
                if not data:
                    return
                buffered += data
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            status = int(path.rsplit("/", 1)[1])
            body = b"early\n"
            self.request.sendall(b"HTTP/1.1 %d Early\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))
            time.sleep(0.2)
            left = length - len(buffered)
            buffered = buffered[length:]
            while left > 0:
                data = self.request.recv(min(left, 1 << 20))
                if not data:
                    return
                left -= len(data)

class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True

if __name__ == "__main__":
    port = int(sys.argv[1])
    with Server(("127.0.0.1", port), Handler) as server:
        print("listening", port, flush=True)
        server.serve_forever()
