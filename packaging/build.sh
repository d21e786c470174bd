#!/usr/bin/env bash
# Build the packaged app into dist/level/ (one folder: run dist/level/level) from the lock.
#
#   1. build/venv (or $LEVEL_BUILD_VENV): a virtual environment holding exactly
#      packaging/constraints.txt — torch (CPU build) first, then Level from this checkout and
#      PyInstaller, all with `-c` the lock, then `packaging/lock.py --check`. It is made again
#      whenever the lock or pyproject.toml changes (a stamp holds their hash), and reused
#      otherwise (CI may point LEVEL_BUILD_VENV at a folder that outlives the clone).
#   2. packaging/check_trim.py in it: an `analyze` and the self-test in the build environment,
#      and a failure if anything they load is trimmed by packaging/trim.py (needs Xvfb or a
#      display); it runs beside
#   3. pyinstaller level.spec, from that environment; the build fails if the check did.
# Seconds per step go to build/build-times.json (packaging/measure_build.py reads them).
# LEVEL_PACKAGE_TRIM=0 builds the untrimmed bundle, for comparison. PYTHON picks the interpreter
# (default python3.11). torch==2.13.0+cpu comes from pip's usual sources; where those lack it,
# set LEVEL_TORCH_INDEX=https://download.pytorch.org/whl/cpu.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=packaging/constraints.txt
venv=${LEVEL_BUILD_VENV:-build/venv}
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
# --no-compile: PyInstaller compiles what it bundles, and the check compiles what it imports.
pip_quiet() { "$venv/bin/python" -m pip install -q --no-compile "$@" 2>&1 | { grep -v "is ignored" || true; }; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$1" "$(now)"; }

mkdir -p build
t0=$(now)
stamp=$(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)
venv_made=false
if [ "$(cat "$venv/.lock-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "== build environment: $venv from $lock"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pip_quiet -c "$lock" pip setuptools
  # torch first and from the lock: an unconstrained torch would pull a multi-GB CUDA build.
  pip_quiet -c "$lock" ${LEVEL_TORCH_INDEX:+--extra-index-url "$LEVEL_TORCH_INDEX"} torch
  # (setuptools' notes on building Level go to the log; they are not errors)
  pip_quiet -c "$lock" --no-build-isolation -e ".[package]" >build/venv-install.log \
    || { cat build/venv-install.log >&2; exit 1; }
  "$venv/bin/python" packaging/lock.py --check --lock "$lock"
  echo "$stamp" >"$venv/.lock-stamp"
  venv_made=true
else
  echo "== build environment: $venv holds $lock already"
fi
venv_s=$(since "$t0")

# The trimming check and PyInstaller's analysis each keep one core busy: run them side by side,
# and fail the build (removing dist/level/) if the check fails.
t1=$(now)
echo "== trimming check: packaging/check_trim.py (analyze and self-test in $venv), beside pyinstaller"
# It keeps its analyze (build/source-run/): the smoke test compares the packaged app with it.
rm -rf build/source-run
( HF_HUB_OFFLINE=1 "$venv/bin/python" packaging/check_trim.py --report build/trim-check.json \
    --keep-run build/source-run \
    >build/check-trim.log 2>&1; echo $? >build/check-trim.status; since "$t1" >build/check-trim.s ) &
check_pid=$!
echo "== pyinstaller level.spec"
"$venv/bin/pyinstaller" --noconfirm --log-level "${LEVEL_PYINSTALLER_LOG:-WARN}" level.spec
pyinstaller_s=$(since "$t1")
wait "$check_pid"
check_s=$(cat build/check-trim.s)
cat build/check-trim.log
if [ "$(cat build/check-trim.status)" != 0 ]; then
  rm -rf dist/level
  echo "BUILD FAILED: the trimming check failed (above); dist/level/ removed" >&2
  exit 1
fi
cat >build/build-times.json <<JSON
{"venv_s": $venv_s, "venv_made": $venv_made, "check_trim_s": $check_s, "pyinstaller_s": $pyinstaller_s,
 "total_s": $(since "$t0"), "trim": "${LEVEL_PACKAGE_TRIM:-1}", "lock_sha256": "$stamp"}
JSON
echo "Built dist/level/ ($(du -sh dist/level | cut -f1), $(find dist/level -type f | wc -l) files):" \
  "environment ${venv_s} s, pyinstaller ${pyinstaller_s} s, trimming check (beside it) ${check_s} s." \
  "Run dist/level/level (the window), dist/level/level --help (the CLI) or" \
  "dist/level/level --self-test (a check, needs a display)."
