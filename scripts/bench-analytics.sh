#!/usr/bin/env bash
# make bench-analytics: starts a throwaway ClickHouse, then runs backend/benches/analytics.rs
# (ingest through the real event writer, analytics endpoint latency) in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")
trap 'scripts/clickhouse.sh stop "$tmp/clickhouse" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
export BENCH_CLICKHOUSE_URL=$(scripts/clickhouse.sh start "$tmp/clickhouse")
echo "ClickHouse $(curl -s "$BENCH_CLICKHOUSE_URL/?query=SELECT%20version()") at $BENCH_CLICKHOUSE_URL"
TMPDIR=$tmp cargo bench --bench analytics
