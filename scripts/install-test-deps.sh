#!/usr/bin/env bash
# What the tests need beyond the .NET SDK, on Debian 12:
#   fuse3                      mounts; libfuse3-dev, gcc, libc6-dev, pkg-config, binutils: the binding check
#   swift*, memcached          OpenStack Swift with s3api, the faithful S3 server (tests/servers/swift.sh)
#   nodejs, npm                s3rver, Azurite, Google's GCS emulator (firebase-tools) and our fault proxy (tests/servers)
#   python3, curl, attr, util-linux  tools the tests drive the mount with
#   procps                     kill, pkill and ps (test.sh's safety net, tests that signal a mount)
#   gzip, brotli, zstd         encode objects the way another client would (Content-Encoding tests, bench)
#   systemd                    systemd-analyze verify of packaging/systemd's units
#   nginx                      a plain web server for the read-only http(s):// backend (tests/servers/nginx.sh)
#   autoconf automake libtool make perl  build pjdfstest from ../shared/tools and run it with prove (Fuse/PjdfstestJob.cs)
#   rsync git s3fs rclone      the tools the POSIX tests drive the mount with, and the peers they check interop with
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkgs=(fuse3 libfuse3-3 libfuse3-dev gcc libc6-dev pkg-config binutils python3 curl attr util-linux procps gzip brotli zstd
      swift swift-proxy swift-account swift-container swift-object memcached nginx systemd
      autoconf automake libtool make perl rsync git s3fs rclone)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
"$here/apt-install.sh" "${pkgs[@]}"
cd "$here/../tests/servers"
if [ ! -x node_modules/.bin/s3rver ] || [ ! -f node_modules/azurite/dist/src/blob/main.js ] \
   || [ ! -f node_modules/firebase-tools/lib/emulator/storage/index.js ]; then
  log=$(mktemp)
  if ! npm install --no-audit --no-fund >"$log" 2>&1; then
    reason=$(grep -E 'ERR!' "$log" | head -3 | tr '\n' ' ' | cut -c1-300)
    [ -n "$reason" ] || reason=$(grep -v '^[[:space:]]*$' "$log" | tail -1 | cut -c1-300)
    echo "install-test-deps: step 'npm install' in tests/servers failed: ${reason:-no output}" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi
