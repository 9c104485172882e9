#!/usr/bin/env bash
# Set up everything the workbench and its tests need on a Debian/Ubuntu machine, then the Python package
# with every extra. Safe to run again: what is already there is kept.
#   - system libraries Qt loads (offscreen and X11), a JRE for PMML (sklearn2pmml, pypmml, jpmml-evaluator),
#     libgomp for LightGBM, desktop-file-utils to check the desktop entry (docs/stack-traps.md says why each);
#   - `pip install -e ".[all,test]"` (the pins in pyproject.toml);
#   - MLServer, the real v2-protocol server the serving tests talk to, in its own venv
#     (scripts/setup_mlserver.sh; skip it with WORKBENCH_SKIP_MLSERVER=1 if you never run those tests).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  default-jre-headless libgomp1 desktop-file-utils appstream
  # Qt's platform plugins (offscreen and xcb) load these at run time
  libegl1 libgl1 libglib2.0-0 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3 fonts-dejavu-core
  libx11-xcb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1
)

if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  echo "setup: not a Debian/Ubuntu machine: install a JRE 11+ and Qt's system libraries yourself" >&2
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip install -q --disable-pip-version-check -e ".[all,test]"

if [ "${WORKBENCH_SKIP_MLSERVER:-0}" != "1" ]; then
  PYTHON="$PYTHON" bash scripts/setup_mlserver.sh
fi
echo "setup: done ($("$PYTHON" -m workbench --version))"
