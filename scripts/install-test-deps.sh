#!/usr/bin/env bash
# What the tests need beyond the .NET SDK, on Debian 12:
#   fuse3                      mounts; libfuse3-dev, gcc, libc6-dev, pkg-config, binutils: the binding check
#   swift*, memcached          OpenStack Swift with s3api, the faithful S3 server (tests/servers/swift.sh)
#   nodejs, npm                s3rver and Azurite (tests/servers/package.json)
#   python3, curl, attr, util-linux  tools the tests drive the mount with
#   gzip, brotli, zstd         encode objects the way another client would (Content-Encoding tests, bench)
#   nginx                      a plain web server for the read-only http(s):// backend (tests/servers/nginx.sh)
#   autoconf automake libtool make perl  build pjdfstest from ../shared/tools and run it with prove (Fuse/PjdfstestJob.cs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkgs=(fuse3 libfuse3-3 libfuse3-dev gcc libc6-dev pkg-config binutils python3 curl attr util-linux gzip brotli zstd
      swift swift-proxy swift-account swift-container swift-object memcached nginx
      autoconf automake libtool make perl)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
"$here/apt-install.sh" "${pkgs[@]}"
cd "$here/../tests/servers"
if [ ! -x node_modules/.bin/s3rver ] || [ ! -f node_modules/azurite/dist/src/blob/main.js ]; then
  log=$(mktemp)
  if ! npm install --no-audit --no-fund >"$log" 2>&1; then
    echo "install-test-deps: npm install in tests/servers failed: $(grep -E 'ERR!' "$log" | head -3 | tr '\n' ' ' | cut -c1-300)" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi
