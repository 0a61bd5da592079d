"""What the benchmark scripts share: starting the sample agent, naming a build, nginx's config."""
import os
import subprocess


def agent_label(agent_dll):
    """The checkout an agent build comes from (the directory above samples/)."""
    head, _, _ = agent_dll.partition("/samples/")
    return os.path.basename(head) or agent_dll


def start_agent(agent_dll, *options):
    """The sample agent with these options (stdout discarded, stderr piped), once it has printed
    its ready line; returns (process, ready line). Killed if it ends or fails before that."""
    agent = subprocess.Popen(["dotnet", agent_dll, *options],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while not line.startswith("ready"):
            line = agent.stderr.readline()
            if not line:
                raise SystemExit(f"agent ended before it was ready: {agent.stderr.read()}")
    except BaseException:
        agent.kill()
        raise
    return agent, line


def write_nginx_conf(work, port, listen_options="", server_options="", access_log="off"):
    """nginx.conf in work: 2 workers, no access log unless given (a file), keep-alive without
    limit, 200 "hello" on 127.0.0.1:port; returns its path."""
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 2; daemon off; user root; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log {access_log}; keepalive_requests 1000000;
  client_body_temp_path {work}/b; proxy_temp_path {work}/p; fastcgi_temp_path {work}/f; uwsgi_temp_path {work}/u; scgi_temp_path {work}/s;
  server {{ listen 127.0.0.1:{port}{listen_options}; {server_options} location / {{ return 200 "hello\\n"; }} }} }}
""")
    return conf
