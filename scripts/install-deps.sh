#!/usr/bin/env bash
# What a mount needs at run time: libfuse3 and fusermount3 (Debian package fuse3).
set -euo pipefail
"$(dirname "$0")/apt-install.sh" fuse3 libfuse3-3
