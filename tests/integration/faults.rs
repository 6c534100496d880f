//! The fault matrix: whole-domain probes (`Prober::probe`, as the exporter runs them)
//! against hostile DNS and SMTP peers on loopback. Each row injects one fault and states the
//! verdict, the failure reasons (`report.failures[].reason`) and a time bound; every row runs
//! concurrently on one prober. README.md ("Fault matrix") lists the rows.
//!
//! DNS faults run in `trust-resolver` mode against a [`ScriptedServer`] playing a validating
//! resolver (AD on every normal answer, the fault on the targeted query), bogus signatures in
//! `validate` mode against a tampered [`DnsFixture`]. SMTP and TLS faults come from small raw TCP
//! servers and from [`SmtpFixture`], one per fault, on `127.0.<net>.<n>` sharing one port (the TLSA
//! owner name follows the port). The last test runs the exporter binary against a few of the same
//! faults and scrapes `/metrics` while it probes them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dane_exporter::config::{Target, TargetSettings};
use dane_exporter::core::{Direction, Verdict};
use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use dane_exporter::report::DomainReport;
use dane_exporter::scheduler::{run_one, ProberRunner};
use dane_exporter::smtp::SmtpSettings;
use futures_util::future::join_all;
use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::{A, CNAME, MX, NULL, TLSA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::dns_server::{reply_to, DnsFixture, ScriptedServer, Transport};
use crate::support::exporter::{promtool_check, Exporter, Metrics};
use crate::support::probing::TestProber;
use crate::support::smtp_server::{
    self_signed, FixtureConfig, SmtpFixture, Starttls, TestCa, TestCert,
};

/// DNS timeout of the probers under test.
const DNS_TIMEOUT: Duration = Duration::from_secs(1);
/// SMTP step timeout of the probers under test.
const STEP: Duration = Duration::from_millis(500);
/// Every row's probe must end within this.
const BOUND: Duration = Duration::from_secs(5);

/// What the scripted resolver does to one domain's queries.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DnsFault {
    /// Normal answers, all with AD.
    None,
    /// No answer to any query of the domain.
    SilentAll,
    /// No answer to queries of this type only.
    Silent(RecordType),
    /// SERVFAIL for this type.
    ServFail(RecordType),
    /// SERVFAIL with an Extended DNS Error (6, DNSSEC Bogus) for this type.
    ServFailEde(RecordType),
    /// REFUSED for this type.
    Refused(RecordType),
    /// Every UDP answer truncated (TC=1, empty): the full answer only over TCP.
    TruncateUdp,
    /// A CNAME loop instead of the records of this type.
    CnameLoop(RecordType),
    /// A TLSA record whose RDATA is one byte (a TLSA RDATA has at least three).
    GarbageTlsa,
    /// Every TTL 2^32 - 1.
    HugeTtl,
    /// The TLSA answer without AD: the resolver calls it insecure.
    TlsaWithoutAd,
}

/// What listens at the domain's MX address.
enum Endpoint {
    /// Nothing: connections are refused.
    Nothing,
    /// A raw TCP server misbehaving as told.
    Raw(RawFault),
    /// The STARTTLS fixture.
    Fixture(FixtureConfig),
    /// A STARTTLS server that completes the TLS handshake, then neither answers nor closes.
    TlsThenHold(TestCert),
}

#[derive(Clone, Copy, Debug)]
enum RawFault {
    ResetAfterConnect,
    SilentBanner,
    Banner554,
    HugeBanner,
    EndlessContinuation,
    EhloRejected,
    SilentAfterStarttls,
    SilentInsteadOfServerHello,
    GarbageServerHello,
    ResetMidHandshake,
}

/// TLSA RRset of a row's MX host: a function of the certificate it serves.
type TlsaFor = fn(&Certs) -> Vec<(u8, u8, u8, Vec<u8>)>;

/// One row of the matrix.
struct Row {
    /// Fault name, also the domain's first label (`<name>.test`).
    name: &'static str,
    dns: DnsFault,
    endpoint: fn(&Certs, SocketAddr) -> Endpoint,
    tlsa: TlsaFor,
    verdict: Verdict,
    failures: &'static [&'static str],
    /// Warnings that must be present (others may be too).
    warnings: &'static [&'static str],
    /// Counted as a fault (the control row is not).
    fault: bool,
}

/// Certificates shared by the rows.
struct Certs {
    /// A self-signed leaf, the well-behaved server's.
    good: TestCert,
    /// CA for the DANE-TA rows.
    ca: TestCa,
    expired: TestCert,
    not_yet_valid: TestCert,
}

