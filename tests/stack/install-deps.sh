#!/usr/bin/env bash
# Installs what the real-stack test environment (tests/stack/up.sh) and the exporter's
# end-to-end tests need, on Debian 12, as root. Usage: install-deps.sh [EXTRA_PACKAGE...]; the
# extra packages (tests/bench/install-deps.sh passes its own) are installed the same way.
#
# Idempotent and fast when everything is present: packages are checked with `dpkg -s` first and
# apt only runs for the missing ones. Nothing here starts a daemon on purpose: up.sh runs private
# instances (own config dirs, own ports); see the policy-rc.d note below.
set -euo pipefail

# Package -> why we need it.
packages=(
  nsd           # authoritative server for the private root, test. and the scenario zones
  unbound       # validating resolver in front of NSD (trust-resolver mode)
  ldnsutils     # ldns-keygen, ldns-signzone, ldns-key2ds: key generation and zone signing
  postfix       # real smtpd listeners doing STARTTLS; also posttls-finger for cross-checks
  openssl       # certificates and TLSA digests; s_client for cross-checks
  dnsutils      # dig, for readiness checks and cross-checks
  util-linux    # unshare (crosscheck.sh: posttls-finger with a private /etc/resolv.conf)
  prometheus    # promtool (check metrics, check/test rules) and the end-to-end Prometheus
  jsonnet       # mixin/generate.sh: alerts/ and dashboards/ from the mixin (tests/integration/mixin.rs)
  prometheus-alertmanager  # the end-to-end Alertmanager that must deliver our alerts
  curl          # scraping the exporter in the end-to-end test
  dovecot-imapd # services: a real IMAP server (STARTTLS and implicit TLS) for TLSA on other ports
  dovecot-pop3d # services: a real POP3 server (STLS) for TLSA on other ports
  nginx         # MTA-STS tests: a real HTTPS server serving policies (tests/integration/mta_sts.rs)
  libssl-dev    # build: the `openssl` crate links the system OpenSSL (src/tls/legacy.rs)
  pkg-config    # build: how openssl-sys finds libssl-dev
  python3       # tests/stack/relay.py: the silent listener and the delayed-greeting relay
  iproute2      # ip -6 route: the unroutable IPv6 prefix of the reachability scenarios
  chromium      # the status page, loaded and screenshotted in a real headless browser
  man-db        # tests/integration/packaging.rs: the generated manual pages through man(1)
  systemd       # tests/integration/packaging.rs: systemd-analyze verify of the shipped unit
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  # `dpkg -s` succeeds for removed-but-not-purged packages too; require "install ok installed".
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: missing packages (${missing[*]}) and not root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Postfix asks what kind of mail system this is; "No configuration" leaves /etc/postfix/main.cf
# absent so no default instance is configured to start or to get in our way.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

# Keep maintainer scripts from starting the Debian default daemons (unbound on port 53, nsd on
# port 53, postfix on port 25): they would be useless here and could clash with other users of
# this machine. policy-rc.d exit 101 = "action forbidden" for invoke-rc.d. We only add it if none
# exists, and remove only our own.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# temporary, from dane_exporter tests/stack/install-deps.sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if ((added_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT

apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
  --no-install-recommends)
# Update the lists only when an install from the current ones fails (fresh images ship without).
if ! apt-get install "${apt_opts[@]}" "${missing[@]}"; then
  apt-get update -q
  apt-get install "${apt_opts[@]}" "${missing[@]}"
fi
