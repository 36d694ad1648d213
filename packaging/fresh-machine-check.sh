#!/usr/bin/env bash
# The README's commands on a fresh Debian 12 machine, as a new user meets them.
#
#   packaging/fresh-machine-check.sh [demo] [test] [package] [deb]      (no argument: all four)
#
# Builds (once) a clean Debian 12 root from Debian's packages with mmdebstrap: minbase plus what the .NET SDK
# itself needs to run (the dependencies of Microsoft's dotnet-runtime-deps package) and ca-certificates, kept
# as a tarball outside the checkout ($CLOUDMOUNT_FRESH_CACHE, default /var/cache/cloudmount/fresh-root), so
# later runs only unpack it (seconds). Each run unpacks a new copy, copies the checkout into it, and enters it
# with bind mounts of only the host's .NET SDK (read-only), /dev (with /dev/fuse), /proc and /sys, plus
# ../shared/tools read-only when the host has it (pjdfstest's sources; a user's machine has none and that
# job skips). Inside, as root, with a clean environment:
#   demo     `./run.sh` exactly as the README says; once mnt is mounted, `ls -lR mnt` and `cat mnt/hello.txt`,
#            then Ctrl-C (SIGINT) and a check that it unmounted and exited 0
#   test     `./test.sh`, whose last line "N passed, N failed" is the tests' verdict
#   package  `packaging/build.sh` (.deb, lintian), `apt install ./cloudmount_*.deb`, then an fstab line
#            mounted with `mount -T FSTAB /data` on a real s3rver, `umount /data`, and a bad option that
#            must fail with one line
#   deb      on a second, untouched copy of the root: `apt install` of that .deb alone, `cloudmount demo`
#            (ls -lR, cat), and `mount -T` of a mem:// fstab line
# Everything runs in a new mount and PID namespace: the bind mounts, FUSE mounts, servers and processes of a
# run exist only there, and the kernel removes all of them when the run ends, also when it is interrupted
# (Ctrl-C, SIGTERM, or SIGKILL of this script: unshare --kill-child). The last line is
# "N passed, N failed": the tests' counts plus one per other phase.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
prog=fresh-machine-check
say() { echo "$prog: $*" >&2; }
fail_now() { say "$1"; echo "0 passed, 1 failed"; exit 1; }

inside_root=""
if [ "${1:-}" = --inside ]; then inside_root=$2; shift 2; fi
phases=("$@")
[ ${#phases[@]} -gt 0 ] || phases=(demo test package deb)
for p in "${phases[@]}"; do
  case "$p" in demo|test|package|deb) ;; *) echo "usage: $0 [demo] [test] [package] [deb]" >&2; exit 2 ;; esac
done

[ "$(id -u)" = 0 ] || fail_now "needs root (it unpacks a root file system and bind-mounts into it)"
[ -c /dev/fuse ] || fail_now "/dev/fuse is missing: the tests mount FUSE file systems"
dotnet_bin=$(command -v dotnet) || fail_now "no dotnet on PATH: the check lends the host's .NET SDK to the fresh root"
sdk=$(dirname "$(readlink -f "$dotnet_bin")")
[ -x "$sdk/dotnet" ] && [ -d "$sdk/sdk" ] || fail_now "$sdk does not look like a .NET SDK folder"

cache=${CLOUDMOUNT_FRESH_CACHE:-/var/cache/cloudmount/fresh-root}
downloads=$cache/downloads # apt and npm download caches lent to every run's root
checkout=/root/work/cloudmount # so that ../shared/tools is /root/work/shared/tools, as beside the host's checkout
shared_tools=""
[ -d "$repo/../shared/tools" ] && shared_tools=$(readlink -f "$repo/../shared/tools")