impl Certs {
    fn new() -> Self {
        let ca = TestCa::root("Faults Test Root");
        let names = ["mx.faults.test"];
        let expired = ca.issue_with(&names, |p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        });
        let not_yet_valid = ca.issue_with(&names, |p| {
            p.not_before = rcgen::date_time_ymd(2090, 1, 1);
            p.not_after = rcgen::date_time_ymd(2091, 1, 1);
        });
        Self {
            good: self_signed(&names),
            ca,
            expired,
            not_yet_valid,
        }
    }
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn ee_good(c: &Certs) -> Vec<(u8, u8, u8, Vec<u8>)> {
    vec![(3, 1, 1, sha256(c.good.leaf_spki()))]
}
fn ee_expired(c: &Certs) -> Vec<(u8, u8, u8, Vec<u8>)> {
    vec![(3, 1, 1, sha256(c.expired.leaf_spki()))]
}
fn ta_ca(c: &Certs) -> Vec<(u8, u8, u8, Vec<u8>)> {
    vec![(2, 1, 1, sha256(&c.ca.spki))]
}
fn ee_short_digest(c: &Certs) -> Vec<(u8, u8, u8, Vec<u8>)> {
    // SHA2-256 with 20 bytes: RFC 7671 5.1 makes the record unusable.
    vec![(3, 1, 1, sha256(c.good.leaf_spki())[..20].to_vec())]
}
fn ee_other_key(_: &Certs) -> Vec<(u8, u8, u8, Vec<u8>)> {
    vec![(3, 1, 1, vec![0xab; 32])]
}

fn fixture(cert: &TestCert, at: SocketAddr) -> FixtureConfig {
    let mut config = FixtureConfig::new(cert.clone());
    config.bind = at;
    config
}
fn good(c: &Certs, at: SocketAddr) -> Endpoint {
    Endpoint::Fixture(fixture(&c.good, at))
}
fn nothing(_: &Certs, _: SocketAddr) -> Endpoint {
    Endpoint::Nothing
}

macro_rules! raw {
    ($fault:ident) => {{
        fn endpoint(_: &Certs, _: SocketAddr) -> Endpoint {
            Endpoint::Raw(RawFault::$fault)
        }
        endpoint
    }};
}

fn dns_row(
    name: &'static str,
    dns: DnsFault,
    verdict: Verdict,
    failures: &'static [&'static str],
) -> Row {
    Row {
        name,
        dns,
        endpoint: good,
        tlsa: ee_good,
        verdict,
        failures,
        warnings: &[],
        fault: true,
    }
}

/// An MX address a sender moves on from (refused, silent, a 4xx/5xx greeting): a warning with
/// its reason; the domain, whose only address it is, is undeliverable.
fn unreachable_row(
    name: &'static str,
    endpoint: fn(&Certs, SocketAddr) -> Endpoint,
    warnings: &'static [&'static str],
) -> Row {
    Row {
        warnings,
        ..smtp_row(name, endpoint, &["undeliverable"])
    }
}

fn smtp_row(
    name: &'static str,
    endpoint: fn(&Certs, SocketAddr) -> Endpoint,
    failures: &'static [&'static str],
) -> Row {
    Row {
        name,
        dns: DnsFault::None,
        endpoint,
        tlsa: ee_good,
        verdict: Verdict::Fail,
        failures,
        warnings: &[],
        fault: true,
    }
}

