//! Every key algorithm, in process: STARTTLS fixtures holding an ECDSA and an RSA certificate (as
//! Postfix with two key+chain pairs does), a signed private root (hickory-server, validate mode),
//! and whole-domain probes through `Prober::probe`. The real-stack counterpart (a dual
//! Postfix listener) is `real_stack_dual_listener` at the end.
//!
//! Addresses: 127.0.0.41 dual (ECDSA preferred), 127.0.0.42 ECDSA only, 127.0.0.43 dual (RSA
//! preferred), all on one port.

use std::net::SocketAddr;
use std::time::Duration;

use dane_exporter::core::Verdict;
use dane_exporter::core::{KeyAlgorithm, KeyAlgorithmState, RestrictedError};
use dane_exporter::dane::leaf_key_algorithm;
use dane_exporter::dns::{DnsClient, DnsSettings};
use dane_exporter::report::DomainReport;
use dane_exporter::smtp::{probe_starttls_restricted, SmtpSettings};

use crate::support::dns_server::DnsFixture;
use crate::support::exporter::exposition;
use crate::support::probing::TestProber;
use crate::support::smtp_server::{
    rsa_self_signed, self_signed, FixtureConfig, SmtpFixture, TestCert, TlsVersions,
};

struct World {
    ecdsa: TestCert,
    rsa: TestCert,
    listeners: Vec<SmtpFixture>,
    port: u16,
    _dns: DnsFixture,
    _dir: tempfile::TempDir,
    settings: DnsSettings,
}

async fn world() -> World {
    let ecdsa = self_signed(&["mx.dual.test"]);
    let rsa = rsa_self_signed(&["mx.dual.test"]);
    let mut dual = FixtureConfig::new(ecdsa.clone());
    dual.bind = "127.0.0.41:0".parse().unwrap();
    dual.second_cert = Some(rsa.clone());
    let dual = SmtpFixture::start(dual).await;
    let port = dual.port();
    let mut single = FixtureConfig::new(ecdsa.clone());
    single.bind = SocketAddr::from(([127, 0, 0, 42], port));
    let single = SmtpFixture::start(single).await;
    let mut rsa_first = FixtureConfig::new(rsa.clone());
    rsa_first.bind = SocketAddr::from(([127, 0, 0, 43], port));
    rsa_first.second_cert = Some(ecdsa.clone());
    let rsa_first = SmtpFixture::start(rsa_first).await;

    let e = ecdsa.leaf_3_1_1();
    let r = rsa.leaf_3_1_1();
    let p = port;
    let zone = format!(
        r#"
.                          3600 IN SOA  ns.test. hostmaster.test. 1 3600 600 86400 300
.                          3600 IN NS   ns.test.
ns.test.                   3600 IN A    127.0.0.1
ecdsaonly.test.             300 IN MX   10 mx.ecdsaonly.test.
mx.ecdsaonly.test.          300 IN A    127.0.0.41
_{p}._tcp.mx.ecdsaonly.test. 300 IN TLSA 3 1 1 {e}
both.test.                  300 IN MX   10 mx.both.test.
mx.both.test.               300 IN A    127.0.0.41
_{p}._tcp.mx.both.test.     300 IN TLSA 3 1 1 {e}
_{p}._tcp.mx.both.test.     300 IN TLSA 3 1 1 {r}
single.test.                300 IN MX   10 mx.single.test.
mx.single.test.             300 IN A    127.0.0.42
_{p}._tcp.mx.single.test.   300 IN TLSA 3 1 1 {e}
rsafirst.test.              300 IN MX   10 mx.rsafirst.test.
mx.rsafirst.test.           300 IN A    127.0.0.43
_{p}._tcp.mx.rsafirst.test. 300 IN TLSA 3 1 1 {e}
"#
    );
    let dns = DnsFixture::builder().zone(".", &zone).start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = dns.validate_settings(dir.path());
    World {
        ecdsa,
        rsa,
        listeners: vec![dual, single, rsa_first],
        port,
        _dns: dns,
        _dir: dir,
        settings,
    }
}

impl World {
    fn smtp(&self) -> SmtpSettings {
        SmtpSettings {
            port: self.port,
            ehlo_name: "probe.test".into(),
            step_timeout: Duration::from_secs(3),
            reply_timeout: Duration::from_secs(3),
            tls_fallback: true,
        }
    }

