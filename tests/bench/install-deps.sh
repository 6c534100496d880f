#!/usr/bin/env bash
# Installs what tests/bench/run.sh needs on Debian 12, as root, on top of the real-stack packages
# (tests/stack/install-deps.sh: nsd, unbound, ldnsutils, postfix for posttls-finger, openssl, ...).
# Idempotent: apt only runs for packages that are missing. Maintainer scripts must not start the
# Debian default daemons (blackbox_exporter on :9115): the policy-rc.d handling is the same as in
# tests/stack/install-deps.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
"$HERE/../stack/install-deps.sh"

packages=(
  prometheus-blackbox-exporter # the alternative a user would pick: tcp module with STARTTLS
  wrk                          # not used for figures, kept for by-hand runs next to tests/load
  iproute2                     # ip netns, veth, tuntap
  python3                      # the delay relay (tests/bench/delay_relay.py)
  linux-perf                   # profiles (software cpu-clock events on VMs without PMU)
  valgrind                     # callgrind, when perf cannot sample
)
missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
((${#missing[@]} == 0)) && exit 0

export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# temporary, from dane_exporter tests/bench/install-deps.sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if ((added_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
  --no-install-recommends)
if ! apt-get install "${apt_opts[@]}" "${missing[@]}"; then
  apt-get update -q
  apt-get install "${apt_opts[@]}" "${missing[@]}"
fi
