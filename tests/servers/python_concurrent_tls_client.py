"""For the kernel tests: HTTPS connections whose handshakes start together, then requests on all.

Usage: python_concurrent_tls_client.py PORT CONNECTIONS REQUESTS; opens CONNECTIONS connections
from as many threads, each starting its handshake at the same moment, then sends REQUESTS GETs of
/hello/c<i>/r<j> on connection i, all connections at once. Prints "<i> <local port>" for every
connection once its requests are answered (status 200 each), and "done" at the end; exits 1 on
any other status.
"""
import http.client
import ssl
import sys
import threading

port, connections, requests = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
start = threading.Barrier(connections, timeout=10)
results = [None] * connections


def run(i):
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    start.wait()
    connection.connect()
    ok = True
    for j in range(requests):
        connection.request("GET", f"/hello/c{i}/r{j}")
        response = connection.getresponse()
        response.read()
        ok = ok and response.status == 200
    results[i] = (connection.sock.getsockname()[1], ok)
    connection.close()


threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
for t in threads:
    t.start()
for t in threads:
    t.join()
failed = False
for i, result in enumerate(results):
    if result is None or not result[1]:
        failed = True
        continue
    print(i, result[0], flush=True)
print("done", flush=True)
sys.exit(1 if failed else 0)
