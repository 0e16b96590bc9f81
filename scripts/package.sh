#!/usr/bin/env bash
# Builds the Linux packages (.deb, .rpm) from the debug build, checks what they hold, then drives
# the packaged app through Open under Xvfb: installed with apt when AIRGATE_INSTALL_PACKAGE=1
# (CI), else unpacked into a temporary directory (nothing is installed on your machine).
# Release packages come from `tauri build` in .github/workflows/release.yml.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:?set CARGO_TARGET_DIR (the Makefile does)}"

ui/node_modules/.bin/tauri bundle --debug --bundles deb,rpm --ci
bundle="$CARGO_TARGET_DIR/debug/bundle"
deb=$(ls "$bundle"/deb/*.deb)
rpm=$(ls "$bundle"/rpm/*.rpm)

# What a user gets: the app, its menu entry and icons, and the libraries it needs.
contents=$(dpkg-deb -c "$deb")
for path in usr/bin/airgate-desktop usr/share/applications/Airgate.desktop \
  usr/share/icons/hicolor/128x128/apps/airgate-desktop.png; do
  grep -q " $path\$" <<<"$contents" || { echo "$deb lacks $path" >&2; exit 1; }
done
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1; do
  grep -q "$lib" <<<"$depends" || { echo "$deb does not depend on $lib: $depends" >&2; exit 1; }
done
# An rpm starts with its lead: magic ed ab ee db.
[ "$(head -c4 "$rpm" | od -An -tx1 | tr -d ' \n')" = "edabeedb" ] || { echo "$rpm is not an rpm" >&2; exit 1; }

if [ "${AIRGATE_INSTALL_PACKAGE:-}" = 1 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
  dpkg-query -W -f='${Status}\n' airgate | grep -q 'install ok installed'
  app=/usr/bin/airgate-desktop
else
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  dpkg-deb -x "$deb" "$root"
  app="$root/usr/bin/airgate-desktop"
fi
echo "Driving the packaged app: $app"
AIRGATE_APP_BIN="$app" xvfb-run -a --server-args="-screen 0 1280x800x24" scripts/with-keyring.sh \
  cargo nextest run -p airgate-e2e --locked --no-fail-fast -E 'test(open_logs_in_through_the_tunnel)'
