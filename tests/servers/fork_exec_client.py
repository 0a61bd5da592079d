#!/usr/bin/env python3
"""Waits for a line on stdin, then sends GET /hello/parent itself, GET /hello/forked-child
from a forked child (no exec), and GET /hello/exec-child from a curl it runs (fork, then exec).
Prints "parent PID STATUS", "forked PID STATUS" and "exec PID STATUS", one a line.
Usage: fork_exec_client.py PORT
"""
import http.client
import os
import subprocess
import sys

port = int(sys.argv[1])
sys.stdin.readline()


def get(path):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


print("parent", os.getpid(), get("/hello/parent"), flush=True)
child = os.fork()
if child == 0:
    os._exit(0 if get("/hello/forked-child") == 200 else 1)
_, code = os.waitpid(child, 0)
print("forked", child, 200 if code == 0 else 0, flush=True)
curl = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:%d/hello/exec-child" % port],
                        stdout=subprocess.PIPE, text=True)
out, _ = curl.communicate()
print("exec", curl.pid, out, flush=True)
