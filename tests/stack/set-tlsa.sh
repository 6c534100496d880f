#!/usr/bin/env bash
# Changes the TLSA records of one scenario zone of a running stack (tests/stack/up.sh RUNDIR), so
# that end-to-end tests can watch the exporter notice a broken and a repaired DANE setup:
#
#   break   every TLSA RRset of SCENARIO.test. becomes one 3 1 1 record for a fresh key that no
#           listener serves: a secure, validly signed mismatch (not bogus);
#   repair  the zone's original TLSA records (as up.sh wrote them) come back.
#   publish RDATA  (added for issue 7, staged certificates) every TLSA owner of the zone gets one
#           more record, RDATA ("3 1 1 HEX"), next to the ones it has now: a next key published.
#
# Either way the zone gets a higher SOA serial, is re-signed with its own key (the DS in test.
# stays valid), NSD reloads it (nsd-control over the unix socket up.sh configured) and unbound
# drops what it cached for it (unbound-control flush_zone). Returns only once NSD and unbound
# (with the AD bit) both answer the new TLSA RRsets; exits 1 with a message after ~10 s otherwise.
#
# Usage: set-tlsa.sh RUNDIR SCENARIO break|repair     (SCENARIO: ok311, stale, twomx, ...)
#        set-tlsa.sh RUNDIR SCENARIO publish "U S M HEX"
# Works for every signed scenario zone with TLSA records that up.sh left re-signable
# (zones/SCENARIO.test.zone.resign); not for bogus, brokends, expiredsig (their breakage is the
# point) nor for unsigned or TLSA-less zones.
set -euo pipefail
# Failures inside $(...) must abort too.
shopt -s inherit_errexit

if ! [[ ($# -eq 3 && $3 =~ ^(break|repair)$) || ($# -eq 4 && $3 == publish && $4 =~ ^[0-9]+\ [0-9]+\ [0-9]+\ [0-9a-fA-F]+$) ]]; then
  echo "usage: $0 RUNDIR SCENARIO break|repair" >&2
  echo "       $0 RUNDIR SCENARIO publish \"U S M HEX\"" >&2
  exit 2
fi
RUNDIR=$(cd "$1" && pwd)
SCENARIO=$2 ACTION=$3
ZONE=$SCENARIO.test.
ZONES=$RUNDIR/zones
FILE=$ZONES/$SCENARIO.test.zone
die() {
  echo "set-tlsa.sh: $SCENARIO $ACTION: $*" >&2
  exit 1
}

[[ -s $RUNDIR/env ]] || die "$RUNDIR/env missing: is the stack up?"
# shellcheck source=/dev/null # written by up.sh
. "$RUNDIR/env"
[[ -n ${NSD_CONFIG:-} && -n ${UNBOUND_CONFIG:-} ]] ||
  die "$RUNDIR/env has no NSD_CONFIG/UNBOUND_CONFIG (stack from an older up.sh?)"
[[ -s $FILE.resign ]] || die "no re-signable zone $ZONE (see the usage notes in $0)"
grep -qP '^\S+\s+\d+\s+IN\s+TLSA\s' "$FILE" || die "zone $ZONE has no TLSA records"

# One change at a time per stack: two concurrent edits of one zone would lose one.
exec 9>"$RUNDIR/set-tlsa.lock"
flock 9

# The zone as up.sh wrote it is kept once, before the first change: `repair` goes back to it.
[[ -e $FILE.orig ]] || cp "$FILE" "$FILE.orig"

case $ACTION in
  break)
    # A fresh key each time: nothing can serve it (its private half stays in RUNDIR/certs).
    key=$RUNDIR/certs/$SCENARIO.broken.key
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
    spki=$(openssl pkey -in "$key" -pubout -outform DER | sha256sum | cut -d' ' -f1)
    # Every TLSA owner keeps its name and TTL; its whole RRset becomes the one wrong record.
    awk -v rdata="3 1 1 $spki" '
      $4 == "TLSA" { if (!seen[$1]++) print $1, $2, $3, "TLSA", rdata; next }
      { print }' "$FILE.orig" >"$FILE.new"
    ;;
  repair)
    cp "$FILE.orig" "$FILE.new"
    ;;
  publish)
    # Added to what is served now, with the owner's TTL; the first TLSA line of an owner is
    # followed by the new record.
    awk -v rdata="$4" '
      { print }
      $4 == "TLSA" && !seen[$1]++ { print $1, $2, $3, "TLSA", rdata }' "$FILE" >"$FILE.new"
    ;;
