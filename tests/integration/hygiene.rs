//! Hygiene warnings from zones that have each problem: the real stack's ops7dns zones (and its
//! `unusable` and `brokends` zones), probed in-process through `Prober::probe` with the
//! authoritative checks on, in both DNSSEC modes. Each zone must give its own `reason` and keep
//! its verdict; a clean zone gives none of them.

use std::time::Duration;

use dane_exporter::checks::authoritative::AuthoritativeSettings;
use dane_exporter::checks::authoritative::HygieneLimits;
use dane_exporter::core::Verdict;
use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use dane_exporter::report::DomainReport;
use dane_exporter::smtp::SmtpSettings;

use hickory_proto::rr::rdata::{A, MX, TLSA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::support::dns_server::{reply_to, ScriptedServer};
use crate::support::probing::TestProber;
use crate::support::smtp_server::{ca_signed, self_signed, FixtureConfig, SmtpFixture};
use crate::support::stack::Stack;

/// Every reason the hygiene rules give (`src/checks/authoritative/hygiene.rs`).
const HYGIENE_REASONS: &[&str] = &[
    "tlsa_duplicate_record",
    "tlsa_too_many_records",
    "tlsa_full_certificate",
    "tlsa_pkix_usage",
    "tlsa_ttl_too_long",
    "dane_ta_not_sent",
    "tlsa_record_stale",
    "dnskey_algorithm_deprecated",
    "ds_missing",
    "ds_digest_sha1_only",
    "ds_no_matching_dnskey",
    "ds_unmatched",
    "nameserver_inconsistent",
];

fn prober(stack: &Stack, validate: bool) -> TestProber {
    let (mode, resolver, anchor) = if validate {
        (
            DnssecMode::Validate,
            stack.var("AUTH"),
            Some(stack.var("TRUST_ANCHOR").into()),
        )
    } else {
        (DnssecMode::TrustResolver, stack.var("RESOLVER"), None)
    };
    let resolver = resolver.parse().expect("resolver address");
    let timeout = Duration::from_secs(3);
    let dns = DnsClient::new(&DnsSettings {
        mode,
        nameservers: vec![resolver],
        trust_anchor_file: anchor,
        timeout,
    })
    .expect("DNS client");
    let smtp = SmtpSettings {
        port: stack.var("SMTP_PORT").parse().expect("SMTP port"),
        ehlo_name: "hygiene.test".into(),
        step_timeout: timeout,
        reply_timeout: timeout,
        tls_fallback: true,
    };
    let nsd_port = stack.var("AUTH").rsplit(':').next().unwrap_or_default();
    TestProber::new(dns, smtp)
        .with_authoritative(AuthoritativeSettings {
            port: nsd_port.parse().expect("NSD port"),
            timeout,
            resolvers: vec![resolver],
        })
        // httl.test publishes TTL 50000 s; resolvers cap cached TTLs at a day, so the tests
        // use a threshold below both.
        .with_hygiene(HygieneLimits {
            max_ttl: 3600,
            ..HygieneLimits::default()
        })
}

fn hygiene_reasons(report: &DomainReport) -> Vec<&str> {
    let mut reasons: Vec<&str> = report
        .warnings
        .iter()
        .map(|w| w.reason.as_str())
        .filter(|r| HYGIENE_REASONS.contains(r))
        .collect();
    reasons.sort_unstable();
    reasons
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_zone_gives_its_warning() {
    let stack = Stack::up();
    // domain, expected verdict, expected hygiene reasons (sorted)
    let cases: &[(&str, Verdict, &[&str])] = &[
        ("ok311.test", Verdict::Pass, &[]),
        ("hfull.test", Verdict::Pass, &["tlsa_full_certificate"]),
        ("httl.test", Verdict::Pass, &["tlsa_ttl_too_long"]),
        ("hmany.test", Verdict::Pass, &["tlsa_too_many_records"]),
        ("unusable.test", Verdict::EncryptOnly, &["tlsa_pkix_usage"]),
        (
            "hsha1.test",
            Verdict::Pass,
            &["dnskey_algorithm_deprecated"],
        ),
        ("hds1.test", Verdict::Pass, &["ds_digest_sha1_only"]),
        ("hdsstale.test", Verdict::Pass, &["ds_unmatched"]),
        ("htanotsent.test", Verdict::Pass, &["dane_ta_not_sent"]),
        // The DS in test. is for another key: bogus, and the zone check says why.
        ("brokends.test", Verdict::Fail, &["ds_no_matching_dnskey"]),
        ("lag.test", Verdict::Pass, &["nameserver_inconsistent"]),
    ];
    for validate in [false, true] {
        let mode = if validate {
            "validate"
        } else {
            "trust-resolver"
        };
        let prober = prober(&stack, validate);
        for (domain, verdict, expected) in cases {
            let report = tokio::time::timeout(Duration::from_secs(30), prober.probe_domain(domain))
                .await
                .unwrap_or_else(|_| panic!("[{mode}] {domain}: probe did not finish"));
            let warnings: Vec<(&str, &str)> = report
                .warnings
                .iter()
                .map(|w| (w.reason.as_str(), w.message.as_str()))
                .collect();
            assert_eq!(report.verdict, *verdict, "[{mode}] {domain}: {warnings:#?}");
            assert_eq!(
                hygiene_reasons(&report),
                *expected,
                "[{mode}] {domain}: {warnings:#?}"
            );
        }
    }
}

/// A resolver (AD on every answer) for one domain `NAME.test` whose MX host `mx.NAME.test` is at
/// `address` with the TLSA records `tlsa` (duplicates kept: what a broken server may send, and
/// what NSD and hickory-server refuse to serve from a zone file).
async fn scripted_resolver(
    address: std::net::Ipv4Addr,
    port: u16,
    tlsa: Vec<(u8, u8, u8, Vec<u8>)>,
) -> ScriptedServer {
    ScriptedServer::start(move |query, _| {
        let q = query.queries.first()?;
        let qname = q
            .name()
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let mut reply = reply_to(query);
        reply.metadata.authentic_data = true;
        let owner = q.name().clone();
        match q.query_type() {
            RecordType::MX if qname.starts_with("hyg") => {
                let exchange = Name::from_ascii(format!("mx.{qname}.")).ok()?;
                reply.add_answer(Record::from_rdata(
                    owner,
                    60,
                    RData::MX(MX::new(10, exchange)),
                ));
            }
            RecordType::A if qname.starts_with("mx.") => {
                reply.add_answer(Record::from_rdata(owner, 60, RData::A(A(address))));
            }
            RecordType::TLSA if qname.starts_with(&format!("_{port}._tcp.")) => {
                for (usage, selector, matching, data) in &tlsa {
                    reply.add_answer(Record::from_rdata(
                        owner.clone(),
                        60,
                        RData::TLSA(TLSA::new(
                            (*usage).into(),
                            (*selector).into(),
                            (*matching).into(),
                            data.clone(),
                        )),
                    ));
                }
            }
            _ => {}
        }
        Some(reply)
    })
    .await
}

async fn probe_scripted(
    fixture: FixtureConfig,
    tlsa: impl FnOnce(u16) -> Vec<(u8, u8, u8, Vec<u8>)>,
) -> DomainReport {
    let address = match fixture.bind.ip() {
        std::net::IpAddr::V4(v4) => v4,
        other => panic!("IPv4 fixture expected, got {other}"),
    };
    let smtp = SmtpFixture::start(fixture).await;
    let port = smtp.port();
    let dns = scripted_resolver(address, port, tlsa(port)).await;
    let timeout = Duration::from_secs(2);
    let prober = TestProber::new(
        DnsClient::new(&DnsSettings {
            mode: DnssecMode::TrustResolver,
            nameservers: vec![dns.addr()],
            trust_anchor_file: None,
            timeout,
        })
        .expect("DNS client"),
        SmtpSettings {
            port,
            ehlo_name: "hygiene.test".into(),
            step_timeout: timeout,
            reply_timeout: timeout,
            tls_fallback: true,
        },
    );
    tokio::time::timeout(Duration::from_secs(10), prober.probe_domain("hyg.test"))
        .await
        .expect("probe finishes")
}

#[tokio::test]
async fn duplicate_records_are_reported_once() {
    let cert = self_signed(&["mx.hyg.test"]);
    let spki = sha256(cert.leaf_spki());
    let mut fixture = FixtureConfig::new(cert);
    fixture.bind = "127.0.0.41:0".parse().unwrap();
    let report = probe_scripted(fixture, |_| {
        vec![(3, 1, 1, spki.clone()), (3, 1, 1, spki.clone())]
    })
    .await;
    assert_eq!(report.verdict, Verdict::Pass, "{:#?}", report.warnings);
    let duplicates: Vec<_> = report
        .warnings
        .iter()
        .filter(|w| w.reason.as_str() == "tlsa_duplicate_record")
        .collect();
    assert_eq!(duplicates.len(), 1, "{:#?}", report.warnings);
    assert_eq!(duplicates[0].mx.as_deref(), Some("mx.hyg.test"));
}

#[tokio::test]
async fn dane_ta_key_the_server_does_not_send() {
    let (ca, leaf) = ca_signed(&["mx.hyg.test"]);
    // `2 1 0`: the CA's whole SubjectPublicKeyInfo. Authenticates even when the server sends only
    // its leaf (the key in the record checks the leaf's signature), but only for senders that
    // take the anchor from the record.
    let ta = (2, 1, 0, ca.spki.clone());
    let mut sent_leaf_only = leaf.clone();
    sent_leaf_only.chain.truncate(1);
    let mut fixture = FixtureConfig::new(sent_leaf_only);
    fixture.bind = "127.0.0.42:0".parse().unwrap();
    let report = probe_scripted(fixture, {
        let ta = ta.clone();
        move |_| vec![ta]
    })
    .await;
    assert_eq!(report.verdict, Verdict::Pass, "{:#?}", report.failures);
    assert!(
        hygiene_reasons(&report).contains(&"dane_ta_not_sent"),
        "{:#?}",
        report.warnings
    );

    // The same record while the server sends leaf + CA: no warning.
    let mut fixture = FixtureConfig::new(leaf);
    fixture.bind = "127.0.0.43:0".parse().unwrap();
    let report = probe_scripted(fixture, move |_| vec![ta]).await;
    assert_eq!(report.verdict, Verdict::Pass, "{:#?}", report.failures);
    assert!(
        !hygiene_reasons(&report).contains(&"dane_ta_not_sent"),
        "{:#?}",
        report.warnings
    );
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}
