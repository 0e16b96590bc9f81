#!/usr/bin/env bash
# Installs what building, running and testing Airgate needs on Debian/Ubuntu, skipping what is
# already there: system packages, the UI's npm packages, and tauri-driver for GUI tests.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  # build: Tauri on Linux
  build-essential pkg-config curl file libwebkit2gtk-4.1-dev libgtk-3-dev
  libayatana-appindicator3-dev librsvg2-dev libsoup-3.0-dev libssl-dev librsvg2-bin libdbus-1-dev
  # lint the Windows code: the MinGW toolchain for C build steps and resources
  gcc-mingw-w64-x86-64
  # run the Windows build of the CLI (64-bit only: no i386 architecture needed)
  wine wine64
  # run the sandbox and tests: a real bastion, a private network, a keyring, a display
  openssh-server openssh-client iproute2 nftables gnome-keyring dbus dbus-x11 libsecret-tools
  # Airflow itself (a venv from PyPI) for the connection tests
  python3 python3-venv
  xvfb xauth x11-utils imagemagick webkit2gtk-driver xdotool trayer
  # Open's tests launch a real browser
  chromium firefox-esr
)

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null; then
    echo "Missing packages: ${missing[*]} (this script installs them on Debian/Ubuntu; see README.md for macOS and Windows)." >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "Installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  (cd ui && npm ci --no-audit --no-fund)
fi

# Airflow itself (the tests that check connections against its own parser) and moto (an AWS
# Secrets Manager server for push and pull).
scripts/python-venv.sh airflow >/dev/null
scripts/python-venv.sh moto >/dev/null

# Targets the lint compiles the Windows and macOS code for.
if command -v rustup >/dev/null; then
  for target in x86_64-pc-windows-gnu aarch64-apple-darwin; do
    rustup target list --installed | grep -qx "$target" || rustup target add "$target"
  done
fi

if ! command -v tauri-driver >/dev/null; then
  cargo install tauri-driver --locked
fi
if ! command -v cargo-nextest >/dev/null; then
  cargo install cargo-nextest --locked
fi
