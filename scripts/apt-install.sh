#!/usr/bin/env bash
# Installs Debian packages for the project's scripts: scripts/apt-install.sh PACKAGE...
# Needs root. The package lists are refreshed only when installing from them fails.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "$* missing, and installing needs root: apt-get install -y $*" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "$@" >/dev/null \
  || { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
