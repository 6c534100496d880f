#!/usr/bin/env bash
# Makes the committed seed corpora in fuzz/seeds/<target>/ (run once; the output is committed so
# every fuzz run starts from the same real inputs). Needs openssl and python3.
#
# Certificates are real X.509 made by openssl: an EC P-256 root, an RSA-2048 intermediate, leaves
# with EC P-256, P-384, RSA-2048 (chained), Ed25519 and Ed448 keys, wildcard and CN-only names.
# DNS messages are wire-format answers as a validating resolver sends them (AD, EDNS with DO,
# RRSIGs, CNAME chains, compression, SERVFAIL with Extended DNS Errors, NXDOMAIN with SOA).
# Other targets get SMTP server dialogues, TLSA presentation text, EDE option data and the
# repository's example and fixture configuration files.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf certificate evaluate_endpoint smtp_reply tlsa_text ede dns_message config web_config
mkdir -p certificate evaluate_endpoint smtp_reply tlsa_text ede dns_message config web_config

# --- certificates ----------------------------------------------------------------------------
cd "$work"
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
    -subj "/CN=Fuzz Root CA" -days 3650 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign -out root.pem
ossl req -new -newkey rsa:2048 -nodes -keyout inter.key -subj "/O=Fuzz/CN=Fuzz Intermediate" \
    -out inter.csr
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca.ext
ossl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -days 1825 \
    -extfile ca.ext -out inter.pem
leaf() { # name "openssl -newkey arguments" san-or-empty signer(self|inter)
    local name=$1 san=$3 signer=$4
    local key
    read -ra key <<<"$2"
    local ext=(-addext "extendedKeyUsage=serverAuth")
    [ -n "$san" ] && ext+=(-addext "subjectAltName=$san")
    if [ "$signer" = self ]; then
        ossl req -x509 -newkey "${key[@]}" -nodes -keyout "$name.key" -subj "/CN=mx.example.com" \
            -days 90 "${ext[@]}" -out "$name.pem"
    else
        ossl req -new -newkey "${key[@]}" -nodes -keyout "$name.key" -subj "/CN=mx.example.com" \
            -out "$name.csr"
        printf 'extendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" >"$name.ext"
        ossl x509 -req -in "$name.csr" -CA inter.pem -CAkey inter.key -CAcreateserial -days 90 \
            -extfile "$name.ext" -out "$name.pem"
    fi
}
leaf leaf-ec "ec -pkeyopt ec_paramgen_curve:P-256" "DNS:mx.example.com,DNS:example.com" inter
leaf leaf-rsa rsa:2048 "DNS:mx.example.com" inter
leaf leaf-p384 "ec -pkeyopt ec_paramgen_curve:P-384" "DNS:*.example.com" self
leaf leaf-ed25519 ed25519 "DNS:mx.example.com,IP:192.0.2.25" self
leaf leaf-ed448 ed448 "DNS:mail.example.net" self
leaf leaf-cn-only "ec -pkeyopt ec_paramgen_curve:P-256" "" self
for c in root inter leaf-ec leaf-rsa leaf-p384 leaf-ed25519 leaf-ed448 leaf-cn-only; do
    ossl x509 -in "$c.pem" -outform DER -out "$c.der"
    ossl x509 -in "$c.pem" -pubkey -noout | ossl pkey -pubin -outform DER -out "$c.spki"
    cp "$c.der" "$OLDPWD/certificate/$c.der"
done
cd "$OLDPWD"

# --- everything else, from the certificates above ---------------------------------------------
python3 - "$work" "$repo" <<'PY'
import hashlib, os, shutil, struct, sys, time

