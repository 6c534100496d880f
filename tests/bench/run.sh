#!/usr/bin/env bash
# Performance benchmark of dane_exporter against its ceiling and its alternatives (issue 5).
# A benchmark, not a test: it prints a table; nothing here is part of tests/run.sh or CI.
#
# Builds two network namespaces of its own, "near" (the prober side) and "far" (the internet side):
#   far:  NSD on 10.54.0.53:53 serving bench.test., signed with ldns-signzone, holding N domains
#         dK.bench.test (MX mxK.bench.test, A 10.54.1.(K mod M + 1), TLSA 3 1 1 of the listeners'
#         key at _25._tcp.mxK), and M STARTTLS listeners (bench_tool listen) on 10.54.1.1..M:25;
#   near: a validating unbound on 127.0.0.1:53 (trust anchor: the zone's DS), the exporter
#         (release build), blackbox_exporter, posttls-finger and the bare handshake loop.
# The link between them is a veth pair, or, for the latency runs, a TUN pair joined by
# delay_relay.py adding BENCH_DELAY_MS each way (this kernel has no netem; see README).
#
# Measured, all at the same concurrency (BENCH_CONCURRENCY, 64):
#   - the ceiling: bench_tool handshake (banner, EHLO, STARTTLS, TLS 1.3, 3 1 1 match, QUIT);
#   - blackbox_exporter's tcp module with STARTTLS, driven through its /probe;
#   - posttls-finger -l dane per domain (xargs -P);
#   - per N: the exporter's first scheduled round (interval 10 s, cold resolver cache), the
#     exporter's /probe driven once per domain, and the scheduled round again with latency;
#   - at the largest N: /-/healthy and /probe of nonexistent names (what /probe costs around the
#     DANE check: the HTTP request, one lookup);
#   - at the largest N: RSS per interval over BENCH_ROUNDS intervals and /metrics scrape times,
#     then /metrics alone (interval reloaded to an hour): CPU per scrape and its latency.
#   - outbound at scale (issue 18), in the same run, behind the 50 ms link: BENCH_ZIPF_N domains
#     (10,000 and 100,000) in a domains_file list (summary shape) over BENCH_ZIPF_HOSTS (2,000)
#     MX hosts with a Zipf-like share (zipf_world.py: the top 10 carry about half), 3% of the MX
#     addresses black-holed (nftables drops SYNs to them in far), realistic TTLs; the exporter's
#     first round (every domain due within the 30 s warm-up, so it goes as fast as concurrency
#     allows) at a 5-minute interval: its time, how late probes started, CPU per domain, RSS
#     (peak, and sampled between scrapes), DNS questions and SMTP sessions per round (the
#     exporter's own counters), then /metrics scraped for a minute: size plain and gzip, time.
# CPU is utime+stime of the measured process from /proc/PID/stat (children for posttls-finger).
#
# Usage: tests/bench/run.sh     (as root)
# Knobs: BENCH_N="1000 10000" BENCH_M=16 BENCH_CONCURRENCY=64 BENCH_ROUNDS=20 BENCH_DELAY_MS=25
#        BENCH_HANDSHAKES=20000 BENCH_BLACKBOX=10000 BENCH_FINGER=500 BENCH_PROFILE=0|1
#        BENCH_SMOKE=1 (tiny sizes, about two minutes: checks that the harness works)
#        BENCH_KEEP=1 (keep the run directory with all logs)
#        BENCH_LATENCY=0 (skip the rounds with latency: quicker iterations on the other figures)
#        BENCH_EXPORTER=PATH (measure this exporter binary instead of the one built: before/after)
#        BENCH_STRACE=1 (strace -f -c of the exporter during /probe: system calls per probe; slows
#        the exporter, so its CPU figures in that run do not count)
#        BENCH_ZIPF_N="10000 100000" BENCH_ZIPF_HOSTS=2000 BENCH_ZIPF_S=1.15 BENCH_ZIPF_DEAD_EVERY=33
#        BENCH_ZIPF_INTERVAL=300 BENCH_ZIPF_SCRAPE_S=60 BENCH_ZIPF_CONCURRENCY=256;
#        BENCH_ZIPF=0 skips the outbound-at-scale rounds, BENCH_CLASSIC=0 the others (quicker
#        iterations on one part)
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

if [[ ${BENCH_SMOKE:-0} == 1 ]]; then
  : "${BENCH_N:=40}" "${BENCH_M:=4}" "${BENCH_ROUNDS:=2}" "${BENCH_HANDSHAKES:=500}"
  : "${BENCH_BLACKBOX:=200}" "${BENCH_FINGER:=20}"
  : "${BENCH_ZIPF_N:=300}" "${BENCH_ZIPF_HOSTS:=40}" "${BENCH_ZIPF_INTERVAL:=20}" "${BENCH_ZIPF_SCRAPE_S:=5}"
fi
ZIPF_NS=${BENCH_ZIPF_N:-10000 100000}
ZIPF_HOSTS=${BENCH_ZIPF_HOSTS:-2000}
ZIPF_S=${BENCH_ZIPF_S:-1.15}
ZIPF_DEAD_EVERY=${BENCH_ZIPF_DEAD_EVERY:-33}
ZIPF_INTERVAL=${BENCH_ZIPF_INTERVAL:-300}
ZIPF_SCRAPE_S=${BENCH_ZIPF_SCRAPE_S:-60}
# Probes of listed domains mostly wait for the network (50 ms RTT, a shared session), so a list of
# 100,000 runs with more in flight than the classic rounds' 64.
ZIPF_C=${BENCH_ZIPF_CONCURRENCY:-256}
((ZIPF_HOSTS >= 11 && ZIPF_HOSTS <= 60000)) || { echo "BENCH_ZIPF_HOSTS must be 11..60000" >&2; exit 2; }
NS=${BENCH_N:-1000 10000}
M=${BENCH_M:-16}
C=${BENCH_CONCURRENCY:-64}
ROUNDS=${BENCH_ROUNDS:-20}
DELAY_MS=${BENCH_DELAY_MS:-25}
HANDSHAKES=${BENCH_HANDSHAKES:-20000}
BLACKBOX=${BENCH_BLACKBOX:-10000}
FINGER=${BENCH_FINGER:-500}
PROFILE=${BENCH_PROFILE:-0}
STRACE=${BENCH_STRACE:-0}
INTERVAL=10 # seconds; the exporter's minimum
LARGEST=$(tr ' ' '\n' <<<"$NS" | sort -n | tail -1)
((M >= 1 && M <= 250)) || { echo "BENCH_M must be 1..250" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "run.sh: must run as root (network namespaces)" >&2; exit 1; }

