#!/usr/bin/env bash
# Installs what building and testing Beyla for .NET needs on Debian 12, and nothing twice:
# apt-get runs only when a package is missing. Needs root (CI runs as root).
set -euo pipefail

packages=(
  clang-14      # compiles the BPF C (src/Beyla.Bpf/bpf) during the build
  libbpf-dev    # BPF headers: bpf_helpers.h, bpf_core_read.h
  libbpf1       # libbpf.so.1, loaded at run time
  bpftool       # tests check that nothing stays loaded; kernel cost figures
  curl          # kernel tests drive servers with curl
  openssl       # kernel tests make self-signed certificates for HTTPS
  nginx         # kernel tests trace nginx
  nodejs        # kernel tests trace a Node server
  golang-go     # kernel tests build and trace a Go net/http server and client
  liburing-dev  # kernel tests build a server that moves its bytes through io_uring
  python3       # kernel tests trace Python's http.server; test summary
  wrk           # benchmarks/overhead.py and kernel_cost.py drive servers with wrk
  prometheus    # kernel tests scrape the exporter with a real Prometheus; promtool checks the exposition
  busybox       # kernel tests trace busybox httpd (it answers on a duplicate of the request's fd)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# nginx-light's package starts a system nginx on port 80, and prometheus's a system Prometheus
# on *:9090 (scraping itself); the tests start their own. Without a running systemd the
# packages' init scripts may have started them instead.
for service in nginx prometheus; do
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$service" >/dev/null 2>&1 || true; fi
  if [ ! -d /run/systemd/system ] && [ -x "/etc/init.d/$service" ]; then "/etc/init.d/$service" stop >/dev/null 2>&1 || true; fi
done

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK is missing (dotnet is not on PATH)" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
