#!/usr/bin/env bash
# Installs what is missing (fuse3), builds CloudMount, and mounts the embedded sample bucket on ./mnt
# (or the directory given) in the foreground. In another terminal: ls -lR mnt; cat mnt/hello.txt.
# Ctrl-C unmounts. A failing step prints one line naming it and the command's own error, and exits 1.
set -uo pipefail
cd "$(dirname "$0")"
. scripts/step.sh
if ! command -v dotnet >/dev/null 2>&1; then
  echo "run.sh: step 'find dotnet' failed: no dotnet on PATH (install the .NET 10 SDK first)" >&2
  exit 1
fi
scripts/install-deps.sh || exit 1
echo "run.sh: building (dotnet publish src/CloudMount.Cli; log in artifacts/logs/dotnet-publish.log)" >&2
step "dotnet publish" dotnet publish src/CloudMount.Cli -c Release -o artifacts/cloudmount --nologo || exit 1
exec artifacts/cloudmount/cloudmount demo "${1:-mnt}"
