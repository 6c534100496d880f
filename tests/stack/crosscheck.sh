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
# Parity block (README "Parity scenarios").
dns_expect mx.aaaabogus.test A NOERROR yes                      # A secure ...
dns_expect mx.aaaabogus.test AAAA SERVFAIL no 6                 # ... AAAA tampered
dns_expect mx.aaaaexpired.test A NOERROR yes
dns_expect mx.aaaaexpired.test AAAA SERVFAIL no '7|6'           # only the AAAA RRSIG expired
dns_expect mx.cnameout.test CNAME NOERROR yes                   # secure CNAME ...
dns_expect mx.cnameout.test A NOERROR no                        # ... into unsigned plain.test
dns_expect "_$P._tcp.mx.cnameout.test" TLSA NOERROR yes         # TLSA at the original name
dns_expect "_$P._tcp.mx.plain.test" TLSA NOERROR no             # decoy at the target: insecure
for w in wildnsec wildnsec3; do
  dns_expect "any.$w.test" MX NOERROR yes
  dns_expect "host.$w.test" A NOERROR yes
  dns_expect "host.$w.test" AAAA NOERROR yes                    # wildcard NODATA
  dns_expect "_$P._tcp.host.$w.test" TLSA NOERROR yes
done
dns_expect optout.test MX NOERROR yes
dns_expect child.optout.test DS NOERROR yes                     # unbound: opt-out DS denial has AD
dns_expect child.optout.test MX NOERROR no                      # ... the child is insecure
dns_expect iter200.test MX NOERROR yes                          # positive answers stay secure
dns_expect "_$P._tcp.mx.iter200.test" TLSA NOERROR yes
dns_expect mx.iter200.test AAAA NOERROR no                      # NSEC3 NODATA, 200 iterations
dns_expect "_$P._tcp.mx2.iter200.test" TLSA NXDOMAIN no         # NSEC3 NXDOMAIN, 200 iterations
dns_expect alg200.test DS NOERROR yes                           # DS of algorithm 200 ...
dns_expect alg200.test MX NOERROR no                            # ... unsupported: insecure
dns_expect ed448.test MX NOERROR yes                            # unbound 1.17 validates Ed448
dns_expect nullmx.test MX NOERROR yes
dns_expect "_$P._tcp.mx.unusable2.test" TLSA NOERROR yes
# Wildcard synthesis proper: the RRSIG's labels field is below the owner's label count.
wild_expect() { # NAME TYPE
  local labels
  labels=$(dig +dnssec +time=3 +tries=1 @127.0.0.1 -p "$UB_PORT" "$2" "$1" |
    awk -v t="$2" '$4 == "RRSIG" && $5 == t && !n++ { print $7 }')
  if [[ -n $labels && $labels -lt $(tr -cd . <<<"$1." | wc -c) ]]; then
    report ok "unbound $2 $1 from a wildcard" "RRSIG labels=$labels"
  else
    report BAD "unbound $2 $1 from a wildcard" "RRSIG labels=${labels:-none}"
  fi
}
for w in wildnsec wildnsec3; do
  wild_expect "any.$w.test" MX
  wild_expect "host.$w.test" A
  wild_expect "_$P._tcp.host.$w.test" TLSA
done

# ------------------------------------------------------------------ DNS: NSD (authoritative)
out=$(dig +dnssec +norec +time=3 +tries=1 @127.0.0.1 -p "$NSD_PORT" TLSA "_$P._tcp.mx.ok311.test")
if grep -qP '^;; flags:[^;]* aa[ ;]' <<<"$out" && grep -qP '\sRRSIG\s+TLSA\s' <<<"$out"; then
  report ok "nsd TLSA _$P._tcp.mx.ok311.test" "aa, RRSIG TLSA present"
else
  report BAD "nsd TLSA _$P._tcp.mx.ok311.test" "no aa or no RRSIG"
fi

