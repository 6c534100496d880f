//! Whole-domain probes against both in-process fixtures together: a DNSSEC-signed private root
//! served by hickory-server (validate mode) and STARTTLS listeners on loopback addresses.
//!
//! These exercise `Prober::probe` end to end (MX, addresses, TLSA, STARTTLS, DANE rules,
//! verdict) in well under a second; the real-stack suite (`stack.rs`) repeats the important cases
//! with NSD, unbound and Postfix.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dane_exporter::core::{HostDane, Verdict};
use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use dane_exporter::report::DomainReport;
use dane_exporter::smtp::SessionCache;
use dane_exporter::smtp::SmtpSettings;

use crate::support::dns_server::DnsFixture;
use crate::support::probing::TestProber;
use crate::support::smtp_server::{self_signed, FixtureConfig, SmtpFixture, TestCert};

/// Three STARTTLS listeners on the same port (the TLSA name follows the port): 127.0.0.21 and
/// ::1 serve `good`, 127.0.0.22 serves `other`, a different key.
struct Mail {
    good: TestCert,
    other: TestCert,
    listeners: Vec<SmtpFixture>,
    port: u16,
}

async fn start_mail() -> Mail {
    let good = self_signed(&["mx.good.test"]);
    let other = self_signed(&["mx.good.test"]);
    let mut first = FixtureConfig::new(good.clone());
    first.bind = "127.0.0.21:0".parse().unwrap();
    let first = SmtpFixture::start(first).await;
    let port = first.port();
    let mut second = FixtureConfig::new(other.clone());
    second.bind = SocketAddr::from(([127, 0, 0, 22], port));
    let second = SmtpFixture::start(second).await;
    let mut third = FixtureConfig::new(good.clone());
    third.bind = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
    let third = SmtpFixture::start(third).await;
    Mail {
        good,
        other,
        listeners: vec![first, second, third],
        port,
    }
}

fn zone(mail: &Mail) -> String {
    let good = mail.good.leaf_3_1_1();
    let other = mail.other.leaf_3_1_1();
    let p = mail.port;
    format!(
        r#"
.                        3600 IN SOA  ns.test. hostmaster.test. 1 3600 600 86400 300
.                        3600 IN NS   ns.test.
ns.test.                 3600 IN A    127.0.0.1
good.test.                300 IN MX   10 mx.good.test.
mx.good.test.             300 IN A    127.0.0.21
_{p}._tcp.mx.good.test.   300 IN TLSA 3 1 1 {good}
_{p}._tcp.mx.good.test.   300 IN TLSA 3 1 1 {other}
shared.test.              300 IN MX   5 mx.good.test.
bad.test.                 300 IN MX   10 mx.bad.test.
mx.bad.test.              300 IN A    127.0.0.21
_{p}._tcp.mx.bad.test.    300 IN TLSA 3 1 1 {other}
split.test.               300 IN MX   10 mx.split.test.
mx.split.test.            300 IN A    127.0.0.21
mx.split.test.            300 IN A    127.0.0.22
_{p}._tcp.mx.split.test.  300 IN TLSA 3 1 1 {good}
two.test.                 300 IN MX   10 mx1.two.test.
two.test.                 300 IN MX   20 mx2.two.test.
mx1.two.test.             300 IN A    127.0.0.21
mx1.two.test.             300 IN AAAA ::1
mx2.two.test.             300 IN A    127.0.0.22
mx2.two.test.             300 IN AAAA ::1
_{p}._tcp.mx1.two.test.   300 IN TLSA 3 1 1 {good}
_{p}._tcp.mx1.two.test.   300 IN TLSA 3 1 1 {other}
_{p}._tcp.mx2.two.test.   300 IN TLSA 3 1 1 {good}
_{p}._tcp.mx2.two.test.   300 IN TLSA 3 1 1 {other}
nodane.test.              300 IN MX   10 mx.nodane.test.
mx.nodane.test.           300 IN A    127.0.0.21
_{p}._tcp.mx.nodane.test. 300 IN TXT  "no TLSA here"
"#
    )
}

struct World {
    mail: Mail,
    _dns: DnsFixture,
    _dir: tempfile::TempDir,
    settings: DnsSettings,
}