# --- inside the namespaces (PID 1 of the new PID namespace) --------------------------------------------------
inside() {
root=$inside_root
# The root is a mount point of its own, as / is on a machine: `unshare -m` inside it (tests do) needs that.
mount --bind "$root" "$root" || exit 1
mount -t proc proc "$root/proc" || exit 1
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys" || exit 1
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" || exit 1
mkdir -p "$root$sdk"
mount --bind "$sdk" "$root$sdk" && mount -o remount,bind,ro "$root$sdk" || exit 1
# Download caches shared by runs (apt's .deb files, npm's package downloads): packages are still missing from
# the root and installed by the project's scripts, only not fetched from the network again. NuGet's are not
# shared: each run's restore proves that a clean restore gets every package.
for d in "apt:/var/cache/apt/archives" "npm:/root/.npm"; do
  mkdir -p "$downloads/${d%%:*}" "$root${d#*:}"
  mount --bind "$downloads/${d%%:*}" "$root${d#*:}" || exit 1
done
if [ -n "$shared_tools" ]; then
  mkdir -p "$root/root/work/shared/tools"
  mount --bind "$shared_tools" "$root/root/work/shared/tools" && mount -o remount,bind,ro "$root/root/work/shared/tools" || exit 1
fi
# A clean environment, as a login shell on a new machine of this kind has it: the site's CA and .NET settings.
envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root LOGNAME=root SHELL=/bin/bash
      TERM=dumb LANG=C.UTF-8)
while IFS= read -r -d '' kv; do
  case "${kv%%=*}" in
    DOTNET_*|NUGET_*|SSL_CERT_*|*_CA_BUNDLE|*_CA_CERTS|*_CA_CERTS_FILE|CI|http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY) envs+=("$kv") ;;
  esac
done < /proc/self/environ
# --default-signal: a background job of a script starts with SIGINT ignored, and the demo's Ctrl-C needs it.
chroot "$root" /usr/bin/env -i --default-signal=INT "${envs[@]}" /bin/bash "$checkout/packaging/fresh-root-phases.sh" "${phases[@]}"
}
if [ -n "$inside_root" ]; then inside; exit; fi

# --- the cached base root ----------------------------------------------------------------------------------
suite=bookworm
mirror=http://deb.debian.org/debian
# dotnet-runtime-deps (Microsoft's package for Debian 12): libc6 libgcc-s1 libgssapi-krb5-2 libicu72 libssl3
# libstdc++6 zlib1g; plus ca-certificates (HTTPS to NuGet). Nothing else: the project must install the rest.
base_packages=ca-certificates,libgcc-s1,libgssapi-krb5-2,libicu72,libssl3,libstdc++6,zlib1g
recipe="v1 $suite minbase $base_packages $mirror"
key=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
tarball="$cache/debian12-minbase-$key.tar"

build_base() {
  mkdir -p "$cache" || fail_now "cannot create $cache"
  exec 9>"$cache/.lock"
  flock 9 # another run building the same root: wait for it, then use its tarball
  [ -f "$tarball" ] && return 0
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    "$repo/scripts/apt-install.sh" mmdebstrap || fail_now "cannot install mmdebstrap (the line above says why)"
  fi
  say "building the Debian 12 root (once; cached as $tarball)"
  local t0=$SECONDS tmp="$cache/.building-$$.tar" log="$cache/.building-$$.log"
  if ! mmdebstrap --variant=minbase --include="$base_packages" "$suite" "$tmp" \
      "deb $mirror $suite main" "deb $mirror $suite-updates main" "deb ${mirror%/debian}/debian-security $suite-security main" \
      >"$log" 2>&1; then
    local reason
    reason=$(grep -E '^E: |error' "$log" | head -1)
    rm -f "$tmp"
    fail_now "step 'mmdebstrap' failed: ${reason:-$(tail -1 "$log")} (log: $log)"
  fi
  mv "$tmp" "$tarball" && rm -f "$log"
  say "built the root in $((SECONDS - t0)) s ($(du -m "$tarball" | cut -f1) MiB)"
  find "$cache" -maxdepth 1 -name 'debian12-minbase-*.tar' ! -name "${tarball##*/}" -delete # older recipes
}
[ -f "$tarball" ] || build_base

# --- one run -------------------------------------------------------------------------------------------------
# Folders of earlier runs that were killed (SIGKILL leaves no chance to delete): their namespaces are gone with
# their processes, so only the files remain; remove those whose run no longer lives and has nothing mounted.
for old in /var/tmp/cloudmount-fresh-*; do
  [ -f "$old/pid" ] || continue
  kill -0 "$(cat "$old/pid")" 2>/dev/null && continue
  grep -q " $old/" /proc/mounts || rm -rf "$old"
