#!/usr/bin/env bash
# Creates .venv with the Python packages the tests use (the official OpenAI and Anthropic SDKs; chDB, a current
# ClickHouse engine in process). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=scripts/requirements-test.txt
stamp=.venv/.requirements
if [ -x .venv/bin/python ] && cmp -s "$requirements" "$stamp"; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
echo "test virtualenv ready: $(.venv/bin/python -c 'import openai, anthropic; print("openai", openai.__version__, "anthropic", anthropic.__version__)')"
