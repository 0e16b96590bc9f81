#!/usr/bin/env bash
# Architecture invariant: the core crates never depend on Tauri, GTK or WebKit.
set -euo pipefail
status=0
for crate in airgate-paths airgate-discovery airgate-tunnel airgate-vault airgate-launch airgate-cli; do
  if hits=$(cargo tree --locked -e normal,build -p "$crate" --target all --prefix none \
      | grep -E '^(tauri|gtk|webkit2gtk|wry|tao)([-_ ]|$)' | sort -u) && [ -n "$hits" ]; then
    echo "error: $crate depends on the desktop stack:" >&2
    echo "$hits" >&2
    status=1
  else
    echo "ok: $crate has no Tauri/GTK dependency"
  fi
done
exit $status
