#!/usr/bin/env bash
# Delivers one probe message per domain with a real Postfix 3.7 SMTP client (smtp(8), not
# posttls-finger) at smtp_tls_security_level = dane against a running stack (tests/stack/up.sh
# RUNDIR), and prints what Postfix did with it: one line per domain with the final status of the
# first delivery attempt (sent / bounced / deferred) and the log lines that explain it.
#
# Usage: postfix-client.sh RUNDIR [DOMAIN...]   (default: the parity block's domains)
#
# The stack's listeners refuse every recipient (smtpd_recipient_restrictions = reject), so a
# message that reached a server over acceptable TLS ends "bounced" with "Recipient address
# rejected": that is Postfix *delivering* (it got to RCPT TO). "deferred" = Postfix would keep
# the mail queued; "bounced" without a server reply (e.g. null MX) = Postfix refuses it.
#
# A private Postfix instance in RUNDIR/pfclient (no listener, only pickup/qmgr/smtp and
# friends), Postfix defaults except: smtp_tls_security_level = dane, smtp_dns_support_level =
# dnssec, smtp_tcp_port = the stack's SMTP port, smtp_helo_timeout = $PFCLIENT_HELO_TIMEOUT
# (default 10s instead of 300s, so that the silent server costs seconds), no connection cache.
# Like posttls-finger in crosscheck.sh it uses the system resolver: a copy of the stack's unbound
# on 127.54.X.Y:53 and the instance runs in a private mount namespace whose /etc/resolv.conf
# points there. Everything it started is stopped again on exit. Exit 0 unless setup fails.
set -euo pipefail
shopt -s inherit_errexit

if [[ $# -lt 1 ]]; then
  echo "usage: $0 RUNDIR [DOMAIN...]" >&2
  exit 2
fi
RUNDIR=$(cd "$1" && pwd)
shift
# shellcheck source=/dev/null
source "$RUNDIR/env"
DOMAINS=("$@")
if ((${#DOMAINS[@]} == 0)); then
  DOMAINS=(refused.test noroute6.test silent.test greet4xx.test greet5xx.test onedown.test
    nowhere.test nullmx.test twomx.test tls12cbc.test tlsrsakx.test tlsdhe.test tlsp521.test
    tls10.test tlsv1cert.test tlsrsa1024.test tlscritext.test tlspss.test aaaabogus.test
    aaaaexpired.test cnameout.test any.wildnsec.test any.wildnsec3.test child.optout.test
    iter200.test sub.iter200.test alg200.test ed448.test unusable.test unusable2.test
    slowgreet.test)
fi
HELO_TIMEOUT=${PFCLIENT_HELO_TIMEOUT:-10s}
UB_PORT=${RESOLVER##*:}
C=$RUNDIR/pfclient
rm -rf "$C"
mkdir -p "$C/etc" "$C/spool" "$C/data"
chmod 755 "$C"

# The resolver on port 53 (a copy of the stack's unbound, its own address).
# shellcheck source=tests/stack/resolver53.sh
source "$(dirname "${BASH_SOURCE[0]}")/resolver53.sh"
UB53_ADDR=127.54.$((UB_PORT >> 8)).$((UB_PORT & 255))
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  postfix -c "$C/etc" stop >/dev/null 2>&1 || true
  local pid
  pid=$(tr -dc '0-9' <"$C/spool/pid/master.pid" 2>/dev/null || true)
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      [[ $(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) =~ ^(Z|)$ ]] && break
      sleep 0.05
    done
  fi
  resolver53_stop "$C/ub53"
}
trap cleanup EXIT
resolver53_start "$RUNDIR" "$C/ub53" "$UB53_ADDR"

cat >"$C/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $C/spool
data_directory = $C/data
mail_owner = postfix
setgid_group = postdrop
myhostname = client.stack.test
mydomain = stack.test
myorigin = client.stack.test
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
relayhost =
inet_interfaces = loopback-only
inet_protocols = all
maillog_file = $C/maillog
maillog_file_prefixes = $C
smtputf8_enable = no
biff = no
default_transport = smtp
smtp_tcp_port = $SMTP_PORT
smtp_tls_security_level = dane
smtp_dns_support_level = dnssec
smtp_tls_loglevel = 1
smtp_helo_timeout = $HELO_TIMEOUT
smtp_connection_cache_on_demand = no
# A deferred probe is not retried: one attempt is what we report.
maximal_queue_lifetime = 1d
EOF
cat >"$C/etc/master.cf" <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
chown root:root "$C/etc" "$C/spool"
chown postfix:postfix "$C/data"
# master(8) and every smtp(8) it starts live in the private mount namespace.
# shellcheck disable=SC2016 # expanded by the inner sh
unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && postfix -c "$2" start' sh "$C/ub53/resolv.conf" "$C/etc" \
  >/dev/null 2>&1

for d in "${DOMAINS[@]}"; do
  printf 'From: <>\nTo: <probe@%s>\nSubject: probe %s\nMessage-ID: <%s@probe.stack.test>\n\nprobe\n' "$d" "$d" "$d" |
    sendmail -C "$C/etc" -f '' "probe@$d"
done

# qid_of DOMAIN: the queue ID cleanup(8) logged for the probe's Message-ID.
# (Never fails: under pipefail, a grep without match would end the script.)
qid_of() {
  local q
  q=$(grep -oP "\]: \K[0-9A-F]+(?=: message-id=<\Q$1\E\@probe\.stack\.test>)" "$C/maillog" 2>/dev/null || true)
  echo "${q%%$'\n'*}"
}
# Wait until every probe has a status (sent, bounced, deferred) from its first attempt.
deadline=$((SECONDS + ${HELO_TIMEOUT%s} * 2 + 60))
while ((SECONDS < deadline)); do
  pending=0
  for d in "${DOMAINS[@]}"; do
    q=$(qid_of "$d")
    if [[ -z $q ]] || ! grep -qE "]: $q: to=<probe@.*status=" "$C/maillog"; then pending=1; break; fi
  done
  ((pending)) || break
  sleep 0.5
done

# The smtp(8) lines of one delivery: lines of the same smtp PID up to (and including) the
# "QID: to=... status=" line, after that PID's previous delivery.
for d in "${DOMAINS[@]}"; do
  q=$(qid_of "$d")
  if [[ -z $q ]]; then
    printf '%-22s %s\n' "$d" "NO QUEUE ID (not submitted?)"
    continue
  fi
  status=$(grep -oP "]: $q: to=<probe@[^>]+>.*status=\K[a-z]+( \(.*\))?" "$C/maillog" | head -n 1 || true)
  printf '%-22s %s\n' "$d" "${status:-no status after waiting}"
  awk -v q="$q" '
    match($0, /postfix\/smtp\[[0-9]+\]: /) {
      pid = substr($0, RSTART, RLENGTH)
      line = substr($0, RSTART + RLENGTH)
      buf[pid] = buf[pid] "    " line "\n"
      if (index(line, q ": ") == 1 && line ~ /status=/) { printf "%s", buf[pid]; buf[pid] = "" }
      else if (line ~ /^[0-9A-F]+: to=</) { buf[pid] = "" }
    }' "$C/maillog" | grep -v -e ': to=<' -e 'subject_CN=' -e 'Matched DANE' || true
done