work, repo = sys.argv[1], sys.argv[2]
def read(name): return open(os.path.join(work, name), "rb").read()
def write(target, name, data):
    with open(os.path.join(target, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
sha256 = lambda b: hashlib.sha256(b).digest()
sha512 = lambda b: hashlib.sha512(b).digest()
now = int(time.time())

# evaluate_endpoint: 32-byte digest (3 1 1 and 2 0 1), 8-byte now, length-prefixed DER blobs;
# the last blob is also the data of 2 1 0 and 3 0 0.
def endpoint(digest, when, blobs):
    return digest + struct.pack(">q", when) + b"".join(struct.pack(">H", len(b)) + b for b in blobs)
leaf, leaf_rsa, inter, root = (read(n + ".der") for n in ("leaf-ec", "leaf-rsa", "inter", "root"))
cases = {
    "dane-ee-3-1-1-match": endpoint(sha256(read("leaf-ec.spki")), now, [leaf, inter, root]),
    "dane-ta-2-0-1-intermediate": endpoint(sha256(inter), now, [leaf, inter, root]),
    "dane-ta-2-0-1-root-sent": endpoint(sha256(root), now, [leaf_rsa, inter, root]),
    "dane-ee-3-0-0-leaf-only": endpoint(b"\0" * 32, now, [leaf]),
    "dane-ta-2-1-0-not-sent": endpoint(b"\1" * 32, now, [leaf_rsa, inter, read("root.spki")]),
    "mismatch-expired-now": endpoint(sha256(b"other key"), now + 10 * 365 * 86400, [leaf, inter]),
    "self-signed-ed25519": endpoint(sha256(read("leaf-ed25519.spki")), now, [read("leaf-ed25519.der")]),
    "self-signed-p384-wildcard": endpoint(sha256(read("leaf-p384.spki")), now, [read("leaf-p384.der")]),
}
for name, data in cases.items():
    write("evaluate_endpoint", name, data)

# tlsa_text: presentation forms a user types.
spki = read("leaf-ec.spki")
tlsa = {
    "3-1-1": f"3 1 1 {sha256(spki).hex()}",
    "3-1-2-upper": f"3 1 2 {sha512(spki).hex().upper()}",
    "2-0-1": f"2 0 1 {sha256(inter).hex()}",
    "2-1-0-spaced": "2 1 0 " + " ".join(read("root.spki").hex()[i:i + 56] for i in range(0, len(read("root.spki").hex()), 56)),
    "3-0-0-full": f"3 0 0 {leaf.hex()}",
    "1-1-1-pkix": f"1 1 1 {sha256(spki).hex()}",
    "3-1-1-short-digest": f"3 1 1 {sha256(spki).hex()[:40]}",
    "255-255-255-tabs": "255\t255\t255\tab",
}
for name, text in tlsa.items():
    write("tlsa_text", name, text)

# smtp_reply: first byte = bytes per read (0 = 4096), then what a server sends.
dialogues = {
    "postfix-starttls": (0, "220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n"
        "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
        "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
        "250 CHUNKING\r\n220 2.0.0 Ready to start TLS\r\n"),
    "exim-multiline-banner": (7, "220-mail.example.net ESMTP Exim 4.96\r\n220-No UCE\r\n"
        "220 Welcome\r\n250-mail.example.net Hello probe.test [192.0.2.1]\r\n250-SIZE 52428800\r\n"
        "250-PIPELINING\r\n250-STARTTLS\r\n250 HELP\r\n220 TLS go ahead\r\n"),
    "554-banner": (1, "554 5.3.2 mx.example.com Service unavailable\r\n221 2.0.0 Bye\r\n"),
    "bare-lf-and-454": (3, "220 mx ESMTP\n250-mx\n250 STARTTLS\n454 4.7.0 TLS not available due to local problem\n"),
    "starttls-injection": (0, "220 mx ESMTP\r\n250 STARTTLS\r\n220 go ahead\r\n250 injected\r\n"),
    "continuation-mismatch": (2, "220-mx\r\n250-mixed codes\r\n220 end\r\n"),
    "no-space-code-only": (5, "220\r\n250\r\n"),
    "utf8-text": (4, "220 mx.exämple ESMTP ✉\r\n250 SMTPUTF8\r\n"),
}
for name, (chunk, text) in dialogues.items():
    write("smtp_reply", name, bytes([chunk]) + text.encode())

# ede: EDNS option 15 data: 2-byte INFO-CODE, then EXTRA-TEXT.
edes = {
    "6-dnssec-bogus": struct.pack(">H", 6) + b"validation failure <_25._tcp.mx.example.com. TLSA IN>: signature crypto failed",
    "7-signature-expired": struct.pack(">H", 7) + b"signature expired",
    "9-dnskey-missing": struct.pack(">H", 9) + b"no DNSKEY matches DS",
    "22-no-reachable-authority": struct.pack(">H", 22),
    "unknown-code-utf8": struct.pack(">H", 4711) + "ünknown \x00 text".encode(),
}
for name, data in edes.items():
    write("ede", name, data)

# dns_message: wire-format responses.
def name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"
def rr(owner, rtype, rdata, ttl=300):
    return (owner if isinstance(owner, bytes) else name(owner)) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata
def rrsig(covered, signer, labels):
    return struct.pack(">HBBIIIH", covered, 13, labels, 300, now + 7 * 86400, now - 3600, 4711) + name(signer) + os.urandom(64)
OPT_DO = b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000, 0)
def opt(options=b""):
    return b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000, len(options)) + options