# ------------------------------------------------------------------ TLS: openssl s_client + DANE
# tls_expect ADDR TLSA-NAME REFNAME verified|mismatch|name|nostarttls [S_CLIENT-OPTION...]: the TLSA
# RRset is taken from unbound (validated), every record passed to openssl.
tls_expect() {
  local addr=$1 tlsa_name=$2 ref=$3 want=$4 connect args=() rr out rc got
  shift 4
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
    -connect "$connect" -servername "$tlsa_name" -dane_tlsa_domain "$ref" "${args[@]}" "$@" 2>&1)
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
# Parity block: legacy leaves under DANE-EE. s_client's default security level (2) refuses an
# RSA-1024 leaf ("EE certificate key too weak"); Postfix authenticates at level 1 (tls_client.c).
tls_expect "$N.63" mx.tlsp521.test mx.tlsp521.test verified
tls_expect "$N.65" mx.tlsv1cert.test mx.tlsv1cert.test verified
tls_expect "$N.66" mx.tlsrsa1024.test mx.tlsrsa1024.test verified -cipher DEFAULT@SECLEVEL=1
tls_expect "$N.67" mx.tlscritext.test mx.tlscritext.test verified
tls_expect "$N.68" mx.tlspss.test mx.tlspss.test verified
tls_expect "$N.60" mx.tls12cbc.test mx.tls12cbc.test verified

# suite_expect ADDR WANT S_CLIENT-OPTION...: what a legacy listener negotiates with openssl
# s_client (no verification); WANT "PROTOCOL CIPHER" or "fail" (no handshake).
suite_expect() {
  local addr=$1 want=$2 out got
  shift 2
  out=$(echo QUIT | timeout 10 openssl s_client -brief -starttls smtp -connect "$addr:$P" "$@" 2>&1 || true)
  got=$(awk -F': ' '/^Protocol version:/ { p = $2 } /^Ciphersuite:/ { c = $2 } END { if (p && c) print p, c; else print "fail" }' <<<"$out")
  if [[ $got == "$want" ]]; then report ok "openssl $addr:$P $*" "$got"
  else report BAD "openssl $addr:$P $*" "got $got, want $want"
  fi
}
suite_expect "$N.60" "TLSv1.2 ECDHE-RSA-AES128-SHA"
suite_expect "$N.60" fail -tls1_3
suite_expect "$N.60" fail -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256
suite_expect "$N.61" "TLSv1.2 AES128-GCM-SHA256"
suite_expect "$N.61" fail -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256
suite_expect "$N.62" "TLSv1.2 DHE-RSA-AES128-GCM-SHA256"
suite_expect "$N.62" fail -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256
suite_expect "$N.64" fail -tls1_2
suite_expect "$N.64" "TLSv1 ECDHE-RSA-AES256-SHA" -tls1 -cipher DEFAULT@SECLEVEL=0

# ------------------------------------------------------------------ Postfix's DANE client
UB53=$RUNDIR/crosscheck-unbound
UB53_ADDR=127.53.$((UB_PORT >> 8)).$((UB_PORT & 255))
# shellcheck source=tests/stack/resolver53.sh
source "$(dirname "${BASH_SOURCE[0]}")/resolver53.sh"
if ! resolver53_start "$RUNDIR" "$UB53" "$UB53_ADDR"; then
  echo "crosscheck.sh: unbound on $UB53_ADDR:53 did not start (is port 53 held by a wildcard listener, e.g. a default nsd?)" >&2
  tail -n 5 "$UB53/unbound.log" >&2 || true
  exit 1
fi
# shellcheck disable=SC2317 # called by the EXIT trap
stop_ub53() { resolver53_stop "$UB53"; }
trap stop_ub53 EXIT
: >"$UB53/main.cf"   # posttls-finger wants a config directory; defaults are fine

