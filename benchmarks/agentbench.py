"""What the benchmark scripts share: starting the sample agent, naming a build, nginx's config,
the floor's no-op programs."""
import os
import re
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The floor under any tracer on the socket probe set's hooks: configuration -> the programs of
# benchmarks/syscall_hooks/floor.bpf.c (no-op programs on the tracepoints socket.bpf.c uses) it
# attaches, by name prefix. "hooks only" is what the probe set attaches on this kernel (the
# socket layer's tracepoints for reads, writes and closes, the memory map's for libssl loads: no
# syscall tracepoint, which would put every syscall of every process on the kernel's slow path);
# "syscall hooks" what it attached before 2026-12-05 and still does on kernels without those
# tracepoints.
FLOORS = {
    "hooks only": ["sock_", "tcp_", "map_", "process_"],
    "syscall hooks": ["exit_", "enter_", "connect_", "close_", "openat_", "process_"],
}


def children(pid):
    """The pids of process pid's children."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def agent_label(agent_dll):
    """The checkout an agent build comes from (the directory above samples/)."""
    head, _, _ = agent_dll.partition("/samples/")
    return os.path.basename(head) or agent_dll


def start_agent(agent_dll, *options, prefix=(), stdout=subprocess.DEVNULL):
    """The sample agent with these options (stdout discarded unless given, stderr piped), once it
    has printed its ready line; returns (process, ready line), and keeps the stderr lines before
    it in process.before_ready. Killed if it ends or fails before that. prefix: a command to run
    it under (taskset)."""
    agent = subprocess.Popen([*prefix, "dotnet", agent_dll, *options],
                             stdout=stdout, stderr=subprocess.PIPE, text=True)
    agent.before_ready = []
    try:
        line = ""
        while not line.startswith("ready"):
            line = agent.stderr.readline()
            agent.before_ready.append(line)
            if not line:
                raise SystemExit(f"agent ended before it was ready: {agent.stderr.read()}")
    except BaseException:
        agent.kill()
        raise
    return agent, line


def stop_agent(agent):
    """Stops the agent; returns (spans, lost, its stderr) from its summary line."""
    if agent.poll() is None:
        agent.send_signal(signal.SIGTERM)
    _, stderr = agent.communicate(timeout=60)
    m = re.search(r"summary: spans=(\d+) lost=(\d+)", stderr)
    if not m:
        raise SystemExit(f"no summary from the agent: {stderr}")
    return int(m.group(1)), int(m.group(2)), stderr


def wait_port(port, proc, what):
    """Returns once something accepts connections on 127.0.0.1:port; exits if proc ends first or after 30 s."""
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"{what} ended before listening (exit code {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} is not listening on {port} after 30 s")


def cpu_ms(pids):
    """User and system CPU time, in ms, of these processes (all their threads) so far."""
    user = system = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            user += int(fields[11])  # utime (field 14)
            system += int(fields[12])  # stime (field 15)
        except FileNotFoundError:
            pass
    tick = os.sysconf("SC_CLK_TCK")
    return user * 1000 / tick, system * 1000 / tick


def steal_ms():
    """CPU time the hypervisor took from this VM's CPUs so far (all CPUs, /proc/stat)."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[8]) * 1000 / os.sysconf("SC_CLK_TCK")


def write_nginx_conf(work, port, listen_options="", server_options="", access_log="off", workers=2):
    """nginx.conf in work: 2 workers (or workers), no access log unless given (a file), keep-alive
    without limit, 200 "hello" on 127.0.0.1:port; returns its path."""
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes {workers}; daemon off; user root; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log {access_log}; keepalive_requests 1000000;
  client_body_temp_path {work}/b; proxy_temp_path {work}/p; fastcgi_temp_path {work}/f; uwsgi_temp_path {work}/u; scgi_temp_path {work}/s;
  server {{ listen 127.0.0.1:{port}{listen_options}; {server_options} location / {{ return 200 "hello\\n"; }} }} }}
""")
    return conf


def build_floor(work):
    """Compiles the floor object and its loader into work; returns the loader's command prefix."""
    hooks = os.path.join(ROOT, "benchmarks/syscall_hooks")
    obj = os.path.join(work, "floor.bpf.o")
    loader = os.path.join(work, "loader")
    subprocess.run(["clang-14", "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", os.path.join(hooks, "floor.bpf.c"), "-o", obj], check=True)
    subprocess.run(["clang-14", "-O2", os.path.join(hooks, "loader.c"), "-o", loader, "-lbpf"], check=True)
    if not os.path.exists("/sys/kernel/tracing/events"):  # libbpf attaches tracepoints through tracefs
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], check=True)
    return [loader, obj, "3600"]


def start_floor(loader, config, prefix=()):
    """The floor's no-op programs, attached; returns the loader process."""
    proc = subprocess.Popen([*prefix, *loader, *FLOORS[config]], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("attached"):
        raise SystemExit(f"the floor's loader failed: {line!r}")
    return proc