esac

# SOA serial: one more than what is served now (NSD reloads only a zone whose serial rose, and
# resolvers compare serials too). SOA line from zone_head: "@ SOA mname rname SERIAL ...".
serial=$(awk '$2 == "SOA" { print $5; exit }' "$FILE")
[[ $serial =~ ^[0-9]+$ ]] || die "no SOA serial in $FILE"
awk -v s=$((serial + 1)) '$2 == "SOA" { $5 = s } { print }' "$FILE.new" >"$FILE"
rm "$FILE.new"

# Re-sign with the zone's own key and its original options (NSEC or NSEC3), fresh validity.
read -r keyname opts <"$FILE.resign"
now=$(date -u +%s)
# shellcheck disable=SC2086 # opts: ldns-signzone flags as up.sh recorded them, word-split on purpose
ldns-signzone -i $((now - 3600)) -e $((now + 14 * 86400)) $opts \
  -f "$FILE.signed.tmp" "$FILE" "$RUNDIR/keys/$keyname"
mv "$FILE.signed.tmp" "$FILE.signed"   # NSD never reads a half-written file

# expected OWNER: the TLSA RRset now in the zone file for OWNER, normalized one record a line.
expected() { awk -v o="$1" '$1 == o && $4 == "TLSA" { print tolower($5 " " $6 " " $7 " " $8) }' "$FILE" | sort; }
# served SERVER PORT OWNER [dig options]: the TLSA RRset in the answer, normalized like expected()
# (dig splits long hex into chunks and prints it upper-case). Empty on any error.
served() {
  local server=$1 port=$2 owner=$3
  shift 3
  dig +time=1 +tries=1 +short "$@" @"$server" -p "$port" TLSA "$owner" 2>/dev/null |
    awk '$1 ~ /^[0-9]+$/ { h = ""; for (i = 4; i <= NF; i++) h = h $i; print tolower($1 " " $2 " " $3 " " h) }' |
    sort || true
}
# secure PORT OWNER: unbound's answer carries the AD bit (a valid, validated answer, not bogus).
secure() { dig +time=1 +tries=1 +dnssec @127.0.0.1 -p "$1" TLSA "$2" 2>/dev/null | grep -q 'flags:.* ad'; }

mapfile -t owners < <(awk '$4 == "TLSA" { print $1 }' "$FILE" | sort -u)
nsd_port=${AUTH##*:} unbound_port=${RESOLVER##*:}

# NSD: reload this zone (it rereads the file since its mtime changed), then wait until it serves the
# new RRsets; a reload is asynchronous ("ok" only means it was asked for).
nsd-control -c "$NSD_CONFIG" reload "$ZONE" >/dev/null || die "nsd-control reload $ZONE failed"
deadline=$((SECONDS + 10))
for owner in "${owners[@]}"; do
  want=$(expected "$owner")
  until [[ $(served 127.0.0.1 "$nsd_port" "$owner" +norecurse) == "$want" ]]; do
    ((SECONDS < deadline)) || die "NSD ($AUTH) still does not serve the new TLSA for $owner after 10 s; see $RUNDIR/nsd/nsd.log"
    sleep 0.1
  done
done

# unbound: forget every cached RRset and message at or below the zone (TLSA answers, and the
# negative or bogus ones a test may have provoked), then check it resolves the new data securely.
# The flush is repeated while waiting: a query racing with the NSD reload could cache old data.
flush() {
  unbound-control -c "$UNBOUND_CONFIG" flush_zone "$ZONE" >/dev/null &&
    unbound-control -c "$UNBOUND_CONFIG" flush_bogus >/dev/null &&
    unbound-control -c "$UNBOUND_CONFIG" flush_requestlist >/dev/null
}
flush || die "unbound-control flush_zone $ZONE failed"
for owner in "${owners[@]}"; do
  want=$(expected "$owner")
  until [[ $(served 127.0.0.1 "$unbound_port" "$owner") == "$want" ]] && secure "$unbound_port" "$owner"; do
    ((SECONDS < deadline)) || die "unbound ($RESOLVER) does not answer the new TLSA for $owner securely after 10 s; see $RUNDIR/unbound/unbound.log"
    sleep 0.1
    flush || die "unbound-control flush_zone $ZONE failed"
  done
done