# finger_expect DEST WANT [posttls-finger options]: DEST is a domain (MX lookup) or [host].
# WANT: verified (DANE match), trusted (DANE match, insecure MX RRset), dane_mismatch ("no matching DANE TLSA records"), name_mismatch
# (DANE-TA matched, hostname check failed), no_dane (opportunistic TLS: untrusted, no DANE
# involved), unusable (only PKIX usages), tlsa_error (bogus TLSA: Postfix would defer), mx_error
# (bogus MX RRset), nostarttls (EHLO without STARTTLS).
# posttls-finger stops at the first host it connects to, so the multi-host scenarios are checked
# host by host / address family by address family. It always exits 0: we parse its log.
# run_finger DEST [posttls-finger options]: its whole log (it always exits 0).
run_finger() {
  local dest=$1
  shift
  # shellcheck disable=SC2016 # expanded by the inner sh
  MAIL_CONFIG=$UB53 unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec posttls-finger -l dane -t 5 -T 5 "$@"' \
    sh "$UB53/resolv.conf" "$@" "$dest:$P" 2>&1 || true
}
finger_expect() {
  local domain=$1 want=$2 out got
  shift 2
  out=$(run_finger "$domain" "$@")
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
# Parity block: the slow posttls-finger runs (greeting timeouts, the delayed banner) start in the
# background now and are judged at the end (finger_verdict), so that their waiting overlaps.
FINGER_LOGS=$UB53/finger
mkdir -p "$FINGER_LOGS"
# finger_log NAME DEST [options]: posttls-finger's log in FINGER_LOGS/NAME, its run time (s) in NAME.secs.
finger_log() {
  local name=$1 t0
  shift
  t0=${EPOCHREALTIME/[.,]/}
  run_finger "$@" >"$FINGER_LOGS/$name"
  echo $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)) | awk '{ printf "%.2f\n", $1 / 1000 }' >"$FINGER_LOGS/$name.secs"
}
GD=${GREET_DELAY%.*}
finger_log silent silent.test -t 2 &
finger_log slowgreet_short slowgreet.test -t 1 &
finger_log slowgreet slowgreet.test -t $((GD + 5)) &

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