def message(qname, qtype, answers=(), authority=(), rcode=0, ad=True, additional=(OPT_DO,), tc=False):
    flags = 0x8180 | (0x20 if ad else 0) | (0x200 if tc else 0) | rcode
    head = struct.pack(">HHHHHH", 0x1234, flags, 1, len(answers), len(authority), len(additional))
    return head + name(qname) + struct.pack(">HH", qtype, 1) + b"".join(answers) + b"".join(authority) + b"".join(additional)
MX, A, AAAA, CNAME, SOA, TLSA, RRSIG, NSEC = 15, 1, 28, 5, 6, 52, 46, 47
soa = name("ns.example.com") + name("hostmaster.example.com") + struct.pack(">IIIII", 2026112801, 3600, 600, 86400, 300)
msgs = {
    "mx-signed": message("example.com", MX, [
        rr("example.com", MX, struct.pack(">H", 10) + name("mx.example.com")),
        rr("example.com", MX, struct.pack(">H", 20) + name("mx2.example.com")),
        rr("example.com", RRSIG, rrsig(MX, "example.com", 2))]),
    # The answer owner is a compression pointer to the question name (offset 12).
    "mx-compressed": message("example.com", MX, [
        rr(b"\xc0\x0c", MX, struct.pack(">H", 0) + b"\x02mx\xc0\x0c")]),
    "tlsa-two-records": message("_25._tcp.mx.example.com", TLSA, [
        rr("_25._tcp.mx.example.com", TLSA, bytes([3, 1, 1]) + sha256(spki)),
        rr("_25._tcp.mx.example.com", TLSA, bytes([2, 0, 1]) + sha256(inter)),
        rr("_25._tcp.mx.example.com", RRSIG, rrsig(TLSA, "example.com", 5))]),
    "tlsa-via-cname": message("_25._tcp.mx.example.com", TLSA, [
        rr("_25._tcp.mx.example.com", CNAME, name("_25._tcp.mail.example.net")),
        rr("_25._tcp.mail.example.net", TLSA, bytes([3, 0, 1]) + sha256(leaf))]),
    "a-cname-chain": message("mx.example.com", A, [
        rr("mx.example.com", CNAME, name("mail.example.net")),
        rr("mail.example.net", CNAME, name("smtp.example.org")),
        rr("smtp.example.org", A, bytes([192, 0, 2, 25])),
        rr("smtp.example.org", A, bytes([192, 0, 2, 26]))]),
    "aaaa": message("mx.example.com", AAAA, [
        rr("mx.example.com", AAAA, bytes.fromhex("20010db8000000000000000000000025"))]),
    "nodata-nsec": message("_25._tcp.mx.example.com", TLSA, [], [
        rr("example.com", SOA, soa),
        rr("_25._tcp.mx.example.com", NSEC, name("a._25._tcp.mx.example.com") + bytes([0, 6, 0x40, 0, 0, 0, 0, 3]))]),
    "nxdomain-soa": message("nope.example.com", MX, [], [rr("example.com", SOA, soa)], rcode=3),
    "servfail-ede-bogus": message("_25._tcp.mx.example.com", TLSA, [], rcode=2, ad=False,
        additional=[opt(struct.pack(">HH", 15, 2 + 13) + struct.pack(">H", 6) + b"DNSSEC Bogus!")]),
    "truncated": message("example.com", MX, [], ad=False, tc=True),
}
for label, data in msgs.items():
    write("dns_message", label, data)

