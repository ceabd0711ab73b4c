#!/usr/bin/env bash
# Sets up (or reuses) .venv and serves the studio on http://localhost:7860 (BGFX_PORT to change).
# Without reachable model weights it runs on the embedded engine and says so in the page.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python app.py "$@"
