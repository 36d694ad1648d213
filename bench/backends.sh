#!/usr/bin/env bash
# Per backend (issue 3): the requests that `ls -lR` of 2,000 objects in 20 folders costs through a fresh mount,
# and a sequential read of a 256 MiB object through a fresh mount (requests, MiB/s) beside a single-stream curl
# GET of the same object from the same server. One run. Backends: swift:// (Swift's own API, auth v1) on the
# Debian Swift; s3:// on the same server for comparison; http:// on nginx serving the same files; az:// on
# Azurite (npm) with the same files uploaded by cloudmount cp (containers made by bench/azure-container.py).
#   bench/backends.sh [SIZE_MIB] [FOLDERS] [FILES_PER_FOLDER]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
size_mib=${1:-256}; folders=${2:-20}; per=${3:-100}
bench_init
start_swift tree big
www="$BENCH_STATE/www"; tree="$www/tree"
for f in $(seq -w 1 "$folders"); do
  mkdir -p "$tree/folder$f"
  for i in $(seq -w 1 "$per"); do head -c 1024 /dev/urandom > "$tree/folder$f/file$i.bin"; done
done
ep="http://127.0.0.1:$SWIFT_PORT"
env $SWIFT_ENV "$CM" cp -r "$tree" s3://tree/ --endpoint "$ep" 2>/dev/null
mkdir -p "$www/big"; obj="$www/big/object.bin"
head -c $((size_mib * 1048576)) /dev/urandom > "$obj"
# One PUT through the Swift API, so both APIs read the same plain object.
curl -sf -X PUT -T "$obj" -H "X-Auth-Token: $SWIFT_TOKEN" "$ep/v1/AUTH_test/big/object.bin" > /dev/null
NGINX_PORT=$(free_port)
"$BENCH_ROOT/tests/servers/nginx.sh" start "$BENCH_STATE/nginx" "$NGINX_PORT" "$www"
AZ_PORT=$(free_port)
"$BENCH_ROOT/tests/servers/azurite.sh" start "$BENCH_STATE/azurite" "$AZ_PORT"
AZ_EP="http://127.0.0.1:$AZ_PORT/devstoreaccount1"
AZ_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZ_ENV="AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY=$AZ_KEY"
for c in tree big; do python3 "$BENCH_ROOT/bench/azure-container.py" "$AZ_EP" devstoreaccount1 "$AZ_KEY" "$c" public; done
env $AZ_ENV "$CM" cp -r "$tree" az://tree/ --endpoint "$AZ_EP" 2>/dev/null
env $AZ_ENV "$CM" cp "$obj" az://big/object.bin --endpoint "$AZ_EP" 2>/dev/null
SWIFT_NATIVE_ENV="ST_AUTH=$ep/auth/v1.0 ST_USER=test:tester ST_KEY=testing"

run() { # NAME ENV URL_PREFIX CURL_URL ARGS...
  local name=$1 envs=$2 scheme=$3 curl_url=$4; shift 4
  local mnt="$BENCH_STATE/mnt-$name" log="$BENCH_STATE/$name-ls.log"
  mount_cm "$envs" "${scheme}tree" "$mnt" "$log" --cache-dir "$BENCH_STATE/cache-$name-ls" "$@"
  local listed; listed=$(ls -lR "$mnt" | grep -c '^-')
  unmount_cm "$mnt" "$log"
  echo "  $name: ls -lR ($listed files): $(requests_line "$log" | cut -d';' -f1)"
  log="$BENCH_STATE/$name-read.log"
  mount_cm "$envs" "${scheme}big" "$mnt" "$log" --cache-dir "$BENCH_STATE/cache-$name-read" "$@"
  drop_caches
  local curl_mibps
  curl_mibps=$(python3 -c "print('%.1f' % ($(curl -s -o /dev/null -w '%{speed_download}' -H "X-Auth-Token: $SWIFT_TOKEN" "$curl_url")/1048576))")
  drop_caches
  local m; m=$(read_mibps "$mnt/object.bin")
  unmount_cm "$mnt" "$log"
  echo "  $name: read $size_mib MiB: $m MiB/s, curl GET $curl_mibps MiB/s, ratio $(ratio "$m" "$curl_mibps"); $(requests_line "$log" | cut -d';' -f1)"
}
echo "$folders x $per objects of 1 KiB; one $size_mib MiB object; Swift on 127.0.0.1, one run:"
run swift "$SWIFT_NATIVE_ENV" swift:// "$ep/v1/AUTH_test/big/object.bin"
run s3-on-swift "$SWIFT_ENV" s3:// "$ep/v1/AUTH_test/big/object.bin" --endpoint "$ep"
run az-azurite "$AZ_ENV" az:// "$AZ_EP/big/object.bin" --endpoint "$AZ_EP"
run http-nginx "X=1" "http://127.0.0.1:$NGINX_PORT/html/" "http://127.0.0.1:$NGINX_PORT/html/big/object.bin"
