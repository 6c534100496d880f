#!/usr/bin/env bash
# Builds the real-stack DANE test environment from scratch into RUNDIR and starts it:
#
#   - NSD on 127.0.0.1:$NSD_PORT, authoritative for a private root ".", "test." and one child zone
#     per scenario, all signed with ldns-signzone (ECDSAP256SHA256) unless the scenario says not;
#   - unbound on 127.0.0.1:$UNBOUND_PORT, validating from the private root's trust anchor, talking
#     to NSD only (a stub-zone per zone cut, no root hints from the internet);
#   - one private Postfix instance with one smtpd per scenario on $SMTP_NET.N:$SMTP_PORT (and one on
#     [::1]:$SMTP_PORT), each presenting the certificate its scenario needs;
#   - one private dovecot instance (IMAP, IMAPS, POP3) on $SMTP_NET.40-42:$SMTP_PORT for the
#     TLSA-for-other-services scenarios (zone svc.test; block "services" below), plus nginx HTTPS
#     on $SMTP_NET.43 and a Postfix wrappermode (implicit TLS) smtpd on $SMTP_NET.44;
#
# Usage: up.sh RUNDIR    (RUNDIR: an empty or new directory; absolute or relative)
# Ports can be overridden for parallel stacks: STACK_NSD_PORT, STACK_UNBOUND_PORT, STACK_SMTP_PORT.
# STACK_TTL: TTL (and negative TTL) of every record, default 30 s: short, so that a change made by
# set-tlsa.sh reaches caches that honour TTLs (hickory in validate mode) within ~30 s.
# STACK_OWNER_PID: stop the stack by itself when that process exits (see the watchdog below).
# On success RUNDIR/env holds KEY=VALUE lines (see the end of this file). On failure everything
# started so far is stopped again (down.sh) and the relevant logs are printed to stderr.
set -euo pipefail
# Failures inside $(...) (e.g. `DS_OF[x]=$(sign ...)`) must abort too.
shopt -s inherit_errexit

if [[ $# -ne 1 ]]; then
  echo "usage: $0 RUNDIR" >&2
  exit 2
fi

if [[ $(id -u) -ne 0 ]]; then
  # Postfix's master must start as root (it binds, then drops to the postfix user); NSD and
  # unbound need no privileges but share the run directory with it.
  echo "up.sh: must run as root" >&2
  exit 1
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1"
RUNDIR=$(cd "$1" && pwd)

NSD_PORT=${STACK_NSD_PORT:-53530}
UNBOUND_PORT=${STACK_UNBOUND_PORT:-53531}
SMTP_PORT=${STACK_SMTP_PORT:-2525}
# The listeners' /24 on loopback. Linux answers on all of 127.0.0.0/8 without configuration.
SMTP_NET=127.0.1

# Tools are installed, never assumed: a missing one is a setup problem to fix, not a skip.
"$HERE/install-deps.sh"

# Daemons drop privileges (Postfix always; it chdirs into its queue directory as user postfix),
# so the run directory must be traversable. tempfile::TempDir creates it 0700.
chmod 755 "$RUNDIR"
CERTS=$RUNDIR/certs KEYS=$RUNDIR/keys ZONES=$RUNDIR/zones
mkdir -p "$CERTS" "$KEYS" "$ZONES" "$RUNDIR/nsd" "$RUNDIR/unbound" \
  "$RUNDIR/postfix/etc" "$RUNDIR/postfix/spool" "$RUNDIR/postfix/data"
chmod 700 "$CERTS" "$KEYS"

fail_cleanup() {
  local rc=$?
  echo "up.sh: failed (exit $rc); logs follow, then stopping what was started" >&2
  for log in "$RUNDIR/nsd/nsd.log" "$RUNDIR/unbound/unbound.log" "$RUNDIR/postfix/maillog" \
    "$RUNDIR/dovecot/dovecot.log" "$RUNDIR/relay/relay.log"; do
    if [[ -s $log ]]; then
      echo "---- $log (last 30 lines)" >&2
      tail -n 30 "$log" >&2
    fi
  done
  "$HERE/down.sh" "$RUNDIR" >&2 || true
  exit "$rc"
}
trap fail_cleanup ERR

# ---------------------------------------------------------------------------------------------
# Certificates and TLSA data (openssl only: the fixtures must not come from the code under test).
# ---------------------------------------------------------------------------------------------
DAYS=30

# ec_selfsigned NAME DNSNAME: self-signed ECDSA P-256 leaf, as many DANE-EE servers use.
ec_selfsigned() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
    -keyout "$CERTS/$1.key" -out "$CERTS/$1.pem" -subj "/CN=$2" \
    -addext "subjectAltName=DNS:$2" 2>/dev/null
}

# rsa_selfsigned NAME DNSNAME: self-signed RSA-2048 leaf (RSA signatures on the wire, 3 0 1).
rsa_selfsigned() {
  openssl req -x509 -newkey rsa:2048 -nodes -days "$DAYS" \
    -keyout "$CERTS/$1.key" -out "$CERTS/$1.pem" -subj "/CN=$2" \
    -addext "subjectAltName=DNS:$2" 2>/dev/null
}

# ec_key NAME: a key that is published in TLSA but never served (stale / wrong / decoy keys).
ec_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CERTS/$1.key" 2>/dev/null
}

# make_ca: private CA for DANE-TA (2 1 1). A real CA certificate: basicConstraints CA:TRUE.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
    -keyout "$CERTS/ca.key" -out "$CERTS/ca.pem" -subj "/CN=DANE stack test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}

# ca_leaf NAME DNSNAME: leaf issued by the private CA; NAME.chain = leaf + CA, as servers send it
# (the client needs the TA certificate in the chain for DANE-TA).
ca_leaf() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$CERTS/$1.key" -out "$CERTS/$1.csr" -subj "/CN=$2" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' \
    "$2" >"$CERTS/$1.ext"
  openssl x509 -req -in "$CERTS/$1.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" \
    -CAcreateserial -days "$DAYS" -extfile "$CERTS/$1.ext" -out "$CERTS/$1.pem" 2>/dev/null
  cat "$CERTS/$1.pem" "$CERTS/ca.pem" >"$CERTS/$1.chain"
}

sha256_hex() { sha256sum | cut -d' ' -f1; }
# SubjectPublicKeyInfo digest (selector 1, matching type 1) of a certificate.
spki_of_cert() { openssl x509 -in "$CERTS/$1.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256_hex; }
# ... of a bare key.
spki_of_key() { openssl pkey -in "$CERTS/$1.key" -pubout -outform DER | sha256_hex; }
# Full-certificate digest (selector 0, matching type 1).
cert_digest() { openssl x509 -in "$CERTS/$1.pem" -outform DER | sha256_hex; }

# Parity block (see "BEGIN parity block" below): its certificates are made in background jobs
# from here on, overlapping with the serial work up to that block, which waits for them.
BG_JOBS=()
bg() { "$@" & BG_JOBS+=($!); }   # a background job whose failure fails up.sh at bg_wait
bg_wait() {
  local p
  for p in "${BG_JOBS[@]}"; do wait "$p"; done
  BG_JOBS=()
}

# --- certificates (openssl), each with its 3 1 1 digest --------------------------------------
# parity_cert KIND NAME: KIND ec (P-256) | rsa (2048) | p521 | rsa1024 | pss (RSA-PSS 2048) |
# v1 (X.509 version 1, P-256, no extensions: CN only) | critext (P-256 + an unknown critical
# extension: private-enterprise OID, DER NULL value). DNS name mx.NAME.test.
parity_cert() {
  local kind=$1 name=$2 dns=mx.$2.test newkey=()
  case $kind in
    ec | critext | v1) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    rsa) newkey=(-newkey rsa:2048) ;;
    rsa1024) newkey=(-newkey rsa:1024) ;;
    p521) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-521) ;;
    pss) newkey=(-newkey rsa-pss -pkeyopt rsa_keygen_bits:2048) ;;
  esac
  if [[ $kind == v1 ]]; then
    openssl req -new "${newkey[@]}" -nodes -keyout "$CERTS/$name.key" -out "$CERTS/$name.csr" \
      -subj "/CN=$dns" 2>/dev/null
    openssl x509 -req -in "$CERTS/$name.csr" -key "$CERTS/$name.key" -days "$DAYS" \
      -out "$CERTS/$name.pem" 2>/dev/null
    grep -q 'Version: 1 (0x0)' <<<"$(openssl x509 -in "$CERTS/$name.pem" -noout -text)"
  else
    local ext=(-addext "subjectAltName=DNS:$dns")
    [[ $kind != critext ]] || ext+=(-addext "1.3.6.1.4.1.55555.1=critical,DER:05:00")
    openssl req -x509 "${newkey[@]}" -nodes -days "$DAYS" -keyout "$CERTS/$name.key" \
      -out "$CERTS/$name.pem" -subj "/CN=$dns" "${ext[@]}" 2>/dev/null
  fi
  # SubjectPublicKeyInfo DER (the certificate's is the key's); digests below, in one sha256sum.
  openssl pkey -in "$CERTS/$name.key" -pubout -outform DER -out "$CERTS/$name.spki.der"
}
PARITY_CERTS=(ec:reach rsa:tls12cbc rsa:tlsrsakx rsa:tlsdhe p521:tlsp521 rsa:tls10 v1:tlsv1cert
  rsa1024:tlsrsa1024 critext:tlscritext pss:tlspss ec:aaaabogus ec:aaaaexpired ec:cnameout
  ec:wildnsec ec:wildnsec3 ec:optout ec:iter200 ec:alg200 ec:ed448 ec:unusable2 ec:slowgreet)
