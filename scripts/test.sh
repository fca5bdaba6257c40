#!/usr/bin/env bash
# Everything `make test` (and CI) runs: service setup, the Rust suites, the web app's suites.
# Under CI=true a service that cannot be provided fails the run instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
ci=${CI:-false}

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "error: $*" >&2; exit 1; }
# Every suite runs even when an earlier one fails; the run fails at the end.
failed=()
suite() { "$@" || failed+=("$*"); }

step "Python virtualenv for the OpenAI SDK and chDB tests"
scripts/setup-python.sh
export TOLLGATE_TEST_PYTHON="$root/.venv/bin/python"

step "PostgreSQL"
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
if ! scripts/ensure-postgres.sh "$TEST_DATABASE_URL"; then
  if [ "$ci" = "true" ]; then fail "PostgreSQL at $TEST_DATABASE_URL is not reachable"; fi
  echo "PostgreSQL unreachable: its test variants will be skipped (CI=true would fail)"
  unset TEST_DATABASE_URL
fi

step "ClickHouse"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-test.XXXXXX")
# From the root: the run ends in frontend/, and a relative path there had left each
# run's ClickHouse running after its directory was gone.
cleanup() {
  "$root/scripts/clickhouse.sh" stop "$tmp/clickhouse" >/dev/null 2>&1 || true
  "$root/scripts/redis.sh" stop "$tmp/redis" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if url=$(scripts/clickhouse.sh start "$tmp/clickhouse"); then
  export TEST_CLICKHOUSE_URL=$url
  echo "ClickHouse $(curl -s "$url/?query=SELECT%20version()") at $url"
else
  if [ "$ci" = "true" ]; then fail "ClickHouse could not be installed or started"; fi
  echo "ClickHouse unavailable: its tests will be skipped (CI=true would fail)"
fi

step "Redis"
# The tests of shared limits also start throwaway servers of their own (to stop them).
if scripts/redis.sh install && url=$(scripts/redis.sh start "$tmp/redis"); then
  export TEST_REDIS_URL=$url
  echo "Redis at $url"
else
  if [ "$ci" = "true" ]; then fail "Redis could not be installed or started"; fi
  echo "Redis unavailable: its tests will be skipped (CI=true would fail)"
fi

step "Rust: format and lints"
suite cargo fmt --all --check
suite cargo clippy --workspace --all-targets -- -D warnings

step "Rust: unit and integration tests"
cargo build --bins
suite cargo nextest run --workspace --no-fail-fast

step "Web app: dependencies, type check, unit tests"
cd frontend
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
suite npm run lint
suite npm test

step "Web app: end-to-end in Chromium against the real backend"
if e2e/ensure-chromium.sh; then
  suite env TOLLGATE_BIN="$root/target/debug/tollgate" npm run e2e
elif [ "$ci" = "true" ]; then
  fail "Chromium could not be installed for the end-to-end tests"
else
  echo "Chromium unavailable: end-to-end tests skipped (CI=true would fail)"
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nAll suites passed.\n'
