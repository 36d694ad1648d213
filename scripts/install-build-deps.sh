#!/usr/bin/env bash
# What packaging/build.sh needs beyond the .NET SDK, on Debian 12:
#   lintian                    checks the .deb (dpkg-deb itself is part of dpkg)
#   clang, zlib1g-dev          only with --aot: NativeAOT links the native binary with them
set -euo pipefail
pkgs=(lintian)
[ "${1:-}" = --aot ] && pkgs+=(clang zlib1g-dev)
"$(dirname "$0")/apt-install.sh" "${pkgs[@]}"
