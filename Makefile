# Airgate: `make demo` runs the app on the built-in sandbox, `make test` runs every test.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/airgate/target
export AWS_EC2_METADATA_DISABLED := true
export RUST_BACKTRACE ?= 0
BIN := $(CARGO_TARGET_DIR)/debug
# The private network runs this web server inside its namespace.
export AIRGATE_AIRFLOW_WEB_BIN := $(BIN)/airflow-web

.PHONY: demo run test bootstrap ui lint unit e2e wine package bindings icons bench bench-discovery

## Run the desktop app on the sandbox: a local MWAA server, AWS profiles, a bastion, a private web server.
demo: bootstrap ui
	cargo build -p airgate-desktop -p airgate-sandbox
	@# Without a session bus (a headless machine), use a private one with its own keyring.
	$(if $(DBUS_SESSION_BUS_ADDRESS),,scripts/with-keyring.sh) $(BIN)/airgate-sandbox --app $(BIN)/airgate-desktop

## Run the desktop app against your own ~/.aws/config.
run: bootstrap ui
	cargo build -p airgate-desktop
	$(BIN)/airgate-desktop

## Every test: formatting, lints, UI type check, unit and real-peer integration tests, GUI end-to-end.
test: bootstrap lint unit e2e wine package

bootstrap:
	scripts/bootstrap.sh

ui:
	cd ui && npm run build

lint: ui
	cargo fmt --all --check
	scripts/check-core-deps.sh
	cd ui && npm run check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	@# Code behind cfg(windows) (Credential Manager, the agent's named pipe, Windows paths) is
	@# compiled and linted too. The test harnesses (sandbox, GUI tests, bench) are Linux-only.
	cargo clippy --locked --target x86_64-pc-windows-gnu -p airgate-paths -p airgate-discovery \
		-p airgate-tunnel -p airgate-vault -p airgate-launch -p airgate-cli -p airgate-desktop \
		--lib --bins -- -D warnings
	@# For macOS only the vault (the Keychain store) and the paths build without Apple's SDK; the
	@# rest has C build steps (aws-lc, WebKit) that only the release workflow's macOS runner compiles.
	cargo clippy --locked --target aarch64-apple-darwin -p airgate-vault -p airgate-paths --lib \
		-- -D warnings

## Unit and integration tests against real peers (sshd, a private network namespace, gnome-keyring, the MWAA server).
unit: ui
	cargo build --locked -p airgate-peers --bins
	scripts/with-keyring.sh cargo nextest run --workspace --exclude airgate-e2e --exclude airgate-wine \
		--locked --no-fail-fast

## The real app under Xvfb, driven by tauri-driver and WebKitWebDriver.
e2e: ui
	cargo build --locked -p airgate-desktop -p airgate-peers --bins
	xvfb-run -a --server-args="-screen 0 1280x800x24" scripts/with-keyring.sh \
		cargo nextest run -p airgate-e2e --locked --no-fail-fast

## The CLI built for Windows, run under Wine: envs, keys in the Credential Manager, connect.
wine:
	cargo build --locked --target x86_64-pc-windows-gnu -p airgate-cli --bin airgate
	AIRGATE_WINDOWS_EXE=$(CARGO_TARGET_DIR)/x86_64-pc-windows-gnu/debug/airgate.exe \
		cargo nextest run -p airgate-wine --locked --no-fail-fast

## The .deb and .rpm (from the debug build), checked, and the packaged app driven through Open.
package: e2e
	scripts/package.sh

## Regenerate the committed IPC bindings (ui/src/ipc/bindings.ts) from Rust.
bindings:
	AIRGATE_WRITE_BINDINGS=1 cargo test -p airgate-desktop bindings

icons:
	icons/render.sh

## Airgate's SOCKS tunnel against OpenSSH's `ssh -D` (release build), e.g. ARGS="--mib 64 --rounds 3".
bench:
	cargo run --release --locked -p airgate-bench --bin tunnel-bench -- $(ARGS)

## Discovery of 20 profiles x 4 regions x 5 environments (50 ms per call) against a loop of the same calls.
bench-discovery:
	cargo run --release --locked -p airgate-bench --bin discovery-bench -- $(ARGS)