/// Every trust-resolver row. (The bogus-signature rows and the whole-probe timeout have tests of
/// their own below.)
fn rows() -> Vec<Row> {
    use DnsFault::*;
    use RecordType as T;
    let fail = Verdict::Fail;
    vec![
        Row {
            fault: false,
            ..dns_row("control", None, Verdict::Pass, &[])
        },
        // DNS.
        dns_row("dns-timeout", SilentAll, fail, &["mx_lookup_failed"]),
        dns_row("servfail-mx", ServFail(T::MX), fail, &["mx_lookup_failed"]),
        dns_row("refused-mx", Refused(T::MX), fail, &["mx_lookup_failed"]),
        dns_row(
            "servfail-tlsa",
            ServFail(T::TLSA),
            fail,
            &["tlsa_lookup_failed"],
        ),
        dns_row(
            "bogus-tlsa-ede",
            ServFailEde(T::TLSA),
            fail,
            &["tlsa_lookup_failed"],
        ),
        dns_row("drop-tlsa", Silent(T::TLSA), fail, &["tlsa_lookup_failed"]),
        dns_row(
            "refused-tlsa",
            Refused(T::TLSA),
            fail,
            &["tlsa_lookup_failed"],
        ),
        dns_row(
            "servfail-a",
            ServFail(T::A),
            fail,
            &["address_lookup_failed"],
        ),
        dns_row("truncated-udp", TruncateUdp, Verdict::Pass, &[]),
        dns_row(
            "cname-loop-a",
            CnameLoop(T::A),
            fail,
            &["address_lookup_failed"],
        ),
        dns_row(
            "cname-loop-tlsa",
            CnameLoop(T::TLSA),
            fail,
            &["tlsa_lookup_failed"],
        ),
        dns_row(
            "garbage-tlsa-rdata",
            GarbageTlsa,
            fail,
            &["tlsa_lookup_failed"],
        ),
        dns_row("huge-ttl", HugeTtl, Verdict::Pass, &[]),
        dns_row(
            "tlsa-without-ad",
            TlsaWithoutAd,
            Verdict::NotApplicable,
            &[],
        ),
        // SMTP.
        unreachable_row("connect-refused", nothing, &["smtp_connect_failed"]),
        unreachable_row(
            "reset-after-connect",
            raw!(ResetAfterConnect),
            &["smtp_connection_lost"],
        ),
        unreachable_row(
            "silent-banner",
            raw!(SilentBanner),
            &["smtp_banner_timeout"],
        ),
        unreachable_row("banner-554", raw!(Banner554), &["smtp_greeting_rejected"]),
        unreachable_row("banner-1mb", raw!(HugeBanner), &["smtp_protocol_error"]),
        unreachable_row(
            "endless-continuation",
            raw!(EndlessContinuation),
            &["smtp_protocol_error"],
        ),
        smtp_row("ehlo-550", raw!(EhloRejected), &["smtp_ehlo_rejected"]),
        smtp_row(
            "starttls-not-offered",
            |c, at| {
                let mut config = fixture(&c.good, at);
                config.starttls = Starttls::NotOffered;
                Endpoint::Fixture(config)
            },
            &["starttls_not_offered"],
        ),
        smtp_row(
            "starttls-454",
            |c, at| {
                let mut config = fixture(&c.good, at);
                config.starttls = Starttls::Reject;
                Endpoint::Fixture(config)
            },
            &["starttls_rejected"],
        ),
        smtp_row(
            "silent-after-starttls",
            raw!(SilentAfterStarttls),
            &["smtp_starttls_timeout"],
        ),
        smtp_row(
            "silent-instead-of-server-hello",
            raw!(SilentInsteadOfServerHello),
            &["tls_handshake_timeout"],
        ),
        smtp_row(
            "garbage-server-hello",
            raw!(GarbageServerHello),
            &["tls_handshake_failed"],
        ),
        smtp_row(
            "reset-mid-handshake",
            raw!(ResetMidHandshake),
            &["tls_handshake_failed"],
        ),
        smtp_row(
            "wrong-handshake-key",
            |c, at| {
                let mut config = fixture(&c.good, at);
                config.wrong_key = true;
                Endpoint::Fixture(config)
            },
            &["tls_handshake_failed"],
        ),
        Row {
            verdict: Verdict::Pass,
            ..smtp_row(
                "hold-open-after-tls",
                |c, _| Endpoint::TlsThenHold(c.good.clone()),
                &[],
            )
        },
        // Certificates and TLSA records.
        smtp_row(
            "certificate-not-der",
            |c, at| {
                let mut cert = c.good.clone();
                cert.chain[0] = b"\x30\x82garbage, not a certificate".repeat(8);
                Endpoint::Fixture(fixture(&cert, at))
            },
            &["tls_handshake_failed"],
        ),
        smtp_row(
            "chain-of-50",
            |c, at| {
                let mut cert = c.good.clone();
                for _ in 0..49 {
                    cert.chain.push(c.ca.der.clone());
                    cert.spki.push(c.ca.spki.clone());
                }
                Endpoint::Fixture(fixture(&cert, at))
            },
            &["tls_handshake_failed"],
        ),
        Row {
            tlsa: ta_ca,
            ..smtp_row(
                "expired-chain-dane-ta",
                |c, at| Endpoint::Fixture(fixture(&c.expired, at)),
                &["dane_ta_chain_invalid"],
            )
        },
        Row {
            tlsa: ta_ca,
            ..smtp_row(
                "not-yet-valid-chain-dane-ta",
                |c, at| Endpoint::Fixture(fixture(&c.not_yet_valid, at)),
                &["dane_ta_chain_invalid"],
            )
        },
        Row {
            tlsa: ee_expired,
            verdict: Verdict::Pass,
            ..smtp_row(
                "expired-cert-dane-ee",
                |c, at| Endpoint::Fixture(fixture(&c.expired, at)),
                &[],
            )
        },
        Row {
            tlsa: ee_short_digest,
            // Postfix falls back to mandatory encryption: delivered, not authenticated.
            verdict: Verdict::EncryptOnly,
            warnings: &["no_usable_tlsa", "tlsa_record_unusable"],
            ..smtp_row("tlsa-wrong-digest-length", good, &[])
        },
        Row {
            tlsa: ee_other_key,
            ..smtp_row("tlsa-other-key", good, &["tlsa_mismatch"])
        },
    ]
}

// --- The scripted resolver ---------------------------------------------------------------------

/// What the resolver knows about one domain.
struct Zone {
    fault: DnsFault,
    address: Ipv4Addr,
    tlsa: Vec<(u8, u8, u8, Vec<u8>)>,
}

fn name(text: &str) -> Name {
    Name::from_ascii(format!("{text}.")).expect("name")
}

