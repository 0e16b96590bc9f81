#!/usr/bin/env bash
# Usage: scripts/python-venv.sh NAME (airflow: Apache Airflow's own parsers; moto: an AWS
# Secrets Manager server).
#
# Makes a Python venv with the packages pinned by tests/NAME/requirements.txt (every other package
# pinned by tests/NAME/constraints.txt) and prints its python's path. Idempotent: when the venv's
# stamp matches those files and the interpreter, it prints the path at once; otherwise it makes
# the venv anew (about a minute).
#
# Where: ${AIRGATE_VENVS:-$HOME/.cache/airgate}/NAME-venv. Python: ${PYTHON:-python3}.
# Only PyPI is contacted, by pip, and only while installing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:?usage: scripts/python-venv.sh NAME (a directory under tests/ with requirements.txt)}"
req="$root/tests/$name/requirements.txt"
constraints="$root/tests/$name/constraints.txt"
[ -f "$req" ] && [ -f "$constraints" ] || { echo "python-venv: no $req or $constraints" >&2; exit 1; }
venv="${AIRGATE_VENVS:-$HOME/.cache/airgate}/$name-venv"
python="${PYTHON:-python3}"
stamp="$venv/.airgate-stamp"

command -v "$python" >/dev/null || { echo "python-venv: $python not found" >&2; exit 1; }
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

echo "python-venv: making $venv (as pinned in $req)" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2 || {
  echo "python-venv: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2
  exit 1
}
PIP_NO_CACHE_DIR="${PIP_NO_CACHE_DIR:-1}" "$venv/bin/python" -m pip install -q \
  --disable-pip-version-check --no-input -r "$req" -c "$constraints" >&2
# Stamped last, so an install cut short is made anew next time.
printf '%s' "$want" >"$stamp"
echo "$venv/bin/python"
