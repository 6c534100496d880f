//! Local certificate files against the published TLSA records (issue 7, staged next certificate).
//!
//! In process: a signed private root (hickory-server, validate mode, TLSA TTL 2 s so that "two
//! TTLs" passes within the test), a STARTTLS fixture serving the live certificate, certificate
//! files in a temporary directory, and the scheduler's `ProberRunner` with a `Target` naming the
//! files, run for two rounds against one publication log: what the exporter does every interval.
//! The real-stack counterpart (Postfix, NSD, unbound, the exporter binary, a record published
//! while it runs) is `real_stack_staged_certificate_published` at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dane_exporter::checks::local_certs::{LocalCertReport, Slot};
use dane_exporter::config::{CertificateSource, CertificateSpec, Target, TargetSettings};
use dane_exporter::core::{Direction, Verdict};
use dane_exporter::dns::DnsSettings;
use dane_exporter::history::History;
use dane_exporter::report::DomainReport;
use dane_exporter::scheduler::{run_one, ProberRunner};
use dane_exporter::smtp::SmtpSettings;

use crate::support::dns_server::DnsFixture;
use crate::support::exporter::exposition;
use crate::support::smtp_server::{pem_chain, self_signed, FixtureConfig, SmtpFixture, TestCert};

struct World {
    live: TestCert,
    next: TestCert,
    _smtp: SmtpFixture,
    port: u16,
    _dns: DnsFixture,
    dir: tempfile::TempDir,
    settings: DnsSettings,
}

/// `published.test`: TLSA for live and next. `unpublished.test`: live only. `wrongfile.test`: a
/// record for the next key only, while the listener serves live (the file on disk and the
/// server both mismatch). All MX hosts at 127.0.0.51.
async fn world() -> World {
    let live = self_signed(&["mx.published.test"]);
    let next = self_signed(&["mx.published.test"]);
    let mut config = FixtureConfig::new(live.clone());
    config.bind = "127.0.0.51:0".parse().unwrap();
    let smtp = SmtpFixture::start(config).await;
    let port = smtp.port();
    let (l, n, p) = (live.leaf_3_1_1(), next.leaf_3_1_1(), port);
    let zone = format!(
        r#"
.                              3600 IN SOA  ns.test. hostmaster.test. 1 3600 600 86400 300
.                              3600 IN NS   ns.test.
ns.test.                       3600 IN A    127.0.0.1
published.test.                 300 IN MX   10 mx.published.test.
mx.published.test.              300 IN A    127.0.0.51
_{p}._tcp.mx.published.test.      2 IN TLSA 3 1 1 {l}
_{p}._tcp.mx.published.test.      2 IN TLSA 3 1 1 {n}
unpublished.test.               300 IN MX   10 mx.unpublished.test.
mx.unpublished.test.            300 IN A    127.0.0.51
_{p}._tcp.mx.unpublished.test.    2 IN TLSA 3 1 1 {l}
"#
    );
    let dns = DnsFixture::builder().zone(".", &zone).start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = dns.validate_settings(dir.path());
    std::fs::write(dir.path().join("live.pem"), pem_chain(&live.chain)).unwrap();
    std::fs::write(dir.path().join("next.pem"), pem_chain(&next.chain)).unwrap();
    World {
        live,
        next,
        _smtp: smtp,
        port,
        _dns: dns,
        dir,
        settings,
    }
}

