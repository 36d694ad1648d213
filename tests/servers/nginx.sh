#!/usr/bin/env bash
# Start or stop nginx (Debian package) on 127.0.0.1 serving a directory read-only, for the http(s):// backend:
#   nginx.sh start STATE_DIR PORT ROOT   -> http://127.0.0.1:PORT/html/... (HTML autoindex, exact sizes)
#                                           http://127.0.0.1:PORT/json/... (autoindex_format json)
#                                           http://127.0.0.1:PORT/nosize/... (HTML autoindex, human sizes: HEAD needed)
#   nginx.sh stop STATE_DIR
# Range requests (206, 416), ETag and If-Match are nginx's static-file defaults.
set -euo pipefail
cmd=${1:?start|stop}; state=${2:?state dir}
case "$cmd" in
stop)
  [ -f "$state/nginx.pid" ] && kill "$(cat "$state/nginx.pid")" 2>/dev/null || true
  rm -f "$state/nginx.pid"; exit 0 ;;
start) ;;
*) echo "usage: $0 start STATE_DIR PORT ROOT | stop STATE_DIR" >&2; exit 2 ;;
esac
port=${3:?port}; root=$(cd "${4:?root}" && pwd)
mkdir -p "$state/tmp"
cat > "$state/nginx.conf" <<CONF
worker_processes 2;
daemon on;
pid $state/nginx.pid;
error_log $state/error.log warn;
user $(id -un);
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  client_body_temp_path $state/tmp/body; proxy_temp_path $state/tmp/proxy; fastcgi_temp_path $state/tmp/fastcgi;
  uwsgi_temp_path $state/tmp/uwsgi; scgi_temp_path $state/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    location /html/ { alias $root/; autoindex on; }
    location /json/ { alias $root/; autoindex on; autoindex_format json; }
    location /nosize/ { alias $root/; autoindex on; autoindex_exact_size off; }
  }
}
CONF
nginx -c "$state/nginx.conf" -p "$state" -e "$state/error.log"
for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/json/" && exit 0; sleep 0.1; done
echo "nginx did not start on $port:" >&2; cat "$state/error.log" >&2; exit 1
