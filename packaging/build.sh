#!/usr/bin/env bash
# Build the packaged app into dist/level/ (one folder: run dist/level/level) with level.spec.
# Needs ./.venv from scripts/install.sh; installs PyInstaller into it (the `package` extra) if
# it is missing. LEVEL_PACKAGE_TRIM=0 builds the untrimmed bundle, for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "No .venv: run bash scripts/install.sh first." >&2; exit 2; }
if ! .venv/bin/python -c "import PyInstaller" 2>/dev/null; then
  .venv/bin/python -m pip install -q -e ".[package]" 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import PyInstaller" 2>/dev/null \
    || .venv/bin/python -m pip install -q "pyinstaller>=6.11" 2>&1 | grep -v "is ignored" || true
fi
start=$(date +%s)
.venv/bin/pyinstaller --noconfirm --log-level WARN level.spec
echo "Built dist/level/ ($(du -sh dist/level | cut -f1)) in $(( $(date +%s) - start )) s." \
  "Run dist/level/level (the window), dist/level/level --help (the CLI) or" \
  "dist/level/level --self-test (a check, needs a display)."
