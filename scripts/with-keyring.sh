#!/usr/bin/env bash
# Runs a command on a private D-Bus session with an unlocked gnome-keyring Secret Service whose
# files live in a temporary directory, so tests never touch the user's own keyring.
set -euo pipefail
if [ -z "${AIRGATE_PRIVATE_BUS:-}" ]; then
  export AIRGATE_PRIVATE_BUS=1
  exec dbus-run-session -- "$0" "$@"
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/data" "$dir/runtime"
chmod 700 "$dir/runtime"
printf 'airgate-test' | XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/runtime" \
  gnome-keyring-daemon --unlock --components=secrets >/dev/null
# The daemon answers before its default collection exists: wait until a secret can be stored.
for _ in $(seq 100); do
  if printf 'probe' | secret-tool store --label='airgate probe' airgate-probe ready 2>/dev/null; then
    secret-tool clear airgate-probe ready
    break
  fi
  sleep 0.1
done
"$@"
