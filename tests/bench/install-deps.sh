#!/usr/bin/env bash
# Installs what tests/bench/run.sh needs on Debian 12, as root: the real-stack packages
# (tests/stack/install-deps.sh: nsd, unbound, ldnsutils, postfix for posttls-finger, openssl, ...)
# plus the ones below, through the same script (idempotent; maintainer scripts kept from starting
# Debian's default daemons, e.g. blackbox_exporter on :9115).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
packages=(
  prometheus-blackbox-exporter # the alternative a user would pick: tcp module with STARTTLS
  wrk                          # not used for figures, kept for by-hand runs next to tests/load
  iproute2                     # ip netns, veth, tuntap
  python3                      # the delay relay (tests/bench/delay_relay.py)
  linux-perf                   # profiles (software cpu-clock events on VMs without PMU)
  valgrind                     # callgrind, when perf cannot sample
  strace                       # BENCH_STRACE=1: system calls per probe
  nftables                     # the black-holed MX addresses of the outbound-at-scale rounds
)
exec "$HERE/../stack/install-deps.sh" "${packages[@]}"
