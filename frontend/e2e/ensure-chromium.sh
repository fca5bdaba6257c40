#!/usr/bin/env bash
# Installs Debian's Chromium for the end-to-end tests when it is missing.
# Idempotent; needs root for apt-get (CI runs as root).
set -euo pipefail

CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"

if [ -x "$CHROMIUM_BIN" ]; then
  exit 0
fi

"$(dirname "$0")/../../scripts/apt-install.sh" chromium
test -x "$CHROMIUM_BIN"
