#!/usr/bin/env bash
# The limiter's share of a call (the last table of `make bench`): in memory, and on a
# Redis (the one on 127.0.0.1:6379, or a throwaway redis-server of our own).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench-redis.XXXXXX")
trap 'scripts/redis.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
scripts/redis.sh install
url=$(scripts/redis.sh start "$dir")
BENCH_REDIS_URL=$url cargo bench --bench limits
