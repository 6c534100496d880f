#!/usr/bin/env bash
# Removes or restores the DS record of one scenario zone in the parent zone test. of a running
# stack (tests/stack/up.sh RUNDIR): the child stays signed, but without a DS its delegation is
# provably insecure, so every answer from it loses the AD bit and DANE no longer applies: what a
# registrar change or a botched key rollover does to a domain. tests/integration/self_monitoring.rs
# watches the exporter turn that into `dane_expected` and the alert DaneMissing.
#
#   remove   the DS lines of SCENARIO.test. leave test.;
#   restore  they come back as up.sh wrote them.
#
# test. gets a higher SOA serial, is re-signed with its own key (the root's DS for it stays
# valid), NSD reloads it, and the stack's unbound and every copy of it (resolver-copy.sh) flush
# test. and everything below. Returns once NSD serves the change and the stack's unbound answers
# SCENARIO.test's MX without AD (remove) or with AD (restore); exits 1 after ~10 s otherwise.
#
# Usage: set-ds.sh RUNDIR SCENARIO remove|restore     (SCENARIO: ok301, ok311, stale, ...)
# Serialized with set-tlsa.sh per RUNDIR (same lock).
set -euo pipefail
shopt -s inherit_errexit

if ! [[ $# -eq 3 && $3 =~ ^(remove|restore)$ && $2 =~ ^[a-z0-9-]+$ ]]; then
  echo "usage: $0 RUNDIR SCENARIO remove|restore" >&2
  exit 2
fi
RUNDIR=$(cd "$1" && pwd)
SCENARIO=$2 ACTION=$3
CHILD=$SCENARIO.test.
ZONES=$RUNDIR/zones
FILE=$ZONES/test.zone
die() {
  echo "set-ds.sh: $SCENARIO $ACTION: $*" >&2
  exit 1
}

[[ -s $RUNDIR/env ]] || die "$RUNDIR/env missing: is the stack up?"
# shellcheck source=/dev/null # written by up.sh
. "$RUNDIR/env"
[[ -s $FILE.resign ]] || die "test. is not re-signable ($FILE.resign missing)"

exec 9>"$RUNDIR/set-tlsa.lock"
flock 9

[[ -e $FILE.orig ]] || cp "$FILE" "$FILE.orig"
# DS lines of the child as up.sh wrote them ("OWNER TTL IN DS ...", from ldns-key2ds).
ds_lines=$(awk -v c="$CHILD" 'tolower($1) == c && $4 == "DS"' "$FILE.orig")
[[ -n $ds_lines ]] || die "test. has no DS for $CHILD"

case $ACTION in
  remove)
    awk -v c="$CHILD" '!(tolower($1) == c && $4 == "DS")' "$FILE" >"$FILE.new"
    ;;
  restore)
    { awk -v c="$CHILD" '!(tolower($1) == c && $4 == "DS")' "$FILE"; echo "$ds_lines"; } >"$FILE.new"
    ;;
esac

serial=$(awk '$2 == "SOA" { print $5; exit }' "$FILE")
[[ $serial =~ ^[0-9]+$ ]] || die "no SOA serial in $FILE"
awk -v s=$((serial + 1)) '$2 == "SOA" { $5 = s } { print }' "$FILE.new" >"$FILE"
rm "$FILE.new"

read -r keyname opts <"$FILE.resign"
now=$(date -u +%s)
# shellcheck disable=SC2086 # opts: ldns-signzone flags as up.sh recorded them
ldns-signzone -i $((now - 3600)) -e $((now + 14 * 86400)) $opts \
  -f "$FILE.signed.tmp" "$FILE" "$RUNDIR/keys/$keyname"
mv "$FILE.signed.tmp" "$FILE.signed"

nsd_port=${AUTH##*:} unbound_port=${RESOLVER##*:}
nsd-control -c "$NSD_CONFIG" reload test. >/dev/null || die "nsd-control reload test. failed"
deadline=$((SECONDS + 10))
ds_served() { dig +time=1 +tries=1 +norecurse @127.0.0.1 -p "$nsd_port" DS "$CHILD" 2>/dev/null | grep -qP '^\S+\s+\d+\s+IN\s+DS\s'; }
until if [[ $ACTION == remove ]]; then ! ds_served; else ds_served; fi; do
  ((SECONDS < deadline)) || die "NSD ($AUTH) does not serve the changed test. after 10 s; see $RUNDIR/nsd/nsd.log"
  sleep 0.1
done

# Every unbound of the stack forgets test. and below (answers, DS, keys, negative and bogus ones).
flush() {
  local conf
  for conf in "$UNBOUND_CONFIG" "$RUNDIR"/resolvers/*/unbound.conf; do
    [[ -e $conf ]] || continue
    [[ $conf == "$UNBOUND_CONFIG" || -S $(dirname "$conf")/control.sock ]] || continue
    unbound-control -c "$conf" flush_zone test. >/dev/null &&
      unbound-control -c "$conf" flush_bogus >/dev/null &&
      unbound-control -c "$conf" flush_negative >/dev/null &&
      unbound-control -c "$conf" flush_requestlist >/dev/null || return 1
  done
}
secure() { dig +time=1 +tries=1 +dnssec @127.0.0.1 -p "$unbound_port" MX "$CHILD" 2>/dev/null | grep -q 'flags:.* ad'; }
answers() { dig +time=1 +tries=1 @127.0.0.1 -p "$unbound_port" MX "$CHILD" 2>/dev/null | grep -q 'status: NOERROR'; }
flush || die "unbound-control flush failed"
until answers && if [[ $ACTION == remove ]]; then ! secure; else secure; fi; do
  ((SECONDS < deadline)) || die "unbound ($RESOLVER) does not answer $CHILD MX $([[ $ACTION == remove ]] && echo without || echo with) AD after 10 s"
  sleep 0.1
  flush || die "unbound-control flush failed"
done
