#!/usr/bin/env bash
# Load test of the HTTP side (a benchmark, not part of the CI test run).
#
# Builds, on loopback only:
#   - one DNSSEC-signed zone load.test. (ldns-signzone) with N domains dK.load.test (MX -> one of
#     4 hosts mxJ.load.test on 127.0.2.J, TLSA 3 1 1 on _PORT._tcp.mxJ), served by NSD;
#   - unbound validating it (trust anchor: the zone's own DS), the exporter's resolver;
#   - 4 STARTTLS listeners (tests/load/smtp_starttls.py) presenting the certificate the TLSA
#     records pin;
#   - the exporter (release build) probing all N domains (outbound) every 10 s,
# then runs wrk on /metrics and on /probe while the scheduler probes, samples the exporter's RSS
# every second, and prints a table: requests/s, p50/p99 latency, socket errors, statuses, RSS
# (before, during, after), and the machine's load average (`uptime`) at start and end, since
# these figures mean little without it. 429 on /probe is the concurrency limit working and is
# counted apart from errors.
#
# Usage: tests/load/run.sh            (env: DOMAINS=1000 DURATION=60s CONNECTIONS=100 THREADS=2)
# Needs: nsd, unbound, ldns-utils, openssl, python3, wrk (installed with apt-get when missing).
set -euo pipefail

DOMAINS=${DOMAINS:-1000}
DURATION=${DURATION:-60s}
CONNECTIONS=${CONNECTIONS:-100}
THREADS=${THREADS:-2}
NSD_PORT=${LOAD_NSD_PORT:-54530}
UNBOUND_PORT=${LOAD_UNBOUND_PORT:-54531}
SMTP_PORT=${LOAD_SMTP_PORT:-2526}
WEB_PORT=${LOAD_WEB_PORT:-19724}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
RUN=$(mktemp -d /tmp/dane-load.XXXXXX)
chmod 755 "$RUN"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f $RUN/nsd.pid ]] && kill "$(cat "$RUN/nsd.pid")" 2>/dev/null || true
  [[ -f $RUN/unbound.pid ]] && kill "$(cat "$RUN/unbound.pid")" 2>/dev/null || true
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
for tool in nsd unbound ldns-signzone ldns-keygen openssl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (tests/stack/install-deps.sh installs it)" >&2; exit 1; }
done

echo "== building the exporter (release)" >&2
[[ -n ${DANE_EXPORTER_BIN:-} ]] || (cd "$ROOT" && cargo build --release --quiet --bin dane_exporter)
BIN=${DANE_EXPORTER_BIN:-$CARGO_TARGET_DIR/release/dane_exporter}

echo "== certificate, zone with $DOMAINS domains, NSD, unbound, SMTP listeners" >&2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=mx.load.test \
  -keyout "$RUN/smtp.key" -out "$RUN/smtp.pem" 2>/dev/null
