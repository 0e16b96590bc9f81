#!/usr/bin/env sh
# Renders the app icon and the tray status icons from the SVG sources in icons/src.
# Needs the UI's npm dependencies (`cd ui && npm ci`): the Tauri CLI renders SVG offline.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
tauri="$here/../ui/node_modules/.bin/tauri"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# App icon: the PNG sizes, .ico and .icns the bundler needs (desktop only).
"$tauri" icon "$here/src/app.svg" -o "$tmp/app"
for f in 32x32.png 128x128.png 128x128@2x.png icon.png icon.ico icon.icns; do
  cp "$tmp/app/$f" "$here/$f"
done

# Tray icons: 64 px, one per tunnel state.
for state in idle connecting connected error; do
  "$tauri" icon "$here/src/tray-$state.svg" -o "$tmp/$state" --png 64
  cp "$tmp/$state/64x64.png" "$here/tray/$state.png"
done