for c in "${PARITY_CERTS[@]}"; do bg parity_cert "${c%%:*}" "${c#*:}"; done
bg ec_key parity_decoy   # a key nobody serves: TLSA records that must be ignored name it

ec_selfsigned ok311 mx.ok311.test
rsa_selfsigned ok301 mx.ok301.test
make_ca
ca_leaf tagood mx.tagood.test
ca_leaf tabadname mail.elsewhere.test   # a name no reference identifier of tabadname.test matches
ec_selfsigned stale mx.stale.test
ec_key stale_old
ec_selfsigned twomx1 mx1.twomx.test
ec_selfsigned twomx2 mx2.twomx.test     # served by mx2 ...
ec_key twomx2_published                 # ... while its TLSA names this key
ec_key nostarttls                       # published; the listener offers no STARTTLS at all
ec_selfsigned bogus mx.bogus.test
ec_key bogus_decoy                      # what the signed TLSA said before the zone was edited
ec_selfsigned insecure mx.insecure.test
ec_selfsigned notlsa mx.notlsa.test
ec_selfsigned notlsa3 mx.notlsa3.test
ec_selfsigned nsec3ok mx.nsec3ok.test
ec_selfsigned cname real.cname.test
ec_selfsigned otherkey mx.otherkey.test       # on the IPv4 address
ec_selfsigned otherkey_v6 mx.otherkey.test    # on ::1: same name, another key
ec_selfsigned expiredsig mx.expiredsig.test
ec_selfsigned nomx nomx.test                  # implicit MX: the domain itself is the host
ec_selfsigned unusable mx.unusable.test

declare -A TLSA
TLSA[ok311]="3 1 1 $(spki_of_cert ok311)"
TLSA[ok301]="3 0 1 $(cert_digest ok301)"
TLSA[ca]="2 1 1 $(spki_of_cert ca)"
TLSA[stale]="3 1 1 $(spki_of_cert stale)"
TLSA[stale_old]="3 1 1 $(spki_of_key stale_old)"
TLSA[twomx1]="3 1 1 $(spki_of_cert twomx1)"
TLSA[twomx2_published]="3 1 1 $(spki_of_key twomx2_published)"
TLSA[nostarttls]="3 1 1 $(spki_of_key nostarttls)"
TLSA[bogus]="3 1 1 $(spki_of_cert bogus)"
TLSA[bogus_decoy]="3 1 1 $(spki_of_key bogus_decoy)"
TLSA[insecure]="3 1 1 $(spki_of_cert insecure)"
TLSA[nsec3ok]="3 1 1 $(spki_of_cert nsec3ok)"
TLSA[cname]="3 1 1 $(spki_of_cert cname)"
TLSA[otherkey]="3 1 1 $(spki_of_cert otherkey)"
TLSA[otherkey_v6]="3 1 1 $(spki_of_cert otherkey_v6)"
TLSA[expiredsig]="3 1 1 $(spki_of_cert expiredsig)"
TLSA[nomx]="3 1 1 $(spki_of_cert nomx)"
# PKIX usages match the served certificate but are unusable for SMTP (RFC 7672 3.1.3).
TLSA[unusable_pkix_ee]="1 1 1 $(spki_of_cert unusable)"
TLSA[unusable_pkix_ta]="0 0 1 $(cert_digest unusable)"
# For the test's assertions: "NAME usage selector mtype hex", one per line.
for k in "${!TLSA[@]}"; do echo "$k ${TLSA[$k]}"; done | sort >"$RUNDIR/tlsa.txt"

# ---------------------------------------------------------------------------------------------
# Zones. Children first: each parent needs its children's DS records.
# ---------------------------------------------------------------------------------------------
TTL=${STACK_TTL:-30}
[[ $TTL =~ ^[0-9]+$ ]] || { echo "up.sh: STACK_TTL must be a number of seconds" >&2; exit 2; }
NOW=$(date -u +%s)
VALID=(-i $((NOW - 3600)) -e $((NOW + 14 * 86400)))
EXPIRED=(-i $((NOW - 30 * 86400)) -e $((NOW - 86400)))   # ended yesterday: RRSIGs are stale

# Each NAME=1 entry becomes a delegation from test.; DS_OF holds the parent-side DS ("" = unsigned).
declare -A DS_OF
CHILDREN=()
# Zone cuts below the children (delegated from a child): "cut parent".
SUBCUTS=()

# zone_head ORIGIN: SOA and NS; every zone is served by "ns.test." = 127.0.0.1 (NSD).
zone_head() {
  # shellcheck disable=SC2016 # $ORIGIN/$TTL are zone-file directives, not shell
  printf '$ORIGIN %s\n$TTL %s\n@ SOA ns.test. hostmaster.test. 1 3600 600 86400 %s\n@ NS ns.test.\n' \
    "$1" "$TTL" "$TTL"
}