/// Answers `query` for the zones in `zones` (keyed by domain), as a validating resolver would,
/// except for each domain's fault.
fn resolve(
    zones: &HashMap<String, Zone>,
    port: u16,
    query: &Message,
    transport: Transport,
) -> Option<Message> {
    let q = &query.queries[0];
    let qname = q
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let qtype = q.query_type();
    let mut reply = reply_to(query);
    let Some((domain, zone)) = zones
        .iter()
        .find(|(d, _)| qname == **d || qname.ends_with(&format!(".{d}")))
    else {
        reply.metadata.authentic_data = true;
        reply.metadata.response_code = ResponseCode::NXDomain;
        return Some(reply);
    };
    let mx_host = format!("mx.{domain}");
    let tlsa_name = format!("_{port}._tcp.{mx_host}");
    match zone.fault {
        DnsFault::SilentAll => return None,
        DnsFault::Silent(t) if t == qtype => return None,
        DnsFault::ServFail(t) if t == qtype => {
            reply.metadata.response_code = ResponseCode::ServFail;
            return Some(reply);
        }
        DnsFault::ServFailEde(t) if t == qtype => {
            reply.metadata.response_code = ResponseCode::ServFail;
            let mut edns = Edns::new();
            edns.options_mut().insert(EdnsOption::Unknown(
                15,
                b"\x00\x06signature does not verify".to_vec(),
            ));
            reply.set_edns(edns);
            return Some(reply);
        }
        DnsFault::Refused(t) if t == qtype => {
            reply.metadata.response_code = ResponseCode::Refused;
            return Some(reply);
        }
        DnsFault::TruncateUdp if transport == Transport::Udp => {
            reply.metadata.authentic_data = true;
            reply.metadata.truncation = true;
            return Some(reply);
        }
        DnsFault::CnameLoop(t) if t == qtype => {
            reply.metadata.authentic_data = true;
            let a = name(&format!("loop-a.{domain}"));
            let b = name(&format!("loop-b.{domain}"));
            let cname = |from: &Name, to: &Name| {
                Record::from_rdata(from.clone(), 60, RData::CNAME(CNAME(to.clone())))
            };
            reply.add_answer(cname(q.name(), &a));
            reply.add_answer(cname(&a, &b));
            reply.add_answer(cname(&b, &a));
            return Some(reply);
        }
        _ => {}
    }
    reply.metadata.authentic_data =
        !(zone.fault == DnsFault::TlsaWithoutAd && qtype == RecordType::TLSA);
    let ttl = if zone.fault == DnsFault::HugeTtl {
        u32::MAX
    } else {
        60
    };
    let owner = q.name().clone();
    if qname == *domain && qtype == RecordType::MX {
        reply.add_answer(Record::from_rdata(
            owner,
            ttl,
            RData::MX(MX::new(10, name(&mx_host))),
        ));
    } else if qname == mx_host && qtype == RecordType::A {
        reply.add_answer(Record::from_rdata(owner, ttl, RData::A(A(zone.address))));
    } else if qname == tlsa_name && qtype == RecordType::TLSA {
        if zone.fault == DnsFault::GarbageTlsa {
            reply.add_answer(Record::from_rdata(
                owner,
                ttl,
                RData::Unknown {
                    code: RecordType::TLSA,
                    rdata: NULL::with(vec![3]),
                },
            ));
        } else {
            for (usage, selector, matching, data) in &zone.tlsa {
                reply.add_answer(Record::from_rdata(
                    owner.clone(),
                    ttl,
                    RData::TLSA(TLSA::new(
                        (*usage).into(),
                        (*selector).into(),
                        (*matching).into(),
                        data.clone(),
                    )),
                ));
            }
        }
    }
    // Anything else: a secure NODATA.
    Some(reply)
}

// --- Misbehaving SMTP servers ------------------------------------------------------------------

/// Accepts connections on `at` and misbehaves as `fault` says on each, until dropped.
async fn raw_server(at: SocketAddr, fault: RawFault) -> JoinHandle<()> {
    let listener = TcpListener::bind(at).await.expect("bind raw server");
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            connections.spawn(misbehave(tcp, fault));
            while connections.try_join_next().is_some() {}
        }
    })
}

async fn send(s: &mut BufReader<TcpStream>, bytes: &[u8]) -> bool {
    s.get_mut().write_all(bytes).await.is_ok()
}

async fn read_line(s: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    match s.read_line(&mut line).await {
        Ok(n) if n > 0 => Some(line),
        _ => None,
    }
}

/// Greets, offers STARTTLS in EHLO and reads the STARTTLS command; false when the client left.
async fn up_to_starttls(s: &mut BufReader<TcpStream>) -> bool {
    send(s, b"220 faults.test ESMTP\r\n").await
        && read_line(s).await.is_some()
        && send(s, b"250-faults.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n").await
        && read_line(s)
            .await
            .is_some_and(|l| l.starts_with("STARTTLS"))
}

