#!/usr/bin/env bash
# Makes a Python venv with Apache Airflow pinned by tests/airflow/requirements.txt (every other
# package pinned by tests/airflow/constraints.txt) and prints its python's path. Idempotent: when
# the venv's stamp matches those files and the interpreter, it prints the path at once; otherwise
# it makes the venv anew (about a minute or two).
#
# Where: ${AIRGATE_AIRFLOW_VENV:-$HOME/.cache/airgate/airflow-venv}. Python: ${PYTHON:-python3}.
# Only PyPI is contacted, by pip, and only while installing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
req="$root/tests/airflow/requirements.txt"
constraints="$root/tests/airflow/constraints.txt"
venv="${AIRGATE_AIRFLOW_VENV:-$HOME/.cache/airgate/airflow-venv}"
python="${PYTHON:-python3}"
stamp="$venv/.airgate-stamp"

command -v "$python" >/dev/null || { echo "airflow-venv: $python not found" >&2; exit 1; }
# What the venv is made from: the pins, and the interpreter.
want="$(cat "$req" "$constraints"; "$python" -c 'import sys; print(sys.version)')"
ready() { [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }

if ready; then
  echo "$venv/bin/python"
  exit 0
fi

# One maker at a time (tests run in parallel): wait for another, then look again.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
  exec 9>"$venv.lock"
  flock 9
  if ready; then
    echo "$venv/bin/python"
    exit 0
  fi
fi

echo "airflow-venv: making $venv (Airflow as pinned in $req)" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2 || {
  echo "airflow-venv: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2
  exit 1
}
PIP_NO_CACHE_DIR="${PIP_NO_CACHE_DIR:-1}" "$venv/bin/python" -m pip install -q \
  --disable-pip-version-check --no-input -r "$req" -c "$constraints" >&2
# Stamped last, so an install cut short is made anew next time.
printf '%s' "$want" >"$stamp"
echo "$venv/bin/python"
