#!/usr/bin/env bash
# Changes the id of the _mta-sts TXT record of sts.test. in a running stack (tests/stack/up.sh
# RUNDIR), as a postmaster does after editing the MTA-STS policy (RFC 8461 3.1: the id must change
# whenever the policy does). Used by tests/integration/mta_sts.rs to watch the exporter's
# "policy changed, id did not" condition clear.
#
# The zone gets a higher SOA serial, is re-signed with its own key (zones/sts.test.zone.resign; the
# DS in test. stays valid), NSD reloads it and unbound drops what it cached for it, as set-tlsa.sh
# does for TLSA records. Returns only once NSD and unbound (with the AD bit) both answer the new
# TXT record; exits 1 with a message after ~10 s otherwise.
#
# Usage: set-sts-id.sh RUNDIR ID     (ID: 1-32 letters and digits, RFC 8461 3.1)
set -euo pipefail
shopt -s inherit_errexit

if ! [[ $# -eq 2 && $2 =~ ^[A-Za-z0-9]{1,32}$ ]]; then
  echo "usage: $0 RUNDIR ID   (ID: 1-32 letters and digits)" >&2
  exit 2
fi
RUNDIR=$(cd "$1" && pwd)
ID=$2
ZONE=sts.test.
FILE=$RUNDIR/zones/sts.test.zone
OWNER=_mta-sts.sts.test.
die() {
  echo "set-sts-id.sh: $ID: $*" >&2
  exit 1
}

[[ -s $RUNDIR/env ]] || die "$RUNDIR/env missing: is the stack up?"
# shellcheck source=/dev/null # written by up.sh
. "$RUNDIR/env"
[[ -s $FILE.resign ]] || die "no re-signable zone $ZONE"
grep -q '^_mta-sts TXT ' "$FILE" || die "$FILE has no _mta-sts TXT line (up.sh's MTA-STS block)"

# Zone edits of one stack are serialized with set-tlsa.sh's (same lock file).
exec 9>"$RUNDIR/set-tlsa.lock"
flock 9

# The TXT line as up.sh writes it: _mta-sts TXT "v=STSv1; id=ID"; and one more on the SOA serial.
serial=$(awk '$2 == "SOA" { print $5; exit }' "$FILE")
[[ $serial =~ ^[0-9]+$ ]] || die "no SOA serial in $FILE"
awk -v s=$((serial + 1)) -v id="$ID" '
  $2 == "SOA" { $5 = s }
  $1 == "_mta-sts" && $2 == "TXT" { $0 = "_mta-sts TXT \"v=STSv1; id=" id "\"" }
  { print }' "$FILE" >"$FILE.new"
mv "$FILE.new" "$FILE"

read -r keyname opts <"$FILE.resign"
now=$(date -u +%s)
# shellcheck disable=SC2086 # opts: ldns-signzone flags as up.sh recorded them, word-split on purpose
ldns-signzone -i $((now - 3600)) -e $((now + 14 * 86400)) $opts \
  -f "$FILE.signed.tmp" "$FILE" "$RUNDIR/keys/$keyname"
mv "$FILE.signed.tmp" "$FILE.signed" # NSD never reads a half-written file

want="\"v=STSv1; id=$ID\""
served() { dig +time=1 +tries=1 +short "$@" TXT "$OWNER" 2>/dev/null || true; }
nsd_port=${AUTH##*:} unbound_port=${RESOLVER##*:}

nsd-control -c "$NSD_CONFIG" reload "$ZONE" >/dev/null || die "nsd-control reload $ZONE failed"
deadline=$((SECONDS + 10))
until [[ $(served +norecurse @127.0.0.1 -p "$nsd_port") == "$want" ]]; do
  ((SECONDS < deadline)) || die "NSD ($AUTH) still does not serve $want after 10 s"
  sleep 0.1
done

flush() { unbound-control -c "$UNBOUND_CONFIG" flush_zone "$ZONE" >/dev/null; }
flush || die "unbound-control flush_zone $ZONE failed"
until [[ $(served @127.0.0.1 -p "$unbound_port") == "$want" ]] &&
  dig +time=1 +tries=1 +dnssec @127.0.0.1 -p "$unbound_port" TXT "$OWNER" 2>/dev/null | grep -q 'flags:.* ad'; do
  ((SECONDS < deadline)) || die "unbound ($RESOLVER) does not answer $want securely after 10 s"
  sleep 0.1
  flush || die "unbound-control flush_zone $ZONE failed"
done