impl World {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn target(&self, domain: &str, certificates: Vec<CertificateSpec>) -> Target {
        Target::with_settings(
            domain,
            Direction::Inbound,
            TargetSettings {
                expect: dane_exporter::core::Expectation::Any,
                labels: Default::default(),
                interval: Duration::from_secs(60),
                timeout: Duration::from_secs(20),
                dns: self.settings.clone(),
                smtp: SmtpSettings {
                    port: self.port,
                    ehlo_name: "probe.test".into(),
                    step_timeout: Duration::from_secs(3),
                    reply_timeout: Duration::from_secs(3),
                    tls_fallback: true,
                },
                // MTA-STS is tested in mta_sts.rs; off here.
                mta_sts: Default::default(),
                services: Vec::new(),
                service_trust: std::sync::Arc::new(dane_exporter::dane::PkixTrust::empty()),
                certificates,
                // The authoritative checks are tested elsewhere (consistency.rs); off here.
                authoritative: None,
                hygiene: Default::default(),
                key_algorithms: true,
                metrics: Default::default(),
            },
        )
    }

    fn files(&self, mx: &str, live: &str, staged: Option<&str>) -> Vec<CertificateSpec> {
        vec![CertificateSpec {
            mx: mx.to_string(),
            source: CertificateSource::Files {
                live: self.path(live),
                staged: staged.map(|s| self.path(s)),
            },
        }]
    }
}

async fn round(target: &Target, log: &Arc<History>) -> DomainReport {
    let runner = ProberRunner::new(std::slice::from_ref(target), None)
        .unwrap()
        .with_history(Arc::clone(log));
    run_one(target, &runner).await
}

fn slot(report: &DomainReport, slot: Slot) -> &LocalCertReport {
    report
        .local_certificates
        .iter()
        .find(|c| c.slot == slot)
        .unwrap_or_else(|| {
            panic!(
                "no {slot:?} certificate in {:#?}",
                report.local_certificates
            )
        })
}

fn warning_reasons(report: &DomainReport) -> Vec<&str> {
    report
        .warnings
        .iter()
        .map(|f| f.reason.as_str())
        .filter(|r| *r != "rollover_not_ready")
        .collect()
}