    fn prober(&self) -> TestProber {
        TestProber::new(DnsClient::new(&self.settings).unwrap(), self.smtp())
    }
}

/// Warnings other than `rollover_not_ready` (single-record zones here have that, unrelated).
fn warnings(report: &DomainReport) -> Vec<(&str, Option<String>)> {
    report
        .warnings
        .iter()
        .filter(|f| f.reason.as_str() != "rollover_not_ready")
        .map(|f| (f.reason.as_str(), f.address.map(|a| a.to_string())))
        .collect()
}

/// (algorithm, state, matches, from_main_session) of the only endpoint.
fn algorithms(report: &DomainReport) -> Vec<(KeyAlgorithm, &'static str, Option<bool>, bool)> {
    report.mx.hosts[0].endpoints[0]
        .key_algorithms
        .iter()
        .map(|k| {
            let state = match k.state {
                KeyAlgorithmState::Offered { .. } => "offered",
                KeyAlgorithmState::NotOffered { .. } => "not_offered",
                KeyAlgorithmState::Failed { .. } => "failed",
            };
            (
                k.key_algorithm,
                state,
                k.evaluation().map(|e| e.passes()),
                k.from_main_session,
            )
        })
        .collect()
}

#[tokio::test]
async fn restricted_handshakes_get_each_chain_or_not_offered() {
    let w = world().await;
    let dual: SocketAddr = SocketAddr::from(([127, 0, 0, 41], w.port));
    for (algorithm, want) in [(KeyAlgorithm::Ecdsa, &w.ecdsa), (KeyAlgorithm::Rsa, &w.rsa)] {
        let session = probe_starttls_restricted(dual, "mx.dual.test", &w.smtp(), algorithm)
            .await
            .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"));
        assert_eq!(session.chain[0], want.chain[0], "{algorithm:?}");
        assert_eq!(leaf_key_algorithm(&session.chain[0]), Some(algorithm));
    }
    let single = SocketAddr::from(([127, 0, 0, 42], w.port));
    match probe_starttls_restricted(single, "mx.dual.test", &w.smtp(), KeyAlgorithm::Rsa).await {
        Err(RestrictedError::NotOffered { detail }) => {
            assert!(detail.contains("handshake failure"), "{detail}")
        }
        other => panic!("RSA on an ECDSA-only server: want NotOffered, got {other:?}"),
    }
    // TLS 1.2 only: the restriction works through the cipher suites (ECDHE_ECDSA / ECDHE_RSA).
    let mut dual12 = FixtureConfig::new(w.ecdsa.clone());
    dual12.bind = SocketAddr::from(([127, 0, 0, 45], w.port));
    dual12.second_cert = Some(w.rsa.clone());
    dual12.tls_versions = TlsVersions::Tls12Only;
    let _dual12 = SmtpFixture::start(dual12).await;
    let mut ecdsa12 = FixtureConfig::new(w.ecdsa.clone());
    ecdsa12.bind = SocketAddr::from(([127, 0, 0, 46], w.port));
    ecdsa12.tls_versions = TlsVersions::Tls12Only;
    let _ecdsa12 = SmtpFixture::start(ecdsa12).await;
    let dual12 = SocketAddr::from(([127, 0, 0, 45], w.port));
    for (algorithm, want, suite) in [
        (KeyAlgorithm::Ecdsa, &w.ecdsa, "TLS_ECDHE_ECDSA_"),
        (KeyAlgorithm::Rsa, &w.rsa, "TLS_ECDHE_RSA_"),
    ] {
        let session = probe_starttls_restricted(dual12, "mx.dual.test", &w.smtp(), algorithm)
            .await
            .unwrap_or_else(|e| panic!("TLS 1.2 {algorithm:?}: {e}"));
        assert_eq!(session.version, "TLSv1.2");
        assert!(
            session.cipher_suite.starts_with(suite),
            "{}",
            session.cipher_suite
        );
        assert_eq!(session.chain[0], want.chain[0]);
    }
    let ecdsa12 = SocketAddr::from(([127, 0, 0, 46], w.port));
    assert!(matches!(
        probe_starttls_restricted(ecdsa12, "mx.dual.test", &w.smtp(), KeyAlgorithm::Rsa).await,
        Err(RestrictedError::NotOffered { .. })
    ));
    // A closed port is a failure, not "not offered".
    let closed = SocketAddr::from(([127, 0, 0, 44], w.port));
    match probe_starttls_restricted(closed, "mx.dual.test", &w.smtp(), KeyAlgorithm::Rsa).await {
        Err(RestrictedError::Smtp(e)) => assert_eq!(e.reason().as_str(), "smtp_connect_failed"),
        other => panic!("closed port: want Smtp error, got {other:?}"),
    }
}