async fn hold(s: BufReader<TcpStream>) {
    // Until the client gives up (or 30 s): a stuck server, not a closing one.
    let mut s = s;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn misbehave(tcp: TcpStream, fault: RawFault) {
    // Whatever the fault, the connection ends with a RST rather than a FIN: a prober that closed
    // first then leaves no TIME_WAIT socket on a 127.0.0.1 port, where it would stop the DNS
    // fixtures of concurrent tests from binding TCP on the port their UDP socket got.
    let _ = tcp.set_zero_linger();
    let mut s = BufReader::new(tcp);
    match fault {
        RawFault::ResetAfterConnect => {
            // Not at once: a RST that beats the client's connect completion is reported as
            // `smtp_connect_failed`, one that follows it as `smtp_connection_lost` (a race).
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = s.get_ref().set_zero_linger();
        }
        RawFault::SilentBanner => hold(s).await,
        RawFault::Banner554 => {
            send(&mut s, b"554 5.3.2 no service here\r\n").await;
            read_line(&mut s).await;
        }
        RawFault::HugeBanner => {
            // 1 MiB without a newline (the prober stops reading long before).
            let chunk = vec![b'a'; 64 << 10];
            if send(&mut s, b"220 ").await {
                for _ in 0..16 {
                    if !send(&mut s, &chunk).await {
                        break;
                    }
                }
            }
            hold(s).await;
        }
        RawFault::EndlessContinuation => while send(&mut s, b"220-and more\r\n").await {},
        RawFault::EhloRejected => {
            send(&mut s, b"220 faults.test ESMTP\r\n").await;
            read_line(&mut s).await;
            send(&mut s, b"550 5.7.1 not you\r\n").await;
            hold(s).await;
        }
        RawFault::SilentAfterStarttls => {
            if up_to_starttls(&mut s).await {
                hold(s).await;
            }
        }
        RawFault::SilentInsteadOfServerHello => {
            if up_to_starttls(&mut s).await && send(&mut s, b"220 2.0.0 go ahead\r\n").await {
                hold(s).await;
            }
        }
        RawFault::GarbageServerHello => {
            if up_to_starttls(&mut s).await && send(&mut s, b"220 2.0.0 go ahead\r\n").await {
                let mut buf = [0u8; 64];
                let _ = s.read(&mut buf).await;
                send(&mut s, b"500 5.5.1 this is not TLS at all\r\n").await;
                hold(s).await;
            }
        }
        RawFault::ResetMidHandshake => {
            if up_to_starttls(&mut s).await && send(&mut s, b"220 2.0.0 go ahead\r\n").await {
                let mut buf = [0u8; 64];
                let _ = s.read(&mut buf).await;
                let _ = s.get_ref().set_zero_linger();
            }
        }
    }
}

/// A STARTTLS server that completes the handshake and then holds the connection open, answering
/// nothing (not even QUIT) and never closing.
async fn tls_then_hold(at: SocketAddr, cert: TestCert) -> JoinHandle<()> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            cert.key_pkcs8.clone(),
        )))
        .expect("load key");
    let chain = cert
        .chain
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect();
    let certified = Arc::new(rustls::sign::CertifiedKey::new(chain, key));
    #[derive(Debug)]
    struct Fixed(Arc<rustls::sign::CertifiedKey>);
    impl rustls::server::ResolvesServerCert for Fixed {
        fn resolve(
            &self,
            _: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(Arc::clone(&self.0))
        }
    }
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(certified)));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(at).await.expect("bind");
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            connections.spawn(async move {
                let mut s = BufReader::new(tcp);
                if !(up_to_starttls(&mut s).await && send(&mut s, b"220 2.0.0 go ahead\r\n").await)
                {
                    return;
                }
                let tcp = s.into_inner();
                // See `misbehave`: end with a RST once the client has left.
                let _ = tcp.set_zero_linger();
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // Hold: answer nothing (not even QUIT), close nothing, until the client leaves.
                let mut buf = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(30), async {
                    while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
                })
                .await;
            });
            while connections.try_join_next().is_some() {}
        }
    })
}

// --- The world: resolver plus one endpoint per row ---------------------------------------------

