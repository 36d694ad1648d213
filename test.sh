#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds, runs NUnit (unit, backend contract suite against
# real servers, FUSE mounts driven by ordinary tools, bad-input checks) and ends with "N passed, N failed".
# The tests start and stop their own servers and mounts; nothing is left running.
set -uo pipefail
cd "$(dirname "$0")"
results=artifacts/test-results
# This run's scratch folders live under one folder of its own, so the safety net below touches only what this
# run started (another run on the same machine keeps its servers and mounts).
run_dir=$(mktemp -d /tmp/cloudmount-run-XXXXXX) || { echo "0 passed, 1 failed (cannot create a scratch folder in /tmp)"; exit 1; }
export TMPDIR=$run_dir

cleanup() {
  # Safety net for a crashed test host: unmount and stop anything under this run's scratch folder.
  grep -o " $run_dir/[^ ]*" /proc/mounts 2>/dev/null | while read -r m; do fusermount3 -u -z "$m" 2>/dev/null; done
  pkill -f "$run_dir/" 2>/dev/null || true
  rm -rf "$run_dir" 2>/dev/null || true
}
trap cleanup EXIT

if ! scripts/install-test-deps.sh; then
  echo "0 passed, 1 failed (could not install the test prerequisites)"
  exit 1
fi
. scripts/step.sh
if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: step 'find dotnet' failed: no dotnet on PATH (install the .NET 10 SDK first)" >&2
  echo "0 passed, 1 failed (no .NET SDK)"
  exit 1
fi
echo "test.sh: building (dotnet build CloudMount.sln; log in artifacts/logs/dotnet-build.log)" >&2
if ! step "dotnet build" dotnet build CloudMount.sln -c Release --nologo; then
  echo "0 passed, 1 failed (build failed)"
  exit 1
fi
rm -rf "$results"
# Reproductions of defects not fixed yet (NUnit category KnownDefect, listed in tests/CloudMount.Tests/Model/
# KnownDefects.cs) fail until their fix lands: the default run leaves them out; any --filter given replaces this.
args=("$@")
case " $* " in *" --filter "*) ;; *) args+=(--filter "TestCategory!=KnownDefect") ;; esac
dotnet test tests/CloudMount.Tests -c Release --no-build --nologo \
  --logger "trx;LogFileName=tests.trx" --logger "console;verbosity=normal" --results-directory "$results" "${args[@]}"
rc=$?
trx="$results/tests.trx"
if [ ! -f "$trx" ]; then
  echo "test.sh: step 'dotnet test' failed: it wrote no results (exit status $rc; its output is above)" >&2
fi
count() { grep -o "$1=\"[0-9]*\"" "$trx" 2>/dev/null | head -1 | grep -o '[0-9]*' || echo 0; }
passed=$(count passed); failed=$(count failed); skipped=$(( $(count total) - $(count executed) ))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
[ -f "$results/pjdfstest-summary.txt" ] && cat "$results/pjdfstest-summary.txt"
# The failed tests again, each with the first lines of its message, so the end of the log names them.
if [ "$failed" -gt 0 ] && [ -f "$trx" ] && command -v python3 >/dev/null 2>&1; then
  python3 scripts/failed-tests.py "$trx" || true
fi
[ "$skipped" -gt 0 ] && echo "$skipped skipped (each says why: a known bug of the test server it concerns, or an exploration run only on request)"
echo "$passed passed, $failed failed"
exit $rc
