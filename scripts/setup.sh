#!/usr/bin/env bash
# Creates or reuses the one virtual environment at .venv in the repo root and installs what the
# studio needs. Idempotent: a stamp of the requirement files skips the work when nothing changed.
# Usage: scripts/setup.sh [--dev]   (--dev adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
# Stamps of what is installed: the studio's set, and the studio's with the test tools. A run with
# the tools leaves both, so the studio's command after the tests' (or the other way) installs nothing.
base_stamp="$VENV/.setup-base-$(cat requirements.txt scripts/setup.sh | sha256sum | cut -c1-16)"
dev_stamp="$VENV/.setup-dev-$(cat requirements.txt scripts/setup.sh requirements-dev.txt | sha256sum | cut -c1-16)"
stamp="$base_stamp"
[ "${1:-}" = "--dev" ] && stamp="$dev_stamp"
if [ -f "$stamp" ]; then
  exit 0
fi
echo "setup: installing into $VENV (first run takes a few minutes)" >&2
"${PIP[@]}" install --upgrade pip setuptools wheel
# torch first: sam2 compiles against it without build isolation.
"${PIP[@]}" install "torch==2.14.1" "torchvision==0.29.1"
SAM2_BUILD_CUDA=0 SAM2_BUILD_ALLOW_ERRORS=1 "${PIP[@]}" install --no-build-isolation -r requirements.txt
# MatAnyone 2's model and inference code. Its wheel pins an old gradio and GUI packages that the
# studio does not use, so it goes in without its dependency list (what its model imports is above).
"${PIP[@]}" install --no-deps "matanyone2-runtime==0.2.0"
if [ "${1:-}" = "--dev" ]; then
  "${PIP[@]}" install -r requirements-dev.txt
fi
rm -f "$VENV"/.setup-*
touch "$base_stamp" "$stamp"
echo "setup: done" >&2
