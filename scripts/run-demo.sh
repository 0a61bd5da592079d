#!/usr/bin/env bash
# The main job: the sample agent on its built-in demo (an HTTP server and a client in one
# process, traced from the kernel). Extra arguments go to the agent (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build samples/Beyla.Agent -c Release -nologo -v quiet -clp:ErrorsOnly
exec dotnet run --project samples/Beyla.Agent -c Release --no-build -- "$@"
