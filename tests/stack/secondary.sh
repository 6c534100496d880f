#!/usr/bin/env bash
# Lets the lagging secondary of lag.test. (the second NSD, 127.0.0.2; see the ops7dns block of
# up.sh) catch up with the primary: copies the primary's signed zone to it and reloads it, then
# waits until it serves the primary's SOA serial (exit 1 after 10 s).
# Usage: secondary.sh RUNDIR catch-up
set -euo pipefail
if [[ $# -ne 2 || $2 != catch-up ]]; then
  echo "usage: $0 RUNDIR catch-up" >&2
  exit 2
fi
RUNDIR=$(cd "$1" && pwd)
# shellcheck disable=SC1091 # written by up.sh
. "$RUNDIR/env"
cp "$RUNDIR/zones/lag.test.zone.signed" "$RUNDIR/nsd2/zones/lag.test.zone.signed"
nsd-control -c "$NSD2_CONFIG" reload lag.test. >/dev/null
port=${AUTH##*:}
serial() { dig +short +time=1 +tries=1 @"$1" -p "$port" SOA lag.test. | awk '{print $3}'; }
want=$(serial 127.0.0.1)
for ((i = 0; i < 100; i++)); do
  if [[ $(serial 127.0.0.2) == "$want" ]]; then exit 0; fi
  sleep 0.1
done
echo "secondary.sh: 127.0.0.2 still serves serial $(serial 127.0.0.2), primary $want" >&2
exit 1