# config and web_config: the example and every fixture (valid and invalid).
shutil.copy(os.path.join(repo, "examples/dane_exporter.yml"), "config/example.yml")
for kind, target in (("config", "config"), ("web", "web_config")):
    d = os.path.join(repo, "tests/fixtures", kind)
    for f in sorted(os.listdir(d)):
        if f.endswith(".yml"):
            shutil.copy(os.path.join(d, f), os.path.join(target, f))
PY
for t in */; do echo "${t%/}: $(ls "$t" | wc -l) seeds"; done

# --- local_cert_pem and mta_sts_policy (targets added later; derived from the files above) ------
rm -rf local_cert_pem mta_sts_policy
mkdir -p local_cert_pem mta_sts_policy
pem() { for der in "$@"; do openssl x509 -inform DER -in "certificate/$der.der"; done; }
pem leaf-ec inter root >local_cert_pem/fullchain-ec
pem leaf-rsa inter >local_cert_pem/chain-rsa
pem leaf-ed25519 >local_cert_pem/cert-ed25519
{ printf 'subject=/CN=mx.example.com\nissuer=/CN=Fuzz Intermediate\n'; pem leaf-p384; } >local_cert_pem/with-text-before
pem leaf-cn-only | sed 's/\r*$/\r/' >local_cert_pem/crlf
pem leaf-ed448 | head -c 300 >local_cert_pem/half-written
printf 'version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmx: *.mail.example.net\r\nmax_age: 604800\r\n' \
    >mta_sts_policy/enforce-crlf
printf 'version: STSv1\nmode: testing\nmx: mx1.example.org\nmx: mx2.example.org\nmax_age: 86400\n' \
    >mta_sts_policy/testing-lf
printf 'version: STSv1\nmode: none\nmax_age: 31557600\n' >mta_sts_policy/none
printf 'v=STSv1; id=20261128T120000;\nv=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://report.example.com/v1' \
    >mta_sts_policy/txt-records
echo "local_cert_pem: $(ls local_cert_pem | wc -l) seeds, mta_sts_policy: $(ls mta_sts_policy | wc -l) seeds"

# --- tlsrpt_report and tlsrpt_message (from tests/fixtures/tlsrpt/, the reports' own fixtures) ---
# tlsrpt_report: one byte choosing the media type (odd: gzip), then the body; tlsrpt_message: the
# report as senders mail it (multipart/report, base64 gzip part).
rm -rf tlsrpt_report tlsrpt_message
mkdir -p tlsrpt_report tlsrpt_message
fixtures=$repo/tests/fixtures/tlsrpt
for f in "$fixtures"/*.json; do
    name=$(basename "$f" .json)
    { printf '\x00'; cat "$f"; } >"tlsrpt_report/$name-json"
    { printf '\x01'; gzip -9nc "$f"; } >"tlsrpt_report/$name-gzip"
    {
        printf 'From: reports@sender.example\r\nTo: tlsrpt@example.org\r\n'
        printf 'Subject: Report Domain: example.org Submitter: sender.example Report-ID: <%s@sender.example>\r\n' "$name"
        printf 'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=tlsrpt; boundary="b"\r\n\r\n'
        printf -- '--b\r\nContent-Type: text/plain\r\n\r\nThis is an aggregate TLS report.\r\n'
        printf -- '--b\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n'
        printf 'Content-Disposition: attachment; filename="sender.example!example.org!1!2.json.gz"\r\n\r\n'
        gzip -9nc "$f" | base64 -w 76 | sed 's/$/\r/'
        printf -- '--b--\r\n'
    } >"tlsrpt_message/$name-mail"
done
echo "tlsrpt_report: $(ls tlsrpt_report | wc -l) seeds, tlsrpt_message: $(ls tlsrpt_message | wc -l) seeds"
