#!/usr/bin/env bash
# Checks the Prometheus alert rules (alerts/) and runs their unit tests. Needs promtool
# (Debian: prometheus package; tests/stack/install-deps.sh installs it). Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/../alerts"
promtool check rules dane.rules.yml thresholds.rules.yml thresholds.override.example.yml \
  operations-dns.rules.yml operations-tls.rules.yml mta-sts.rules.yml services.rules.yml \
  outbound-lists.rules.yml tlsrpt.rules.yml
promtool test rules ./*_test.yml

# The demo walk-through's monitoring setup (docs/demo.md, "Prometheus and Alertmanager"), made
# the way the page says: the example configs copied, the rules beside them with `for: 0s`.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp ../examples/demo/prometheus.yml ../examples/demo/alertmanager.yml "$work"/
mkdir "$work"/rules
for f in ./*.rules.yml; do
  sed -E 's/^( *)for: .*/\1for: 0s/' "$f" >"$work/rules/$(basename "$f")"
done
promtool check config "$work"/prometheus.yml
amtool check-config "$work"/alertmanager.yml