# ------------------------------------------------------------------ parity block: posttls-finger
# finger_verdict NAME LABEL MAX_SECONDS|- REGEX...: every REGEX (grep -E) must match the log of
# finger_log NAME; a REGEX starting with "!" must not match; the run must not have taken longer
# than MAX_SECONDS. Shows the lines that matter.
finger_verdict() {
  local log=$FINGER_LOGS/$1 label=$2 max=$3 re secs shown miss=()
  shift 3
  secs=$(<"$log.secs")
  for re in "$@"; do
    if [[ $re == '!'* ]]; then
      if grep -qE -e "${re#!}" "$log"; then miss+=("unexpected /${re#!}/"); fi
    elif ! grep -qE -e "$re" "$log"; then
      miss+=("missing /$re/")
    fi
  done
  if [[ $max != - ]] && awk -v s="$secs" -v m="$max" 'BEGIN { exit !(s > m) }'; then
    miss+=("took ${secs}s > ${max}s")
  fi
  shown=$(grep -oE -e '(Verified|Trusted|Untrusted|Anonymous) TLS connection established to [^ ]+ TLSv[0-9.]+ with cipher [^ ]+' \
    -e '\[[0-9a-f.:]+\]:[0-9]+: (Connection refused|Network is unreachable)' -e 'Connected to [^ ]+' \
    -e 'timeout while reading server greeting' -e 'SMTP service not available: [0-9]{3}' \
    -e 'legacy sigalg disallowed' -e 'all TLSA records unusable, fallback to unauthenticated TLS' \
    -e 'does not accept mail \(nullMX\)' -e 'server-signature [A-Za-z-]+( \([^)]*\))?' "$log" |
    sed 's/ established to / /' | tr '\n' ';' | cut -c1-220 || true)
  if ((${#miss[@]} == 0)); then
    report ok "posttls-finger $label (${secs}s)" "$shown"
  else
    report BAD "posttls-finger $label (${secs}s)" "${miss[*]}: $shown"
    tail -n 15 "$log" | sed 's/^/    /'
  fi
}
# finger_match "DEST [OPTIONS]" MAX_SECONDS|- REGEX...: runs posttls-finger now, then finger_verdict.
finger_match() {
  local name=m$((++FINGER_N))
  # shellcheck disable=SC2086 # DEST and options, split on purpose
  finger_log "$name" $1
  finger_verdict "$name" "$1" "${@:2}"
}
FINGER_N=0
V6=${V6_UNROUTABLE//./\\.}
R='127\.0\.1\.'
ok_to() { echo "Verified TLS connection established to ${1//./\\.}\[$R$2\]"; }
# Reachability: Postfix tries the next address/MX host after each of these (smtp_connect.c); the
# TCP-level failures are also what posttls-finger skips, it stops at a greeting that is not 2xx.
finger_match refused.test - "$(ok_to mx.refused.test 51)" "!\[${R}51\]:$P: Connection refused"
finger_match "noroute6.test -a ipv6" 2 "mx\.noroute6\.test\[$V6\]:$P: Network is unreachable" \
  "$(ok_to mx.noroute6.test 51)"
finger_match onedown.test - "mx1\.onedown\.test\[${R}50\]:$P: Connection refused" "$(ok_to mx2.onedown.test 51)"
finger_match greet4xx.test - "Connected to mx1\.greet4xx\.test\[${R}53\]" "SMTP service not available: 421 " \
  "!TLS connection established"
finger_match "[mx2.greet4xx.test]" - "$(ok_to mx2.greet4xx.test 51)"
finger_match greet5xx.test - "Connected to mx1\.greet5xx\.test\[${R}54\]" "SMTP service not available: 554 " \
  "!TLS connection established"
finger_match nowhere.test - "mx1\.nowhere\.test\[${R}50\]:$P: Connection refused" \
  "mx2\.nowhere\.test\[$V6\]:$P: Network is unreachable" "Connected to mx3\.nowhere\.test\[${R}53\]" \
  "SMTP service not available: 421 " "!TLS connection established"
finger_match "[mx4.nowhere.test]" - "Connected to mx4\.nowhere\.test\[${R}54\]" "SMTP service not available: 554 "
finger_match nullmx.test - "Destination address lookup failed: Domain nullmx\.test does not accept mail \(nullMX\)" \
  "!Connected to"
# TLS parity.
finger_match tls12cbc.test - "$(ok_to mx.tls12cbc.test 60):$P: TLSv1\.2 with cipher ECDHE-RSA-AES128-SHA "
finger_match tlsrsakx.test - "$(ok_to mx.tlsrsakx.test 61):$P: TLSv1\.2 with cipher AES128-GCM-SHA256 "
finger_match tlsdhe.test - "$(ok_to mx.tlsdhe.test 62):$P: TLSv1\.2 with cipher DHE-RSA-AES128-GCM-SHA256 "
finger_match tlsp521.test - "$(ok_to mx.tlsp521.test 63)" "server-signature ECDSA \(secp521r1\)"
finger_match tls10.test - "SSL_connect error to mx\.tls10\.test\[${R}64\]" "legacy sigalg disallowed" \
  "!TLS connection established"
# ... only at the authenticated levels: Postfix uses OpenSSL security level 1 there, 0 otherwise.
finger_match "[mx.tls10.test] -l may" - "Anonymous TLS connection established to mx\.tls10\.test\[${R}64\]:$P: TLSv1 with"
finger_match tlsv1cert.test - "$(ok_to mx.tlsv1cert.test 65)"
finger_match tlsrsa1024.test - "$(ok_to mx.tlsrsa1024.test 66)" "server-signature RSA-PSS \(1024 bits\)"
finger_match tlscritext.test - "$(ok_to mx.tlscritext.test 67)"
finger_match tlspss.test - "$(ok_to mx.tlspss.test 68)" "server-signature RSASSA-PSS"
# DNS shapes. -a ipv6: an AAAA address, if one were used, would come first.
finger_match "aaaabogus.test -a ipv6" - "$(ok_to mx.aaaabogus.test 70)" "!\\[${V6_UNROUTABLE_PREFIX%/64}"
finger_match "aaaaexpired.test -a ipv6" - "$(ok_to mx.aaaaexpired.test 71)" "!\\[${V6_UNROUTABLE_PREFIX%/64}"
finger_match cnameout.test - "$(ok_to mx.cnameout.test 72)" "Matched DANE EE certificate"
finger_match any.wildnsec.test - "$(ok_to host.wildnsec.test 73)"
finger_match any.wildnsec3.test - "$(ok_to host.wildnsec3.test 74)"
finger_match optout.test - "$(ok_to mx.optout.test 75)"
finger_match child.optout.test - "Untrusted TLS connection established to mx\.child\.optout\.test\[${R}75\]" "!DANE"
finger_match iter200.test - "$(ok_to mx.iter200.test 76)"
finger_match sub.iter200.test - "Untrusted TLS connection established to mx2\.iter200\.test\[${R}76\]" "!DANE"
finger_match alg200.test - "Untrusted TLS connection established to mx\.alg200\.test\[${R}77\]" "!DANE"
finger_match ed448.test - "$(ok_to mx.ed448.test 78)"
# Only unusable TLSA records: "encrypt" (TLS without authentication).
finger_match unusable2.test - "unsupported TLSA certificate usage: 4 1 1 " \
  "all TLSA records unusable, fallback to unauthenticated TLS" \
  "Untrusted TLS connection established to mx\.unusable2\.test\[${R}80\]" "!Verified"
# Patience (the background runs started before the first finger_expect).
wait
finger_verdict silent "silent.test -t 2" - "Connected to mx1\.silent\.test\[${R}52\]" \
  "timeout while reading server greeting" "!TLS connection established"
finger_match "[mx2.silent.test]" - "$(ok_to mx2.silent.test 51)"
if ((GD >= 2)); then
  finger_verdict slowgreet_short "slowgreet.test -t 1" - "Connected to mx\.slowgreet\.test\[${R}81\]" \
    "timeout while reading server greeting"
fi
finger_verdict slowgreet "slowgreet.test -t $((GD + 5))" - "$(ok_to mx.slowgreet.test 81)"

# ------------------------------------------------------------------ dane_exporter check vs Postfix
# With DANE_EXPORTER=BINARY (the Rust test sets it): `check --json` in both DNSSEC modes must give
# the verdict that Postfix's outcome, as shown by the posttls-finger lines above host by host (and
# by smtp(8), tests/stack/README.md), implies:
#   verified   every host that can be used authenticates               -> pass
#   some_fail  a host or address that can be reached fails DANE, or a TLSA/MX lookup fails
#              (smtp(8) defers that one; a backup MX or the other family may still deliver) -> fail
#   defer      no address of any MX host can be used                    -> fail
#   no_dane    opportunistic TLS, DANE does not apply                   -> not_applicable
#   encrypt    only unusable TLSA records: TLS without authentication   -> encrypt_only
#   bounce     the domain takes no mail (null MX)                       -> not_applicable
if [[ -n ${DANE_EXPORTER:-} ]]; then
  verdict_of() { python3 -c 'import json,sys; print(json.load(sys.stdin).get("verdict", "none"))' 2>/dev/null || echo unparsable; }
  check_agrees() { # DOMAIN OUTCOME [MODES]
    local domain=$1 outcome=$2 modes=${3:-"trust-resolver validate"} want mode got
    case $outcome in
      verified) want=pass ;;
      # A bounce (a null MX): nowhere to deliver, which check fails (domain_not_found).
      some_fail | defer | bounce) want=fail ;;
      no_dane) want=not_applicable ;;
      encrypt) want=encrypt_only ;;
    esac
    for mode in $modes; do
      local ns=(--nameserver "$RESOLVER")
      if [[ $mode == validate ]]; then ns=(--nameserver "$AUTH" --trust-anchor "$TRUST_ANCHOR"); fi
      # Its exit status is the verdict's (1 for fail): the JSON says more.
      got=$({ "$DANE_EXPORTER" check "$domain" "${ns[@]}" --dnssec-mode "$mode" --port "$P" --timeout 5s \
        --reply-timeout 10s --authoritative-port "$NSD_PORT" --json </dev/null 2>/dev/null || true; } | verdict_of)
      if [[ $got == "$want" ]]; then report ok "check $domain [$mode]" "$got (Postfix: $outcome)"
      else report BAD "check $domain [$mode]" "got $got, want $want (Postfix: $outcome)"
      fi
    done
  }
  for d in ok311 ok301 tagood stale nsec3ok cname insecuremx nomx refused noroute6 silent greet4xx \
    greet5xx onedown tls12cbc tlsrsakx tlsdhe tlsp521 tlsv1cert tlsrsa1024 tlscritext tlspss \
    aaaabogus aaaaexpired cnameout any.wildnsec any.wildnsec3 optout iter200 slowgreet; do
    check_agrees "$d.test" verified
  done
  for d in tabadname twomx nostarttls bogus otherkey expiredsig insecuremxbad brokends tls10; do
    check_agrees "$d.test" some_fail
  done
  check_agrees nowhere.test defer
  for d in insecure notlsa notlsa3 child.optout sub.iter200 alg200; do check_agrees "$d.test" no_dane; done
  check_agrees unusable.test encrypt
  check_agrees unusable2.test encrypt
  check_agrees nullmx.test bounce
  # unbound validates Ed448 (posttls-finger: Verified); the built-in validator has no Ed448 and
  # calls the zone insecure, as RFC 4035 5.2 says of an algorithm it lacks: opportunistic TLS.
  check_agrees ed448.test verified trust-resolver
  check_agrees ed448.test no_dane validate
fi

exit "$bad"
