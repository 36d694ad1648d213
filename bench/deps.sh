#!/usr/bin/env bash
# What the benchmarks need beyond the test prerequisites (scripts/install-test-deps.sh), from Debian's packages:
#   rclone, s3fs      the peer mounts (rclone mount, s3fs-fuse)
#   bindfs            FUSE passthrough: the floor for FUSE overhead on local files
#   fio, hyperfine    random-read jobs; repeated command timings
#   procps            pgrep, uptime, ps
# Not called by the test suite: only bench/*.sh (through bench/lib.sh) install these.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../scripts/install-test-deps.sh"
"$here/../scripts/apt-install.sh" rclone s3fs bindfs fio hyperfine procps
