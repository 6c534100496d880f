#!/usr/bin/env bash
# Supply-chain check: `cargo deny check licenses bans sources` with deny.toml (allowed licences,
# duplicate versions as warnings, crates.io as the only source). Part of tests/run.sh.
#
# Installs cargo-deny when missing, as a debug build: cargo-deny's release profile is fat LTO with
# one codegen unit (13 min on 2 busy cores); the debug build compiles in about 1.5 CPU-minutes
# and checks this tree in about 1.5 CPU-seconds, which is all CI needs. Install a release build
# for yourself with `cargo install cargo-deny --locked`.
#
# The advisories check is not run: it fetches the RustSec database from the network, which our
# build machines cannot reach; SECURITY.md ("Supply chain") says how to run it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
  echo "deny.sh: installing cargo-deny (debug build)" >&2
  cargo install cargo-deny --locked --debug --version '^0.20'
fi
# Every package of Cargo.lock, for every platform (cargo test fetched only the host's), then the
# check offline: nothing else is needed from the network.
cargo fetch --locked
cargo deny --offline check licenses bans sources