done
work=$(mktemp -d /var/tmp/cloudmount-fresh-XXXXXX) || fail_now "cannot create a folder in /var/tmp"
echo $$ > "$work/pid"
child=""
cleanup() {
  trap - EXIT INT TERM HUP
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null # unshare dies, its child (PID 1 of the namespace) gets SIGKILL, and with it all
    wait "$child" 2>/dev/null
  fi
  # The mounts lived in the run's own mount namespace; make sure none is visible here before deleting.
  if grep -q " $work/" /proc/mounts; then
    say "mounts under $work are still visible on the host; not deleting it:"
    grep " $work/" /proc/mounts >&2
  elif [ -z "${CLOUDMOUNT_FRESH_KEEP:-}" ]; then
    rm -rf "$work"
  else
    say "kept $work"
  fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP


# Unpacks a new root into $work/NAME with the checkout (its files as git would clone them) and the site's
# CA certificates (this workplace reaches registries through a TLS proxy whose CA every machine here trusts).
unpack() {
  local root="$work/$1" t0=$SECONDS
  mkdir -p "$root"
  tar -xf "$tarball" -C "$root" || return 1
  mkdir -p "$root$checkout"
  if [ -e "$repo/.git" ]; then
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) \
      | tar -xf - -C "$root$checkout" || return 1
  else
    tar -C "$repo" --exclude=./artifacts --exclude='*/bin' --exclude='*/obj' --exclude='*/node_modules' -cf - . | tar -xf - -C "$root$checkout" || return 1
  fi
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1 || say "update-ca-certificates failed in the root"
  fi
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  ln -sfn "$sdk/dotnet" "$root/usr/bin/dotnet"
  say "unpacked a fresh root in $((SECONDS - t0)) s"
}

# Runs PHASES inside $work/NAME in a new mount and PID namespace (this script again, with --inside).
enter() {
  local name=$1
  shift
  unshare --mount --pid --fork --kill-child --propagation private -- "$here/fresh-machine-check.sh" --inside "$work/$name" "$@" &
  child=$!
  wait "$child"
  local rc=$?
  child=""
  return $rc
}

t_all=$SECONDS
  results="$work/results"
  mkdir -p "$results"
  first=() deb=0
  for p in "${phases[@]}"; do [ "$p" = deb ] && deb=1 || first+=("$p"); done
  if [ ${#first[@]} -gt 0 ]; then
    unpack one || fail_now "cannot unpack $tarball into $work"
    enter one "${first[@]}"
  fi
  if [ "$deb" = 1 ]; then
    debfile=$(ls "$work"/one/"$checkout"/artifacts/packages/cloudmount_*.deb 2>/dev/null | head -1)
    if [ -z "$debfile" ]; then
      # No package phase in this run: build the .deb here on the host checkout's copy in the first root.
      say "deb: no .deb from the package phase of this run"
      echo "deb 1 no .deb to install (run the package phase too)" >"$results/deb"
    else
      unpack two || fail_now "cannot unpack $tarball into $work"
      mkdir -p "$work/two/root/deb" && cp "$debfile" "$work/two/root/deb/"
      enter two deb
    fi
  fi
  # Results: one file per phase inside each root (/root/fresh-results/PHASE: "PHASE STATUS DETAIL").
  cat "$work"/one/root/fresh-results/* "$work"/two/root/fresh-results/* "$results"/* 2>/dev/null >"$results/all"
  passed=0 failed=0 summary=()
  for p in "${phases[@]}"; do
    line=$(grep -m1 "^$p " "$results/all")
    status=$(echo "$line" | cut -d' ' -f2)
    detail=$(echo "$line" | cut -d' ' -f3-)
    if [ "$p" = test ] && [[ "$detail" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
      passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
      [ "$status" = 0 ] || [ "${BASH_REMATCH[2]}" -gt 0 ] || failed=$((failed + 1))
    elif [ "$status" = 0 ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
    fi
    summary+=("$p: ${detail:-did not run}")
  done
  # Nothing of the run may be left on the host: no process whose root is inside $work.
  for d in /proc/[0-9]*; do
    r=$(readlink "$d/root" 2>/dev/null) || continue
    if [[ "$r" == "$work"/* ]]; then say "process ${d#/proc/} is still running inside the root"; failed=$((failed + 1)); fi
  done
  for s in "${summary[@]}"; do say "$s"; done
  say "total $((SECONDS - t_all)) s"
  cleanup
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]

