#!/usr/bin/env bash
# Installs what `make bench` needs from Debian if it is missing: wrk (the load
# generator) and nginx-light (the fixed upstream). Does nothing when both are there.
set -euo pipefail

have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

if have wrk && have nginx; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "wrk or nginx is missing and installing them needs root: apt-get install -y nginx-light wrk" >&2
  exit 1
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light wrk >/dev/null \
  || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light wrk >/dev/null; }
