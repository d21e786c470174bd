#!/usr/bin/env bash
# Install Level into ./.venv on a fresh Debian 12 machine: the system libraries Qt, OpenGL and
# Xvfb need (when run as root), then torch 2.13.0 (CPU build) first, then Level itself.
#   bash scripts/install.sh           the app and its CLI
#   bash scripts/install.sh --test    the same plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"

apt_packages=(xvfb xauth libgl1 libegl1 libgl1-mesa-dri libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0
  libxcb-xkb1 libfontconfig1 fonts-dejavu-core libglib2.0-0 libdbus-1-3)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing system packages (install them as root): ${missing[*]}" >&2
  fi
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build. --no-compile: Python
# compiles what is imported when it is first imported; compiling all 26,000 files of the
# environment up front cost about 40 s of CPU, most of it for modules Level never loads.
.venv/bin/python -m pip install -q --no-compile torch==2.13.0 2>&1 | grep -v "is ignored" || true
.venv/bin/python -m pip install -q --no-compile -e ".${extra}" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import level_desktop, torch; print('Level', level_desktop.__version__, 'installed with torch', torch.__version__)"
