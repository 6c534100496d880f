#!/usr/bin/env bash
# A copy of the stack's unbound (tests/stack/up.sh RUNDIR) on another address and port, for the
# tests of what the exporter does when its resolver cannot be trusted or is gone
# (tests/integration/self_monitoring.rs):
#
#   validating  the stack's configuration as is (reachable from any address: a test's network
#               namespace reaches it through a veth pair);
#   off         no validator module, no trust anchor: answers everything, never sets AD, passes
#               bogus data on (what systemd-resolved or many cloud resolvers are to DANE);
#   permissive  validates and sets AD honestly, but val-permissive-mode passes bogus data on
#               instead of SERVFAIL.
#
# Usage: resolver-copy.sh start RUNDIR NAME ADDR PORT validating|off|permissive
#        resolver-copy.sh stop RUNDIR NAME
# The copy lives in RUNDIR/resolvers/NAME (config, PID file, log, remote-control socket: set-ds.sh
# flushes it with the stack's own unbound); `start` returns once it answers; `stop` waits until
# it is gone. down.sh stops every copy left running.
set -euo pipefail
shopt -s inherit_errexit

usage() {
  echo "usage: $0 start RUNDIR NAME ADDR PORT validating|off|permissive" >&2
  echo "       $0 stop RUNDIR NAME" >&2
  exit 2
}
[[ $# -ge 3 ]] || usage
ACTION=$1 RUNDIR=$(cd "$2" && pwd) NAME=$3
[[ $NAME =~ ^[a-z0-9-]+$ ]] || usage
DIR=$RUNDIR/resolvers/$NAME

# alive PID: running and not a zombie (PID 1 may reap late in containers).
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z ]]
}

stop() {
  local pid i
  pid=$(tr -dc '0-9' <"$DIR/unbound.pid" 2>/dev/null || true)
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case $ACTION in
  stop)
    [[ $# -eq 3 ]] || usage
    stop
    ;;
  start)
    [[ $# -eq 6 ]] || usage
    ADDR=$4 PORT=$5 MODE=$6
    [[ $PORT =~ ^[0-9]+$ && $MODE =~ ^(validating|off|permissive)$ ]] || usage
    mkdir -p "$DIR"
    stop
    rm -f "$DIR/control.sock"
    sed -e "s|^  interface: .*|  interface: $ADDR|" -e "s|^  port: .*|  port: $PORT|" \
      -e "s|^  pidfile: .*|  pidfile: \"$DIR/unbound.pid\"|" \
      -e "s|^  logfile: .*|  logfile: \"$DIR/unbound.log\"|" \
      -e "s|^  access-control: .*|  access-control: 0.0.0.0/0 allow|" \
      -e "s|^  control-interface: .*|  control-interface: \"$DIR/control.sock\"|" \
      "$RUNDIR/unbound/unbound.conf" >"$DIR/unbound.conf.new"
    case $MODE in
      off)
        sed -i -e 's|^  module-config: .*|  module-config: "iterator"|' -e '/^  trust-anchor-file: /d' \
          "$DIR/unbound.conf.new"
        ;;
      permissive)
        sed -i 's|^  module-config: .*|&\n  val-permissive-mode: yes|' "$DIR/unbound.conf.new"
        ;;
    esac
    grep -q "^  interface: $ADDR\$" "$DIR/unbound.conf.new"
    grep -q "control.sock" "$DIR/unbound.conf.new"
    mv "$DIR/unbound.conf.new" "$DIR/unbound.conf"
    unbound-checkconf "$DIR/unbound.conf" >/dev/null
    unbound -c "$DIR/unbound.conf"
    for _ in $(seq 100); do
      if dig +time=1 +tries=1 -p "$PORT" "@$ADDR" SOA test. 2>/dev/null | grep -q 'status: NOERROR'; then
        exit 0
      fi
      sleep 0.1
    done
    echo "resolver-copy.sh: $NAME on $ADDR:$PORT does not answer after 10 s; see $DIR/unbound.log" >&2
    stop
    exit 1
    ;;
  *) usage ;;
esac