"$HERE/install-deps.sh" >&2

echo "== building (release): dane_exporter, bench_tool" >&2
(cd "$ROOT" && cargo build --release --quiet --bin dane_exporter --example bench_tool)
BIN=${BENCH_EXPORTER:-$CARGO_TARGET_DIR/release/dane_exporter}
TOOL=$CARGO_TARGET_DIR/release/examples/bench_tool

RUN=$(mktemp -d /tmp/dane-bench.XXXXXX)
chmod 755 "$RUN"
NEAR=dbench-near-$$
FAR=dbench-far-$$
HZ=$(getconf CLK_TCK)
PIDS=()
RELAY=
cleanup() {
  local p
  for p in "${PIDS[@]}" $RELAY; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}" $RELAY; do wait "$p" 2>/dev/null || true; done
  ip netns del "$NEAR" 2>/dev/null || true
  ip netns del "$FAR" 2>/dev/null || true
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "run directory kept: $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT

# Background processes must be started with `ip netns exec` itself (it execs the command), not
# through these functions: $! of a backgrounded function is a subshell, not the process measured.
in_near() { ip netns exec "$NEAR" "$@"; }
in_far() { ip netns exec "$FAR" "$@"; }
log() { echo "== $* (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }
# cpu_of PID: CPU seconds (user + system) the process used so far.
cpu_of() { awk -v hz="$HZ" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }
# kb_of PID FIELD: a /proc/PID/status value in kB (VmRSS, VmHWM).
kb_of() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
# field LINE KEY: the value of KEY=VALUE in a bench_tool result line.
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# wait_http URL CODE SECONDS: polls (from near) until URL answers CODE.
wait_http() {
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    [[ $(in_near curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null) == "$2" ]] && return 0
    sleep 0.2
  done
  echo "run.sh: $1 did not answer $2 within $3 s" >&2
  return 1
}

# ---------------------------------------------------------------------------------------------
# Network: two namespaces; the far side's addresses live on its loopback, the link is swappable.
# ---------------------------------------------------------------------------------------------
ip netns add "$NEAR"
ip netns add "$FAR"
in_near ip link set lo up
in_far ip link set lo up
in_near ip addr add 10.53.0.1/32 dev lo
in_far ip addr add 10.54.0.53/32 dev lo
for ((i = 1; i <= M; i++)); do in_far ip addr add "10.54.1.$i/32" dev lo; done
LISTENERS=$(seq -f '10.54.1.%g' 1 "$M" | tr '\n' ' ')

link_veth() {
  ip -n "$NEAR" link add dbv type veth peer name dbv netns "$FAR"
  in_near ip link set dbv up
  in_far ip link set dbv up
  in_near ip route add 10.54.0.0/15 dev dbv src 10.53.0.1
  in_far ip route add 10.53.0.0/16 dev dbv
}
link_delay() {
  ip -n "$NEAR" link del dbv
  in_near ip tuntap add dev dbt mode tun
  in_far ip tuntap add dev dbt mode tun
  in_near ip link set dbt up
  in_far ip link set dbt up
  in_near ip route add 10.54.0.0/15 dev dbt src 10.53.0.1
  in_far ip route add 10.53.0.0/16 dev dbt
  python3 "$HERE/delay_relay.py" "$NEAR" dbt "$FAR" dbt "$DELAY_MS" >"$RUN/relay.log" 2>&1 &
  RELAY=$!
  local i
  for ((i = 0; i < 50; i++)); do grep -qs ready "$RUN/relay.log" && return 0; sleep 0.1; done
  echo "run.sh: the delay relay did not start" >&2
  return 1
}
link_back() {
  stop "$RELAY"
  RELAY=
  in_near ip link del dbt
  in_far ip link del dbt
  link_veth
}
link_veth

# ---------------------------------------------------------------------------------------------
# Listeners (one key for all; its 3 1 1 data goes into every TLSA record)
# ---------------------------------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj /CN=mx.bench.test -addext subjectAltName=DNS:mx.bench.test \
  -keyout "$RUN/smtp.key" -out "$RUN/smtp.pem" 2>/dev/null
SPKI=$(openssl x509 -in "$RUN/smtp.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
  sha256sum | cut -d' ' -f1)
# shellcheck disable=SC2086
ip netns exec "$FAR" "$TOOL" listen --cert "$RUN/smtp.pem" --key "$RUN/smtp.key" --port 25 $LISTENERS \
  2>"$RUN/listen.log" &
LISTEN=$!
PIDS+=("$LISTEN")

# ---------------------------------------------------------------------------------------------
# DNS: NSD (far) with a zone of N domains, unbound (near)
# ---------------------------------------------------------------------------------------------
NSD=
UNBOUND=
ZONE=bench.test
# start_nsd N: the bench.test zone with N domains, signed, served by a fresh NSD.
start_nsd() {
  local n=$1 k z=$RUN/bench.test.zone
  {
    # shellcheck disable=SC2016
    printf '$ORIGIN bench.test.\n$TTL 3600\n@ SOA ns hostmaster 1 3600 600 86400 3600\n@ NS ns\nns A 10.54.0.53\n'
    for ((k = 1; k <= n; k++)); do
      printf 'd%d MX 10 mx%d\nmx%d A 10.54.1.%d\n_25._tcp.mx%d TLSA 3 1 1 %s\n' \
        "$k" "$k" "$k" $((k % M + 1)) "$k" "$SPKI"
    done
  } >"$z"
  serve_zone bench.test
}

# serve_zone ZONE: signs $RUN/ZONE.zone, writes its DS to $RUN/ZONE.ds, and (re)starts NSD with
# it as its only zone; unbound (start_unbound) then anchors and stubs ZONE.
serve_zone() {
  local zone=$1 z=$RUN/$1.zone
  [[ -n $NSD ]] && stop "$NSD"
  ZONE=$zone
  rm -f "$RUN"/K"$zone".*
  local key
  key=$(cd "$RUN" && ldns-keygen -a ECDSAP256SHA256 -k "$zone.")
  ldns-signzone -f "$z.signed" "$z" "$RUN/$key"
  ldns-key2ds -n -2 "$RUN/$key.key" >"$RUN/$zone.ds"
  cat >"$RUN/nsd.conf" <<CONF
server:
  ip-address: 10.54.0.53
  port: 53
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
  # This one NSD stands for the authoritative servers of N domains, all asked by one resolver:
  # Debian builds NSD with response rate limiting, 200 answers per second to a /24 by default,
  # and a cold round asks for more. Dropped answers made unbound back off and retry, and 0.4-0.8%
  # of the domains timed out in the exporter.
  rrl-ratelimit: 0
zone:
  name: "$zone."
  zonefile: "$zone.zone.signed"
CONF
  ip netns exec "$FAR" nsd -d -c "$RUN/nsd.conf" 2>>"$RUN/nsd.log" &
  NSD=$!
  PIDS+=("$NSD")
}

# start_unbound: a fresh unbound, so the cache is cold.
start_unbound() {
  [[ -n $UNBOUND ]] && stop "$UNBOUND"
  cat >"$RUN/unbound.conf" <<CONF
server:
  interface: 127.0.0.1
  port: 53
  outgoing-interface: 10.53.0.1
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
  # 10,000 domains are about 40,000 RRsets with signatures: the 4 MB default caches would evict.
  msg-cache-size: 128m
  rrset-cache-size: 256m
  key-cache-size: 16m
  trust-anchor-file: "$RUN/$ZONE.ds"
  local-zone: "test." nodefault
  module-config: "validator iterator"
# Both stubs point at NSD: unbound never asks a real root server.
stub-zone:
  name: "."
  stub-addr: 10.54.0.53
stub-zone:
  name: "$ZONE."
  stub-addr: 10.54.0.53
CONF
  unbound-checkconf "$RUN/unbound.conf" >/dev/null
  ip netns exec "$NEAR" unbound -d -c "$RUN/unbound.conf" 2>>"$RUN/unbound.log" &
  UNBOUND=$!
  PIDS+=("$UNBOUND")
  local i
  for ((i = 0; i < 50; i++)); do
    in_near dig +short +time=1 +tries=1 @127.0.0.1 "d1.$ZONE" MX >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "run.sh: unbound does not answer" >&2
  return 1
}

# ---------------------------------------------------------------------------------------------
# The exporter
# ---------------------------------------------------------------------------------------------
EXPORTER=
# exporter_start CONFIG: starts the exporter in near on 127.0.0.1:9724, waits for /-/healthy.
exporter_start() {
  ip netns exec "$NEAR" "$BIN" --config.file="$1" --web.listen-address=127.0.0.1:9724 --log.level=warn --storage.path="$RUN/data" \
    2>>"$RUN/exporter.log" &
  EXPORTER=$!
  PIDS+=("$EXPORTER")
}
# write_config FILE N: all N domains scheduled (outbound) every INTERVAL, concurrency C.
write_config() {
  local k
  {
    printf 'global:\n  interval: %ss\n  timeout: 10s\n  step_timeout: 5s\n  concurrency: %s\n' "$INTERVAL" "$C"
    # The resolver's trust anchor is bench.test.'s DS, not the root: the canary's secure name
    # must be under it, and there is no bogus zone to ask (docs/self-monitoring.md).
    printf '  nameservers: ["127.0.0.1:53"]\n  canary_secure_name: bench.test\n  canary_bogus_name: ""\n'
    printf 'probe_allow: ["*.bench.test"]\n'
    if (($2 > 0)); then
      printf 'outbound:\n'
      for ((k = 1; k <= $2; k++)); do printf '  - domain: d%d.bench.test\n' "$k"; done
    fi
  } >"$1"
}

# udp_drops: UDP datagrams each namespace's kernel dropped for a full receive buffer so far (a
# resolver or nameserver that cannot keep up loses queries that way, and its client times out).
udp_drops() {
  local side
  for side in near far; do
    local ns=$NEAR
    [[ $side == far ]] && ns=$FAR
    # shellcheck disable=SC2016 # awk's $ fields
    printf '%s=%s ' "$side" "$(ip netns exec "$ns" awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ {print $6; exit}' /proc/net/snmp)"
  done
}

ROWS=()
# row WHAT N COUNT WALL RATE CPU_MS RSS_MIB OK NOTE
row() {
  ROWS+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$@")")
}

