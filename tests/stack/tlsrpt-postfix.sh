#!/usr/bin/env bash
# A private Postfix instance that delivers TLS-RPT report mail into `dane_exporter tlsrpt ingest`
# through a pipe(8) transport, as README "TLS-RPT reports" tells users to set it up.
#
#   tlsrpt-postfix.sh up DIR PORT DANE_EXPORTER CONFIG STORAGE
#   tlsrpt-postfix.sh down DIR
#
# `up` accepts mail for tlsrpt@reports.test from 127.0.0.0/8 on 127.0.0.1:PORT; every message for
# reports.test goes through Postfix's queue to the `tlsrpt` pipe transport, which runs (as nobody,
# pipe(8) refuses root) a copy of DANE_EXPORTER in DIR with --config.file=CONFIG and
# --storage.path=STORAGE (which must be writable by nobody). Nothing is relayed: other domains are
# refused, and bounces go to the error transport. Logs go to DIR/maillog. Must run as root.
set -euo pipefail

cmd=${1:-}
case $cmd in
up) [[ $# -eq 6 ]] || { echo "usage: $0 up DIR PORT DANE_EXPORTER CONFIG STORAGE" >&2; exit 2; } ;;
down) [[ $# -eq 2 ]] || { echo "usage: $0 down DIR" >&2; exit 2; } ;;
*) echo "usage: $0 up|down DIR ..." >&2; exit 2 ;;
esac
mkdir -p "$2"
DIR=$(cd "$2" && pwd)

if [[ $cmd == down ]]; then
  [[ -f $DIR/etc/main.cf ]] || exit 0
  postfix -c "$DIR/etc" stop >/dev/null 2>&1 || true
  pid_file=$DIR/spool/pid/master.pid
  if [[ -s $pid_file ]]; then
    pid=$(tr -dc '0-9' <"$pid_file")
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || exit 0
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  exit 0
fi

PORT=$3 BIN=$4 CONFIG=$5 STORAGE=$6
# Postfix chdirs into its queue as user postfix, and pipe(8) runs the command as nobody.
chmod 755 "$DIR"
mkdir -p "$DIR/etc" "$DIR/spool" "$DIR/data" "$DIR/bin"
install -m 755 "$BIN" "$DIR/bin/dane_exporter"

cat >"$DIR/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $DIR/spool
data_directory = $DIR/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.reports.test
mydomain = reports.test
myorigin = reports.test
mydestination = reports.test
alias_maps =
alias_database =
local_recipient_maps =
# Every message for reports.test goes to the TLS-RPT pipe, one recipient per delivery.
local_transport = tlsrpt:
tlsrpt_destination_recipient_limit = 1
default_transport = error:this instance delivers TLS-RPT reports only
relayhost =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtputf8_enable = no
biff = no
maillog_file = $DIR/maillog
maillog_file_prefixes = $DIR
CF

cat >"$DIR/etc/master.cf" <<CF
127.0.0.1:$PORT inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsrpt    unix  -       n       n       -       -       pipe
  user=nobody argv=$DIR/bin/dane_exporter --config.file=$CONFIG --storage.path=$STORAGE tlsrpt ingest -
CF
chown root:root "$DIR/etc" "$DIR/spool"
chown postfix:postfix "$DIR/data"
postfix -c "$DIR/etc" check
postfix -c "$DIR/etc" start