async fn world() -> World {
    let mail = start_mail().await;
    let dns = DnsFixture::builder().zone(".", &zone(&mail)).start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = DnsSettings {
        mode: DnssecMode::Validate,
        nameservers: vec![dns.addr()],
        trust_anchor_file: Some(dns.trust_anchor_file(dir.path())),
        timeout: Duration::from_secs(3),
    };
    World {
        mail,
        _dns: dns,
        _dir: dir,
        settings,
    }
}

impl World {
    fn prober(&self) -> TestProber {
        TestProber::new(
            DnsClient::new(&self.settings).unwrap(),
            SmtpSettings {
                port: self.mail.port,
                ehlo_name: "probe.test".into(),
                step_timeout: Duration::from_secs(3),
                reply_timeout: Duration::from_secs(3),
                tls_fallback: true,
            },
        )
    }
}

fn failure_reasons(report: &DomainReport) -> Vec<&str> {
    report.failures.iter().map(|f| f.reason.as_str()).collect()
}

#[tokio::test]
async fn matching_record_passes_and_the_next_key_record_makes_rollover_ready() {
    let w = world().await;
    let report = w.prober().probe_domain("good.test").await;
    assert_eq!(report.verdict, Verdict::Pass, "{report:#?}");
    assert!(report.protected);
    let host = &report.mx.hosts[0];
    assert_eq!(host.name, "mx.good.test");
    assert_eq!(host.dane, HostDane::Applies);
    assert_eq!(host.tlsa_base_domain.as_deref(), Some("mx.good.test"));
    assert_eq!(host.rollover_ready, Some(true));
    let evaluation = host.endpoints[0].evaluation.as_ref().unwrap();
    let states: Vec<&str> = evaluation.records.iter().map(|r| r.state.label()).collect();
    assert_eq!(states, vec!["matched", "no_match"]);
    // DANE-EE: the leaf's notAfter bounds the binding, unless the signatures expire first.
    assert!(report.divergence.is_some());
    // SNI is the TLSA base domain (RFC 7672 3.3).
    let sessions = w.mail.listeners[0].sessions();
    assert_eq!(sessions[0].sni.as_deref(), Some("mx.good.test"));
}

#[tokio::test]
async fn a_record_for_another_key_only_is_a_mismatch() {
    let w = world().await;
    let report = w.prober().probe_domain("bad.test").await;
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(failure_reasons(&report), vec!["tlsa_mismatch"]);
    assert_eq!(report.failures[0].mx.as_deref(), Some("mx.bad.test"));
}

#[tokio::test]
async fn every_address_must_authenticate() {
    let w = world().await;
    let report = w.prober().probe_domain("split.test").await;
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(failure_reasons(&report), vec!["tlsa_mismatch"]);
    assert_eq!(
        report.failures[0].address,
        Some("127.0.0.22".parse().unwrap())
    );
    assert_eq!(report.mx.hosts[0].endpoints.len(), 2);
}

#[tokio::test]
async fn secure_denial_of_tlsa_is_not_applicable() {
    let w = world().await;
    let report = w.prober().probe_domain("nodane.test").await;
    assert_eq!(report.verdict, Verdict::NotApplicable, "{report:#?}");
    assert_eq!(report.mx.hosts[0].dane, HostDane::NoTlsa);
    // STARTTLS facts are still gathered where DANE does not apply.
    assert_eq!(
        report.mx.hosts[0].endpoints[0].session.starttls_offered(),
        Some(true)
    );
}

#[tokio::test]
async fn an_mx_host_shared_by_two_domains_is_probed_once() {
    let w = world().await;
    let cache = Arc::new(SessionCache::new(Duration::from_secs(60)));
    let prober = w.prober().with_sessions(Arc::clone(&cache));
    let (a, b) = tokio::join!(
        prober.probe_domain("good.test"),
        prober.probe_domain("shared.test")
    );
    assert_eq!(a.verdict, Verdict::Pass);
    assert_eq!(b.verdict, Verdict::Pass);
    // One normal session and one restricted to RSA (src/checks/key_algorithms/; this listener has no
    // RSA key), each shared by both domains.
    assert_eq!(w.mail.listeners[0].sessions().len(), 2);
    assert_eq!(cache.len().await, 1);
}

