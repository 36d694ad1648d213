#!/usr/bin/env bash
# Runs inside the fresh root that packaging/fresh-machine-check.sh makes (as root, in the checkout's copy):
# the README's commands exactly as written, then the package. Each phase writes one line
# "PHASE STATUS DETAIL" to /root/fresh-results/PHASE (STATUS 0 = passed), which the check reads.
#   fresh-root-phases.sh [demo] [test] [package] [deb]
set -uo pipefail
cd "$(dirname "$0")/.."
results=/root/fresh-results
mkdir -p "$results"
say() { echo "fresh-root: $*" >&2; }
record() { echo "$1 $2 $3" > "$results/$1"; say "$1: $3"; }

# Waits (at most $2 s) until $1 is a FUSE mount point, while process $3 lives. Returns 1 if it exited first.
wait_mounted() {
  local t0=$SECONDS
  while ! grep -q " $1 fuse" /proc/mounts; do
    kill -0 "$3" 2>/dev/null || return 1
    [ $((SECONDS - t0)) -lt "$2" ] || return 2
    sleep 0.5
  done
}

# Sends SIGINT (Ctrl-C) to $1 and waits (at most 60 s) for it; returns its exit status.
interrupt() {
  kill -INT "$1"
  local t0=$SECONDS
  while kill -0 "$1" 2>/dev/null; do
    if [ $((SECONDS - t0)) -ge 60 ]; then kill -KILL "$1"; return 124; fi
    sleep 0.2
  done
  wait "$1"
}

# A mounted demo on $1 (started as process $2, output in $3): ls -lR and cat, as the README says, then Ctrl-C.
# Sets DETAIL to what it checked (it runs in this shell, which must be able to wait for $2); returns 0 when the listing and the file are right and the mount ended cleanly.
check_demo() {
  local mp=$1 pid=$2 out=$3 rc
  wait_mounted "$mp" 900 "$pid"; rc=$?
  if [ $rc -ne 0 ]; then
    [ $rc = 2 ] && kill -TERM "$pid"
    wait "$pid"
    DETAIL="no mount on $mp (exit status $?): $(grep -v '^\s*$' "$out" | tail -1)"
    return 1
  fi
  echo "+ ls -lR $mp" >&2; ls -lR "$mp" >&2
  echo "+ cat $mp/hello.txt" >&2; cat "$mp/hello.txt" >&2
  if ! cmp -s "$mp/hello.txt" src/CloudMount.Cli/Demo/Sample/hello.txt || ! ls -lR "$mp" | grep -q 'summarize.py'; then
    interrupt "$pid"
    DETAIL="the demo mount does not show the sample bucket"
    return 1
  fi
  interrupt "$pid"; rc=$?
  if [ $rc -ne 0 ] || grep -q " $mp fuse" /proc/mounts; then
    DETAIL="Ctrl-C: exit status $rc, $(grep -c " $mp fuse" /proc/mounts) mount(s) left on $mp"
    return 1
  fi
  DETAIL="mounted, listed and read the sample bucket; Ctrl-C unmounted it (exit 0)"
}

phase_demo() {
  local t0=$SECONDS detail
  say "demo: ./run.sh"
  set -m # background jobs keep SIGINT (a terminal's Ctrl-C) instead of ignoring it
  ./run.sh > /root/run.out 2>&1 &
  local pid=$!
  set +m
  if check_demo "$PWD/mnt" "$pid" /root/run.out; then
    record demo 0 "$DETAIL ($((SECONDS - t0)) s)"
  else
    say "output of ./run.sh:"; cat /root/run.out >&2
    record demo 1 "$DETAIL"
  fi
}

phase_test() {
  local t0=$SECONDS
  if [ -d ../shared/tools ]; then say "test: ../shared/tools is here (read-only), as beside the host's checkout"
  else say "test: no ../shared/tools (as on a user's machine): jobs that need it skip"; fi
  say "test: ./test.sh"
  ./test.sh 2>&1 | tee /root/test.out
  local rc=${PIPESTATUS[0]}
  local last
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' /root/test.out | tail -1)
  record test "$rc" "${last:-no 'N passed, N failed' line} (exit status $rc, $((SECONDS - t0)) s)"
}