#[tokio::test]
async fn dual_listener_with_only_the_ecdsa_key_in_tlsa_warns_about_rsa() {
    let w = world().await;
    let before = w.listeners[0].sessions().len();
    let report = w.prober().probe_domain("ecdsaonly.test").await;
    // Postfix as a sender offers both and gets ECDSA: delivery works today.
    assert_eq!(report.verdict, Verdict::Pass, "{report:#?}");
    assert_eq!(
        algorithms(&report),
        vec![
            (KeyAlgorithm::Ecdsa, "offered", Some(true), true),
            (KeyAlgorithm::Rsa, "offered", Some(false), false),
        ]
    );
    assert_eq!(
        warnings(&report),
        vec![(
            "tlsa_mismatch_key_algorithm",
            Some("127.0.0.41".to_string())
        )]
    );
    assert!(report.warnings[0].message.contains("RSA"));
    // Cost: the normal session plus one restricted session, no more.
    assert_eq!(w.listeners[0].sessions().len() - before, 2);

    let text = exposition(&report);
    assert!(text.contains(r#"dane_key_algorithm_tlsa_match{domain="ecdsaonly.test",direction="inbound",mx="mx.ecdsaonly.test",address="127.0.0.41",key_algorithm="rsa"} 0"#), "{text}");
    assert!(text.contains(r#"dane_key_algorithm_tlsa_match{domain="ecdsaonly.test",direction="inbound",mx="mx.ecdsaonly.test",address="127.0.0.41",key_algorithm="ecdsa"} 1"#), "{text}");
    assert!(text.contains(r#"dane_key_algorithm_offered{domain="ecdsaonly.test",direction="inbound",mx="mx.ecdsaonly.test",address="127.0.0.41",key_algorithm="rsa"} 1"#), "{text}");
}

#[tokio::test]
async fn both_keys_published_is_clean_and_a_single_key_server_has_the_other_not_offered() {
    let w = world().await;
    let both = w.prober().probe_domain("both.test").await;
    assert_eq!(both.verdict, Verdict::Pass);
    assert_eq!(
        algorithms(&both),
        vec![
            (KeyAlgorithm::Ecdsa, "offered", Some(true), true),
            (KeyAlgorithm::Rsa, "offered", Some(true), false),
        ]
    );
    assert!(both.warnings.is_empty(), "{:?}", both.warnings);

    let single = w.prober().probe_domain("single.test").await;
    assert_eq!(single.verdict, Verdict::Pass);
    assert_eq!(
        algorithms(&single),
        vec![
            (KeyAlgorithm::Ecdsa, "offered", Some(true), true),
            (KeyAlgorithm::Rsa, "not_offered", None, false),
        ]
    );
    assert!(warnings(&single).is_empty(), "{:?}", single.warnings);
    let text = exposition(&single);
    assert!(text.contains(r#"key_algorithm="rsa"} 0"#), "{text}");
}

#[tokio::test]
async fn server_preferring_the_unpublished_key_fails_and_adds_no_latent_warning() {
    let w = world().await;
    let report = w.prober().probe_domain("rsafirst.test").await;
    // The sender gets RSA, which no record names: that defers mail now.
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(report.failures[0].reason.as_str(), "tlsa_mismatch");
    assert_eq!(
        algorithms(&report),
        vec![
            (KeyAlgorithm::Ecdsa, "offered", Some(true), false),
            (KeyAlgorithm::Rsa, "offered", Some(false), true),
        ]
    );
    assert!(warnings(&report).is_empty(), "{:?}", report.warnings);
}

/// `global.key_algorithm_checks` through the whole configured path (YAML, `Config::targets` and
/// `Config::adhoc_target` for `/probe`, the scheduler's `ProberRunner`): an outbound target costs
/// its endpoint one SMTP connection by default, an inbound one two (the normal session and the
/// RSA-restricted one); `all` gives outbound targets the extra session too, `none` takes it from
/// inbound ones. Without it the endpoint has no key-algorithm reports, hence no
/// `dane_key_algorithm_*` series and no `tlsa_mismatch_key_algorithm` warning, while the normal
/// session is judged as before.
#[tokio::test]
async fn key_algorithm_checks_decide_the_extra_session_by_direction() {
    use std::path::Path;

    use dane_exporter::config::{parse, Target};
    use dane_exporter::core::Direction;
    use dane_exporter::scheduler::{run_one, ProberRunner};

    let w = world().await;
    let anchor = w.settings.trust_anchor_file.clone().unwrap();
    let config = |scope: Option<&str>| {
        let mut text = format!(
            "global:\n  timeout: 20s\n  step_timeout: 3s\n  dnssec_mode: validate\n  \
             nameservers: [\"{}\"]\n  trust_anchor_file: {}\n  smtp_port: {}\n  \
             ehlo_name: probe.test\n  authoritative_checks: none\n",
            w.settings.nameservers[0],
            anchor.display(),
            w.port
        );
        if let Some(scope) = scope {
            text.push_str(&format!("  key_algorithm_checks: {scope}\n"));
        }
        text.push_str(
            "inbound:\n  - domain: ecdsaonly.test\noutbound:\n  - domain: ecdsaonly.test\n",
        );
        parse(&text, Path::new("inline.yml")).unwrap_or_else(|e| panic!("{scope:?}: {e}"))
    };
    // Connections the dual listener (mx.ecdsaonly.test) accepted for one probe of `target`, with
    // a runner of its own so that no session is shared with an earlier probe.
    let probe = |target: Target| {
        let listener = &w.listeners[0];
        async move {
            let runner = ProberRunner::new(std::slice::from_ref(&target), None).unwrap();
            let before = listener.sessions().len();
            let report = run_one(&target, &runner).await;
            (listener.sessions().len() - before, report)
        }
    };
    let by_direction = |config: &dane_exporter::config::Config, direction: Direction| {
        let mut targets = config.targets();
        targets.retain(|t| t.direction == direction);
        assert_eq!(targets.len(), 1);
        targets.remove(0)
    };

    for (scope, direction, adhoc, want) in [
        (None, Direction::Outbound, false, 1),
        (None, Direction::Inbound, false, 2),
        (None, Direction::Outbound, true, 1),
        (None, Direction::Inbound, true, 2),
        (Some("inbound"), Direction::Outbound, false, 1),
        (Some("all"), Direction::Outbound, false, 2),
        (Some("all"), Direction::Outbound, true, 2),
        (Some("none"), Direction::Inbound, false, 1),
        (Some("none"), Direction::Inbound, true, 1),
    ] {
        let config = config(scope);
        let target = if adhoc {
            config.adhoc_target("ecdsaonly.test", direction)
        } else {
            by_direction(&config, direction)
        };
        let case = format!("{scope:?} {direction:?} adhoc={adhoc}");
        let (connections, report) = probe(target).await;
        assert_eq!(connections, want, "{case}");
        // The normal session is the same either way: ECDSA, authenticated, delivery works.
        assert_eq!(report.verdict, Verdict::Pass, "{case}: {report:#?}");
        let endpoint = &report.mx.hosts[0].endpoints[0];
        assert_eq!(
            endpoint.chain[0].spki_sha256,
            w.ecdsa.leaf_3_1_1(),
            "{case}"
        );
        assert!(
            endpoint.evaluation.as_ref().is_some_and(|e| e.passes()),
            "{case}"
        );
        let text = exposition(&report);
        if want == 2 {
            assert_eq!(
                algorithms(&report),
                vec![
                    (KeyAlgorithm::Ecdsa, "offered", Some(true), true),
                    (KeyAlgorithm::Rsa, "offered", Some(false), false),
                ],
                "{case}"
            );
            assert_eq!(
                warnings(&report),
                vec![("tlsa_mismatch_key_algorithm", Some("127.0.0.41".into()))],
                "{case}"
            );
            assert!(
                text.contains("dane_key_algorithm_tlsa_match{"),
                "{case}: {text}"
            );
        } else {
            assert!(endpoint.key_algorithms.is_empty(), "{case}: {endpoint:#?}");
            assert!(
                warnings(&report).is_empty(),
                "{case}: {:?}",
                report.warnings
            );
            assert!(!text.contains("dane_key_algorithm_"), "{case}: {text}");
        }
    }
}

/// The real stack: Postfix's `dualalg` listener holds an ECDSA and an RSA key+chain
/// (`smtpd_tls_chain_files` with two pairs) and TLSA names only the ECDSA key. Through the
/// `dane_exporter check` binary: both algorithms offered, ECDSA matches, RSA does not, a
/// `tlsa_mismatch_key_algorithm` warning. Cross-checked with OpenSSL's own DANE code
/// (`openssl s_client -sigalgs`): limited to RSA signatures it gets the unpublished chain and fails
/// DANE (num=65), limited to ECDSA it verifies, so the latent failure is Postfix's own behaviour
/// and not an artefact of our client.
#[test]
fn real_stack_dual_listener() {
    use std::process::{Command, Stdio};

    use crate::support::stack::{Stack, SMTP_NET};

    let stack = Stack::up();
    let check = |extra: &[&str]| stack.check_json("dualalg.test", extra);
    let warned = |json: &serde_json::Value| {
        json["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["reason"] == "tlsa_mismatch_key_algorithm")
    };

    // Without the extra sessions: the main (ECDSA) session alone, mail flows, nothing latent.
    let (code, json) = check(&["--no-key-algorithms"]);
    let endpoint = &json["hosts"][0]["endpoints"][0];
    assert!(endpoint.is_object(), "{json:#}");
    let extra_sessions = endpoint["key_algorithms"].as_array().map_or(0, Vec::len);
    assert_eq!(extra_sessions, 0, "{json:#}");
    assert_eq!(
        (code, &json["verdict"]),
        (Some(0), &"pass".into()),
        "{json:#}"
    );
    assert!(!warned(&json), "{json:#}");

    let (code, json) = check(&[]);
    let endpoint = &json["hosts"][0]["endpoints"][0];
    let algorithms = endpoint["key_algorithms"]
        .as_array()
        .expect("key_algorithms");
    let summary: Vec<(String, String, String)> = algorithms
        .iter()
        .map(|k| {
            (
                k["key_algorithm"].as_str().unwrap_or("").to_string(),
                k["state"].as_str().unwrap_or("").to_string(),
                k["evaluation"]["outcome"]["result"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("ecdsa".into(), "offered".into(), "authenticated".into()),
            ("rsa".into(), "offered".into(), "failed".into()),
        ],
        "{json:#}"
    );
    // Our ClientHello lists ECDSA first, as OpenSSL's does: Postfix serves ECDSA, mail flows.
    assert_eq!(json["verdict"], "pass", "{json:#}");
    assert_eq!(code, Some(0));
    assert!(warned(&json), "{json:#}");
    // Cost, for the README: the normal session and the one extra (RSA) session.
    eprintln!(
        "dualalg cost: normal session {:.1} ms, extra RSA session {:.1} ms, whole probe {:.1} ms",
        endpoint["duration_seconds"].as_f64().unwrap_or(0.0) * 1000.0,
        algorithms[1]["duration_seconds"].as_f64().unwrap_or(0.0) * 1000.0,
        json["duration_seconds"].as_f64().unwrap_or(0.0) * 1000.0
    );
    let rsa_key = algorithms[1]["leaf"]["spki_sha256"].as_str().unwrap();
    assert_eq!(
        stack.tlsa["dualalg_rsa"],
        format!("3 1 1 {rsa_key}"),
        "the RSA chain is the one up.sh made"
    );

    let addr = format!("{SMTP_NET}.19:{}", stack.var("SMTP_PORT"));
    let openssl = |sigalgs: &str| {
        let out = Command::new("openssl")
            .args([
                "s_client",
                "-brief",
                "-verify_return_error",
                "-starttls",
                "smtp",
            ])
            .args(["-connect", &addr, "-servername", "mx.dualalg.test"])
            .args(["-dane_tlsa_domain", "mx.dualalg.test"])
            .args(["-dane_tlsa_rrdata", &stack.tlsa["dualalg_ec"]])
            .args(["-sigalgs", sigalgs])
            .stdin(Stdio::null())
            .output()
            .expect("openssl s_client");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, text) = openssl("ECDSA+SHA256");
    assert!(
        code == Some(0) && text.contains("Verification: OK"),
        "{text}"
    );
    let (code, text) = openssl("RSA-PSS+SHA256:RSA+SHA256");
    assert!(
        code == Some(1) && text.contains("no matching DANE TLSA records"),
        "{code:?} {text}"
    );
}

/// One MX host with an ECDSA and an RSA certificate file (two `certificates` entries, as a dual
/// Postfix listener has two key+chain pairs): each file is judged and labelled by its key
/// algorithm; the RSA file, whose key no record names, warns before a reload; a third file with
/// an ECDSA key for the same slot is named as ambiguous and not measured twice.
#[tokio::test]
async fn certificate_files_of_a_dual_host_are_told_apart_by_key_algorithm() {
    use std::sync::Arc;

    use dane_exporter::config::{CertificateSource, CertificateSpec, Target, TargetSettings};
    use dane_exporter::core::Direction;
    use dane_exporter::history::History;
    use dane_exporter::scheduler::{run_one, ProberRunner};

    use crate::support::smtp_server::pem_chain;

    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let other_ecdsa = self_signed(&["mx.ecdsaonly.test"]);
    for (name, cert) in [
        ("ecdsa.pem", &w.ecdsa),
        ("rsa.pem", &w.rsa),
        ("other.pem", &other_ecdsa),
    ] {
        std::fs::write(dir.path().join(name), pem_chain(&cert.chain)).unwrap();
    }
    let entry = |file: &str| CertificateSpec {
        mx: "mx.ecdsaonly.test".into(),
        source: CertificateSource::Files {
            live: dir.path().join(file),
            staged: None,
        },
    };
    let target = Target::with_settings(
        "ecdsaonly.test",
        Direction::Inbound,
        TargetSettings {
            expect: dane_exporter::core::Expectation::Any,
            labels: Default::default(),
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(20),
            dns: w.settings.clone(),
            smtp: w.smtp(),
            // MTA-STS is tested in mta_sts.rs; off here.
            mta_sts: Default::default(),
            services: Vec::new(),
            service_trust: std::sync::Arc::new(dane_exporter::dane::PkixTrust::empty()),
            certificates: vec![entry("ecdsa.pem"), entry("rsa.pem"), entry("other.pem")],
            authoritative: None,
            hygiene: Default::default(),
            key_algorithms: true,
            metrics: Default::default(),
        },
    );
    let runner = ProberRunner::new(std::slice::from_ref(&target), None)
        .unwrap()
        .with_history(Arc::new(History::new()));
    let report = run_one(&target, &runner).await;
    let mut reasons: Vec<&str> = report.warnings.iter().map(|f| f.reason.as_str()).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            "local_certificate_ambiguous",
            "local_certificate_unpublished",
            "local_certificate_unpublished",
            "rollover_not_ready",
            "tlsa_mismatch_key_algorithm",
        ],
        "{:#?}",
        report.warnings
    );
    let text = exposition(&report);
    let at = |alg: &str| {
        format!(
            r#"domain="ecdsaonly.test",direction="inbound",mx="mx.ecdsaonly.test",slot="live",key_algorithm="{alg}"}}"#
        )
    };
    for (metric, alg, value) in [
        ("dane_local_certificate_tlsa_match", "ecdsa", 1),
        ("dane_local_certificate_tlsa_match", "rsa", 0),
        ("dane_local_certificate_served", "ecdsa", 1),
        ("dane_local_certificate_served", "rsa", 1),
    ] {
        let line = format!("{metric}{{{} {value}", at(alg));
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    assert_eq!(
        text.matches("dane_local_certificate_tlsa_match{").count(),
        2,
        "one series per key algorithm: {text}"
    );
    crate::support::exporter::promtool_check(&text);
}
