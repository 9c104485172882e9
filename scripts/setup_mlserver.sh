#!/usr/bin/env bash
# Install MLServer (the real v2 / Open Inference Protocol server used by the serving tests) into its own
# venv: it wants scikit-learn 1.9.1 while the workbench pins 1.9.0 (sklearn2pmml), so it never shares
# the workbench's environment. Idempotent: an existing, working venv is kept.
#
#   WORKBENCH_MLSERVER_VENV   where the venv goes (default /opt/mlserver-venv, or
#                             ~/.cache/workbench/mlserver-venv when /opt is not writable)
# The tests find it through the same variable / defaults (workbench/testing/mlserver.py).
# scripts/setup.sh runs this; run it alone to (re)make only the MLServer venv.
set -euo pipefail

default_venv=/opt/mlserver-venv
if [ ! -w /opt ] && [ ! -d "$default_venv" ]; then
    default_venv="${HOME}/.cache/workbench/mlserver-venv"
fi
VENV="${WORKBENCH_MLSERVER_VENV:-$default_venv}"
PY="${PYTHON:-python3}"

if [ -x "$VENV/bin/mlserver" ] && "$VENV/bin/python" -c "import mlserver, mlserver_sklearn" 2>/dev/null; then
    echo "mlserver venv ready at $VENV ($("$VENV/bin/python" -c 'import mlserver; print(mlserver.__version__)'))"
    exit 0
fi

echo "creating mlserver venv at $VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
# uvloop >= 0.22 crashes MLServer workers ("There is no current event loop"); the tests also set
# parallel_workers 0, the pin makes the venv safe for other uses as well.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "mlserver==1.7.1" "mlserver-sklearn==1.7.1" "uvloop==0.21.0"
"$VENV/bin/python" -c "import mlserver, mlserver_sklearn; print('mlserver', mlserver.__version__, 'installed at $VENV')"