#[tokio::test]
async fn staged_key_published_becomes_safe_to_deploy_after_two_ttls() {
    let w = world().await;
    let target = w.target(
        "published.test",
        w.files("mx.published.test", "live.pem", Some("next.pem")),
    );
    let log = Arc::new(History::new());
    let first = round(&target, &log).await;
    assert_eq!(first.verdict, Verdict::Pass, "{first:#?}");
    assert!(warning_reasons(&first).is_empty(), "{:?}", first.warnings);
    let live = slot(&first, Slot::Live);
    let staged = slot(&first, Slot::Staged);
    assert_eq!(live.served, Some(true));
    assert_eq!(staged.served, Some(false));
    let tlsa = staged.tlsa.as_ref().expect("DANE applies");
    assert!(tlsa.matches);
    assert_eq!(
        tlsa.matched_records,
        vec![format!("3 1 1 {}", w.next.leaf_3_1_1())]
    );
    assert_eq!(tlsa.published_seconds, Some(0));
    assert_eq!(tlsa.required_seconds, Some(4), "two TTLs of 2 s");
    assert!(!tlsa.safe_to_deploy, "just seen: not yet safe");
    // The live file is what every address serves already: nothing to wait for.
    assert!(live.tlsa.as_ref().unwrap().safe_to_deploy);

    // Two TTLs later (whole seconds on both ends: wait a little more).
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    let second = round(&target, &log).await;
    let tlsa = slot(&second, Slot::Staged).tlsa.as_ref().unwrap();
    assert!(
        tlsa.published_seconds.unwrap() >= 4,
        "{:?}",
        tlsa.published_seconds
    );
    assert!(tlsa.safe_to_deploy, "{tlsa:?}");
    assert_eq!(
        tlsa.published_since,
        slot(&first, Slot::Staged)
            .tlsa
            .as_ref()
            .unwrap()
            .published_since
    );

    let text = exposition(&second);
    for line in [
        r#"dane_local_certificate_safe_to_deploy{domain="published.test",direction="inbound",mx="mx.published.test",slot="staged",key_algorithm="ecdsa"} 1"#,
        r#"dane_local_certificate_tlsa_match{domain="published.test",direction="inbound",mx="mx.published.test",slot="live",key_algorithm="ecdsa"} 1"#,
        r#"dane_local_certificate_served{domain="published.test",direction="inbound",mx="mx.published.test",slot="staged",key_algorithm="ecdsa"} 0"#,
        r#"dane_local_certificate_required_publication_seconds{domain="published.test",direction="inbound",mx="mx.published.test",slot="staged",key_algorithm="ecdsa"} 4"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    crate::support::exporter::promtool_check(&text);
}

#[tokio::test]
async fn staged_key_not_published_warns_and_is_not_safe() {
    let w = world().await;
    let target = w.target(
        "unpublished.test",
        w.files("mx.unpublished.test", "live.pem", Some("next.pem")),
    );
    let log = Arc::new(History::new());
    let report = round(&target, &log).await;
    // Mail flows today: the served (live) key is published.
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(
        warning_reasons(&report),
        vec!["staged_certificate_unpublished"]
    );
    assert!(report
        .warnings
        .iter()
        .any(|f| f.message.contains(&w.next.leaf_3_1_1())));
    let tlsa = slot(&report, Slot::Staged).tlsa.as_ref().unwrap();
    assert!(!tlsa.matches && !tlsa.safe_to_deploy);
    assert_eq!(tlsa.failure.as_deref(), Some("tlsa_mismatch"));
    assert!(slot(&report, Slot::Live).tlsa.as_ref().unwrap().matches);
}

#[tokio::test]
async fn live_file_renewed_with_an_unpublished_key_warns_before_the_reload() {
    let w = world().await;
    // The renewal wrote the next key's certificate where Postfix reads its live one; Postfix
    // still serves the old one until it reloads.
    let target = w.target(
        "unpublished.test",
        w.files("mx.unpublished.test", "next.pem", None),
    );
    let log = Arc::new(History::new());
    let report = round(&target, &log).await;
    assert_eq!(report.verdict, Verdict::Pass, "still served: the old key");
    assert_eq!(
        warning_reasons(&report),
        vec!["local_certificate_unpublished"]
    );
    let live = slot(&report, Slot::Live);
    assert_eq!(live.served, Some(false), "a reload is pending");
    assert!(!live.tlsa.as_ref().unwrap().matches);
    assert!(exposition(&report).contains(r#"dane_local_certificate_tlsa_match{domain="unpublished.test",direction="inbound",mx="mx.unpublished.test",slot="live",key_algorithm="ecdsa"} 0"#));
}

#[tokio::test]
async fn unreadable_files_and_unknown_mx_are_findings_never_panics() {
    let w = world().await;
    std::fs::write(w.path("garbage.pem"), "-----BEGIN CERTIFICATE-----\n%%%\n").unwrap();
    std::fs::write(w.path("notder.pem"), pem_chain(&[b"not DER".to_vec()])).unwrap();
    let mut specs = w.files("mx.published.test", "missing.pem", Some("garbage.pem"));
    specs.extend(w.files("mx.elsewhere.test", "notder.pem", None));
    let target = w.target("published.test", specs);
    let report = round(&target, &Arc::new(History::new())).await;
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(
        warning_reasons(&report),
        vec![
            "local_certificate_mx_not_found",
            "local_certificate_unreadable",
            "local_certificate_unreadable",
            "local_certificate_unreadable",
        ]
    );
    let errors: Vec<String> = report
        .local_certificates
        .iter()
        .map(|c| format!("{:?}", c.error))
        .collect();
    assert!(errors[0].contains("NotFound"), "{errors:?}");
    assert!(
        errors[1].contains("BadPem") || errors[1].contains("NoCertificate"),
        "{errors:?}"
    );
    assert!(errors[2].contains("BadCertificate"), "{errors:?}");
    // No match series for files that gave no certificate.
    assert!(!exposition(&report).contains("dane_local_certificate_tlsa_match"));
}

#[tokio::test]
async fn certbot_lineage_live_link_and_a_newer_archive_version_as_staged() {
    let w = world().await;
    let live_dir = w.path("letsencrypt/live/mx.unpublished.test");
    let archive = w.path("letsencrypt/archive/mx.unpublished.test");
    std::fs::create_dir_all(&live_dir).unwrap();
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::write(archive.join("fullchain1.pem"), pem_chain(&w.live.chain)).unwrap();
    std::fs::write(archive.join("fullchain2.pem"), pem_chain(&w.next.chain)).unwrap();
    link(
        "../../archive/mx.unpublished.test/fullchain1.pem",
        &live_dir.join("fullchain.pem"),
    );
    let target = w.target(
        "unpublished.test",
        vec![CertificateSpec {
            mx: "mx.unpublished.test".into(),
            source: CertificateSource::Lineage(live_dir.clone()),
        }],
    );
    let report = round(&target, &Arc::new(History::new())).await;
    assert!(slot(&report, Slot::Live).tlsa.as_ref().unwrap().matches);
    assert!(slot(&report, Slot::Staged).path.ends_with("fullchain2.pem"));
    assert_eq!(
        warning_reasons(&report),
        vec!["staged_certificate_unpublished"]
    );
}

fn link(target: &str, at: &Path) {
    std::os::unix::fs::symlink(target, at).unwrap();
}

/// The real stack, through the exporter binary: `staged.test`'s listener serves `staged_live`,
/// `certs/staged_next.pem` is a renewal whose key is not published (its zone's TTL is 3 s). The
/// exporter is configured with both files. Then the next key is published in the running zone
/// (`set-tlsa.sh ... publish`): the staged file matches at once, becomes safe to deploy two TTLs
/// later. Then the zone's records are replaced by a key nobody has (`break`): the live file on
/// disk matches nothing any more (the alert's condition). `dane_exporter check --certificate`
/// (the engine, no history) agrees before and after publication. The same exporter also watches
/// `dualalg.test` (ECDSA and RSA, TLSA for ECDSA only).
#[test]
fn real_stack_staged_certificate_published() {
    use crate::support::exporter::{promtool_check, Exporter};
    use crate::support::stack::{Stack, TlsaChange};

    let stack = Stack::up();
    let certs = stack.dir.join("certs");
    let live = certs.join("staged_live.pem");
    let next = certs.join("staged_next.pem");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  interval: 10s\n  timeout: 8s\n  step_timeout: 3s\n  nameservers: [\"{}\"]\n  \
             smtp_port: {}\n  ehlo_name: probe.test\n  authoritative_port: {}\ninbound:\n  \
             - domain: staged.test\n    \
             certificates:\n      - mx: mx.staged.test\n        live: {}\n        staged: {}\n  \
             - domain: dualalg.test\n",
            stack.var("RESOLVER"),
            stack.var("SMTP_PORT"),
            // NS records carry no port: the stack's NSD listens on its own.
            stack.nsd_port(),
            live.display(),
            next.display()
        ),
    )
    .unwrap();
    let check = |extra: &[&str]| stack.check_json("staged.test", extra).1;
    let live_arg = format!("mx.staged.test={}", live.display());
    let next_arg = format!("mx.staged.test={}", next.display());
    let engine = || {
        check(&[
            "--certificate",
            &live_arg,
            "--staged-certificate",
            &next_arg,
        ])
    };

    let exporter = Exporter::start(&config);
    let m = exporter.metrics();
    promtool_check(&m.text);
    let at = |slot: &'static str| {
        [
            ("domain", "staged.test"),
            ("mx", "mx.staged.test"),
            ("slot", slot),
        ]
    };
    assert_eq!(
        m.value("dane_local_certificate_tlsa_match", &at("live")),
        1.0
    );
    assert_eq!(m.value("dane_local_certificate_served", &at("live")), 1.0);
    assert_eq!(
        m.value("dane_local_certificate_tlsa_match", &at("staged")),
        0.0
    );
    assert_eq!(m.value("dane_local_certificate_served", &at("staged")), 0.0);
    assert_eq!(
        m.value("dane_local_certificate_safe_to_deploy", &at("staged")),
        0.0
    );
    assert_eq!(
        m.value(
            "dane_probe_warning_info",
            &[
                ("domain", "staged.test"),
                ("reason", "staged_certificate_unpublished")
            ]
        ),
        1.0
    );
    // The dual listener, as the exporter labels it.
    let alg = |a: &'static str| [("domain", "dualalg.test"), ("key_algorithm", a)];
    assert_eq!(m.value("dane_key_algorithm_offered", &alg("ecdsa")), 1.0);
    assert_eq!(m.value("dane_key_algorithm_offered", &alg("rsa")), 1.0);
    assert_eq!(m.value("dane_key_algorithm_tlsa_match", &alg("ecdsa")), 1.0);
    assert_eq!(m.value("dane_key_algorithm_tlsa_match", &alg("rsa")), 0.0);
    assert_eq!(
        m.value(
            "dane_probe_warning_info",
            &[
                ("domain", "dualalg.test"),
                ("reason", "tlsa_mismatch_key_algorithm")
            ]
        ),
        1.0
    );
    let before = engine();
    assert_eq!(before["local_certificates"][1]["slot"], "staged");
    assert_eq!(
        before["local_certificates"][1]["tlsa"]["matches"], false,
        "{before:#}"
    );

    stack.publish_tlsa("staged", &stack.tlsa["staged_next"]);
    let staged_matches = |e: &Exporter| {
        e.metrics()
            .values("dane_local_certificate_tlsa_match", &at("staged"))
            == vec![1.0]
    };
    exporter.wait_for(
        Duration::from_secs(30),
        "staged key published",
        staged_matches,
    );
    let m = exporter.metrics();
    let required = m.value(
        "dane_local_certificate_required_publication_seconds",
        &at("staged"),
    );
    assert!(
        (2.0..=6.0).contains(&required),
        "two TTLs of 3 s: {required}"
    );
    let after = engine();
    let staged = &after["local_certificates"][1]["tlsa"];
    assert_eq!(staged["matches"], true, "{after:#}");
    assert_eq!(
        staged["matched_records"][0].as_str().unwrap(),
        stack.tlsa["staged_next"]
    );
    assert_eq!(
        staged["safe_to_deploy"], false,
        "a one-off check has no history"
    );
    // The authoritative checks ran (NSD is the only nameserver): it serves the new record.
    assert_eq!(staged["consistent_everywhere"], true, "{after:#}");

    exporter.wait_for(Duration::from_secs(30), "safe to deploy", |e| {
        e.metrics()
            .values("dane_local_certificate_safe_to_deploy", &at("staged"))
            == vec![1.0]
    });
    let m = exporter.metrics();
    let published = m.value("dane_local_certificate_published_seconds", &at("staged"));
    assert!(published >= required, "{published} < {required}");
    assert!(m
        .values(
            "dane_probe_warning_info",
            &[
                ("domain", "staged.test"),
                ("reason", "staged_certificate_unpublished")
            ]
        )
        .is_empty());

    // Records for the live key withdrawn: the file on disk matches nothing any more.
    stack.set_tlsa("staged", TlsaChange::Break);
    exporter.wait_for(Duration::from_secs(30), "live file unpublished", |e| {
        e.metrics()
            .values("dane_local_certificate_tlsa_match", &at("live"))
            == vec![0.0]
    });
    let m = exporter.metrics();
    promtool_check(&m.text);
    assert_eq!(
        m.value(
            "dane_probe_warning_info",
            &[
                ("domain", "staged.test"),
                ("reason", "local_certificate_unpublished")
            ]
        ),
        1.0
    );
}