# round N LABEL: the exporter's first scheduled round over N domains; sets ROUND_* and adds a row.
round() {
  local n=$1 label=$2 t0 cpu0 t1 cpu1 ok
  write_config "$RUN/round.yml" "$n"
  t0=$(date +%s.%N)
  exporter_start "$RUN/round.yml"
  wait_http http://127.0.0.1:9724/-/healthy 200 60
  cpu0=$(cpu_of "$EXPORTER")
  wait_http http://127.0.0.1:9724/-/ready 200 900
  t1=$(date +%s.%N)
  cpu1=$(cpu_of "$EXPORTER")
  in_near curl -s http://127.0.0.1:9724/metrics >"$RUN/metrics-$n.txt"
  ok=$(grep -c '^dane_probe_success{.*} 1$' "$RUN/metrics-$n.txt" || true)
  # Why probes failed, if any did (reason and count).
  grep -o '^dane_probe_failure_info{[^}]*reason="[^"]*"' "$RUN/metrics-$n.txt" |
    grep -o 'reason="[^"]*"' | sort | uniq -c | sed 's/^/   failures: /' >&2 || true
  ROUND_WALL=$(calc "$t1 - $t0" 1)
  ROUND_RATE=$(calc "$n / ($t1 - $t0)" 0)
  ROUND_CPU_MS=$(calc "($cpu1 - $cpu0) * 1000 / $n" 3)
  ROUND_RSS=$(calc "$(kb_of "$EXPORTER" VmHWM) / 1024" 1)
  row "exporter scheduled round, $label" "$n" "$n" "$ROUND_WALL" "$ROUND_RATE" "$ROUND_CPU_MS" \
    "$ROUND_RSS" "$ok" "$(cut -d' ' -f1 /proc/loadavg)"
  log "round N=$n $label: ${ROUND_WALL}s, ${ROUND_RATE}/s, ${ROUND_CPU_MS} ms CPU/probe, peak ${ROUND_RSS} MiB, pass $ok; UDP receive-buffer drops so far: $(udp_drops)"
}

