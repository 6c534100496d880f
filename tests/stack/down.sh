#!/usr/bin/env bash
# Stops what tests/stack/up.sh started in RUNDIR, by PID file (never by process name: other stacks
# and other users' daemons may run on the same machine). Safe to run on a half-built RUNDIR and
# more than once. Waits until each daemon is really gone, so the caller can delete RUNDIR.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 RUNDIR" >&2
  exit 2
fi
RUNDIR=$(cd "$1" && pwd)
status=0

# alive PID: running and not a zombie. Exited daemons are reparented to PID 1, which may reap them
# late (seconds, in containers); a zombie holds no sockets or files any more.
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $state && $state != Z ]]
}

# stop_pidfile NAME FILE: TERM, wait up to 5 s, then KILL.
stop_pidfile() {
  local name=$1 file=$2 pid i
  [[ -s $file ]] || return 0
  pid=$(tr -dc '0-9' <"$file")
  [[ -n $pid ]] || return 0
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || return 0
    sleep 0.05
  done
  echo "down.sh: $name (pid $pid) ignored TERM; killing" >&2
  kill -KILL "$pid" 2>/dev/null || true
  status=1
}

# Postfix first: `postfix stop` lets master(8) stop its children; then make sure master is gone.
PF_ETC=$RUNDIR/postfix/etc
MASTER_PID=$RUNDIR/postfix/spool/pid/master.pid
if [[ -s $MASTER_PID && -f $PF_ETC/main.cf ]]; then
  postfix -c "$PF_ETC" stop >/dev/null 2>&1 || true
fi
stop_pidfile "postfix master" "$MASTER_PID"

# services block of up.sh: the dovecot master stops its login and auth children on TERM.
stop_pidfile dovecot "$RUNDIR/dovecot/run/master.pid"
stop_pidfile unbound "$RUNDIR/unbound/unbound.pid"
# Copies of unbound started by resolver-copy.sh (self-monitoring tests).
for pidfile in "$RUNDIR"/resolvers/*/unbound.pid; do
  [[ -e $pidfile ]] || continue
  stop_pidfile "unbound copy" "$pidfile"
done
# nginx (MTA-STS policy host): the master stops its worker on TERM.
stop_pidfile nginx "$RUNDIR/nginx/nginx.pid"
# NSD's main process stops its server and xfrd children on TERM.
stop_pidfile nsd "$RUNDIR/nsd/nsd.pid"
# The second NSD of the ops7dns scenarios (lag.test. secondary).
stop_pidfile nsd2 "$RUNDIR/nsd2/nsd.pid"
# The parity block's relay.py (silent listener, delayed greeting).
stop_pidfile relay.py "$RUNDIR/relay/relay.pid"
# The parity block's IPv6 throw route, if this stack's up.sh added it (last: no zone is served
# any more that names the prefix, and nothing of ours connects to it).
if [[ -s $RUNDIR/v6-throw ]]; then
  prefix=$(<"$RUNDIR/v6-throw")
  ip -6 route del throw "$prefix" 2>/dev/null || true   # fails if already gone
  # (not "ip | grep -q" under pipefail: grep quitting early can fail the pipeline)
  if grep -q "^throw $prefix " <<<"$(ip -6 route show table main)"; then
    echo "down.sh: could not delete the route throw $prefix" >&2
    status=1
  else
    rm -f "$RUNDIR/v6-throw"
  fi
fi

# The watchdog (up.sh, STACK_OWNER_PID) has nothing left to guard. Unless we are the watchdog.
if [[ -s $RUNDIR/watchdog.pid ]]; then
  wd=$(tr -dc '0-9' <"$RUNDIR/watchdog.pid")
  if [[ -n $wd && $wd != "$PPID" && $wd != "$$" ]] && alive "$wd"; then kill "$wd" 2>/dev/null || true; fi
fi

exit "$status"
