#!/usr/bin/env bash
# A throwaway ClickHouse server for tests and benchmarks, run as our own process.
#   scripts/clickhouse.sh install        install Debian's clickhouse-server if missing (as root)
#   scripts/clickhouse.sh start DIR      start one with its data under DIR; prints its HTTP URL
#   scripts/clickhouse.sh stop DIR       stop it
#   scripts/clickhouse.sh pause DIR      stop it, keeping its data (fault tests)
#   scripts/clickhouse.sh resume DIR     start it again on the same ports and data
set -euo pipefail

install() {
  if command -v clickhouse-server >/dev/null 2>&1; then return 0; fi
  "$(dirname "$0")/apt-install.sh" clickhouse-server clickhouse-client
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

launch() {
  local dir=$1
  local http_port tcp_port interserver_port
  http_port=$(cat "$dir/http_port") tcp_port=$(cat "$dir/tcp_port") interserver_port=$(cat "$dir/interserver_port")
  mkdir -p "$dir/data" "$dir/log" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
  setsid clickhouse-server --config-file=/etc/clickhouse-server/config.xml -- \
    --path="$dir/data/" --tmp_path="$dir/tmp/" --user_files_path="$dir/user_files/" \
    --format_schema_path="$dir/format_schemas/" \
    --http_port="$http_port" --tcp_port="$tcp_port" --interserver_http_port="$interserver_port" \
    --logger.log="$dir/log/server.log" --logger.errorlog="$dir/log/error.log" --logger.level=warning \
    >"$dir/log/stdout.log" 2>&1 < /dev/null &
  echo $! >"$dir/pid"
  for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$http_port/ping" >/dev/null 2>&1; then
      echo "http://127.0.0.1:$http_port"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "ClickHouse did not start; see $dir/log" >&2
  tail -n 20 "$dir/log/error.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
  return 1
}

halt() {
  local dir=$1
  [ -f "$dir/pid" ] || return 0
  local pid
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

cmd=${1:-}
case "$cmd" in
  install) install ;;
  start)
    dir=$(realpath -m "${2:?usage: $0 start DIR}")
    install
    mkdir -p "$dir"
    free_port >"$dir/http_port"; free_port >"$dir/tcp_port"; free_port >"$dir/interserver_port"
    launch "$dir"
    ;;
  resume) launch "$(realpath -m "${2:?usage: $0 resume DIR}")" ;;
  pause) halt "$(realpath -m "${2:?usage: $0 pause DIR}")" ;;
  stop)
    dir=$(realpath -m "${2:?usage: $0 stop DIR}")
    halt "$dir"
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 install | start DIR | stop DIR | pause DIR | resume DIR" >&2; exit 2 ;;
esac