# drive_probe N: the exporter's /probe, once per domain, C in flight; sets PROBE_* and adds a row.
drive_probe() {
  local n=$1 k cpu0 cpu1 out
  write_config "$RUN/probe.yml" 0
  exporter_start "$RUN/probe.yml"
  wait_http http://127.0.0.1:9724/-/healthy 200 60
  for ((k = 1; k <= n; k++)); do
    echo "http://127.0.0.1:9724/probe?target=d$k.bench.test&module=outbound"
  done >"$RUN/probe.urls"
  cpu0=$(cpu_of "$EXPORTER")
  local perfpid=
  if [[ $PROFILE == 1 ]]; then
    # No hardware counters on this VM: sample the software cpu-clock event.
    perf record -e cpu-clock -F 999 -g -p "$EXPORTER" -o "$RUN/perf-$n.data" 2>"$RUN/perf.log" &
    perfpid=$!
  elif [[ $STRACE == 1 ]]; then
    strace -f -c -p "$EXPORTER" -o "$RUN/strace-$n.txt" 2>"$RUN/strace.log" &
    perfpid=$!
    sleep 1 # attached to every thread before the first probe
  fi
  out=$(in_near "$TOOL" drive --concurrency "$C" --urls "$RUN/probe.urls" --success-metric dane_probe_success)
  if [[ -n $perfpid ]]; then
    kill -INT "$perfpid"
    wait "$perfpid" || true
  fi
  cpu1=$(cpu_of "$EXPORTER")
  PROBE_RATE=$(field "$out" rate)
  PROBE_CPU_MS=$(calc "($cpu1 - $cpu0) * 1000 / $n" 3)
  row "exporter /probe, $C in flight" "$n" "$n" "$(field "$out" wall_s)" "$PROBE_RATE" \
    "$PROBE_CPU_MS" "$(calc "$(kb_of "$EXPORTER" VmHWM) / 1024" 1)" "$(field "$out" success)" \
    "$(cut -d' ' -f1 /proc/loadavg)"
  log "/probe N=$n: $out; ${PROBE_CPU_MS} ms CPU/probe"
  stop "$EXPORTER"
  if [[ $STRACE == 1 ]]; then
    echo "---- strace -c of the exporter during /probe, N=$n ($RUN/strace-$n.txt)" >&2
    awk -v n="$n" '$NF == "total" {printf "system calls per probe: %.1f\n", $4 / n}' \
      "$RUN/strace-$n.txt" >&2
    head -25 "$RUN/strace-$n.txt" >&2
  fi
  if [[ $PROFILE == 1 ]]; then
    perf report -i "$RUN/perf-$n.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
      grep -v '^#' | grep -v '^$' | grep '%' | head -40 >"$RUN/profile-$n.txt" || true
    echo "---- perf: top symbols of the exporter during /probe, N=$n" >&2
    cat "$RUN/profile-$n.txt" >&2
  fi
}

