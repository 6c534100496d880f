#!/usr/bin/env bash
# Cross-checks a running stack (tests/stack/up.sh RUNDIR) with reference tools, independent of the
# exporter: dig (AD bit, rcode, EDE) against unbound and NSD, `openssl s_client` with DANE, and
# Postfix's own DANE client posttls-finger. Prints one line per check; exits 1 if any check did
# not come out as expected. This is what "the stack itself is right" means for the Rust test.
#
# Usage: crosscheck.sh RUNDIR
# posttls-finger uses the system resolver (port 53, /etc/resolv.conf): a second unbound with the
# same configuration is started on 127.53.X.Y:53 for the duration (X.Y derived from the main
# unbound's port, so concurrent stacks do not collide) and posttls-finger runs in a
# private mount namespace whose /etc/resolv.conf points there (the real one is never touched).
set -euo pipefail
shopt -s inherit_errexit

if [[ $# -ne 1 ]]; then
  echo "usage: $0 RUNDIR" >&2
  exit 2
fi
RUNDIR=$(cd "$1" && pwd)
# shellcheck source=/dev/null
source "$RUNDIR/env"
UB_PORT=${RESOLVER##*:}
NSD_PORT=${AUTH##*:}
P=$SMTP_PORT
bad=0

report() { # OK|BAD DESCRIPTION DETAIL
  printf '%-3s %-58s %s\n' "$1" "$2" "$3"
  if [[ $1 != ok ]]; then bad=1; fi
}

# ------------------------------------------------------------------ DNS: unbound (validating)
# dns_expect NAME TYPE RCODE AD(yes|no) [EDE-code regex]
dns_expect() {
  local name=$1 type=$2 rcode=$3 ad=$4 ede=${5:-} out got_rcode got_ad=no got_ede=""
  out=$(dig +dnssec +time=3 +tries=1 @127.0.0.1 -p "$UB_PORT" "$type" "$name")
  got_rcode=$(grep -oP 'status: \K[A-Z]+' <<<"$out")
  if grep -qP '^;; flags:[^;]* ad[ ;]' <<<"$out"; then got_ad=yes; fi
  got_ede=$(grep -oP '; EDE: \K[0-9]+' <<<"$out" || true)
  local detail="rcode=$got_rcode ad=$got_ad${got_ede:+ ede=$got_ede}"
  if [[ $got_rcode == "$rcode" && $got_ad == "$ad" && $got_ede =~ ^($ede)$ ]]; then
    report ok "unbound $type $name" "$detail"
  else
    report BAD "unbound $type $name" "$detail (want rcode=$rcode ad=$ad${ede:+ ede=$ede})"
  fi
}
dns_expect . DNSKEY NOERROR yes
dns_expect ok311.test MX NOERROR yes
dns_expect "_$P._tcp.mx.ok311.test" TLSA NOERROR yes
dns_expect "_$P._tcp.mx.nsec3ok.test" TLSA NOERROR yes
dns_expect "_$P._tcp.real.cname.test" TLSA NOERROR yes
dns_expect mail.cname.test A NOERROR yes
dns_expect mx.otherkey.test AAAA NOERROR yes
dns_expect "_$P._tcp.mx.bogus.test" TLSA SERVFAIL no 6          # tampered: DNSSEC Bogus
dns_expect mx.bogus.test A NOERROR yes                          # ... only the TLSA RRset
# Signature Expired (7) on the first, uncached answer; from the key cache unbound then says only
# DNSSEC Bogus (6).
dns_expect "_$P._tcp.mx.expiredsig.test" TLSA SERVFAIL no '7|6'

dns_expect mx.expiredsig.test A NOERROR yes                     # ... only the TLSA zone
dns_expect insecure.test MX NOERROR no
dns_expect "_$P._tcp.mx.insecure.test" TLSA NOERROR no
dns_expect "_$P._tcp.mx.notlsa.test" TLSA NXDOMAIN yes          # NSEC denial
dns_expect "_$P._tcp.mx.notlsa3.test" TLSA NXDOMAIN yes         # NSEC3 denial
dns_expect insecure.test DS NOERROR yes                          # secure proof of no DS
dns_expect insecuremx.test MX NOERROR no
dns_expect nomx.test MX NOERROR yes                              # secure NODATA: implicit MX
dns_expect "_$P._tcp.nomx.test" TLSA NOERROR yes
dns_expect "_$P._tcp.mx.unusable.test" TLSA NOERROR yes
dns_expect brokends.test MX SERVFAIL no '9|6'                    # DNSKEY Missing (DS for another key)

# ------------------------------------------------------------------ DNS: NSD (authoritative)
out=$(dig +dnssec +norec +time=3 +tries=1 @127.0.0.1 -p "$NSD_PORT" TLSA "_$P._tcp.mx.ok311.test")
if grep -qP '^;; flags:[^;]* aa[ ;]' <<<"$out" && grep -qP '\sRRSIG\s+TLSA\s' <<<"$out"; then
  report ok "nsd TLSA _$P._tcp.mx.ok311.test" "aa, RRSIG TLSA present"
else
  report BAD "nsd TLSA _$P._tcp.mx.ok311.test" "no aa or no RRSIG"
fi

# ------------------------------------------------------------------ TLS: openssl s_client + DANE
# tls_expect ADDR TLSA-NAME REFNAME verified|mismatch|name|nostarttls: the TLSA RRset is taken from
# unbound (validated), every record passed to openssl.
tls_expect() {
  local addr=$1 tlsa_name=$2 ref=$3 want=$4 connect args=() rr out rc got
  if [[ $addr == *:* ]]; then connect="[$addr]:$P"; else connect="$addr:$P"; fi
  while read -r rr; do
    [[ -n $rr ]] || continue
    # dig +short splits long hex; openssl wants "u s m hex".
    read -r u s m hex <<<"$rr"
    args+=(-dane_tlsa_rrdata "$u $s $m ${hex// /}")
  done < <(dig +short +time=3 +tries=1 @127.0.0.1 -p "$UB_PORT" TLSA "_$P._tcp.$tlsa_name" |
    awk '{ printf "%s %s %s ", $1, $2, $3; for (i = 4; i <= NF; i++) printf "%s", $i; print "" }')
  set +e
  out=$(echo QUIT | timeout 10 openssl s_client -brief -verify_return_error -starttls smtp \
    -connect "$connect" -servername "$tlsa_name" -dane_tlsa_domain "$ref" "${args[@]}" 2>&1)
  rc=$?
  set -e
  if [[ $rc -eq 0 ]] && grep -q '^Verification: OK' <<<"$out"; then got=verified
  elif grep -q 'no matching DANE TLSA records' <<<"$out"; then got=mismatch
  elif grep -qi 'hostname mismatch' <<<"$out"; then got=name
  elif grep -qi "didn't find starttls" <<<"$out"; then got=nostarttls
  else got="rc=$rc:$(grep -m1 -iE 'error|verif' <<<"$out" | tr -s ' ' | cut -c1-60)"
  fi
  if [[ $got == "$want" ]]; then
    report ok "openssl $connect ($ref, $((${#args[@]} / 2)) TLSA)" "$got"
  else
    report BAD "openssl $connect ($ref, $((${#args[@]} / 2)) TLSA)" "got $got, want $want"
  fi
}
N=$SMTP_NET
tls_expect "$N.1" mx.ok311.test mx.ok311.test verified
tls_expect "$N.2" mx.ok301.test mx.ok301.test verified
tls_expect "$N.3" mx.tagood.test mx.tagood.test verified
tls_expect "$N.4" mx.tabadname.test mx.tabadname.test name
tls_expect "$N.5" mx.stale.test mx.stale.test verified
tls_expect "$N.6" mx1.twomx.test mx1.twomx.test verified
tls_expect "$N.7" mx2.twomx.test mx2.twomx.test mismatch
tls_expect "$N.8" mx.nostarttls.test mx.nostarttls.test nostarttls
tls_expect "$N.13" real.cname.test real.cname.test verified
tls_expect "$N.14" mx.otherkey.test mx.otherkey.test verified
tls_expect ::1 mx.otherkey.test mx.otherkey.test mismatch
tls_expect "$N.16" mx.nsec3ok.test mx.nsec3ok.test verified
tls_expect "$N.17" nomx.test nomx.test verified

# ------------------------------------------------------------------ Postfix's DANE client
UB53=$RUNDIR/crosscheck-unbound
mkdir -p "$UB53"
UB53_ADDR=127.53.$((UB_PORT >> 8)).$((UB_PORT & 255))
sed -e "s|^  interface: .*|  interface: $UB53_ADDR|" -e "s|^  port: .*|  port: 53|" \
  -e "s|^  pidfile: .*|  pidfile: \"$UB53/unbound.pid\"|" -e "s|^  logfile: .*|  logfile: \"$UB53/unbound.log\"|" \
  "$RUNDIR/unbound/unbound.conf" >"$UB53/unbound.conf"
if ! unbound -c "$UB53/unbound.conf"; then
  echo "crosscheck.sh: unbound on $UB53_ADDR:53 did not start (is port 53 held by a wildcard listener, e.g. a default nsd?)" >&2
  tail -n 5 "$UB53/unbound.log" >&2 || true
  exit 1
fi
# shellcheck disable=SC2317 # called by the EXIT trap
stop_ub53() {
  local pid
  pid=$(cat "$UB53/unbound.pid" 2>/dev/null || true)
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  # Wait until the port is free again (a zombie no longer holds it; PID 1 may reap late).
  for _ in $(seq 100); do
    [[ $(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) =~ ^(Z|)$ ]] && return 0
    sleep 0.05
  done
}
trap stop_ub53 EXIT
for _ in $(seq 50); do
  dig +time=1 +tries=1 "@$UB53_ADDR" SOA test. >/dev/null 2>&1 && break
  sleep 0.1
done
# glibc drops the AD bit unless the resolver is trusted ("options trust-ad").
printf 'nameserver %s\noptions trust-ad\n' "$UB53_ADDR" >"$UB53/resolv.conf"
: >"$UB53/main.cf"   # posttls-finger wants a config directory; defaults are fine

# finger_expect DEST WANT [posttls-finger options]: DEST is a domain (MX lookup) or [host].
# WANT: verified (DANE match), trusted (DANE match, insecure MX RRset), dane_mismatch ("no matching DANE TLSA records"), name_mismatch
# (DANE-TA matched, hostname check failed), no_dane (opportunistic TLS: untrusted, no DANE
# involved), unusable (only PKIX usages), tlsa_error (bogus TLSA: Postfix would defer), mx_error
# (bogus MX RRset), nostarttls (EHLO without STARTTLS).
# posttls-finger stops at the first host it connects to, so the multi-host scenarios are checked
# host by host / address family by address family. It always exits 0: we parse its log.
finger_expect() {
  local domain=$1 want=$2 out got
  shift 2
  # shellcheck disable=SC2016 # expanded by the inner sh
  out=$(MAIL_CONFIG=$UB53 unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec posttls-finger -l dane -t 5 -T 5 "$@"' \
    sh "$UB53/resolv.conf" "$@" "$domain:$P" 2>&1 || true)
  if grep -q 'Verified TLS connection' <<<"$out"; then got=verified
  elif grep -q 'Trusted TLS connection' <<<"$out"; then got=trusted   # DANE match, MX insecure
  elif grep -q 'no matching DANE TLSA records' <<<"$out"; then got=dane_mismatch
  elif grep -q 'num=62:hostname mismatch' <<<"$out"; then got=name_mismatch
  elif grep -q 'unsupported TLSA certificate usage' <<<"$out"; then got=unusable
  elif grep -q 'Untrusted TLS connection' <<<"$out" && ! grep -q 'DANE' <<<"$out"; then got=no_dane
  elif grep -qi 'TLSA lookup error' <<<"$out"; then got=tlsa_error
  elif grep -q 'type=MX: Host not found, try again' <<<"$out"; then got=mx_error
  elif grep -q '< 250 ' <<<"$out" && ! grep -q '< 250.STARTTLS' <<<"$out" && ! grep -q 'TLS connection' <<<"$out"; then got=nostarttls
  else got="other:$(tail -n1 <<<"$out" | cut -c1-60)"
  fi
  local summary
  summary=$(grep -oE '(Verified|Trusted|Untrusted|Anonymous) TLS connection established to [^ ]+|no matching DANE TLSA records|hostname mismatch|unsupported TLSA certificate usage|TLSA lookup error[^;]*|Name service error for name=[^ ]+ type=[A-Z]+' <<<"$out" | sort -u | tr '\n' ';' | cut -c1-150 || true)
  if [[ $got == "$want" ]]; then report ok "posttls-finger $domain:$P" "$got: $summary"
  else
    report BAD "posttls-finger $domain:$P" "got $got, want $want: $summary"
    tail -n 15 <<<"$out" | sed 's/^/    /'
  fi
}
finger_expect ok311.test verified
finger_expect ok301.test verified
finger_expect tagood.test verified
finger_expect tabadname.test name_mismatch
finger_expect stale.test verified
finger_expect "[mx1.twomx.test]" verified
finger_expect "[mx2.twomx.test]" dane_mismatch
finger_expect nostarttls.test nostarttls
finger_expect bogus.test tlsa_error
finger_expect insecure.test no_dane
finger_expect notlsa.test no_dane
finger_expect notlsa3.test no_dane
finger_expect nsec3ok.test verified
finger_expect cname.test verified
finger_expect "[mx.otherkey.test]" verified -a ipv4
finger_expect "[mx.otherkey.test]" dane_mismatch -a ipv6
finger_expect expiredsig.test tlsa_error
# Postfix 3.7 logs "MX RRset insecure: log verified as trusted" and still enforces the TLSA.
finger_expect insecuremx.test trusted
finger_expect insecuremxbad.test dane_mismatch
finger_expect nomx.test verified
finger_expect unusable.test unusable
finger_expect brokends.test mx_error

exit "$bad"
