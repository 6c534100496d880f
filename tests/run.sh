#!/usr/bin/env bash
# The project's one test command (README "Test"): installs what the tests need, then runs the
# lints and the whole suite, including the real-stack tests (NSD, unbound, Postfix on loopback).
# Needs root for apt and for Postfix, which drops privileges itself.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/stack/install-deps.sh

# The components rustup may lack on a minimal toolchain.
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# Alert rules: promtool check rules and every promtool test rules case.
bash tests/alerts.sh

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
