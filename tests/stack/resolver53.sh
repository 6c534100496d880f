# shellcheck shell=bash
# Sourced by crosscheck.sh and postfix-client.sh. Postfix's programs (posttls-finger, smtp(8)) use
# the system resolver (port 53, /etc/resolv.conf): they get a copy of the stack's unbound on
# ADDR:53 (an address of its own per caller and stack, so concurrent runs never collide) and run
# in a private mount namespace whose /etc/resolv.conf is DIR/resolv.conf (the real one is never
# touched).
#
# resolver53_start RUNDIR DIR ADDR: config, PID file and log in DIR; returns once it answers
#   (non-zero if unbound did not start: e.g. port 53 held by a wildcard listener such as a
#   default nsd). Writes DIR/resolv.conf.
# resolver53_stop DIR: stops it and waits until the port is free again.
resolver53_start() {
  local rundir=$1 dir=$2 addr=$3
  mkdir -p "$dir"
  # Remote control off in the copy: it would take over the stack's control socket (same path)
  # and remove it on exit, and set-tlsa.sh's unbound-control would fail afterwards.
  sed -e "s|^  interface: .*|  interface: $addr|" -e "s|^  port: .*|  port: 53|" \
    -e "s|^  pidfile: .*|  pidfile: \"$dir/unbound.pid\"|" -e "s|^  logfile: .*|  logfile: \"$dir/unbound.log\"|" \
    -e "s|^  control-enable: .*|  control-enable: no|" \
    "$rundir/unbound/unbound.conf" >"$dir/unbound.conf" || return 1
  unbound -c "$dir/unbound.conf" || return 1
  for _ in $(seq 50); do
    dig +time=1 +tries=1 "@$addr" SOA test. >/dev/null 2>&1 && break
    sleep 0.1
  done
  # glibc drops the AD bit unless the resolver is trusted ("options trust-ad").
  printf 'nameserver %s\noptions trust-ad\n' "$addr" >"$dir/resolv.conf"
}

resolver53_stop() {
  local pid
  pid=$(cat "$1/unbound.pid" 2>/dev/null || true)
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  # Wait until the port is free again (a zombie no longer holds it; PID 1 may reap late).
  for _ in $(seq 100); do
    [[ $(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) =~ ^(Z|)$ ]] && return 0
    sleep 0.05
  done
}