# Seeds s3rver through cloudmount cp, mounts it from a temporary fstab with mount -T, reads, unmounts.
fstab_on_s3rver() {
  local port state=/root/s3rver-fstab bucket=fstab-bucket rc
  port=$((20000 + RANDOM % 30000))
  tests/servers/s3rver.sh start "$state" "$port" "$bucket" || { echo "s3rver did not start"; return 1; }
  local endpoint=http://127.0.0.1:$port
  mkdir -p /etc/cloudmount /data
  printf 'AWS_ACCESS_KEY_ID=S3RVER\nAWS_SECRET_ACCESS_KEY=S3RVER\n' > /etc/cloudmount/fstab-test.env
  chmod 600 /etc/cloudmount/fstab-test.env
  if ! AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER cloudmount cp README.md "s3://$bucket/docs/README.md" --endpoint "$endpoint" >&2; then
    tests/servers/s3rver.sh stop "$state"; echo "cloudmount cp to s3rver failed"; return 1
  fi
  echo "s3://$bucket /data cloudmount _netdev,nofail,allow_other,endpoint=$endpoint,cache_dir=/var/cache/cloudmount/data,uid=1000,ro,env_file=/etc/cloudmount/fstab-test.env 0 0" > /root/fstab.good
  echo "+ mount -T /root/fstab.good /data   # $(cat /root/fstab.good)" >&2
  local problem=""
  if ! mount -T /root/fstab.good /data; then
    problem="mount -T /root/fstab.good /data failed"
  else
    ls -l /data/docs >&2
    cmp -s /data/docs/README.md README.md || problem="/data/docs/README.md differs from README.md"
    [ "$(stat -c %u /data/docs/README.md)" = 1000 ] || problem="${problem:+$problem; }uid is not 1000"
    touch /data/new-file 2>/dev/null && problem="${problem:+$problem; }a ro mount accepted a new file"
    echo "+ umount /data" >&2
    umount /data || problem="${problem:+$problem; }umount /data failed"
    # The background mount ends once unmounted (it logs "unmounted /data" last).
    for _ in $(seq 1 100); do grep -q 'unmounted /data' /var/log/cloudmount/data.log 2>/dev/null && break; sleep 0.2; done
    grep -q 'unmounted /data' /var/log/cloudmount/data.log || problem="${problem:+$problem; }no 'unmounted /data' in /var/log/cloudmount/data.log"
  fi
  # A bad option: mount fails with one line naming it.
  sed 's/,ro,/,ro,no_such_option=1,/' /root/fstab.good > /root/fstab.bad
  echo "+ mount -T /root/fstab.bad /data   # with no_such_option=1" >&2
  mount -T /root/fstab.bad /data 2> /root/fstab.bad.err; rc=$?
  cat /root/fstab.bad.err >&2
  if [ $rc = 0 ]; then umount /data; problem="${problem:+$problem; }a bad option mounted"; fi
  [ "$(grep -c . /root/fstab.bad.err)" = 1 ] && grep -q "unknown option 'no_such_option'" /root/fstab.bad.err \
    || problem="${problem:+$problem; }the bad option did not fail with one line naming it"
  tests/servers/s3rver.sh stop "$state"
  [ -z "$problem" ] || { echo "$problem"; return 1; }
  echo "mount -T of an fstab line mounted s3rver read-only as uid 1000, umount ended it, a bad option failed with one line (exit $rc)"
}

phase_package() {
  local t0=$SECONDS detail deb
  say "package: packaging/build.sh"
  if ! packaging/build.sh; then record package 1 "packaging/build.sh failed (the line above says why)"; return; fi
  deb=$(ls artifacts/packages/cloudmount_*.deb | head -1)
  if ! apt-get install -y --no-install-recommends "./$deb" > /root/apt-deb.out 2>&1; then
    record package 1 "apt-get install ./$deb failed: $(grep -m1 '^E:' /root/apt-deb.out)"; return
  fi
  for f in /usr/bin/cloudmount /sbin/mount.cloudmount /sbin/mount.fuse.cloudmount /usr/share/man/man1/cloudmount.1.gz /lib/systemd/system/cloudmount@.service; do
    [ -e "$f" ] || { record package 1 "the installed package lacks $f"; return; }
  done
  if ! scripts/install-test-deps.sh; then record package 1 "could not install s3rver (the line above says why)"; return; fi
  if detail=$(fstab_on_s3rver); then
    record package 0 "built and lintian-checked $deb, installed it; $detail ($((SECONDS - t0)) s)"
  else
    record package 1 "$detail"
  fi
}

phase_deb() {
  local t0=$SECONDS detail deb
  deb=$(ls /root/deb/cloudmount_*.deb | head -1)
  say "deb: apt-get install $deb on an untouched root, then cloudmount demo"
  if ! { apt-get update && apt-get install -y --no-install-recommends "$deb"; } > /root/apt-deb.out 2>&1; then
    record deb 1 "apt-get install $deb failed: $(grep -m1 '^E:' /root/apt-deb.out)"; return
  fi
  set -m
  (cd /root && exec cloudmount demo demo-mnt) > /root/demo.out 2>&1 &
  local pid=$!
  set +m
  if ! check_demo /root/demo-mnt "$pid" /root/demo.out; then
    cat /root/demo.out >&2; record deb 1 "cloudmount demo: $DETAIL"; return
  fi
  detail=$DETAIL
  # The mount helper on a machine with nothing but the package: a mem:// store from a temporary fstab.
  mkdir -p /data
  echo "mem://fresh /data cloudmount _netdev,nofail,cache_dir=/var/cache/cloudmount/data 0 0" > /root/fstab.mem
  if ! mount -T /root/fstab.mem /data; then record deb 1 "mount -T of a mem:// fstab line failed"; return; fi
  echo written > /data/file && [ "$(cat /data/file)" = written ] || { umount /data; record deb 1 "write and read back on the fstab mount failed"; return; }
  umount /data || { record deb 1 "umount /data failed"; return; }
  record deb 0 "apt-get install of the .deb alone pulled fuse3; cloudmount demo: $detail; mount -T of a mem:// line worked ($((SECONDS - t0)) s)"
}

for p in "$@"; do "phase_$p"; done
