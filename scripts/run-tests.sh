#!/usr/bin/env bash
# Builds everything and runs every test (unit tests with fake sources; kernel tests against
# real servers, which need root). Ends with the line "N passed, N failed".
# BEYLA_REQUIRE_BPF=1 makes kernel tests fail instead of skipping when BPF is unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
results="$(pwd)/TestResults"
rm -rf "$results"
dotnet build Beyla.sln -c Release -nologo -v quiet -clp:ErrorsOnly
status=0
dotnet test Beyla.sln -c Release --no-build -nologo --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results" || status=$?
python3 scripts/summarize-trx.py "$results" || status=1
exit $status
