#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet (with sudo when not root).
# Package scripts are kept from starting system services (swift, memcached, nginx) on their default ports
# by a temporary /usr/sbin/policy-rc.d, removed again afterwards; one that is already there (container images
# ship one) is left as it is.
# On failure it prints one line naming the step and apt's own error, and exits non-zero.
set -uo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "apt-install: cannot install ${missing[*]}: not root and no sudo" >&2
    exit 1
  fi
  sudo="sudo"
fi
echo "installing: ${missing[*]}" >&2
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  if printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod +x /usr/sbin/policy-rc.d; then
    created_policy=1
  fi
fi
cleanup() {
  if [ "$created_policy" = 1 ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
  rm -f "$log"
}
log=$(mktemp)
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive

# Runs one step; on failure prints "apt-install: STEP failed: <the command's last error line>" and exits 1.
step() {
  local what=$1; shift
  if ! "$@" >"$log" 2>&1; then
    local reason
    reason=$(grep -E '^(E|Err):' "$log" | tail -1)
    [ -n "$reason" ] || reason=$(grep -v '^\s*$' "$log" | tail -1)
    echo "apt-install: $what failed: ${reason:-exit status $?}" >&2
    exit 1
  fi
}
step "apt-get update" $sudo apt-get update
step "apt-get install ${missing[*]}" $sudo apt-get install -y --no-install-recommends "${missing[@]}"
exit 0
