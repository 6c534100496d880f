#!/usr/bin/env bash
# Checks the Prometheus alert rules (alerts/) and runs their unit tests. Needs promtool
# (Debian: prometheus package; tests/stack/install-deps.sh installs it). Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/../alerts"
promtool check rules dane.rules.yml thresholds.rules.yml thresholds.override.example.yml \
  operations-dns.rules.yml operations-tls.rules.yml mta-sts.rules.yml services.rules.yml \
  tlsrpt.rules.yml
promtool test rules ./*_test.yml