SPKI=$(openssl x509 -in "$RUN/smtp.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
{
  # shellcheck disable=SC2016
  printf '$ORIGIN load.test.\n$TTL 3600\n@ SOA ns.load.test. hostmaster.load.test. 1 3600 600 86400 3600\n@ NS ns.load.test.\nns A 127.0.0.1\n'
  for j in 1 2 3 4; do
    printf 'mx%d A 127.0.2.%d\n_%s._tcp.mx%d TLSA 3 1 1 %s\n' "$j" "$j" "$SMTP_PORT" "$j" "$SPKI"
  done
  for ((k = 1; k <= DOMAINS; k++)); do
    printf 'd%d MX 10 mx%d\n' "$k" $((k % 4 + 1))
  done
} >"$RUN/load.test.zone"
KEY=$(cd "$RUN" && ldns-keygen -a ECDSAP256SHA256 -k load.test.)
ldns-signzone -f "$RUN/load.test.zone.signed" "$RUN/load.test.zone" "$RUN/$KEY"
ldns-key2ds -n -2 "$RUN/$KEY.key" >"$RUN/load.test.ds"

cat >"$RUN/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1
  port: $NSD_PORT
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$RUN"
  database: ""
  pidfile: "$RUN/nsd.pid"
  logfile: "$RUN/nsd.log"
  xfrdfile: "$RUN/xfrd.state"
  xfrdir: "$RUN"
  zonelistfile: "$RUN/zone.list"
  server-count: 1
  reuseport: no
zone:
  name: "load.test."
  zonefile: "load.test.zone.signed"
CONF
nsd -c "$RUN/nsd.conf"

cat >"$RUN/unbound.conf" <<CONF
server:
  interface: 127.0.0.1
  port: $UNBOUND_PORT
  outgoing-interface: 127.0.0.1
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  username: ""
  chroot: ""
  directory: "$RUN"
  pidfile: "$RUN/unbound.pid"
  logfile: "$RUN/unbound.log"
  use-syslog: no
  num-threads: 1
  so-reuseport: no
  trust-anchor-file: "$RUN/load.test.ds"
  local-zone: "test." nodefault
  module-config: "validator iterator"
# Both stubs point at NSD: unbound never asks a real root server.
stub-zone:
  name: "."
  stub-addr: 127.0.0.1@$NSD_PORT
stub-zone:
  name: "load.test."
  stub-addr: 127.0.0.1@$NSD_PORT
CONF
unbound-checkconf "$RUN/unbound.conf" >/dev/null
unbound -c "$RUN/unbound.conf"

python3 "$HERE/smtp_starttls.py" "$RUN/smtp.pem" "$RUN/smtp.key" \
  127.0.2.1:"$SMTP_PORT" 127.0.2.2:"$SMTP_PORT" 127.0.2.3:"$SMTP_PORT" 127.0.2.4:"$SMTP_PORT" &
PIDS+=($!)
# The listeners must accept before the first probes start (python starts slowly on a busy
# machine; without this wait half the first round failed with smtp_connect_failed).
for j in 1 2 3 4; do
  for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/127.0.2.$j/$SMTP_PORT") 2>/dev/null && break
    sleep 0.1
  done
done

{
  printf 'global:\n  interval: 10s\n  timeout: 10s\n  step_timeout: 5s\n  concurrency: 64\n'
  printf '  nameservers: ["127.0.0.1:%s"]\n  smtp_port: %s\n' "$UNBOUND_PORT" "$SMTP_PORT"
  # The resolver is anchored at load.test.'s DS, not the root: the canary asks under it.
  printf '  canary_secure_name: load.test\n  canary_bogus_name: ""\n'
  printf 'probe_allow: ["*.load.test"]\noutbound:\n'
  for ((k = 1; k <= DOMAINS; k++)); do printf '  - domain: d%d.load.test\n' "$k"; done
} >"$RUN/dane_exporter.yml"

"$BIN" --config.file="$RUN/dane_exporter.yml" --web.listen-address=127.0.0.1:"$WEB_PORT" --storage.path="$RUN/data" \
  --log.level=warn 2>"$RUN/exporter.log" &
EXPORTER=$!
PIDS+=("$EXPORTER")
BASE=http://127.0.0.1:$WEB_PORT

echo "== waiting for the first probe round (/-/ready)" >&2
for ((i = 0; i < 120; i++)); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$BASE/-/ready") == 200 ]] && break
  sleep 1
done
M=$(curl -s "$BASE/metrics")
OK=$(grep -c '^dane_probe_success{.*} 1$' <<<"$M" || true)
echo "   ready after ${i}s; dane_probe_success=1 for $OK of $DOMAINS domains" >&2
# Failure reasons of the first round, if any (reason="..." of dane_probe_failure_info).
grep '^dane_probe_failure_info{' <<<"$M" | grep -o 'reason="[a-z_]*"' | sort | uniq -c | sed 's/^/   /' >&2 || true

# rss_sample FILE: VmRSS (kB) of the exporter every second until killed.
rss_sample() {
  while kill -0 "$EXPORTER" 2>/dev/null; do
    awk '/^VmRSS/ {print $2}' "/proc/$EXPORTER/status" >>"$1"
    sleep 1
  done
}

# bench NAME URL: wrk run, parsed into one table row.
ROWS=()
bench() {
  local name=$1 url=$2 out=$RUN/wrk-$1.txt rss=$RUN/rss-$1.txt
  echo "== wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s status.lua $url" >&2
  rss_sample "$rss" &
  local sampler=$!
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 30s --latency -s "$HERE/status.lua" "$url" >"$out"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  cat "$out" >&2
  local rps p50 p99 errs statuses rssmin rssmax
  rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
  p50=$(awk '/^LAT/ {print $3}' "$out")
  p99=$(awk '/^LAT/ {print $5}' "$out")
  errs=$(awk '/^ERR/ {print $3+$5+$7+$9}' "$out")
  statuses=$(awk '/^STATUS/ {printf "%s%s:%s", sep, $2, $3; sep=" "}' "$out")
  rssmin=$(sort -n "$rss" | head -1)
  rssmax=$(sort -n "$rss" | tail -1)
  ROWS+=("$(printf '%-8s %10s %9s %9s %7s  %-24s %6.1f %6.1f' "$name" "$rps" "$p50" "$p99" "$errs" \
    "$statuses" "$(bc <<<"scale=1; $rssmin/1024")" "$(bc <<<"scale=1; $rssmax/1024")")")
}

LOAD0=$(uptime)
RSS0=$(awk '/^VmRSS/ {print $2}' "/proc/$EXPORTER/status")
bench metrics "$BASE/metrics"
bench probe "$BASE/probe?target=d1.load.test&module=outbound"
M=$(curl -s "$BASE/metrics")
OK=$(grep -c '^dane_probe_success{.*} 1$' <<<"$M" || true)
sleep 5
RSS1=$(awk '/^VmRSS/ {print $2}' "/proc/$EXPORTER/status")

echo
echo "load before: $LOAD0"
echo "load after:  $(uptime)"
echo "domains=$DOMAINS interval=10s concurrency=64 wrk -t$THREADS -c$CONNECTIONS -d$DURATION; RSS before: $((RSS0 / 1024)) MiB, 5 s after the runs: $((RSS1 / 1024)) MiB"
printf '%-8s %10s %9s %9s %7s  %-24s %6s %6s\n' endpoint req/s p50_ms p99_ms errors statuses rssMiB rssMax
for r in "${ROWS[@]}"; do echo "$r"; done
echo "after the runs: dane_probe_success=1 for $OK of $DOMAINS domains; exporter alive: $(kill -0 "$EXPORTER" 2>/dev/null && echo yes || echo NO)"
{ grep -ci 'error' "$RUN/exporter.log" || true; } | sed 's/^/exporter log lines with "error": /'
