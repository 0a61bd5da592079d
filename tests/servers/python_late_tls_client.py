"""For the kernel tests: a client that loads OpenSSL only after it is told to go.

Usage: python_late_tls_client.py [--hold] PORT PATH...; prints "ready", waits for a line on
stdin, then imports ssl (which loads libssl) and GETs each path over one HTTPS connection,
printing each status. With --hold it prints "loaded" once libssl is loaded and waits for
another line before connecting.
"""
import sys

hold = sys.argv[1] == "--hold"
args = sys.argv[2:] if hold else sys.argv[1:]
port, paths = int(args[0]), args[1:]
print("ready", flush=True)
sys.stdin.readline()
import http.client  # noqa: E402
import ssl  # noqa: E402

if hold:
    print("loaded", flush=True)
    sys.stdin.readline()

context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
for path in paths:
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    print(response.status, flush=True)
