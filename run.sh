#!/usr/bin/env bash
# Installs what is missing (fuse3), builds CloudMount, and mounts the embedded sample bucket on ./mnt
# (or the directory given) in the foreground. In another terminal: ls -lR mnt; cat mnt/hello.txt.
# Ctrl-C unmounts.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
dotnet publish src/CloudMount.Cli -c Release -o artifacts/cloudmount --nologo -v quiet
exec artifacts/cloudmount/cloudmount demo "${1:-mnt}"
