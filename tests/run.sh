#!/usr/bin/env bash
# The project's one test command (README "Test"): installs what the tests need, then runs the
# lints, the supply-chain check, the whole suite, including the real-stack tests (NSD, unbound,
# Postfix on loopback), and a fuzz smoke run.
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

# Licences, bans and sources of every dependency (installs a debug build of cargo-deny once).
bash tests/deny.sh

cargo test --all-targets --locked

# Every fuzz target for 5 s, without a sanitizer (tests/fuzz.sh says why; README "Test").
bash tests/fuzz.sh 5