/// `/metrics` is written by `metrics::TargetSeries` straight into text; it must be exactly
/// what the prometheus crate's TextEncoder makes of `metrics::probe_families` (the same series as
/// protobuf objects), for real reports of every verdict and for label values that need escaping.
#[tokio::test]
async fn text_exposition_is_what_the_prometheus_encoder_writes() {
    use std::collections::BTreeMap;

    use dane_exporter::core::Direction;
    use dane_exporter::metrics::{probe_exposition, probe_families, LabelledReport};
    use prometheus::{Encoder, TextEncoder};

    let world = world().await;
    let prober = world.prober();
    let mut reports = Vec::new();
    for domain in [
        "good.test",
        "bad.test",
        "split.test",
        "nodane.test",
        "missing.test",
    ] {
        reports.push(prober.probe_domain(domain).await);
    }
    let plain = BTreeMap::new();
    let awkward: BTreeMap<String, String> = [
        (
            "team".to_string(),
            "a \"quoted\" \\ back\nslash".to_string(),
        ),
        ("empty".to_string(), String::new()),
    ]
    .into();
    let labelled: Vec<LabelledReport<'_>> = reports
        .iter()
        .enumerate()
        .map(|(i, report)| LabelledReport {
            direction: if i % 2 == 0 {
                Direction::Inbound
            } else {
                Direction::Outbound
            },
            extra_labels: if i == 1 { &awkward } else { &plain },
            report,
        })
        .collect();

    // The exposition sorts families by name, as the prometheus crate's registry does.
    let mut families = probe_families(&labelled);
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let mut expected = Vec::new();
    TextEncoder::new().encode(&families, &mut expected).unwrap();
    let got = probe_exposition(&labelled);
    assert_eq!(got, String::from_utf8(expected).unwrap());
    assert!(
        got.contains(r#"team="a \"quoted\" \\ back\nslash""#),
        "{got}"
    );
    assert!(got.contains("dane_probe_failure_info{"), "{got}");
}

/// Series a domain costs, by shape, as an inbound target with the default checks (key-algorithm
/// sessions on; MTA-STS and the authoritative checks add their own, see docs/metrics.md). The
/// README's metric section states these budgets; a change that grows a shape past its budget
/// fails here and has to say why in the README.
const SERIES_BUDGET_ONE_MX_ONE_ADDRESS: usize = 32;
const SERIES_BUDGET_TWO_MX_DUAL_STACK: usize = 84;

#[tokio::test]
async fn series_per_domain_shape_stay_within_budget() {
    use dane_exporter::core::Direction;
    use dane_exporter::metrics::{probe_exposition, LabelledReport};
    let w = world().await;
    let prober = w.prober();
    let count = |report: &DomainReport| {
        let labels = Default::default();
        let text = probe_exposition(&[LabelledReport {
            direction: Direction::Inbound,
            extra_labels: &labels,
            report,
        }]);
        let series: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        if std::env::var_os("SHOW_SERIES").is_some() {
            println!("{}", series.join("\n"));
        }
        // Every label value is bounded: no RDATA, no message text.
        for line in &series {
            for value in line.split('"').skip(1).step_by(2) {
                assert!(value.len() <= 253, "an unbounded label value: {line}");
            }
        }
        series.len()
    };
    let one = prober.probe_domain("good.test").await;
    assert_eq!(one.verdict, Verdict::Pass, "{one:#?}");
    let two = prober.probe_domain("two.test").await;
    assert_eq!(two.verdict, Verdict::Pass, "{two:#?}");
    assert_eq!(
        two.mx
            .hosts
            .iter()
            .map(|h| h.endpoints.len())
            .sum::<usize>(),
        4
    );
    let (one, two) = (count(&one), count(&two));
    println!("series: one MX, one address: {one}; two MX, dual stack: {two}");
    assert!(
        one <= SERIES_BUDGET_ONE_MX_ONE_ADDRESS,
        "one MX host, one address: {one} series, budget {SERIES_BUDGET_ONE_MX_ONE_ADDRESS}"
    );
    assert!(
        two <= SERIES_BUDGET_TWO_MX_DUAL_STACK,
        "two MX hosts, dual stack: {two} series, budget {SERIES_BUDGET_TWO_MX_DUAL_STACK}"
    );
}
