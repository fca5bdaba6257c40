#!/usr/bin/env bash
# Succeeds when the PostgreSQL server of the URL answers; starts the local cluster if it is down.
set -euo pipefail
url=$1
ready() { pg_isready -q -d "$url" 2>/dev/null; }
ready && exit 0
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  for _ in $(seq 1 20); do ready && exit 0; sleep 0.5; done
fi
exit 1