# rss_rounds: with the round's exporter still running, RSS at every interval for ROUNDS intervals
# while /metrics is scraped (more than a second apart), every other time with gzip.
rss_rounds() {
  local n=$1 r samples=() out cpu0 cpu1
  cpu0=$(cpu_of "$EXPORTER")
  ip netns exec "$NEAR" "$TOOL" scrape --url http://127.0.0.1:9724/metrics \
    --seconds $((ROUNDS * INTERVAL - 5)) --gap-ms 1100 >"$RUN/scrape.out" &
  local scraper=$!
  for ((r = 1; r <= ROUNDS; r++)); do
    sleep "$INTERVAL"
    samples+=("$(calc "$(kb_of "$EXPORTER" VmRSS) / 1024" 1)")
  done
  wait "$scraper"
  cpu1=$(cpu_of "$EXPORTER")
  out=$(cat "$RUN/scrape.out")
  # Every domain is due once per interval: N probes per interval if the exporter keeps up, which
  # the newest metrics say (the oldest probe start must be less than two intervals old).
  in_near curl -s http://127.0.0.1:9724/metrics >"$RUN/steady-$n.txt"
  STEADY_LAG=$(awk -v now="$(date +%s)" '/^dane_probe_timestamp_seconds/ { if (min == "" || $2 < min) min = $2 } END { print now - min }' "$RUN/steady-$n.txt")
  STEADY_CPU_MS=$(calc "($cpu1 - $cpu0) * 1000 / ($n * $ROUNDS)" 3)
  row "exporter steady state: every domain every ${INTERVAL} s, warm cache, /metrics every 1.1 s" "$n" \
    "$((n * ROUNDS))" "$((ROUNDS * INTERVAL))" "$((n / INTERVAL))" "$STEADY_CPU_MS" \
    "$(calc "$(kb_of "$EXPORTER" VmHWM) / 1024" 1)" "oldest probe ${STEADY_LAG} s old" \
    "$(cut -d' ' -f1 /proc/loadavg)"
  RSS_SERIES="${samples[*]}"
  # Flat: the second half's median no more than 5% above the first half's. A leak raises every
  # sample; a sample taken during a scrape is a spike, not a trend, so the
  # medians are compared, and the highest sample is reported as the peak.
  RSS_HALF=$(printf '%s\n' "${samples[@]:0:$(((ROUNDS + 1) / 2))}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  RSS_LATE=$(printf '%s\n' "${samples[@]:$(((ROUNDS + 1) / 2))}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  RSS_PEAK=$(calc "$(kb_of "$EXPORTER" VmHWM) / 1024" 1)
  SCRAPE_P50=$(field "$out" p50_ms)
  SCRAPE_P99=$(field "$out" p99_ms)
  SCRAPE_BYTES=$(field "$out" bytes)
  SCRAPE_FB_P50=$(field "$out" first_byte_p50_ms)
  SCRAPE_FB_P99=$(field "$out" first_byte_p99_ms)
  SCRAPE_GZ_P50=$(field "$out" gzip_p50_ms)
  SCRAPE_GZ_P99=$(field "$out" gzip_p99_ms)
  SCRAPE_GZ_BYTES=$(field "$out" gzip_bytes)
  SCRAPE_N=$n
  log "RSS over $ROUNDS intervals (MiB): $RSS_SERIES; /metrics: $out; steady state ${STEADY_CPU_MS} ms CPU/probe, oldest probe ${STEADY_LAG} s old"
}

# probe_parts N: what a /probe costs apart from the DANE check, to split the CPU per check: N
# requests of /-/healthy (the HTTP request alone: connect, request, response, close) and N /probe
# of names that do not exist (HTTP, one MX lookup answered NXDOMAIN, the report and its series).
probe_parts() {
  local n=$1 k cpu0 cpu1 out what
  write_config "$RUN/probe.yml" 0
  exporter_start "$RUN/probe.yml"
  wait_http http://127.0.0.1:9724/-/healthy 200 60
  for what in healthy nxdomain; do
    for ((k = 1; k <= n; k++)); do
      if [[ $what == healthy ]]; then
        echo "http://127.0.0.1:9724/-/healthy"
      else
        echo "http://127.0.0.1:9724/probe?target=nx$k.bench.test&module=outbound"
      fi
    done >"$RUN/parts.urls"
    cpu0=$(cpu_of "$EXPORTER")
    out=$(in_near "$TOOL" drive --concurrency "$C" --urls "$RUN/parts.urls" --success-metric dane_probe_success)
    cpu1=$(cpu_of "$EXPORTER")
    PART_CPU_MS[$what]=$(calc "($cpu1 - $cpu0) * 1000 / $n" 3)
    log "/$what N=$n: $out; ${PART_CPU_MS[$what]} ms CPU/request"
    if [[ $what == healthy ]]; then
      row "exporter /-/healthy (the HTTP request alone), $C in flight" "$n" "$n" "$(field "$out" wall_s)" \
        "$(field "$out" rate)" "${PART_CPU_MS[$what]}" - "HTTP 200: $(field "$out" http200)" \
        "$(cut -d' ' -f1 /proc/loadavg)"
    else
      row "exporter /probe of a name that does not exist (HTTP, one lookup: NXDOMAIN), $C in flight" \
        "$n" "$n" "$(field "$out" wall_s)" "$(field "$out" rate)" "${PART_CPU_MS[$what]}" - \
        "HTTP 200: $(field "$out" http200)" "$(cut -d' ' -f1 /proc/loadavg)"
    fi
  done
  stop "$EXPORTER"
}

# quiet_scrapes N: with the steady state's exporter and its N results, reloads (SIGHUP) a config
# whose interval is an hour, so that the results stay and (almost) nothing is probed, and scrapes
# /metrics back to back: what a scrape costs on its own, CPU per scrape and latency.
quiet_scrapes() {
  local n=$1 out cpu0 cpu1 count
  INTERVAL=3600 write_config "$RUN/round.yml" "$n"
  kill -HUP "$EXPORTER"
  sleep 3
  cpu0=$(cpu_of "$EXPORTER")
  out=$(ip netns exec "$NEAR" "$TOOL" scrape --url http://127.0.0.1:9724/metrics --seconds 20 --gap-ms 200)
  cpu1=$(cpu_of "$EXPORTER")
  count=$(($(field "$out" scrapes) + $(field "$out" gzip_scrapes)))
  QUIET_CPU_MS=$(calc "($cpu1 - $cpu0) * 1000 / $count" 1)
  QUIET_P50=$(field "$out" p50_ms) QUIET_P99=$(field "$out" p99_ms)
  QUIET_GZ_P50=$(field "$out" gzip_p50_ms) QUIET_GZ_P99=$(field "$out" gzip_p99_ms)
  QUIET_BYTES=$(field "$out" bytes) QUIET_GZ_BYTES=$(field "$out" gzip_bytes)
  log "quiet /metrics at N=$n (no probing): $out; exporter CPU ${QUIET_CPU_MS} ms per scrape ($count scrapes, half with gzip)"
}

# ---------------------------------------------------------------------------------------------
# Once: the ceiling and the alternatives (they do not depend on N)
# ---------------------------------------------------------------------------------------------
declare -A R_CPU P_RATE P_CPU L_WALL PART_CPU_MS
classic() {
FIRST=$(tr ' ' '\n' <<<"$NS" | sort -n | head -1)
log "zone with $FIRST domains, NSD, unbound, $M listeners"
start_nsd "$FIRST"
start_unbound

log "bare rustls handshake loop: $HANDSHAKES checks, $C in flight"
# shellcheck disable=SC2086
out=$(in_near "$TOOL" handshake --spki-sha256 "$SPKI" --concurrency "$C" --count "$HANDSHAKES" \
  --port 25 $LISTENERS)
BARE_RATE=$(field "$out" rate)
BARE_CPU_MS=$(field "$out" cpu_ms_per_check)
row "bare rustls handshake loop (ceiling)" - "$HANDSHAKES" "$(field "$out" wall_s)" "$BARE_RATE" \
  "$BARE_CPU_MS" - "$(field "$out" ok)" "$(cut -d' ' -f1 /proc/loadavg)"
log "handshake: $out"

log "blackbox_exporter tcp STARTTLS module: $BLACKBOX probes, $C in flight"
cat >"$RUN/blackbox.yml" <<'YML'
modules:
  smtp_starttls:
    prober: tcp
    timeout: 10s
    tcp:
      preferred_ip_protocol: ip4
      tls_config:
        insecure_skip_verify: true
      query_response:
        - expect: "^220 "
        - send: "EHLO bench.invalid\r"
        - expect: "^250-STARTTLS"
        - expect: "^250 "
        - send: "STARTTLS\r"
        - expect: "^220 "
        - starttls: true
        - send: "EHLO bench.invalid\r"
        - expect: "^250 "
        - send: "QUIT\r"
        - expect: "^221 "
YML
ip netns exec "$NEAR" prometheus-blackbox-exporter --config.file="$RUN/blackbox.yml" \
  --web.listen-address=127.0.0.1:9115 --log.level=warn 2>"$RUN/blackbox.log" &
BB=$!
PIDS+=("$BB")
wait_http http://127.0.0.1:9115/-/healthy 200 30
for ((k = 0; k < BLACKBOX; k++)); do
  echo "http://127.0.0.1:9115/probe?module=smtp_starttls&target=10.54.1.$((k % M + 1)):25"
done >"$RUN/blackbox.urls"
cpu0=$(cpu_of "$BB")
out=$(in_near "$TOOL" drive --concurrency "$C" --urls "$RUN/blackbox.urls" --success-metric probe_success)
cpu1=$(cpu_of "$BB")
BB_RATE=$(field "$out" rate)
BB_CPU_MS=$(calc "($cpu1 - $cpu0) * 1000 / $BLACKBOX" 3)
row "blackbox_exporter 0.23 tcp STARTTLS, $C in flight" - "$BLACKBOX" "$(field "$out" wall_s)" \
  "$BB_RATE" "$BB_CPU_MS" "$(calc "$(kb_of "$BB" VmHWM) / 1024" 1)" "$(field "$out" success)" \
  "$(cut -d' ' -f1 /proc/loadavg)"
log "blackbox: $out; $BB_CPU_MS ms CPU/probe"
stop "$BB"

log "posttls-finger -l dane: $FINGER domains, $C at a time"
mkdir -p "$RUN/postfix"
: >"$RUN/postfix/main.cf"
echo "nameserver 127.0.0.1" >"$RUN/resolv.conf"
seq -f 'd%g.bench.test' 1 "$FINGER" >"$RUN/finger.domains"
# posttls-finger uses the system resolver: a private mount namespace gets our resolv.conf.
# getrusage(RUSAGE_CHILDREN) sums the CPU of every posttls-finger process.
# shellcheck disable=SC2016 # $1.. expand in the inner shell
out=$(MAIL_CONFIG=$RUN/postfix in_near unshare -m sh -c '
  mount --bind "$1" /etc/resolv.conf && exec python3 -c "
import resource, subprocess, sys, time
t = time.monotonic()
with open(sys.argv[1]) as domains, open(sys.argv[2], \"w\") as out:
    subprocess.run([\"xargs\", \"-P\", sys.argv[3], \"-n\", \"1\", \"posttls-finger\", \"-c\",
                    \"-l\", \"dane\", \"-t\", \"10\", \"-T\", \"10\"], stdin=domains, stdout=out,
                   stderr=subprocess.STDOUT, check=False)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(\"wall_s=%.3f cpu_s=%.3f\" % (time.monotonic() - t, r.ru_utime + r.ru_stime))
" "$2" "$3" "$4"' sh "$RUN/resolv.conf" "$RUN/finger.domains" "$RUN/finger.out" "$C")
FINGER_OK=$(grep -c 'Verified TLS connection established' "$RUN/finger.out" || true)
FINGER_RATE=$(calc "$FINGER / $(field "$out" wall_s)" 1)
FINGER_CPU_MS=$(calc "$(field "$out" cpu_s) * 1000 / $FINGER" 2)
row "posttls-finger -l dane per domain, $C at a time" "$FINGER" "$FINGER" "$(field "$out" wall_s)" \
  "$FINGER_RATE" "$FINGER_CPU_MS" - "$FINGER_OK" "$(cut -d' ' -f1 /proc/loadavg)"
log "posttls-finger: $out, verified $FINGER_OK"

# ---------------------------------------------------------------------------------------------
# Per N: scheduled round (cold resolver), /probe, the round with latency; RSS at the largest N
# ---------------------------------------------------------------------------------------------
for n in $NS; do
  log "N=$n: zone, NSD, unbound (cold)"
  [[ $n != "$FIRST" ]] && start_nsd "$n"
  start_unbound
  round "$n" "cold resolver cache"
  R_CPU[$n]=$ROUND_CPU_MS
  if [[ $n == "$LARGEST" ]]; then
    rss_rounds "$n"
    quiet_scrapes "$n"
  fi
  stop "$EXPORTER"
  drive_probe "$n"
  P_RATE[$n]=$PROBE_RATE P_CPU[$n]=$PROBE_CPU_MS
  [[ $n == "$LARGEST" ]] && probe_parts "$n"
  L_WALL[$n]=skipped
  [[ ${BENCH_LATENCY:-1} == 0 ]] && continue
  log "N=$n: the same round with ${DELAY_MS} ms each way (delay relay), cold resolver cache"
  link_delay
  start_unbound
  round "$n" "$((2 * DELAY_MS)) ms RTT, cold resolver cache"
  L_WALL[$n]=$ROUND_WALL
  stop "$EXPORTER"
  link_back
done
}

# ---------------------------------------------------------------------------------------------
# Outbound at scale (issue 18): N recipient domains over ZIPF_HOSTS MX hosts, Zipf-like share,
# 3% of the addresses black-holed, 50 ms RTT; the exporter's first round at a 5-minute interval
# ---------------------------------------------------------------------------------------------
ZIPF_ROWS=()
ZIPF_LISTEN=
declare -A Z_WALL Z_LATE Z_CPU Z_HWM Z_RSS Z_BYTES Z_GZ Z_SERIES Z_P99 Z_GZ_P99 Z_QUERIES Z_SESSIONS

# zipf_world N: the zone, the list, the addresses of the hosts (added to far's loopback and
# served by a listener of their own the first time), and the black-holed ones (nftables in far
# drops every SYN to port 25 of them).
zipf_world() {
  local n=$1 stats
  stats=$(python3 "$HERE/zipf_world.py" "$n" "$ZIPF_HOSTS" "$ZIPF_S" "$ZIPF_DEAD_EVERY" "$SPKI" "$RUN")
  ZIPF_DEAD_DOMAINS=$(field "$stats" dead_domains)
  log "zipf world N=$n: $stats"
  if [[ -z $ZIPF_LISTEN ]]; then
    sed 's|^\(.*\)$|addr add \1/32 dev lo|' "$RUN/zipf-addresses.txt" >"$RUN/zipf-addresses.batch"
    ip -n "$FAR" -batch "$RUN/zipf-addresses.batch"
    # shellcheck disable=SC2046 # one argument per address
    ip netns exec "$FAR" "$TOOL" listen --cert "$RUN/smtp.pem" --key "$RUN/smtp.key" --port 25 \
      $(cat "$RUN/zipf-addresses.txt") 2>"$RUN/listen-zipf.log" &
    ZIPF_LISTEN=$!
    PIDS+=("$ZIPF_LISTEN")
    in_far nft -f - <<NFT
table inet dbench {
  set dead { type ipv4_addr; elements = { $(paste -sd, "$RUN/zipf-dead.txt") } }
  chain input { type filter hook input priority 0; ip daddr @dead tcp dport 25 drop; }
}
NFT
  fi
  serve_zone zipf.test
}

# metric_sum FILE NAME: the sum of every sample of NAME in the exposition FILE.
metric_sum() { awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%.0f", s }' "$1"; }

# zipf_round N: the exporter's first round over the list of N domains, then a minute of scrapes.
zipf_round() {
  local n=$1 t0 t1 cpu0 cpu1 samples=() out late
  cat >"$RUN/zipf.yml" <<YML
global:
  interval: ${ZIPF_INTERVAL}s
  timeout: $((ZIPF_INTERVAL < 60 ? ZIPF_INTERVAL : 60))s
  step_timeout: 5s
  concurrency: $ZIPF_C
  nameservers: ["127.0.0.1:53"]
  # The resolver's trust anchor is zipf.test.'s DS, not the root: the canary asks under it.
  canary_secure_name: zipf.test
  canary_bogus_name: ""
outbound:
  - domains_file: zipf-$n.txt
    labels: {list: zipf}
YML
  t0=$(date +%s.%N)
  exporter_start "$RUN/zipf.yml"
  wait_http http://127.0.0.1:9724/-/healthy 200 120
  cpu0=$(cpu_of "$EXPORTER")
  local deadline=$((SECONDS + 3 * ZIPF_INTERVAL + 120))
  until [[ $(in_near curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9724/-/ready) == 200 ]]; do
    ((SECONDS < deadline)) || { echo "run.sh: the zipf round at N=$n did not finish" >&2; return 1; }
    kill -0 "$EXPORTER" 2>/dev/null || { echo "run.sh: the exporter exited: $(tail -1 "$RUN/exporter.log")" >&2; return 1; }
    samples+=("$(calc "$(kb_of "$EXPORTER" VmRSS) / 1024" 1)")
    sleep 5
  done
  t1=$(date +%s.%N)
  cpu1=$(cpu_of "$EXPORTER")
  in_near curl -s http://127.0.0.1:9724/metrics >"$RUN/metrics-zipf-$n.txt"
  local m=$RUN/metrics-zipf-$n.txt
  local ok failed unknown queries hits sessions series probe_series
  ok=$(grep -c '^dane_probe_success{.*} 1$' "$m" || true)
  failed=$(grep -c '^dane_probe_success{.*} 0$' "$m" || true)
  unknown=$(grep -c '^dane_probe_verdict{.*verdict="unknown"} 1$' "$m" || true)
  queries=$(metric_sum "$m" dane_exporter_dns_queries_total)
  hits=$(metric_sum "$m" dane_exporter_dns_cache_hits_total)
  sessions=$(metric_sum "$m" dane_exporter_smtp_sessions_total)
  series=$(grep -vc '^#' "$m" || true)
  probe_series=$(grep -c '^dane_probe_' "$m" || true)
  grep -o '^dane_probe_failure_info{[^}]*reason="[^"]*"' "$m" | grep -o 'reason="[^"]*"' | sort |
    uniq -c | sed 's/^/   failures: /' >&2 || true
  late=$(in_near "$TOOL" lateness --config "$RUN/zipf.yml" --metrics "$m")
  Z_WALL[$n]=$(calc "$t1 - $t0" 1)
  Z_CPU[$n]=$(calc "($cpu1 - $cpu0) * 1000 / $n" 3)
  Z_LATE[$n]=$(field "$late" late_p99_s)/$(field "$late" late_max_s)
  Z_QUERIES[$n]=$(calc "$queries / $n" 2)
  Z_SESSIONS[$n]=$sessions
  Z_SERIES[$n]=$(calc "$probe_series / $n" 2)
  log "zipf round N=$n: ${Z_WALL[$n]} s, lateness $late, ${Z_CPU[$n]} ms CPU/domain, pass $ok fail $failed unknown $unknown (black-holed: $ZIPF_DEAD_DOMAINS), DNS $queries queries + $hits cache hits, $sessions SMTP sessions, $series series ($probe_series dane_probe_*), RSS while probing: ${samples[*]}; UDP drops: $(udp_drops)"

  # A minute of scrapes while the second round runs, RSS sampled every 5 s meanwhile.
  local rss=() scraper
  ip netns exec "$NEAR" "$TOOL" scrape --url http://127.0.0.1:9724/metrics \
    --seconds "$ZIPF_SCRAPE_S" --gap-ms 1100 >"$RUN/scrape-zipf-$n.out" &
  scraper=$!
  while kill -0 "$scraper" 2>/dev/null; do
    rss+=("$(calc "$(kb_of "$EXPORTER" VmRSS) / 1024" 1)")
    sleep 5
  done
  wait "$scraper"
  out=$(cat "$RUN/scrape-zipf-$n.out")
  Z_HWM[$n]=$(calc "$(kb_of "$EXPORTER" VmHWM) / 1024" 1)
  Z_RSS[$n]=$(printf '%s\n' "${rss[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  Z_BYTES[$n]=$(field "$out" bytes)
  Z_GZ[$n]=$(field "$out" gzip_bytes)
  Z_P99[$n]=$(field "$out" p99_ms)
  Z_GZ_P99[$n]=$(field "$out" gzip_p99_ms)
  log "zipf N=$n /metrics: $out; RSS during the scrapes: ${rss[*]} MiB, peak ${Z_HWM[$n]} MiB"
  ZIPF_ROWS+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s p50 / %s p99 | %s p50 / %s p99 | %s | %s | %s | %s | %s |' \
    "$n" "$ZIPF_HOSTS" "${Z_WALL[$n]}" "${Z_LATE[$n]}" "${Z_CPU[$n]}" "${Z_HWM[$n]}" "${Z_RSS[$n]}" \
    "$(calc "${Z_BYTES[$n]} / 1000000" 1)" "$(calc "${Z_GZ[$n]} / 1000000" 2)" "${Z_SERIES[$n]}" \
    "$(field "$out" p50_ms)" "${Z_P99[$n]}" "$(field "$out" gzip_p50_ms)" "${Z_GZ_P99[$n]}" \
    "${Z_QUERIES[$n]}" "$(calc "$hits / $n" 2)" "$sessions" "$ok / $failed ($ZIPF_DEAD_DOMAINS black-holed)" \
    "$(cut -d' ' -f1 /proc/loadavg)")")
  stop "$EXPORTER"
}

zipf() {
  log "outbound at scale: ${ZIPF_NS} domains over $ZIPF_HOSTS MX hosts (Zipf s=$ZIPF_S), ${DELAY_MS} ms each way, interval ${ZIPF_INTERVAL}s"
  link_delay
  local n
  for n in $ZIPF_NS; do
    zipf_world "$n"
    start_unbound
    zipf_round "$n"
  done
  link_back
}

zipf_table() {
  local small large
  small=$(tr ' ' '\n' <<<"$ZIPF_NS" | sort -n | head -1)
  large=$(tr ' ' '\n' <<<"$ZIPF_NS" | sort -n | tail -1)
  echo
  echo "Outbound at scale: $ZIPF_HOSTS MX hosts (Zipf s=$ZIPF_S: the top 10 carry about half the domains), 1 in $ZIPF_DEAD_EVERY addresses black-holed (none of the top 10), $((2 * DELAY_MS)) ms RTT, interval ${ZIPF_INTERVAL}s, concurrency $ZIPF_C, summary shape"
  echo "- N=$large one round: ${Z_WALL[$large]} s (probe start lateness p99/max ${Z_LATE[$large]} s), target: all in one ${ZIPF_INTERVAL} s round: $(verdict "${Z_WALL[$large]} <= $ZIPF_INTERVAL + 60")"
  echo "- N=$large RSS peak ${Z_HWM[$large]} MiB = $(calc "${Z_HWM[$large]} * 1.048576" 1) MB, between scrapes ${Z_RSS[$large]} MiB, target < 250 MB: $(verdict "${Z_HWM[$large]} * 1.048576 < 250")"
  echo "- N=$large /metrics: ${Z_SERIES[$large]} dane_probe_* series per domain, target < 10: $(verdict "${Z_SERIES[$large]} < 10"); scrape p99 ${Z_P99[$large]} ms plain, ${Z_GZ_P99[$large]} ms gzip, target < 1000 ms: $(verdict "${Z_P99[$large]} < 1000 && ${Z_GZ_P99[$large]} < 1000")"
  echo "- N=$large DNS queries per domain per round ${Z_QUERIES[$large]}, target < 3: $(verdict "${Z_QUERIES[$large]} < 3")"
  if [[ $small != "$large" ]]; then
    echo "- growth $small -> $large: CPU per domain ${Z_CPU[$small]} -> ${Z_CPU[$large]} ms, peak RSS ${Z_HWM[$small]} -> ${Z_HWM[$large]} MiB, /metrics ${Z_BYTES[$small]} -> ${Z_BYTES[$large]} bytes, DNS queries per domain ${Z_QUERIES[$small]} -> ${Z_QUERIES[$large]}, SMTP sessions per round ${Z_SESSIONS[$small]} -> ${Z_SESSIONS[$large]}"
  fi
  echo
  echo "| N | MX hosts | round s | late p99/max s | CPU ms/domain | peak RSS MiB | RSS between scrapes MiB | /metrics MB plain / gzip | series/domain | scrape ms plain | scrape ms gzip | DNS queries/domain | cache hits/domain | SMTP sessions | passed / failed | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for r in "${ZIPF_ROWS[@]}"; do echo "$r"; done
}
# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo MISSED; fi; }
classic_table() {
echo
echo "dane_exporter benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), load now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "M=$M listeners, concurrency $C, interval ${INTERVAL}s, latency runs ${DELAY_MS} ms each way"
echo
echo "Targets (ratios first):"
for n in $NS; do
  r=$(calc "${P_CPU[$n]} / $BARE_CPU_MS" 2)
  echo "- N=$n CPU per full DANE check (/probe, saturated like the bare loop) / bare handshake CPU: $r (${P_CPU[$n]} / $BARE_CPU_MS ms), target <= 1.30: $(verdict "$r <= 1.3")"
  if [[ $n == "$LARGEST" ]]; then
    r=$(calc "$STEADY_CPU_MS / $BARE_CPU_MS" 2)
    echo "- N=$n CPU per full DANE check (steady scheduled rounds) / bare handshake CPU: $r ($STEADY_CPU_MS / $BARE_CPU_MS ms), target <= 1.30: $(verdict "$r <= 1.3")"
  fi
  if [[ $n == "$LARGEST" ]]; then
    echo "- N=$n /probe split: the HTTP request alone (/-/healthy) ${PART_CPU_MS[healthy]} ms; a /probe stopping at one NXDOMAIN lookup ${PART_CPU_MS[nxdomain]} ms; the full /probe without its HTTP request $(calc "${P_CPU[$n]} - ${PART_CPU_MS[healthy]}" 3) ms = $(calc "(${P_CPU[$n]} - ${PART_CPU_MS[healthy]}) / $BARE_CPU_MS" 2)x the bare client"
  fi
  echo "- N=$n first scheduled round (paced by the cold resolver): ${R_CPU[$n]} ms CPU per check"
  r=$(calc "${P_RATE[$n]} / $BB_RATE" 2)
  echo "- N=$n /probe throughput / blackbox_exporter's: $r (${P_RATE[$n]} / $BB_RATE per s), target >= 2.5: $(verdict "$r >= 2.5")"
  r=$(calc "${P_CPU[$n]} / $BB_CPU_MS" 2)
  echo "- N=$n /probe CPU per probe / blackbox_exporter's: $r (${P_CPU[$n]} / $BB_CPU_MS ms), target <= 0.33: $(verdict "$r <= 0.334")"
  if [[ ${L_WALL[$n]} != skipped ]]; then
    echo "- N=$n round with $((2 * DELAY_MS)) ms RTT: ${L_WALL[$n]} s, target <= 300 s: $(verdict "${L_WALL[$n]} <= 300")"
  fi
done
echo "- N=$LARGEST RSS between scrapes (median of the interval samples) ${RSS_LATE:-$RSS_HALF} MiB = $(calc "${RSS_LATE:-$RSS_HALF} * 1.048576" 1) MB, target < 100 MB: $(verdict "${RSS_LATE:-$RSS_HALF} * 1.048576 < 100")"
echo "- N=$LARGEST peak RSS (VmHWM, scrapes included) ${RSS_PEAK} MiB = $(calc "$RSS_PEAK * 1.048576" 1) MB, target < 100 MB: $(verdict "$RSS_PEAK * 1.048576 < 100")"
echo "- N=$SCRAPE_N /metrics render (written while sent: time to the last byte) p50 ${SCRAPE_P50} ms, p99 ${SCRAPE_P99} ms, ${SCRAPE_BYTES} bytes; target p99 < 100 ms: $(verdict "$SCRAPE_P99 < 100"); first byte p50 ${SCRAPE_FB_P50} ms, p99 ${SCRAPE_FB_P99} ms"
echo "- N=$SCRAPE_N /metrics with gzip (as Prometheus asks): last byte p50 ${SCRAPE_GZ_P50} ms, p99 ${SCRAPE_GZ_P99} ms, ${SCRAPE_GZ_BYTES} bytes"
echo "- N=$SCRAPE_N /metrics with no probing (interval reloaded to 1 h): exporter CPU ${QUIET_CPU_MS} ms per scrape (half with gzip); last byte p50 ${QUIET_P50} ms, p99 ${QUIET_P99} ms plain (${QUIET_BYTES} bytes), p50 ${QUIET_GZ_P50} ms, p99 ${QUIET_GZ_P99} ms gzip (${QUIET_GZ_BYTES} bytes)"
echo "- N=$LARGEST RSS at each of $ROUNDS intervals (MiB): $RSS_SERIES; median of the first half $RSS_HALF, of the second ${RSS_LATE:-$RSS_HALF}; target flat (second <= first + 5%): $(verdict "${RSS_LATE:-$RSS_HALF} <= $RSS_HALF * 1.05")"
echo "- bare handshake ceiling $BARE_RATE checks/s; posttls-finger $FINGER_RATE checks/s at $FINGER_CPU_MS ms CPU each"
echo
echo "| what | N | checks | wall s | per s | CPU ms each | peak RSS MiB | passed | load |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do echo "$r"; done
}

# ---------------------------------------------------------------------------------------------
# The run: the classic rows, then outbound at scale, then the tables
# ---------------------------------------------------------------------------------------------
if [[ ${BENCH_CLASSIC:-1} == 1 ]]; then classic; fi
if [[ ${BENCH_ZIPF:-1} == 1 ]]; then zipf; fi
if [[ ${BENCH_CLASSIC:-1} == 1 ]]; then classic_table; fi
if [[ ${BENCH_ZIPF:-1} == 1 ]]; then zipf_table; fi
