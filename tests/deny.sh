#!/usr/bin/env bash
# Supply-chain check: `cargo deny check licenses bans sources` with deny.toml (allowed licences,
# duplicate versions as warnings, crates.io as the only source). Installs cargo-deny when missing
# (`cargo install cargo-deny --locked`: a few minutes of compiling, once). The advisories check is
# not run: it fetches the RustSec database from the network; see SECURITY.md for running it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
  echo "deny.sh: installing cargo-deny (cargo install cargo-deny --locked)" >&2
  cargo install cargo-deny --locked
fi
# --offline in the check itself: everything it needs is in Cargo.lock and the local registry.
cargo deny --offline check licenses bans sources
