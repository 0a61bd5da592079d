"""For the kernel tests: a client that loads OpenSSL only after it is told to go.

Usage: python_late_tls_client.py [--hold] [--raw-hello] PORT PATH...; prints "ready", waits for
a line on stdin, then imports ssl (which loads libssl) and GETs each path over one HTTPS
connection, printing each status. With --hold it prints "loaded" once libssl is loaded and
waits for another line before connecting. With --raw-hello it first writes a TLS ClientHello
record of its own over a plain socket, as a TLS relay would, with no SSL call.
"""
import socket
import sys

args = sys.argv[1:]
hold = "--hold" in args
raw_hello = "--raw-hello" in args
args = [a for a in args if a not in ("--hold", "--raw-hello")]
port, paths = int(args[0]), args[1:]
print("ready", flush=True)
sys.stdin.readline()
import http.client  # noqa: E402
import ssl  # noqa: E402

if hold:
    print("loaded", flush=True)
    sys.stdin.readline()

if raw_hello:
    # a handshake record (22, TLS 1.0 record version) holding a ClientHello (1), cut short: the
    # server answers it with an alert or closes
    hello = bytes([22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0])
    with socket.create_connection(("127.0.0.1", port)) as relay:
        relay.sendall(hello)
        relay.settimeout(5)
        try:
            relay.recv(100)
        except OSError:
            pass

context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
for path in paths:
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    print(response.status, flush=True)
