#!/usr/bin/env bash
# Redis for tests: the one answering on 127.0.0.1:6379, or a throwaway one of our own.
#   scripts/redis.sh install        install Debian's redis-server if missing (as root)
#   scripts/redis.sh start DIR      print the URL of a Redis that answers: 127.0.0.1:6379 if one
#                                   does, else one started with its files under DIR
#   scripts/redis.sh stop DIR       stop the one started under DIR, if any
set -euo pipefail

install() {
  if command -v redis-server >/dev/null 2>&1; then return 0; fi
  "$(dirname "$0")/apt-install.sh" redis-server
}

answers() {
  # A Redis PING, without needing redis-cli.
  python3 - "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir=$1
  if answers 6379; then
    echo "redis://127.0.0.1:6379"
    return 0
  fi
  install
  mkdir -p "$dir"
  local port
  port=$(free_port)
  setsid redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly no \
    --logfile "$dir/redis.log" >/dev/null 2>&1 < /dev/null &
  echo $! >"$dir/pid"
  for _ in $(seq 1 40); do
    if answers "$port"; then
      echo "redis://127.0.0.1:$port"
      return 0
    fi
    sleep 0.25
  done
  echo "redis-server did not start; see $dir/redis.log" >&2
  return 1
}

stop() {
  local dir=$1
  [ -f "$dir/pid" ] || return 0
  kill "$(cat "$dir/pid")" 2>/dev/null || true
  rm -f "$dir/pid"
}

case ${1:-} in
  install) install ;;
  start) start "${2:?DIR}" ;;
  stop) stop "${2:?DIR}" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
