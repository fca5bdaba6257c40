#!/usr/bin/env bash
# Installs what `make bench` needs from Debian if it is missing: wrk (the load
# generator) and nginx-light (the fixed upstream). Does nothing when both are there.
set -euo pipefail

have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

if have wrk && have nginx; then exit 0; fi
exec "$(dirname "$0")/apt-install.sh" nginx-light wrk