# sign ORIGIN [ldns-signzone options...]: signs zones/ORIGIN.zone into .signed with a fresh
# ECDSAP256SHA256 key (one SEP key signs everything: a CSK) and prints the DS (SHA-256) for the
# parent. Default validity unless the options say otherwise.
# Also writes zones/ORIGIN.zone.resign ("KEY [options without -i/-e]") so that set-tlsa.sh can
# re-sign the zone later with the same key (the DS in the parent stays valid). Scenarios whose
# signed zone is deliberately broken remove that file: re-signing would repair them.
sign() {
  local origin=$1 key file
  shift
  file=$ZONES/${origin%.}.zone
  [[ $origin == "." ]] && file=$ZONES/root.zone
  key=$(cd "$KEYS" && ldns-keygen -a ECDSAP256SHA256 -k "$origin")
  local opts=("$@")
  ((${#opts[@]})) || opts=("${VALID[@]}")
  ldns-signzone "${opts[@]}" -f "$file.signed" "$file" "$KEYS/$key"
  local keep=() i
  for ((i = 0; i < ${#opts[@]}; i++)); do
    case ${opts[i]} in
      -i | -e) ((i += 1)) ;; # validity is recomputed at re-signing time
      *) keep+=("${opts[i]}") ;;
    esac
  done
  echo "$key ${keep[*]}" >"$file.resign"
  ldns-key2ds -n -2 "$KEYS/$key.key"
}

tlsa_rr() { printf '_%s._tcp.%s %s IN TLSA %s\n' "$SMTP_PORT" "$1" "$TTL" "$2"; }

# simple NAME ADDR_SUFFIX TLSA_KEY...: NAME.test with MX -> mx.NAME.test at $SMTP_NET.SUFFIX and the
# given TLSA records at _PORT._tcp.mx.NAME.test. Writes the zone only (no signing).
simple_zone() {
  local name=$1 addr=$2
  shift 2
  {
    zone_head "$name.test."
    echo "@ MX 10 mx.$name.test."
    echo "mx A $SMTP_NET.$addr"
    for k in "$@"; do tlsa_rr "mx.$name.test." "${TLSA[$k]}"; done
  } >"$ZONES/$name.test.zone"
  CHILDREN+=("$name")
}

simple_zone ok311 1 ok311
DS_OF[ok311]=$(sign ok311.test.)
simple_zone ok301 2 ok301
DS_OF[ok301]=$(sign ok301.test.)
simple_zone tagood 3 ca
DS_OF[tagood]=$(sign tagood.test.)
simple_zone tabadname 4 ca
DS_OF[tabadname]=$(sign tabadname.test.)
simple_zone stale 5 stale stale_old
DS_OF[stale]=$(sign stale.test.)

{
  zone_head twomx.test.
  echo "@ MX 10 mx1.twomx.test."
  echo "@ MX 20 mx2.twomx.test."
  echo "mx1 A $SMTP_NET.6"
  echo "mx2 A $SMTP_NET.7"
  tlsa_rr mx1.twomx.test. "${TLSA[twomx1]}"
  tlsa_rr mx2.twomx.test. "${TLSA[twomx2_published]}"
} >"$ZONES/twomx.test.zone"
CHILDREN+=(twomx)
DS_OF[twomx]=$(sign twomx.test.)

simple_zone nostarttls 8 nostarttls
DS_OF[nostarttls]=$(sign nostarttls.test.)

# bogus: sign a TLSA for a decoy key, then edit the signed record to the key the server really
# has. Tampered data that would *match* if the exporter ignored validation: only a correct
# validator catches it.
simple_zone bogus 9 bogus_decoy
DS_OF[bogus]=$(sign bogus.test.)
decoy_hex=${TLSA[bogus_decoy]##* } real_hex=${TLSA[bogus]##* }
sed -i "s/$decoy_hex/$real_hex/I" "$ZONES/bogus.test.zone.signed"
grep -qi "$real_hex" "$ZONES/bogus.test.zone.signed"   # the edit must have happened
rm "$ZONES/bogus.test.zone.resign"   # re-signing would turn the tampered record valid

# insecure: unsigned child, no DS in test. (a provably insecure delegation), TLSA that matches.
simple_zone insecure 10 insecure
cp "$ZONES/insecure.test.zone" "$ZONES/insecure.test.zone.signed"   # served as is
DS_OF[insecure]=""

simple_zone notlsa 11
DS_OF[notlsa]=$(sign notlsa.test.)
# NSEC3 (no extra iterations, empty salt: the ldns default, as RFC 9276 recommends): denial of the TLSA name by NSEC3.
simple_zone notlsa3 12
DS_OF[notlsa3]=$(sign notlsa3.test. "${VALID[@]}" -n -t 0)
# A positive NSEC3 case too: wildcard/closest-encloser proofs are checked on positive answers.
simple_zone nsec3ok 16 nsec3ok
DS_OF[nsec3ok]=$(sign nsec3ok.test. "${VALID[@]}" -n -t 0)

# cname: MX host is an alias; TLSA lives at the expanded name (RFC 7672 2.2.2).
{
  zone_head cname.test.
  echo "@ MX 10 mail.cname.test."
  echo "mail CNAME real.cname.test."
  echo "real A $SMTP_NET.13"
  tlsa_rr real.cname.test. "${TLSA[cname]}"
} >"$ZONES/cname.test.zone"
CHILDREN+=(cname)
DS_OF[cname]=$(sign cname.test.)

# otherkey: one host, two addresses; the IPv6 one ([::1]) serves a key the TLSA does not name.
{
  zone_head otherkey.test.
  echo "@ MX 10 mx.otherkey.test."
  echo "mx A $SMTP_NET.14"
  echo "mx AAAA ::1"
  tlsa_rr mx.otherkey.test. "${TLSA[otherkey]}"
} >"$ZONES/otherkey.test.zone"
CHILDREN+=(otherkey)
DS_OF[otherkey]=$(sign otherkey.test.)

# expiredsig: the MX and address records are fine, but the TLSA records live in their own zone
# (_tcp.mx.expiredsig.test., delegated with DS) whose signatures expired yesterday: only the
# TLSA lookup turns bogus, which is what a forgotten re-signing of a TLSA zone looks like.
{
  zone_head "_tcp.mx.expiredsig.test."
  printf '_%s %s IN TLSA %s\n' "$SMTP_PORT" "$TTL" "${TLSA[expiredsig]}"
} >"$ZONES/_tcp.mx.expiredsig.test.zone"
expired_ds=$(sign _tcp.mx.expiredsig.test. "${EXPIRED[@]}")
{
  zone_head expiredsig.test.
  echo "@ MX 10 mx.expiredsig.test."
  echo "mx A $SMTP_NET.15"
  echo "_tcp.mx NS ns.test."
  echo "$expired_ds"
} >"$ZONES/expiredsig.test.zone"
CHILDREN+=(expiredsig)
SUBCUTS+=("_tcp.mx.expiredsig.test.")
DS_OF[expiredsig]=$(sign expiredsig.test.)
rm "$ZONES/_tcp.mx.expiredsig.test.zone.resign"   # re-signing would renew the expired RRSIGs

# insecuremx / insecuremxbad: unsigned zones (no DS) whose MX points at hosts in signed zones with
# TLSA (a matching one, and mx2.twomx.test's mismatching one). Postfix 3.6+
# (smtp_tls_dane_insecure_mx_policy = dane) still enforces those hosts' TLSA records.
for name in insecuremx:mx.ok311.test insecuremxbad:mx2.twomx.test; do
  { zone_head "${name%%:*}.test."; echo "@ MX 10 ${name#*:}."; } >"$ZONES/${name%%:*}.test.zone"
  cp "$ZONES/${name%%:*}.test.zone" "$ZONES/${name%%:*}.test.zone.signed"
  CHILDREN+=("${name%%:*}")
  DS_OF[${name%%:*}]=""
done

# nomx: no MX RRset (secure NODATA): the domain itself is the MX host, TLSA at _PORT._tcp.nomx.test.
{
  zone_head nomx.test.
  echo "@ A $SMTP_NET.17"
  tlsa_rr nomx.test. "${TLSA[nomx]}"
} >"$ZONES/nomx.test.zone"
CHILDREN+=(nomx)
DS_OF[nomx]=$(sign nomx.test.)

# unusable: only PKIX usages (0, 1), both matching what is served: TLS mandatory, nothing usable.
simple_zone unusable 18 unusable_pkix_ee unusable_pkix_ta
DS_OF[unusable]=$(sign unusable.test.)

# brokends: signed zone, but the DS in test. is for another key (a botched key rollover): the chain
# of trust breaks at the delegation, so even the MX lookup is bogus.
simple_zone brokends 1 ok311
sign brokends.test. >/dev/null
rm "$ZONES/brokends.test.zone.resign"   # the broken chain is the point; not for set-tlsa.sh
other_key=$(cd "$KEYS" && ldns-keygen -a ECDSAP256SHA256 -k brokends.test.)
DS_OF[brokends]=$(ldns-key2ds -n -2 "$KEYS/$other_key.key")

# ---------------------------------------------------------------------------------------------
# BEGIN services (issue 8, TLSA for other TLS services; tests/integration/services.rs).
# A dovecot instance (IMAP with STARTTLS, IMAPS, POP3 with STLS) on $SMTP_NET.40-42, port
# $SMTP_PORT, and the zone svc.test with a TLSA RRset per service. PKIX usages use the stack's
# private CA (certs/ca.pem), which the tests trust through `service_ca_file`. The "STARTTLS not
# offered" case reuses the Postfix listener without TLS ($SMTP_NET.8) as a submission server.
# ---------------------------------------------------------------------------------------------
ec_selfsigned svc_imap imap.svc.test
ca_leaf svc_imaps imaps.svc.test
ca_leaf svc_pop3 pop3.svc.test
ec_key svc_stale
ec_selfsigned svc_https https.svc.test   # nginx (the MTA-STS block's) on $SMTP_NET.43: HTTPS
ca_leaf svc_smtps smtps.svc.test         # Postfix, wrappermode, on $SMTP_NET.44: submissions
{
  zone_head svc.test.
  echo "imap A $SMTP_NET.40"
  tlsa_rr imap.svc.test. "3 1 1 $(spki_of_cert svc_imap)"          # DANE-EE: pass
  echo "imaps A $SMTP_NET.41"
  tlsa_rr imaps.svc.test. "0 1 1 $(spki_of_cert ca)"               # PKIX-TA: pass if CA trusted
  echo "pop3 A $SMTP_NET.42"
  tlsa_rr pop3.svc.test. "1 1 1 $(spki_of_cert svc_pop3)"          # PKIX-EE: pass if CA trusted
  echo "imapstale A $SMTP_NET.40"
  tlsa_rr imapstale.svc.test. "3 1 1 $(spki_of_key svc_stale)"     # another key: mismatch
  echo "imapsname A $SMTP_NET.41"
  tlsa_rr imapsname.svc.test. "1 1 1 $(spki_of_cert svc_imaps)"    # PKIX-EE, name not on the cert
  echo "nosubmission A $SMTP_NET.8"
  tlsa_rr nosubmission.svc.test. "3 1 1 $(spki_of_key svc_stale)"  # STARTTLS not offered
  echo "https A $SMTP_NET.43"
  tlsa_rr https.svc.test. "3 1 1 $(spki_of_cert svc_https)"        # DANE-EE, nginx: pass
  echo "httpsstale A $SMTP_NET.43"
  tlsa_rr httpsstale.svc.test. "3 1 1 $(spki_of_key svc_stale)"    # another key: mismatch
  echo "smtps A $SMTP_NET.44"
  tlsa_rr smtps.svc.test. "2 1 1 $(spki_of_cert ca)"               # DANE-TA, implicit TLS: pass
} >"$ZONES/svc.test.zone"
CHILDREN+=(svc)
DS_OF[svc]=$(sign svc.test.)
# Submission with implicit TLS (RFC 8314) from Postfix itself: an smtpd in wrappermode; it sends
# no plaintext 220, so it is not in ADDRS (banner readiness) but waited for with a TCP connect.
SVC_LISTENERS=("$SMTP_NET.44:$SMTP_PORT inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_chain_files=$CERTS/svc_smtps.key,$CERTS/svc_smtps.chain")

DV=$RUNDIR/dovecot
mkdir -p "$DV/run" "$DV/state" "$DV/mail"
: >"$DV/passwd"
cat >"$DV/dovecot.conf" <<DOVECOT
# A TLS endpoint for probes: nobody can log in (empty passwd-file, no plaintext auth).
base_dir = $DV/run
state_dir = $DV/state
log_path = $DV/dovecot.log
instance_name = dane-stack-$SMTP_PORT
protocols = imap pop3
listen = $SMTP_NET.40
ssl = yes
ssl_cert = <$CERTS/svc_imap.pem
ssl_key = <$CERTS/svc_imap.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
mail_location = maildir:$DV/mail/%u
passdb {
  driver = passwd-file
  args = $DV/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DV/mail/%u
}
service imap-login {
  inet_listener imap {
    address = $SMTP_NET.40
    port = $SMTP_PORT
  }
  inet_listener imaps {
    address = $SMTP_NET.41
    port = $SMTP_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = $SMTP_NET.42
    port = $SMTP_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
local $SMTP_NET.41 {
  ssl_cert = <$CERTS/svc_imaps.chain
  ssl_key = <$CERTS/svc_imaps.key
}
local $SMTP_NET.42 {
  ssl_cert = <$CERTS/svc_pop3.chain
  ssl_key = <$CERTS/svc_pop3.key
}
DOVECOT
doveconf -c "$DV/dovecot.conf" -n >/dev/null
# Its own stdio must not be ours: dovecot keeps inherited descriptors open, and whoever waits
# for up.sh's output (the Rust tests) would wait forever.
dovecot -c "$DV/dovecot.conf" </dev/null >>"$DV/dovecot.log" 2>&1
svc_ready() { # ADDR GREETING-PREFIX ("" = a TCP connect is enough)
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && { [[ -z $2 ]] || head -c ${#2} <&3 | grep -qF "$2"; }' \
    "$1" "$SMTP_PORT" "$2"
}
for svc in "$SMTP_NET.40=* OK" "$SMTP_NET.41=" "$SMTP_NET.42=+OK"; do
  for ((i = 0; i < 100; i++)); do
    if svc_ready "${svc%%=*}" "${svc#*=}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if ((i == 100)); then
    echo "up.sh: dovecot on ${svc%%=*}:$SMTP_PORT not ready after 10 s" >&2
    false
  fi
done
# END services
# ---------------------------------------------------------------------------------------------

# --- MTA-STS / TLS-RPT (begin; tests/integration/mta_sts.rs, alerting.rs) ------------------------
# sts.test: MX mx.tagood.test (its Postfix listener presents a leaf of the private CA, so the MX
# certificate passes MTA-STS validation when the exporter trusts $CERTS/ca.pem), the _mta-sts and
# _smtp._tls TXT records, and mta-sts.sts.test -> 127.0.0.1 where nginx (started further down)
# serves an enforce policy over HTTPS on $HTTPS_PORT with a certificate from the same CA.
HTTPS_PORT=${STACK_HTTPS_PORT:-8443}
ca_leaf stspolicy mta-sts.sts.test
{
  zone_head sts.test.
  echo "@ MX 10 mx.tagood.test."
  echo '_mta-sts TXT "v=STSv1; id=stack1"'
  echo '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@sts.test"'
  echo "mta-sts A 127.0.0.1"
} >"$ZONES/sts.test.zone"
CHILDREN+=(sts)
DS_OF[sts]=$(sign sts.test.)
mkdir -p "$RUNDIR/nginx/www/.well-known"
printf 'version: STSv1\r\nmode: enforce\r\nmx: *.tagood.test\r\nmax_age: 86400\r\n' \
  >"$RUNDIR/nginx/www/.well-known/mta-sts.txt"
cat >"$RUNDIR/nginx/nginx.conf" <<NGINX
user root;
worker_processes 1;
pid $RUNDIR/nginx/nginx.pid;
error_log $RUNDIR/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $RUNDIR/nginx/client;
  proxy_temp_path $RUNDIR/nginx/proxy;
  fastcgi_temp_path $RUNDIR/nginx/fastcgi;
  uwsgi_temp_path $RUNDIR/nginx/uwsgi;
  scgi_temp_path $RUNDIR/nginx/scgi;
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl;
    server_name mta-sts.sts.test;
    ssl_certificate $CERTS/stspolicy.chain;
    ssl_certificate_key $CERTS/stspolicy.key;
    location = /.well-known/mta-sts.txt { root $RUNDIR/nginx/www; default_type text/plain; }
  }
  # services block: an HTTPS service with its own TLSA (https.svc.test, DANE-EE).
  server {
    listen $SMTP_NET.43:$SMTP_PORT ssl;
    server_name https.svc.test;
    ssl_certificate $CERTS/svc_https.pem;
    ssl_certificate_key $CERTS/svc_https.key;
    location / { return 204; }
  }
}
NGINX
# --- MTA-STS / TLS-RPT (end) ---------------------------------------------------------------------
# ---- BEGIN ops7tls scenarios (issue 7: key algorithms, staged certificates) -------------------
# Additive: certificates, TLSA data, zones and listeners of these scenarios only. The listeners go
# into master.cf through EXTRA_LISTENERS (see the address plan below).
#   dualalg   $SMTP_NET.19: one smtpd with an ECDSA and an RSA key+chain (smtpd_tls_chain_files
#             with two pairs); TLSA names the ECDSA key only.
#   staged    $SMTP_NET.20: serves staged_live; staged_next is a renewal on disk (certs/) whose key
#             is not published. Its zone has a TTL of STAGED_TTL (3 s) so that "two TTLs" passes
#             within a test; set-tlsa.sh RUNDIR staged publish "3 1 1 HEX" publishes the next key.
EXTRA_LISTENERS=()
ec_selfsigned dualalg_ec mx.dualalg.test
rsa_selfsigned dualalg_rsa mx.dualalg.test
ec_selfsigned staged_live mx.staged.test
ec_selfsigned staged_next mx.staged.test
TLSA[dualalg_ec]="3 1 1 $(spki_of_cert dualalg_ec)"
TLSA[dualalg_rsa]="3 1 1 $(spki_of_cert dualalg_rsa)"
TLSA[staged_live]="3 1 1 $(spki_of_cert staged_live)"
TLSA[staged_next]="3 1 1 $(spki_of_cert staged_next)"
for k in dualalg_ec dualalg_rsa staged_live staged_next; do echo "$k ${TLSA[$k]}"; done >>"$RUNDIR/tlsa.txt"
sort -o "$RUNDIR/tlsa.txt" "$RUNDIR/tlsa.txt"
simple_zone dualalg 19 dualalg_ec
DS_OF[dualalg]=$(sign dualalg.test.)
EXTRA_LISTENERS+=("$SMTP_NET.19:$SMTP_PORT inet n - n - - smtpd
  -o syslog_name=postfix/dualalg
  -o smtpd_tls_security_level=may
  -o smtpd_tls_chain_files=$CERTS/dualalg_ec.key,$CERTS/dualalg_ec.pem,$CERTS/dualalg_rsa.key,$CERTS/dualalg_rsa.pem")
STAGED_TTL=3
saved_ttl=$TTL TTL=$STAGED_TTL
simple_zone staged 20 staged_live
TTL=$saved_ttl
DS_OF[staged]=$(sign staged.test.)
EXTRA_LISTENERS+=("$SMTP_NET.20:$SMTP_PORT inet n - n - - smtpd
  -o syslog_name=postfix/staged
  -o smtpd_tls_security_level=may
  -o smtpd_tls_chain_files=$CERTS/staged_live.key,$CERTS/staged_live.pem")
# ---- END ops7tls scenarios ----------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
# BEGIN ops7dns block: authoritative consistency and hygiene scenarios (issue 7, items 1 and 4).
# Every MX host here points at ok311's listener ($SMTP_NET.1), whose key each TLSA RRset names,
# so the verdict is pass and only the operational findings differ.
#   lag       NS ns.test. (127.0.0.1, primary NSD) + ns2.lag.test. (127.0.0.2, a second NSD on
#             the same port): the primary serves serial 2 with a next-key record added, the
#             secondary still serial 1 (same key, valid signatures). tests/stack/secondary.sh
#             RUNDIR catch-up copies the primary's zone to it.
#   hfull     + 3 0 0 (the whole certificate)               -> tlsa_full_certificate
#   httl      TLSA TTL 50000 s                               -> tlsa_ttl_too_long (max 1h in tests)
#   hmany     13 records                                     -> tlsa_too_many_records
#   hsha1     signed with RSASHA1 (algorithm 5)              -> dnskey_algorithm_deprecated
#   hds1      DS with a SHA-1 digest only                    -> ds_digest_sha1_only
#   hdsstale  a matching DS plus one for a key never used    -> ds_unmatched
#   htanotsent  own listener $SMTP_NET.30 sends only a leaf of the private CA; TLSA 2 1 0 holds
#             the CA's whole public key (RFC 7671 5.2.3 allows the TA to be left out then, but
#             few clients cope)                              -> dane_ta_not_sent
# (usages 0/1: the unusable zone above; DS matching no DNSKEY: brokends above.)
# ---------------------------------------------------------------------------------------------
ok_cert_der_hex() { openssl x509 -in "$CERTS/ok311.pem" -outform DER | od -An -v -tx1 | tr -d ' \n'; }
ops_zone() { # NAME [TTL]: MX -> mx.NAME.test at ok311's listener, TLSA ok311 (more lines on stdin)
  local name=$1 ttl=${2:-$TTL}
  {
    zone_head "$name.test."
    echo "@ MX 10 mx.$name.test."
    echo "mx A $SMTP_NET.1"
    printf '_%s._tcp.mx.%s.test. %s IN TLSA %s\n' "$SMTP_PORT" "$name" "$ttl" "${TLSA[ok311]}"
    cat
  } >"$ZONES/$name.test.zone"
  CHILDREN+=("$name")
}
ops_zone hfull <<<"$(tlsa_rr mx.hfull.test. "3 0 0 $(ok_cert_der_hex)")"
DS_OF[hfull]=$(sign hfull.test.)
ops_zone httl 50000 </dev/null
DS_OF[httl]=$(sign httl.test.)
ops_zone hmany <<<"$(for i in $(seq 1 12); do tlsa_rr mx.hmany.test. "3 1 1 $(printf 'hmany%s' "$i" | sha256_hex)"; done)"
DS_OF[hmany]=$(sign hmany.test.)
ops_zone hsha1 </dev/null
hsha1_key=$(cd "$KEYS" && ldns-keygen -a RSASHA1 -b 2048 -k hsha1.test.)
ldns-signzone "${VALID[@]}" -f "$ZONES/hsha1.test.zone.signed" "$ZONES/hsha1.test.zone" "$KEYS/$hsha1_key"
DS_OF[hsha1]=$(ldns-key2ds -n -2 "$KEYS/$hsha1_key.key")
ops_zone hds1 </dev/null
sign hds1.test. >/dev/null
hds1_key=$(cut -d' ' -f1 "$ZONES/hds1.test.zone.resign")
DS_OF[hds1]=$(ldns-key2ds -n -1 "$KEYS/$hds1_key.key")
ops_zone hdsstale </dev/null
DS_OF[hdsstale]=$(sign hdsstale.test.)
hdsstale_unused=$(cd "$KEYS" && ldns-keygen -a ECDSAP256SHA256 -k hdsstale.test.)
DS_OF[hdsstale]+=$'\n'$(ldns-key2ds -n -2 "$KEYS/$hdsstale_unused.key")
ca_leaf htanotsent mx.htanotsent.test
{
  zone_head htanotsent.test.
  echo "@ MX 10 mx.htanotsent.test."
  echo "mx A $SMTP_NET.30"
  tlsa_rr mx.htanotsent.test. "2 1 0 $(openssl x509 -in "$CERTS/ca.pem" -noout -pubkey | openssl pkey -pubin -outform DER | od -An -v -tx1 | tr -d ' \n')"
} >"$ZONES/htanotsent.test.zone"
CHILDREN+=(htanotsent)
DS_OF[htanotsent]=$(sign htanotsent.test.)
# The leaf alone (.pem, not .chain): the trust anchor is not sent.
EXTRA_LISTENERS+=("$SMTP_NET.30:$SMTP_PORT inet n - n - - smtpd
  -o syslog_name=postfix/htanotsent
  -o smtpd_tls_security_level=may
  -o smtpd_tls_chain_files=$CERTS/htanotsent.key,$CERTS/htanotsent.pem")

# lag: one key, two versions of the zone.
lag_next="3 1 1 $(printf 'lag-next-key' | sha256_hex)"
lag_key=$(cd "$KEYS" && ldns-keygen -a ECDSAP256SHA256 -k lag.test.)
lag_version() { # SERIAL [EXTRA TLSA]
  printf '$ORIGIN lag.test.\n$TTL %s\n@ SOA ns.test. hostmaster.test. %s 3600 600 86400 %s\n' "$TTL" "$1" "$TTL"
  printf '@ NS ns.test.\n@ NS ns2.lag.test.\nns2 A 127.0.0.2\n@ MX 10 mx.lag.test.\nmx A %s.1\n' "$SMTP_NET"
  tlsa_rr mx.lag.test. "${TLSA[ok311]}"
  if [[ -n ${2:-} ]]; then tlsa_rr mx.lag.test. "$2"; fi
}
mkdir -p "$RUNDIR/nsd2/zones"
lag_version 1 >"$ZONES/lag.test.zone.v1"
ldns-signzone "${VALID[@]}" -f "$RUNDIR/nsd2/zones/lag.test.zone.signed" "$ZONES/lag.test.zone.v1" "$KEYS/$lag_key"
lag_version 2 "$lag_next" >"$ZONES/lag.test.zone"
ldns-signzone "${VALID[@]}" -f "$ZONES/lag.test.zone.signed" "$ZONES/lag.test.zone" "$KEYS/$lag_key"
CHILDREN+=(lag)
DS_OF[lag]=$(ldns-key2ds -n -2 "$KEYS/$lag_key.key")
echo "lag_next $lag_next" >>"$RUNDIR/tlsa.txt"
# END ops7dns block (zones); the secondary NSD starts after the primary, below.
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# BEGIN parity block (issue: Postfix-equal verdicts on the servers and zones of the real internet).
# Additive: own certificates, zones, listeners ($SMTP_NET.50-82), the relay (tests/stack/relay.py)
# and one IPv6 route. The README's "Parity scenarios" table says what Postfix does with each.
#   reachability  refused, noroute6, silent, greet4xx, greet5xx, onedown, nowhere, nullmx
#   TLS           tls12cbc, tlsrsakx, tlsdhe, tlsp521, tls10, tlsv1cert, tlsrsa1024, tlscritext,
#                 tlspss (Postfix smtpd listeners configured as legacy servers)
#   DNS shapes    aaaabogus, aaaaexpired, cnameout (-> plain.test, unsigned), wildnsec, wildnsec3,
#                 optout (child.optout.test), iter200, alg200, ed448
#   TLSA          unusable2 (usages 2/3 with bad lengths, unknown usage/selector/matching type)
#   patience      slowgreet (banner held back by relay.py for STACK_GREET_DELAY s, default 3)
# Certificates and zone signatures are made in parallel background jobs (bg/bg_wait): up.sh stays
# within a few seconds of what it took before this block.
# ---------------------------------------------------------------------------------------------
# An unroutable IPv6 /64 (documentation prefix, one per stack: the SMTP port in hex, so that
# concurrent stacks do not share it): a "throw" route makes connects fail at once with
# ENETUNREACH, as on a host without IPv6 connectivity. Without the route they would follow this
# machine's default IPv6 route off the box, so it is added before any zone naming the prefix is
# served; down.sh deletes it (only if this up.sh added it: RUNDIR/v6-throw).
V6_PREFIX=2001:db8:25:$(printf '%x' "$SMTP_PORT")
V6_DEAD=$V6_PREFIX::25
if ip -6 route add throw "$V6_PREFIX::/64" 2>/dev/null; then
  echo "$V6_PREFIX::/64" >"$RUNDIR/v6-throw"
elif ! grep -q "^throw $V6_PREFIX::/64 " <<<"$(ip -6 route show table main)"; then
  echo "up.sh: cannot add the IPv6 throw route $V6_PREFIX::/64" >&2
  false
fi
# Proof that it is unreachable right away (no SYN leaves): bash's connect fails with ENETUNREACH.
v6err=$(timeout 2 bash -c "exec 3<>/dev/tcp/$V6_DEAD/$SMTP_PORT" 2>&1 || true)
[[ $v6err == *"Network is unreachable"* ]] || { echo "up.sh: $V6_DEAD: $v6err" >&2; false; }

# Certificates: started in the background at the top of up.sh ("parity block: certificates").
bg_wait
while read -r hex file; do
  c=${file##*/} c=${c%.spki.der}
  TLSA[$c]="3 1 1 $hex"
  echo "$c ${TLSA[$c]}" >>"$RUNDIR/tlsa.txt"
done < <(printf '%s\n' "${PARITY_CERTS[@]#*:}" | sed "s|.*|$CERTS/&.spki.der|" | xargs sha256sum)
for c in "${PARITY_CERTS[@]}"; do [[ -n ${TLSA[${c#*:}]:-} ]]; done
TLSA[parity_decoy]="3 1 1 $(spki_of_key parity_decoy)"
echo "parity_decoy ${TLSA[parity_decoy]}" >>"$RUNDIR/tlsa.txt"

# --- listeners --------------------------------------------------------------------------------
# parity_listener SUFFIX CERT [OPTION...]: an smtpd with STARTTLS on $SMTP_NET.SUFFIX presenting
# CERT.key + CERT.pem; each OPTION is one master.cf "-o" argument ("{ name = value }" for values
# with spaces). Listeners whose greeting is not 220 go to ODD_LISTENERS (readiness: ODD_BANNERS).
parity_listener() {
  local addr=$1 name=$2 entry o
  shift 2
  entry="$SMTP_NET.$addr:$SMTP_PORT inet n - n - - smtpd
  -o syslog_name=postfix/$name
  -o smtpd_tls_security_level=may
  -o smtpd_tls_chain_files=$CERTS/$name.key,$CERTS/$name.pem"
  for o in "$@"; do entry+=$'\n'"  -o $o"; done
  printf '%s\n' "$entry"
}
ODD_LISTENERS=() ODD_BANNERS=() RELAY_SPECS=()
# Reachability: .50 nothing listens (connection refused); .51 the good host (reach); .52 relay.py
# "silent" (accepts, never greets); .53 greets 421, .54 greets 554: smtpd_delay_reject=no makes
# smtpd evaluate smtpd_client_restrictions at connect time and send the restriction's reply
# instead of the 220 banner (smtpd.c, smtpd_proto); "defer" with defer_code=421, "reject" = 554.
EXTRA_LISTENERS+=("$(parity_listener 51 reach)")
RELAY_SPECS+=("silent:$SMTP_NET.52:$SMTP_PORT")
ODD_LISTENERS+=("$(parity_listener 53 reach smtpd_delay_reject=no smtpd_client_restrictions=defer \
  defer_code=421 syslog_name=postfix/greet421)")
ODD_BANNERS+=("$SMTP_NET.53 421")
ODD_LISTENERS+=("$(parity_listener 54 reach smtpd_delay_reject=no smtpd_client_restrictions=reject \
  syslog_name=postfix/greet554)")
ODD_BANNERS+=("$SMTP_NET.54 554")
# TLS parity: Postfix's opportunistic smtpd settings per listener. smtpd_tls_ciphers=medium uses
# tls_medium_cipherlist (TLS <= 1.2 suites); where a TLS 1.2 suite is pinned, TLS 1.3 is off.
TLS12=("{ smtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2 }" smtpd_tls_ciphers=medium)
EXTRA_LISTENERS+=("$(parity_listener 60 tls12cbc "${TLS12[@]}" tls_medium_cipherlist=ECDHE-RSA-AES128-SHA)")
EXTRA_LISTENERS+=("$(parity_listener 61 tlsrsakx "${TLS12[@]}" tls_medium_cipherlist=AES128-GCM-SHA256)")
EXTRA_LISTENERS+=("$(parity_listener 62 tlsdhe "${TLS12[@]}" tls_medium_cipherlist=DHE-RSA-AES128-GCM-SHA256)")
EXTRA_LISTENERS+=("$(parity_listener 63 tlsp521)")
# TLS 1.0 only. Postfix sets OpenSSL security level 0 on its contexts (tls_server.c, tls_client.c;
# level 1 only where the peer is authenticated), so neither TLS 1.0 nor the RSA-1024 leaf below
# needs a cipher-list override on the server.
EXTRA_LISTENERS+=("$(parity_listener 64 tls10 "{ smtpd_tls_protocols = >=TLSv1, <=TLSv1 }")")
EXTRA_LISTENERS+=("$(parity_listener 65 tlsv1cert)")
EXTRA_LISTENERS+=("$(parity_listener 66 tlsrsa1024)")
EXTRA_LISTENERS+=("$(parity_listener 67 tlscritext)")
EXTRA_LISTENERS+=("$(parity_listener 68 tlspss)")
# DNS shapes, one listener each.
for l in 70:aaaabogus 71:aaaaexpired 72:cnameout 73:wildnsec 74:wildnsec3 75:optout 76:iter200 \
  77:alg200 78:ed448 80:unusable2; do
  EXTRA_LISTENERS+=("$(parity_listener "${l%%:*}" "${l#*:}")")
done
# Patience: relay.py on .81 forwards to an ordinary smtpd on .82 and holds back the server's first
# bytes for STACK_GREET_DELAY seconds.
GREET_DELAY=${STACK_GREET_DELAY:-3}
[[ $GREET_DELAY =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "up.sh: STACK_GREET_DELAY must be seconds" >&2; false; }
EXTRA_LISTENERS+=("$(parity_listener 82 slowgreet)")
RELAY_SPECS+=("delay:$SMTP_NET.81:$SMTP_PORT:$SMTP_NET.82:$SMTP_PORT:$GREET_DELAY")

# --- zones (written here, signed in parallel below) -------------------------------------------
# parity_zone NAME: zone NAME.test from the zone lines on stdin (after SOA/NS).
parity_zone() { { zone_head "$1.test."; cat; } >"$ZONES/$1.test.zone"; CHILDREN+=("$1"); }
# reach_zone NAME: a reachability zone; every A/AAAA owner h also gets reach's TLSA at
# _PORT._tcp.h.NAME.test (the unreachable hosts too: DANE hosts, just not reachable).
reach_zone() {
  local name=$1 lines
  lines=$(cat)
  parity_zone "$name" <<<"$lines
$(awk '$2 == "A" || $2 == "AAAA" { print $1 }' <<<"$lines" | sort -u | while read -r h; do
    tlsa_rr "$h.$name.test." "${TLSA[reach]}"; done)"
}
reach_zone refused <<EOF
@ MX 10 mx.refused.test.
mx A $SMTP_NET.50
mx A $SMTP_NET.51
EOF
reach_zone noroute6 <<EOF
@ MX 10 mx.noroute6.test.
mx A $SMTP_NET.51
mx AAAA $V6_DEAD
EOF
reach_zone silent <<EOF
@ MX 10 mx1.silent.test.
@ MX 20 mx2.silent.test.
mx1 A $SMTP_NET.52
mx2 A $SMTP_NET.51
EOF
reach_zone greet4xx <<EOF
@ MX 10 mx1.greet4xx.test.
@ MX 20 mx2.greet4xx.test.
mx1 A $SMTP_NET.53
mx2 A $SMTP_NET.51
EOF
reach_zone greet5xx <<EOF
@ MX 10 mx1.greet5xx.test.
@ MX 20 mx2.greet5xx.test.
mx1 A $SMTP_NET.54
mx2 A $SMTP_NET.51
EOF
reach_zone onedown <<EOF
@ MX 10 mx1.onedown.test.
@ MX 20 mx2.onedown.test.
mx1 A $SMTP_NET.50
mx2 A $SMTP_NET.51
EOF
reach_zone nowhere <<EOF
@ MX 10 mx1.nowhere.test.
@ MX 20 mx2.nowhere.test.
@ MX 30 mx3.nowhere.test.
@ MX 40 mx4.nowhere.test.
mx1 A $SMTP_NET.50
mx2 AAAA $V6_DEAD
mx3 A $SMTP_NET.53
mx4 A $SMTP_NET.54
EOF
# Null MX (RFC 7505) beside a working MX host: Postfix takes it as "accepts no mail" (bounce).
reach_zone nullmx <<EOF
@ MX 0 .
@ MX 10 mx.nullmx.test.
mx A $SMTP_NET.51
EOF
for z in tls12cbc:60 tlsrsakx:61 tlsdhe:62 tlsp521:63 tls10:64 tlsv1cert:65 tlsrsa1024:66 \
  tlscritext:67 tlspss:68 slowgreet:81; do
  simple_zone "${z%%:*}" "${z#*:}" "${z%%:*}"
done
# aaaabogus: A secure; the AAAA RRset (an address of the unroutable prefix) is signed, then
# edited after signing (below): tampered data (EDE 6). aaaaexpired: only the AAAA RRset's RRSIG
# expired yesterday (EDE 7). Postfix keeps the secure A record in both.
for z in aaaabogus:70 aaaaexpired:71; do
  parity_zone "${z%%:*}" <<EOF
@ MX 10 mx.${z%%:*}.test.
mx A $SMTP_NET.${z#*:}
mx AAAA $V6_PREFIX::${z#*:}
$(tlsa_rr "mx.${z%%:*}.test." "${TLSA[${z%%:*}]}")
EOF
done
# cnameout: secure CNAME from the MX host name into the unsigned zone plain.test; TLSA at the
# original name (RFC 7672 2.2.2, Postfix qname_secure). plain.test has a decoy TLSA at the
# target name (insecure: never used).
parity_zone cnameout <<EOF
@ MX 10 mx.cnameout.test.
mx CNAME mx.plain.test.
$(tlsa_rr mx.cnameout.test. "${TLSA[cnameout]}")
EOF
parity_zone plain <<EOF
mx A $SMTP_NET.72
$(tlsa_rr mx.plain.test. "${TLSA[parity_decoy]}")
EOF
cp "$ZONES/plain.test.zone" "$ZONES/plain.test.zone.signed"
DS_OF[plain]=""
# wildnsec / wildnsec3: one wildcard owner holds MX, A and TLSA, so for ANY.wildnsec.test the MX
# (-> host.wildnsec.test), the host's A and _PORT._tcp.host.wildnsec.test's TLSA are all
# synthesised (the host's AAAA is a wildcard NODATA). NSEC, and NSEC3 without iterations.
for z in wildnsec:73 wildnsec3:74; do
  parity_zone "${z%%:*}" <<EOF
* MX 10 host.${z%%:*}.test.
* A $SMTP_NET.${z#*:}
* $TTL IN TLSA ${TLSA[${z%%:*}]}
EOF
done
# optout: NSEC3 opt-out parent optout.test (signed; its own mx with TLSA) with an unsigned child
# child.optout.test (NS, no DS: the opt-out NSEC3 proves the insecure delegation). The child's
# TLSA names the decoy key: insecure, must be ignored.
parity_zone optout <<EOF
@ MX 10 mx.optout.test.
mx A $SMTP_NET.75
$(tlsa_rr mx.optout.test. "${TLSA[optout]}")
child NS ns.test.
EOF
{
  zone_head child.optout.test.
  echo "@ MX 10 mx.child.optout.test."
  echo "mx A $SMTP_NET.75"
  tlsa_rr mx.child.optout.test. "${TLSA[parity_decoy]}"
} >"$ZONES/child.optout.test.zone"
cp "$ZONES/child.optout.test.zone" "$ZONES/child.optout.test.zone.signed"
SUBCUTS+=("child.optout.test.")
# iter200: NSEC3 with 200 extra iterations (above RFC 9276 and unbound 1.17's limit of 150):
# positive answers stay secure, every NSEC3 denial is insecure. iter200.test: mx with TLSA (its
# AAAA NODATA is insecure); sub.iter200.test: MX -> mx2 without TLSA (insecure NXDOMAIN).
parity_zone iter200 <<EOF
@ MX 10 mx.iter200.test.
mx A $SMTP_NET.76
$(tlsa_rr mx.iter200.test. "${TLSA[iter200]}")
sub MX 10 mx2.iter200.test.
mx2 A $SMTP_NET.76
EOF
# alg200: signed with ECDSA P-256, then the DNSKEY's and RRSIGs' algorithm field rewritten to 200
# (unassigned) and the DS in test. computed for that DNSKEY (below): a DS RRset with only
# unsupported algorithms makes the zone insecure (RFC 4035 5.2), not bogus. TLSA matches.
simple_zone alg200 77 alg200
# ed448: signed with Ed448 (algorithm 16; unbound 1.17 with OpenSSL 3 validates it).
simple_zone ed448 78 ed448
# unusable2: only unusable records (Postfix: "encrypt", mandatory TLS without authentication).
# Usages 2/3 with digest lengths that do not fit (31 bytes for SHA-256, 32 for SHA-512, 33), a
# malformed 3 1 0, unknown selector 2, unknown matching type 3 and unknown usage 4; the last
# three carry the served key's correct SHA-256: a client ignoring the unknown field would match.
# In tlsa.txt as unusable2_sha256_31, ..._sha512_32, ..._ta_33, ..._full_bad, ..._selector2,
# ..._mtype3, ..._usage4.
u2=${TLSA[unusable2]##* }
U2_RDATA=("sha256_31 3 1 1 ${u2:0:62}" "sha512_32 3 1 2 $u2" "ta_33 2 0 1 ${u2}ab"
  "full_bad 3 1 0 3059301306072a" "selector2 3 2 1 $u2" "mtype3 3 1 3 $u2" "usage4 4 1 1 $u2")
parity_zone unusable2 <<EOF
@ MX 10 mx.unusable2.test.
mx A $SMTP_NET.80
$(for rd in "${U2_RDATA[@]}"; do tlsa_rr mx.unusable2.test. "${rd#* }"; done)
EOF
for rd in "${U2_RDATA[@]}"; do echo "unusable2_$rd" >>"$RUNDIR/tlsa.txt"; done
sort -o "$RUNDIR/tlsa.txt" "$RUNDIR/tlsa.txt"

# --- signing: sign() per zone in parallel; DS records via files --------------------------------
sign_to() { local z=$1; shift; sign "$z.test." "$@" >"$ZONES/$z.test.ds"; }
for z in refused noroute6 silent greet4xx greet5xx onedown nowhere nullmx tls12cbc tlsrsakx \
  tlsdhe tlsp521 tls10 tlsv1cert tlsrsa1024 tlscritext tlspss slowgreet aaaabogus aaaaexpired \
  cnameout wildnsec unusable2 alg200; do
  bg sign_to "$z"
done
bg sign_to wildnsec3 "${VALID[@]}" -n -t 0
bg sign_to optout "${VALID[@]}" -n -p -t 0
# ldns-signzone warns about iterations above 100: that is the point here.
sign_iter200() {
  sign_to iter200 "${VALID[@]}" -n -t 200 2> >(grep -v -e 'NSEC3 iterations larger than 100' -e 'nsec3-guidance' >&2)
}
bg sign_iter200
ed448_sign() {
  local key
  key=$(cd "$KEYS" && ldns-keygen -a ED448 -k ed448.test.)
  ldns-signzone "${VALID[@]}" -f "$ZONES/ed448.test.zone.signed" "$ZONES/ed448.test.zone" "$KEYS/$key"
  echo "$key " >"$ZONES/ed448.test.zone.resign"
  ldns-key2ds -n -2 "$KEYS/$key.key" >"$ZONES/ed448.test.ds"
}
bg ed448_sign
bg_wait
for z in refused noroute6 silent greet4xx greet5xx onedown nowhere nullmx tls12cbc tlsrsakx \
  tlsdhe tlsp521 tls10 tlsv1cert tlsrsa1024 tlscritext tlspss slowgreet aaaabogus aaaaexpired \
  cnameout wildnsec wildnsec3 optout iter200 unusable2 ed448; do
  DS_OF[$z]=$(<"$ZONES/$z.test.ds")
  [[ -n ${DS_OF[$z]} ]]
done

# Breakage after signing (re-signing would repair it: no .resign file for set-tlsa.sh).
sed -i -E "/\sAAAA\s+$V6_PREFIX::70\$/ s/::70\$/::7a/" "$ZONES/aaaabogus.test.zone.signed"
grep -qP "\sAAAA\s+$V6_PREFIX::7a$" "$ZONES/aaaabogus.test.zone.signed"
read -r aaaaexpired_key _ <"$ZONES/aaaaexpired.test.zone.resign"
ldns-signzone "${EXPIRED[@]}" -f "$ZONES/aaaaexpired.test.zone.expired" \
  "$ZONES/aaaaexpired.test.zone" "$KEYS/$aaaaexpired_key"
{
  grep -vP '\sRRSIG\s+AAAA\s' "$ZONES/aaaaexpired.test.zone.signed"
  grep -P '\sRRSIG\s+AAAA\s' "$ZONES/aaaaexpired.test.zone.expired"
} >"$ZONES/aaaaexpired.test.zone.spliced"
mv "$ZONES/aaaaexpired.test.zone.spliced" "$ZONES/aaaaexpired.test.zone.signed"
[[ $(grep -cP '\sRRSIG\s+AAAA\s' "$ZONES/aaaaexpired.test.zone.signed") -eq 1 ]]
read -r alg200_key _ <"$ZONES/alg200.test.zone.resign"
alg200_tag=$(grep -oP 'id = \K[0-9]+' "$KEYS/$alg200_key.key")
sed -E 's/(DNSKEY\s+257\s+3\s+)13\s/\1200 /; s/\s*;.*$//' "$KEYS/$alg200_key.key" >"$KEYS/alg200-rewritten.key"
DS_OF[alg200]=$(ldns-key2ds -n -2 "$KEYS/alg200-rewritten.key")
alg200_newtag=$(awk '{ print $5 }' <<<"${DS_OF[alg200]}")
sed -i -E -e 's/(\sDNSKEY\s+257\s+3\s+)13\s/\1200 /' \
  -e "s/(\sRRSIG\s+[A-Z0-9]+\s+)13(\s+[0-9]+\s+[0-9]+\s+[0-9]+\s+[0-9]+\s+)$alg200_tag\s/\\1200\\2$alg200_newtag /" \
  "$ZONES/alg200.test.zone.signed"
if grep -qP '\s(DNSKEY\s+257\s+3|RRSIG\s+\S+)\s+13\s' "$ZONES/alg200.test.zone.signed"; then false; fi
rm "$ZONES/aaaabogus.test.zone.resign" "$ZONES/aaaaexpired.test.zone.resign" "$ZONES/alg200.test.zone.resign"
# set-tlsa.sh checks each TLSA owner by name; a wildcard owner cannot be queried as such.
rm "$ZONES/wildnsec.test.zone.resign" "$ZONES/wildnsec3.test.zone.resign"
# END parity block (zones, certificates; listeners go into master.cf below, relay.py after Postfix)
# ---------------------------------------------------------------------------------------------

# test.: delegations (NS + DS, or NS only for the insecure child).
{
  zone_head test.
  echo "ns A 127.0.0.1"
  for c in "${CHILDREN[@]}"; do
    echo "$c NS ns.test."
    if [[ -n ${DS_OF[$c]} ]]; then echo "${DS_OF[$c]}"; fi
  done
} >"$ZONES/test.zone"
test_ds=$(sign test.)

# The private root. ns.test. glue points at NSD; unbound uses stub-addr with the port anyway.
{
  zone_head .
  echo "test. NS ns.test."
  echo "ns.test. A 127.0.0.1"
  echo "$test_ds"
} >"$ZONES/root.zone"
root_ds=$(sign .)
echo "$root_ds" >"$RUNDIR/root.ds"
# The private root's DNSKEY as a trust anchor for validate mode: zone-file lines with a TTL, no
# ldns comments (hickory's TrustAnchors::from_file wants plain DNSKEY records).
grep -P '^\.\s+\d+\s+IN\s+DNSKEY\s' "$ZONES/root.zone.signed" | sed 's/\s*;.*$//' >"$RUNDIR/root.dnskey"
[[ -s $RUNDIR/root.dnskey ]]

ALL_ZONES=(. test.)
for c in "${CHILDREN[@]}"; do ALL_ZONES+=("$c.test."); done
ALL_ZONES+=("${SUBCUTS[@]}")

zonefile_of() { if [[ $1 == "." ]]; then echo root.zone.signed; else echo "${1%.}.zone.signed"; fi; }

# ---------------------------------------------------------------------------------------------
# NSD: everything under RUNDIR, no privilege drop (nothing to protect in a test). Remote control
# on a unix socket (no TLS keys needed, unlike a TCP control port): set-tlsa.sh reloads one zone
# with `nsd-control -c NSD_CONFIG reload ZONE`.
# ---------------------------------------------------------------------------------------------
NSD_CONF=$RUNDIR/nsd/nsd.conf
{
  cat <<EOF
server:
  ip-address: 127.0.0.1
  port: $NSD_PORT
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$ZONES"
  database: ""
  pidfile: "$RUNDIR/nsd/nsd.pid"
  logfile: "$RUNDIR/nsd/nsd.log"
  xfrdfile: "$RUNDIR/nsd/xfrd.state"
  xfrdir: "$RUNDIR/nsd"
  zonelistfile: "$RUNDIR/nsd/zone.list"
  server-count: 1
  reuseport: no
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: yes
  control-interface: "$RUNDIR/nsd/control.sock"
EOF
  for z in "${ALL_ZONES[@]}"; do
    printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$z" "$(zonefile_of "$z")"
  done
} >"$NSD_CONF"
nsd-checkconf "$NSD_CONF"
nsd -c "$NSD_CONF"

# ---------------------------------------------------------------------------------------------
# BEGIN ops7dns block: the lagging secondary for lag.test. (see the zones block above), a second
# NSD on 127.0.0.2, same port (NS records carry no port: authoritative_port covers both).
# ---------------------------------------------------------------------------------------------
NSD2_CONF=$RUNDIR/nsd2/nsd.conf
cat >"$NSD2_CONF" <<NSD2
server:
  ip-address: 127.0.0.2
  port: $NSD_PORT
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$RUNDIR/nsd2/zones"
  database: ""
  pidfile: "$RUNDIR/nsd2/nsd.pid"
  logfile: "$RUNDIR/nsd2/nsd.log"
  xfrdfile: "$RUNDIR/nsd2/xfrd.state"
  xfrdir: "$RUNDIR/nsd2"
  zonelistfile: "$RUNDIR/nsd2/zone.list"
  server-count: 1
  reuseport: no
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: yes
  control-interface: "$RUNDIR/nsd2/control.sock"
zone:
  name: "lag.test."
  zonefile: "lag.test.zone.signed"
NSD2
nsd-checkconf "$NSD2_CONF"
nsd -c "$NSD2_CONF"
# END ops7dns block (secondary NSD)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# unbound: validating, talks to 127.0.0.1:$NSD_PORT only.
# ---------------------------------------------------------------------------------------------
UB_CONF=$RUNDIR/unbound/unbound.conf
{
  cat <<EOF
server:
  interface: 127.0.0.1
  port: $UNBOUND_PORT
  outgoing-interface: 127.0.0.1
  do-ip6: no
  # NSD lives on localhost; unbound refuses to query it by default.
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  username: ""
  chroot: ""
  directory: "$RUNDIR/unbound"
  pidfile: "$RUNDIR/unbound/unbound.pid"
  logfile: "$RUNDIR/unbound/unbound.log"
  use-syslog: no
  verbosity: 1
  val-log-level: 2
  num-threads: 1
  so-reuseport: no
  # The private root's DS is the only trust anchor (no auto-trust-anchor / root.key).
  trust-anchor-file: "$RUNDIR/root.ds"
  # test. is an RFC 6761 special-use name unbound answers itself by default.
  local-zone: "test." nodefault
  # Extended DNS Errors (RFC 8914) on SERVFAIL: the exporter reports them.
  ede: yes
  module-config: "validator iterator"
  qname-minimisation: yes
  prefetch: no
# Remote control on a unix socket without certificates: set-tlsa.sh flushes a changed zone from
# the cache (unbound-control -c UNBOUND_CONFIG flush_zone ZONE).
remote-control:
  control-enable: yes
  control-interface: "$RUNDIR/unbound/control.sock"
  control-use-cert: no
EOF
  # NS records say ns.test. (port 53): every zone cut needs a stub with the real port. The stub
  # for "." replaces the built-in root hints (a root-hints file as well makes unbound ignore the
  # stub: "second hints for zone ."), so unbound never knows the real root servers.
  for z in "${ALL_ZONES[@]}"; do
    printf 'stub-zone:\n  name: "%s"\n  stub-addr: 127.0.0.1@%s\n' "$z" "$NSD_PORT"
  done
} >"$UB_CONF"
unbound-checkconf "$UB_CONF" >/dev/null
unbound -c "$UB_CONF"

# ---------------------------------------------------------------------------------------------
# Postfix: one private instance; smtpd only (it never accepts mail, relay/recipients rejected).
# ---------------------------------------------------------------------------------------------
PF=$RUNDIR/postfix
PF_ETC=$PF/etc
cat >"$PF_ETC/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = stack.test
mydomain = test
myorigin = stack.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
relayhost =
inet_interfaces = loopback-only
inet_protocols = ipv4, ipv6
smtputf8_enable = no
biff = no
# Log to a file in RUNDIR (no syslog here); Postfix only allows listed prefixes.
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
# A TLS endpoint for probes, not a mail server: refuse every transaction.
smtpd_relay_restrictions = reject
smtpd_recipient_restrictions = reject
smtpd_tls_loglevel = 1
smtpd_tls_security_level = none
EOF

# listener ADDR CHAIN_NAME|"" : one smtpd. CHAIN_NAME.key + CHAIN_NAME.chain (or .pem) in $CERTS;
# empty name = no STARTTLS.
listener() {
  local addr=$1 name=$2 chain
  if [[ -z $name ]]; then
    printf '%s:%s inet n - n - - smtpd\n  -o syslog_name=postfix/notls\n  -o smtpd_tls_security_level=none\n' \
      "$addr" "$SMTP_PORT"
    return
  fi
  chain=$CERTS/$name.chain
  [[ -e $chain ]] || chain=$CERTS/$name.pem
  printf '%s:%s inet n - n - - smtpd\n  -o syslog_name=postfix/%s\n  -o smtpd_tls_security_level=may\n  -o smtpd_tls_chain_files=%s,%s\n' \
    "$addr" "$SMTP_PORT" "$name" "$CERTS/$name.key" "$chain"
}

# Address plan: one listener per certificate; see also the zones above.
ADDRS=()
{
  echo "# service type private unpriv chroot wakeup maxproc command"
  while read -r suffix name; do
    if [[ $suffix == v6 ]]; then addr="[::1]"; else addr="$SMTP_NET.$suffix"; fi
    ADDRS+=("$addr")
    listener "$addr" "$name"
  done <<EOF
1 ok311
2 ok301
3 tagood
4 tabadname
5 stale
6 twomx1
7 twomx2
8
9 bogus
10 insecure
11 notlsa
12 notlsa3
13 cname
14 otherkey
15 expiredsig
16 nsec3ok
17 nomx
18 unusable
v6 otherkey_v6
EOF
  # Listeners of the added scenario blocks above (each entry: a whole master.cf service).
  for entry in "${EXTRA_LISTENERS[@]}"; do
    printf '%s\n' "$entry"
    ADDRS+=("${entry%%:*}")
  done
  # The parity block's listeners that greet with 421/554 (not in ADDRS: no 220 banner).
  for entry in "${ODD_LISTENERS[@]}"; do printf '%s\n' "$entry"; done
  # The services block's implicit-TLS submission listener (not in ADDRS: no plaintext banner).
  for entry in "${SVC_LISTENERS[@]}"; do printf '%s\n' "$entry"; done
  # The internal services smtpd may talk to (connection limits, TLS PRNG/session cache, logging,
  # address rewriting); no delivery agents, nothing that reaches out.
  cat <<'EOF'
anvil     unix  -       -       n       -       1       anvil
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
proxymap  unix  -       -       n       -       -       proxymap
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
} >"$PF_ETC/master.cf"
chown root:root "$PF_ETC" "$PF/spool"
chown postfix:postfix "$PF/data"
postfix -c "$PF_ETC" check
postfix -c "$PF_ETC" start

# MTA-STS policy host (see the MTA-STS block above); daemonizes, stopped by down.sh via its PID file.
nginx -p "$RUNDIR/nginx" -c "$RUNDIR/nginx/nginx.conf"

# Parity block: relay.py (silent listener, greeting delay) in its own session, stdio to its log
# (an inherited pipe would keep the caller's output capture open); down.sh stops it by PID.
mkdir -p "$RUNDIR/relay"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
setsid "$PY" "$HERE/relay.py" "${RELAY_SPECS[@]}" </dev/null >>"$RUNDIR/relay/relay.log" 2>&1 &
echo $! >"$RUNDIR/relay/relay.pid"

# ---------------------------------------------------------------------------------------------
# Readiness: each daemon must actually answer before we hand the stack over.
# ---------------------------------------------------------------------------------------------
wait_for() { # DESCRIPTION COMMAND...: retries for ~10 s
  local what=$1 i
  shift
  for ((i = 0; i < 100; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "up.sh: $what not ready after 10 s" >&2
  return 1
}
dig_ok() { dig +time=1 +tries=1 "$@" | grep -q 'status: NOERROR'; }
smtp_banner() { # ADDR [CODE]: reads the greeting, CODE (default 220)
  local host=${1#[} port=$SMTP_PORT
  host=${host%]}
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && head -c 4 <&3 | grep -q "^$2"' "$host" "$port" "${2:-220}"
}
wait_for "NSD" dig_ok @127.0.0.1 -p "$NSD_PORT" SOA test.
wait_for "NSD (ops7dns secondary)" dig_ok @127.0.0.2 -p "$NSD_PORT" SOA lag.test.
# The AD bit on the root SOA via unbound proves the whole anchor -> root chain works.
wait_for "unbound" bash -c "dig +time=1 +tries=1 +dnssec @127.0.0.1 -p $UNBOUND_PORT SOA test. | grep -q 'flags:.* ad'"
# All listeners at once (bg/bg_wait: the parity block): each first connection makes master(8)
# start an smtpd, and these starts overlap.
for a in "${ADDRS[@]}"; do bg wait_for "smtpd on $a:$SMTP_PORT" smtp_banner "$a"; done
# Parity block: the 421/554 greeters, and relay.py's listeners (a TCP connect; the delayed one's
# banner would take STACK_GREET_DELAY s).
for b in "${ODD_BANNERS[@]}"; do bg wait_for "smtpd on ${b% *}:$SMTP_PORT (greets ${b#* })" smtp_banner "${b% *}" "${b#* }"; done
for spec in "${RELAY_SPECS[@]}"; do
  a=${spec#*:} a=${a%%:*}
  bg wait_for "relay.py on $a:$SMTP_PORT" timeout 2 bash -c "exec 3<>/dev/tcp/$a/$SMTP_PORT"
done
bg_wait
wait_for "nginx on 127.0.0.1:$HTTPS_PORT" timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HTTPS_PORT"
for a in "$SMTP_NET.43" "$SMTP_NET.44"; do # services block: nginx HTTPS, Postfix wrappermode
  wait_for "TLS service on $a:$SMTP_PORT" timeout 2 bash -c "exec 3<>/dev/tcp/$a/$SMTP_PORT"
done

# Watchdog: with STACK_OWNER_PID set (the Rust test sets its own PID), the stack is stopped as soon
# as that process is gone, even if it was killed before its Drop guard could run down.sh. Its stdio
# goes to a file: an inherited pipe would keep the caller's output capture open forever.
if [[ -n ${STACK_OWNER_PID:-} ]]; then
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'while kill -0 "$0" 2>/dev/null && [[ -e $1/env ]]; do sleep 1; done
    if [[ -e $1/env ]]; then "$2" "$1"; fi' "$STACK_OWNER_PID" "$RUNDIR" "$HERE/down.sh" \
    </dev/null >"$RUNDIR/watchdog.log" 2>&1 &
  echo $! >"$RUNDIR/watchdog.pid"
fi

cat >"$RUNDIR/env" <<EOF
RUNDIR=$RUNDIR
RESOLVER=127.0.0.1:$UNBOUND_PORT
AUTH=127.0.0.1:$NSD_PORT
SMTP_PORT=$SMTP_PORT
SMTP_NET=$SMTP_NET
TRUST_ANCHOR=$RUNDIR/root.dnskey
TRUST_ANCHOR_DS=$RUNDIR/root.ds
TLSA_RECORDS=$RUNDIR/tlsa.txt
NSD_PID_FILE=$RUNDIR/nsd/nsd.pid
UNBOUND_PID_FILE=$RUNDIR/unbound/unbound.pid
POSTFIX_CONFIG=$PF_ETC
POSTFIX_PID_FILE=$PF/spool/pid/master.pid
NSD_CONFIG=$NSD_CONF
UNBOUND_CONFIG=$UB_CONF
STACK_TTL=$TTL
HTTPS_PORT=$HTTPS_PORT
MTA_STS_CA=$CERTS/ca.pem
NGINX_PID_FILE=$RUNDIR/nginx/nginx.pid
NSD2_CONFIG=$NSD2_CONF
V6_UNROUTABLE=$V6_DEAD
V6_UNROUTABLE_PREFIX=$V6_PREFIX::/64
GREET_DELAY=$GREET_DELAY
RELAY_PID_FILE=$RUNDIR/relay/relay.pid
EOF
trap - ERR