struct World {
    resolver: ScriptedServer,
    port: u16,
    certs: Certs,
    /// Address of each row's MX host, by row name.
    addresses: HashMap<&'static str, Ipv4Addr>,
    _fixtures: Vec<SmtpFixture>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for World {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts every row's endpoint on `127.0.<net>.<index + 1>` (one shared port) and a resolver for
/// all of them.
async fn world(rows: &[Row], net: u8) -> World {
    let certs = Certs::new();
    // The port: free on the first address; the other addresses are unused by anyone else.
    let port = std::net::TcpListener::bind((Ipv4Addr::new(127, 0, net, 250), 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut fixtures = Vec::new();
    let mut tasks = Vec::new();
    let mut addresses = HashMap::new();
    let mut zones = HashMap::new();
    for (index, row) in rows.iter().enumerate() {
        let ip = Ipv4Addr::new(127, 0, net, index as u8 + 1);
        let at = SocketAddr::from((ip, port));
        match (row.endpoint)(&certs, at) {
            Endpoint::Nothing => {}
            Endpoint::Raw(fault) => tasks.push(raw_server(at, fault).await),
            Endpoint::Fixture(config) => fixtures.push(SmtpFixture::start(config).await),
            Endpoint::TlsThenHold(cert) => tasks.push(tls_then_hold(at, cert).await),
        }
        addresses.insert(row.name, ip);
        zones.insert(
            format!("{}.test", row.name),
            Zone {
                fault: row.dns,
                address: ip,
                tlsa: (row.tlsa)(&certs),
            },
        );
    }
    let resolver =
        ScriptedServer::start(move |query, transport| resolve(&zones, port, query, transport))
            .await;
    World {
        resolver,
        port,
        certs,
        addresses,
        _fixtures: fixtures,
        tasks,
    }
}

impl World {
    fn dns_settings(&self) -> DnsSettings {
        DnsSettings {
            mode: DnssecMode::TrustResolver,
            nameservers: vec![self.resolver.addr()],
            trust_anchor_file: None,
            timeout: DNS_TIMEOUT,
        }
    }

    fn smtp_settings(&self) -> SmtpSettings {
        SmtpSettings {
            port: self.port,
            ehlo_name: "probe.test".into(),
            step_timeout: STEP,
            reply_timeout: STEP,
            tls_fallback: true,
        }
    }
}

fn reasons(findings: &[dane_exporter::core::Finding]) -> Vec<&str> {
    let mut reasons: Vec<&str> = findings.iter().map(|f| f.reason.as_str()).collect();
    reasons.sort_unstable();
    reasons.dedup();
    reasons
}

/// Checks one report against its row; returns the problems found.
fn check(row: &Row, report: &DomainReport, elapsed: Duration) -> Vec<String> {
    let mut problems = Vec::new();
    if report.verdict != row.verdict {
        problems.push(format!(
            "verdict {:?}, expected {:?}",
            report.verdict, row.verdict
        ));
    }
    let mut expected: Vec<&str> = row.failures.to_vec();
    expected.sort_unstable();
    let got = reasons(&report.failures);
    if got != expected {
        problems.push(format!("failures {got:?}, expected {expected:?}"));
    }
    let warnings = reasons(&report.warnings);
    for w in row.warnings {
        if !warnings.contains(w) {
            problems.push(format!("warning {w} missing from {warnings:?}"));
        }
    }
    if elapsed > BOUND {
        problems.push(format!("took {elapsed:?}, bound {BOUND:?}"));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_matrix_whole_probe() {
    let rows = rows();
    assert!(rows.iter().filter(|r| r.fault).count() >= 25);
    let w = world(&rows, 77).await;
    let prober = TestProber::new(
        DnsClient::new(&w.dns_settings()).unwrap(),
        w.smtp_settings(),
    );
    let started = Instant::now();
    let outcomes = join_all(rows.iter().map(|row| {
        let prober = &prober;
        async move {
            let began = Instant::now();
            let report = tokio::time::timeout(
                BOUND * 2,
                prober.probe_domain(&format!("{}.test", row.name)),
            )
            .await;
            (row, report, began.elapsed())
        }
    }))
    .await;
    let total = started.elapsed();

    let mut problems = Vec::new();
    for (row, report, elapsed) in &outcomes {
        match report {
            Err(_) => problems.push(format!("{}: no report within {:?}", row.name, BOUND * 2)),
            Ok(report) => {
                for p in check(row, report, *elapsed) {
                    problems.push(format!(
                        "{}: {p}\n  failures: {:?}\n  warnings: {:?}",
                        row.name,
                        report
                            .failures
                            .iter()
                            .map(|f| &f.message)
                            .collect::<Vec<_>>(),
                        report
                            .warnings
                            .iter()
                            .map(|f| &f.reason)
                            .collect::<Vec<_>>(),
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Where the findings are located, they name the right MX host and address.
    for (row, report, _) in &outcomes {
        let report = report.as_ref().unwrap();
        for f in &report.failures {
            if let Some(address) = f.address {
                assert_eq!(address, IpAddr::V4(w.addresses[row.name]), "{}", row.name);
            }
            if let Some(mx) = &f.mx {
                assert_eq!(mx, &format!("mx.{}.test", row.name));
            }
        }
    }
    // The truncated answers were fetched again over TCP (only that row truncates).
    assert!(
        w.resolver.tcp_queries() >= 4,
        "{}",
        w.resolver.tcp_queries()
    );
    // Rows run concurrently: the matrix costs about its slowest row.
    assert!(total < BOUND, "{total:?}");
    let _ = &w.certs;
}

/// Validate mode against a signed zone whose served RRset no longer matches its RRSIG.
#[tokio::test]
async fn bogus_signatures_in_validate_mode() {
    let certs = Certs::new();
    let mut config = FixtureConfig::new(certs.good.clone());
    config.bind = "127.0.76.1:0".parse().unwrap();
    let smtp = SmtpFixture::start(config).await;
    let port = smtp.port();
    let spki = hex::encode(sha256(certs.good.leaf_spki()));
    let zone = format!(
        r#"
.                            3600 IN SOA  ns.test. hostmaster.test. 1 3600 600 86400 300
.                            3600 IN NS   ns.test.
ns.test.                     3600 IN A    127.0.0.1
ok.test.                      300 IN MX   10 mx.ok.test.
mx.ok.test.                   300 IN A    127.0.76.1
_{port}._tcp.mx.ok.test.      300 IN TLSA 3 1 1 {spki}
bogus-tlsa.test.              300 IN MX   10 mx.bogus-tlsa.test.
mx.bogus-tlsa.test.           300 IN A    127.0.76.1
_{port}._tcp.mx.bogus-tlsa.test. 300 IN TLSA 3 1 1 {spki}
bogus-a.test.                 300 IN MX   10 mx.bogus-a.test.
mx.bogus-a.test.              300 IN A    127.0.76.1
_{port}._tcp.mx.bogus-a.test. 300 IN TLSA 3 1 1 {spki}
bogus-mx.test.                300 IN MX   10 mx.ok.test.
"#
    );
    let dns = DnsFixture::builder()
        .zone(".", &zone)
        .tamper(
            &format!("_{port}._tcp.mx.bogus-tlsa.test."),
            RecordType::TLSA,
            RData::TLSA(TLSA::new(3.into(), 1.into(), 1.into(), vec![0xcd; 32])),
        )
        .tamper(
            "mx.bogus-a.test.",
            RecordType::A,
            RData::A(A::new(127, 0, 76, 2)),
        )
        .tamper(
            "bogus-mx.test.",
            RecordType::MX,
            RData::MX(MX::new(10, name("mx.bogus-a.test"))),
        )
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let prober = TestProber::new(
        DnsClient::new(&DnsSettings {
            mode: DnssecMode::Validate,
            nameservers: vec![dns.addr()],
            trust_anchor_file: Some(dns.trust_anchor_file(dir.path())),
            timeout: DNS_TIMEOUT,
        })
        .unwrap(),
        SmtpSettings {
            port,
            ehlo_name: "probe.test".into(),
            step_timeout: STEP,
            reply_timeout: STEP,
            tls_fallback: true,
        },
    );
    let cases = [
        ("ok.test", Verdict::Pass, vec![]),
        ("bogus-tlsa.test", Verdict::Fail, vec!["tlsa_lookup_failed"]),
        ("bogus-a.test", Verdict::Fail, vec!["address_lookup_failed"]),
        ("bogus-mx.test", Verdict::Fail, vec!["mx_lookup_failed"]),
    ];
    let reports = join_all(cases.iter().map(|(domain, _, _)| {
        let prober = &prober;
        async move {
            let began = Instant::now();
            let report = prober.probe_domain(domain).await;
            (report, began.elapsed())
        }
    }))
    .await;
    for ((domain, verdict, failures), (report, elapsed)) in cases.iter().zip(&reports) {
        assert_eq!(report.verdict, *verdict, "{domain}: {report:#?}");
        assert_eq!(
            &reasons(&report.failures),
            failures,
            "{domain}: {report:#?}"
        );
        assert!(*elapsed < BOUND, "{domain}: {elapsed:?}");
    }
}

/// A probe that outlives the target's timeout ends as `probe_timeout`, on time.
#[tokio::test]
async fn whole_probe_timeout_is_probe_timeout() {
    let rows = vec![dns_row("hang", DnsFault::SilentAll, Verdict::Fail, &[])];
    let w = world(&rows, 75).await;
    let mut dns = w.dns_settings();
    // Each lookup would wait 5 s; the whole probe may take 1 s.
    dns.timeout = Duration::from_secs(5);
    let target = Target::with_settings(
        "hang.test",
        Direction::Outbound,
        TargetSettings {
            expect: dane_exporter::core::Expectation::Any,
            labels: Default::default(),
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(1),
            dns,
            smtp: w.smtp_settings(),
            services: Vec::new(),
            service_trust: std::sync::Arc::new(dane_exporter::dane::PkixTrust::empty()),
            mta_sts: Default::default(),
            certificates: Vec::new(),
            // Outbound: no authoritative checks, no key-algorithm sessions (the defaults).
            authoritative: None,
            hygiene: Default::default(),
            key_algorithms: false,
            metrics: Default::default(),
        },
    );
    let runner =
        ProberRunner::new(std::slice::from_ref(&target), Some(Duration::from_secs(60))).unwrap();
    let began = Instant::now();
    let report = run_one(&target, &runner).await;
    let elapsed = began.elapsed();
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(reasons(&report.failures), vec!["probe_timeout"]);
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert!(w.resolver.udp_queries() >= 1);
}

/// A server that pauses 35 s before greeting (postscreen's greet wait, Exim's `delay`,
/// sendmail's `greet_pause`) is not broken: with the configuration's default timeouts the probe
/// waits for the banner, as Postfix does (300 s), and passes inside the default deadline.
#[tokio::test]
async fn greet_pause_of_35s_passes_with_default_timeouts() {
    const PAUSE: Duration = Duration::from_secs(35);
    let rows = vec![Row {
        verdict: Verdict::Pass,
        fault: false,
        ..smtp_row(
            "greet-pause",
            |c, at| {
                let mut config = fixture(&c.good, at);
                config.greeting_delay = PAUSE;
                Endpoint::Fixture(config)
            },
            &[],
        )
    }];
    let w = world(&rows, 76).await;
    let text = format!(
        "global:\n  dnssec_mode: trust-resolver\n  nameservers: [\"{}\"]\n  smtp_port: {}\n  \
         ehlo_name: probe.test\noutbound:\n  - domain: greet-pause.test\n",
        w.resolver.addr(),
        w.port
    );
    let config =
        dane_exporter::config::parse(&text, std::path::Path::new("patience.yml")).expect("config");
    let targets = config.targets();
    let target = &targets[0];
    assert!(target.timeout > PAUSE, "{:?}", target.timeout);
    assert!(
        target.smtp.reply_timeout > PAUSE,
        "{:?}",
        target.smtp.reply_timeout
    );
    let runner = ProberRunner::new(&targets, None).unwrap();
    let began = Instant::now();
    let report = run_one(target, &runner).await;
    let elapsed = began.elapsed();
    assert_eq!(
        (report.verdict, reasons(&report.failures)),
        (Verdict::Pass, vec![]),
        "{report:#?}"
    );
    assert!(reasons(&report.warnings)
        .iter()
        .all(|r| !r.contains("timeout")));
    assert!(elapsed >= PAUSE, "{elapsed:?}");
}

// --- The exporter process under faults ---------------------------------------------------------

/// Rows the exporter probes: one per failure class.
const EXPORTED: &[(&str, &str)] = &[
    ("servfail-mx", "mx_lookup_failed"),
    ("drop-tlsa", "tlsa_lookup_failed"),
    ("cname-loop-a", "address_lookup_failed"),
    // Its only address refuses: nothing can be delivered.
    ("connect-refused", "undeliverable"),
    ("banner-1mb", "undeliverable"),
    ("silent-after-starttls", "smtp_starttls_timeout"),
    ("garbage-server-hello", "tls_handshake_failed"),
    ("chain-of-50", "tls_handshake_failed"),
    ("expired-chain-dane-ta", "dane_ta_chain_invalid"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporter_keeps_serving_metrics_under_faults() {
    let rows: Vec<Row> = rows()
        .into_iter()
        .filter(|r| EXPORTED.iter().any(|(n, _)| *n == r.name))
        .collect();
    assert_eq!(rows.len(), EXPORTED.len());
    let w = world(&rows, 74).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    let mut text = format!(
        "global:\n  interval: 10s\n  timeout: 5s\n  step_timeout: 1s\n  concurrency: 16\n  \
         dnssec_mode: trust-resolver\n  nameservers: [\"{}\"]\n  smtp_port: {}\n  \
         smtp_reply_timeout: 1s\n  ehlo_name: probe.test\nprobe_allow: [\"*.test\"]\noutbound:\n",
        w.resolver.addr(),
        w.port
    );
    for (name, _) in EXPORTED {
        text.push_str(&format!("  - domain: {name}.test\n"));
    }
    std::fs::write(&config, text).unwrap();

    tokio::task::spawn_blocking(move || {
        let exporter = Exporter::start(&config);
        let began = Instant::now();
        let mut first_round: Option<HashMap<&str, f64>> = None;
        let mut scrapes = 0;
        loop {
            assert!(
                began.elapsed() < Duration::from_secs(45),
                "no second round of probes within 45 s"
            );
            let (status, body) = exporter.get("/metrics");
            assert_eq!(status, 200, "scrape {scrapes}");
            scrapes += 1;
            let m = Metrics::parse(&body);
            if scrapes % 5 == 1 {
                promtool_check(&body);
            }
            let stamps: Option<HashMap<&str, f64>> = EXPORTED
                .iter()
                .map(|(name, _)| {
                    let domain = format!("{name}.test");
                    let v = m.values("dane_probe_timestamp_seconds", &[("domain", &domain)]);
                    v.first().map(|t| (*name, *t))
                })
                .collect();
            if let Some(stamps) = stamps {
                for (name, reason) in EXPORTED {
                    let domain = format!("{name}.test");
                    assert_eq!(
                        m.value("dane_probe_success", &[("domain", &domain)]),
                        0.0,
                        "{domain}"
                    );
                    assert_eq!(
                        m.values(
                            "dane_probe_failure_info",
                            &[("domain", &domain), ("reason", reason)]
                        ),
                        vec![1.0],
                        "{domain}: {reason}\n{body}"
                    );
                }
                match &first_round {
                    None => {
                        promtool_check(&body);
                        first_round = Some(stamps);
                    }
                    Some(first) if stamps.iter().all(|(n, t)| *t > first[n]) => {
                        promtool_check(&body);
                        break;
                    }
                    Some(_) => {}
                }
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let mut exporter = exporter;
        assert!(
            exporter.child.try_wait().unwrap().is_none(),
            "the exporter exited"
        );
        assert_eq!(exporter.get("/-/healthy").0, 200);
    })
    .await
    .unwrap();
    drop(w);
}
