#!/usr/bin/env bash
# Lint, check the Qt-free boundary, and run the tests under a virtual X screen (real software GL).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/lint-imports
.venv/bin/mypy
if [ -n "${DISPLAY:-}" ]; then
  .venv/bin/python -m pytest "$@"
else
  # -noreset: a GUI test child connecting while Xvfb resets after the previous one left would
  # be dropped (xorg/xserver#1102).
  xvfb-run -a -s "-screen 0 1280x800x24 -noreset" .venv/bin/python -m pytest "$@"
fi
