//! MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) end to end: records in a DNSSEC-signed zone
//! (in-process hickory-server fixture, validate mode), policies served by a real nginx over HTTPS
//! with certificates from a private CA the probe trusts through `mta_sts_ca_file`, and STARTTLS
//! listeners whose certificates the MTA-STS check validates from the probe's own sessions.
//!
//! One world, one domain per case: a valid enforce policy, testing mode, an MX host missing from
//! the policy, a policy above 64 KiB, a policy host with a certificate for another name, a
//! redirect, bad policy syntax, the wrong Content-Type, two STS records, an MX host whose
//! certificate is not WebPKI-valid (while DANE passes), and a policy that changes while its TXT id
//! stays the same (seen across two rounds through the store).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dane_exporter::checks::mta_sts::{Mode, MtaStsSettings};
use dane_exporter::core::{Direction, Verdict};
use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use dane_exporter::history::History;
use dane_exporter::metrics::{probe_families, LabelledReport};
use dane_exporter::report::DomainReport;
use dane_exporter::smtp::SmtpSettings;

use crate::support::dns_server::DnsFixture;
use crate::support::exporter::promtool_check;
use crate::support::nginx::{pem, Answer, Nginx, Site};
use crate::support::probing::TestProber;
use crate::support::smtp_server::{self_signed, FixtureConfig, SmtpFixture, TestCa, TestCert};

/// The domains of the single-round cases (`idchange.test` has its own test).
const POLICY_CASES: [&str; 10] = [
    "valid.test",
    "testing.test",
    "missingmx.test",
    "large.test",
    "wrongcert.test",
    "redirect.test",
    "badsyntax.test",
    "texttype.test",
    "twotxt.test",
    "badcert.test",
];

const GOOD_POLICY: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: *.mail.test\r\nmax_age: 604800\r\n";

/// Domains with a policy host, and what their policy URL answers.
fn sites(ca: &TestCa) -> Vec<(&'static str, Answer, TestCert)> {
    let policy = |text: &str| Answer::Policy(text.as_bytes().to_vec());
    let cert = |domain: &str| ca.issue(&[&format!("mta-sts.{domain}")]);
    let mut large = GOOD_POLICY.to_string();
    while large.len() <= 64 * 1024 {
        large.push_str(
            "x-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        );
    }
    vec![
        ("valid.test", policy(GOOD_POLICY), cert("valid.test")),
        (
            "testing.test",
            policy("version: STSv1\nmode: testing\nmx: mx.mail.test\nmax_age: 86400\n"),
            cert("testing.test"),
        ),
        (
            "missingmx.test",
            policy("version: STSv1\nmode: enforce\nmx: mx.mail.test\nmax_age: 86400\n"),
            cert("missingmx.test"),
        ),
        ("large.test", policy(&large), cert("large.test")),
        // A certificate from the trusted CA, but for another name.
        (
            "wrongcert.test",
            policy(GOOD_POLICY),
            ca.issue(&["www.elsewhere.test"]),
        ),
        (
            "redirect.test",
            Answer::Redirect("https://mta-sts.valid.test/.well-known/mta-sts.txt".into()),
            cert("redirect.test"),
        ),
        (
            "badsyntax.test",
            policy("version: STSv1\nmode: enforced\nmx: *.mail.test\nmax_age: 86400\n"),
            cert("badsyntax.test"),
        ),
        (
            "texttype.test",
            Answer::PolicyAs(GOOD_POLICY.as_bytes().to_vec(), "text/html"),
            cert("texttype.test"),
        ),
        ("twotxt.test", policy(GOOD_POLICY), cert("twotxt.test")),
        (
            "badcert.test",
            policy("version: STSv1\nmode: enforce\nmx: mx.bad.test\nmax_age: 86400\n"),
            cert("badcert.test"),
        ),
        ("idchange.test", policy(GOOD_POLICY), cert("idchange.test")),
    ]
}

fn zone(port: u16, bad_mx: &TestCert) -> String {
    let mut text = format!(
        r#"
.                        3600 IN SOA  ns.test. hostmaster.test. 1 3600 600 86400 300
.                        3600 IN NS   ns.test.
ns.test.                 3600 IN A    127.0.0.1
mx.mail.test.             300 IN A    127.0.0.51
mx2.other.test.           300 IN A    127.0.0.51
mx.bad.test.              300 IN A    127.0.0.52
_{port}._tcp.mx.bad.test. 300 IN TLSA 3 1 1 {bad}
missingmx.test.           300 IN MX   20 mx2.other.test.
badcert.test.             300 IN MX   10 mx.bad.test.
_mta-sts.twotxt.test.     300 IN TXT  "v=STSv1; id=2"
_smtp._tls.valid.test.    300 IN TXT  "v=TLSRPTv1; rua=mailto:tlsrpt@valid.test,https://reports.valid.test/tlsrpt"
_smtp._tls.badsyntax.test. 300 IN TXT "v=TLSRPTv1; rua=http://reports.badsyntax.test/"
"#,
        bad = bad_mx.leaf_3_1_1(),
    );
    for domain in POLICY_CASES.iter().chain(&["idchange.test"]) {
        if *domain != "badcert.test" {
            text.push_str(&format!("{domain}. 300 IN MX 10 mx.mail.test.\n"));
        }
        text.push_str(&format!(
            "_mta-sts.{domain}. 300 IN TXT \"v=STSv1; id=20261128a\"\n\
             mta-sts.{domain}. 300 IN A 127.0.0.1\n"
        ));
        // `_tls.<domain>` exists so that a missing `_smtp._tls.<domain>` is a provable NXDOMAIN
        // (the fixture cannot prove a name missing below a missing parent).
        text.push_str(&format!("_tls.{domain}. 300 IN TXT \"parent\"\n"));
    }
    text
}

struct World {
    _dns: DnsFixture,
    _smtp: Vec<SmtpFixture>,
    nginx: Nginx,
    dir: tempfile::TempDir,
    dns_settings: DnsSettings,
    smtp_port: u16,
    ca_file: PathBuf,
    /// Site index of each domain (for rewriting its policy).
    site_index: BTreeMap<&'static str, usize>,
}

async fn world() -> World {
    let ca = TestCa::root("MTA-STS Test Root");
    // The MX host's certificate comes from the trusted CA and names it: valid under MTA-STS.
    let mut good = FixtureConfig::new(ca.issue(&["mx.mail.test", "mx2.elsewhere.test"]));
    good.bind = "127.0.0.51:0".parse().unwrap();
    let good = SmtpFixture::start(good).await;
    let port = good.port();
    // Self-signed: DANE-EE can pin it, WebPKI cannot validate it.
    let bad_cert = self_signed(&["mx.bad.test"]);
    let mut bad = FixtureConfig::new(bad_cert.clone());
    bad.bind = format!("127.0.0.52:{port}").parse().unwrap();
    let bad = SmtpFixture::start(bad).await;

    let mut site_index = BTreeMap::new();
    let sites: Vec<Site> = sites(&ca)
        .into_iter()
        .enumerate()
        .map(|(index, (domain, answer, cert))| {
            site_index.insert(domain, index);
            Site {
                host: format!("mta-sts.{domain}"),
                cert,
                answer,
            }
        })
        .collect();
    let nginx = Nginx::start(&sites);

    let dns = DnsFixture::builder()
        .zone(".", &zone(port, &bad_cert))
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, pem("CERTIFICATE", &ca.der)).unwrap();
    let dns_settings = DnsSettings {
        mode: DnssecMode::Validate,
        nameservers: vec![dns.addr()],
        trust_anchor_file: Some(dns.trust_anchor_file(dir.path())),
        timeout: Duration::from_secs(3),
    };
    World {
        _dns: dns,
        _smtp: vec![good, bad],
        nginx,
        dir,
        dns_settings,
        smtp_port: port,
        ca_file,
        site_index,
    }
}

impl World {
    fn smtp(&self) -> SmtpSettings {
        SmtpSettings {
            port: self.smtp_port,
            ehlo_name: "probe.test".into(),
            step_timeout: Duration::from_secs(3),
            reply_timeout: Duration::from_secs(3),
            tls_fallback: true,
        }
    }

    fn mta_sts(&self) -> MtaStsSettings {
        MtaStsSettings {
            mta_sts: true,
            tls_rpt: true,
            ca_file: Some(self.ca_file.clone()),
            https_port: self.nginx.port(),
        }
    }

    fn prober(&self) -> TestProber {
        TestProber::new(DnsClient::new(&self.dns_settings).unwrap(), self.smtp())
            .with_mta_sts(self.mta_sts())
    }
}

fn sts_reasons(report: &DomainReport) -> Vec<&str> {
    sts_findings(report.mta_sts.as_ref().expect("MTA-STS checked"))
}

fn sts_findings(sts: &dane_exporter::checks::mta_sts::MtaStsReport) -> Vec<&str> {
    let mut reasons: Vec<&str> = sts.findings.iter().map(|f| f.reason.as_str()).collect();
    reasons.sort_unstable();
    reasons
}

fn rpt_reasons(report: &DomainReport) -> Vec<&str> {
    report
        .tls_rpt
        .as_ref()
        .expect("TLS-RPT checked")
        .findings
        .iter()
        .map(|f| f.reason.as_str())
        .collect()
}

#[tokio::test]
async fn policy_cases_give_their_findings_and_leave_the_dane_verdict_alone() {
    let w = world().await;
    let prober = w.prober();
    let domains = POLICY_CASES;
    let started = Instant::now();
    let reports =
        futures_util::future::join_all(domains.iter().map(|d| prober.probe_domain(d))).await;
    let elapsed = started.elapsed();
    let by_domain: BTreeMap<&str, &DomainReport> =
        domains.iter().copied().zip(reports.iter()).collect();

    // Valid enforce policy: everything green, TLS-RPT too.
    let valid = by_domain["valid.test"];
    let sts = valid.mta_sts.as_ref().unwrap();
    assert!(sts.valid, "{sts:#?}");
    assert!(sts.findings.is_empty(), "{:#?}", sts.findings);
    let policy = sts.policy.as_ref().unwrap();
    assert_eq!((policy.mode, policy.max_age), (Mode::Enforce, 604_800));
    assert_eq!(sts.record.as_ref().unwrap().id, "20261128a");
    assert_eq!(sts.hosts.len(), 1);
    assert_eq!(sts.hosts[0].covered_by.as_deref(), Some("*.mail.test"));
    assert!(sts.hosts[0].endpoints.iter().all(|e| e.certificate_valid));
    let rpt = valid.tls_rpt.as_ref().unwrap();
    assert!(rpt.valid && rpt.findings.is_empty(), "{rpt:#?}");
    assert_eq!(rpt.record.as_ref().unwrap().rua.len(), 2);
    // No TLSA anywhere for mx.mail.test: DANE does not apply, MTA-STS does not change that.
    assert_eq!(valid.verdict, Verdict::NotApplicable);

    let testing = by_domain["testing.test"].mta_sts.as_ref().unwrap();
    assert!(testing.valid);
    assert_eq!(testing.policy.as_ref().unwrap().mode, Mode::Testing);
    assert!(testing.findings.is_empty(), "{:#?}", testing.findings);
    assert_eq!(rpt_reasons(by_domain["testing.test"]), ["tls_rpt_missing"]);

    let missing = by_domain["missingmx.test"];
    assert_eq!(
        sts_reasons(missing),
        ["mta_sts_cert_invalid", "mta_sts_mx_not_covered"],
        "{:#?}",
        missing.mta_sts
    );
    let not_covered = &missing.mta_sts.as_ref().unwrap().findings;
    assert!(not_covered
        .iter()
        .any(|f| f.reason.as_str() == "mta_sts_mx_not_covered"
            && f.mx.as_deref() == Some("mx2.other.test")));
    // mx2.other.test's certificate does not name it either.
    assert!(not_covered
        .iter()
        .any(|f| f.reason.as_str() == "mta_sts_cert_invalid"
            && f.mx.as_deref() == Some("mx2.other.test")));

    for (domain, reason) in [
        ("large.test", "mta_sts_policy_too_large"),
        ("wrongcert.test", "mta_sts_policy_host_cert_invalid"),
        ("redirect.test", "mta_sts_policy_redirect"),
        ("badsyntax.test", "mta_sts_policy_invalid"),
        ("texttype.test", "mta_sts_policy_content_type"),
        ("twotxt.test", "mta_sts_record_multiple"),
    ] {
        let report = by_domain[domain];
        assert_eq!(
            sts_reasons(report),
            [reason],
            "{domain}: {:#?}",
            report.mta_sts
        );
        let sts = report.mta_sts.as_ref().unwrap();
        assert!(!sts.valid && sts.policy.is_none(), "{domain}");
        assert_eq!(report.verdict, Verdict::NotApplicable, "{domain}");
    }
    assert_eq!(
        rpt_reasons(by_domain["badsyntax.test"]),
        ["tls_rpt_record_invalid"]
    );
    // The redirect was not followed: its target would have served a valid policy.
    let redirect = by_domain["redirect.test"].mta_sts.as_ref().unwrap();
    assert!(format!("{:?}", redirect.fetch_error).contains("301"));

    // DANE-EE pins the self-signed certificate: DANE passes, MTA-STS rejects the same chain.
    let badcert = by_domain["badcert.test"];
    assert_eq!(badcert.verdict, Verdict::Pass, "{:#?}", badcert.failures);
    assert_eq!(sts_reasons(badcert), ["mta_sts_cert_invalid"]);
    let endpoint = &badcert.mta_sts.as_ref().unwrap().hosts[0].endpoints[0];
    assert!(!endpoint.certificate_valid);

    // Metrics of all of it pass promtool and carry the documented series.
    let extra = BTreeMap::new();
    let labelled: Vec<LabelledReport<'_>> = reports
        .iter()
        .map(|report| LabelledReport {
            direction: Direction::Inbound,
            extra_labels: &extra,
            report,
        })
        .collect();
    let mut text = String::new();
    let encoder = prometheus::TextEncoder::new();
    encoder
        .encode_utf8(&probe_families(&labelled), &mut text)
        .unwrap();
    promtool_check(&text);
    for line in [
        "dane_mta_sts_policy_valid{domain=\"valid.test\",direction=\"inbound\"} 1",
        "dane_mta_sts_mode{domain=\"valid.test\",direction=\"inbound\",mode=\"enforce\"} 1",
        "dane_mta_sts_max_age_seconds{domain=\"valid.test\",direction=\"inbound\"} 604800",
        "dane_mta_sts_mx_covered{domain=\"missingmx.test\",direction=\"inbound\",mx=\"mx2.other.test\"} 0",
        "dane_mta_sts_certificate_valid{domain=\"badcert.test\",direction=\"inbound\",mx=\"mx.bad.test\",address=\"127.0.0.52\"} 0",
        "dane_mta_sts_problem_info{domain=\"redirect.test\",direction=\"inbound\",reason=\"mta_sts_policy_redirect\"} 1",
        "dane_tls_rpt_valid{domain=\"valid.test\",direction=\"inbound\"} 1",
        "dane_tls_rpt_problem_info{domain=\"testing.test\",direction=\"inbound\",reason=\"tls_rpt_missing\"} 1",
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    // Ten domains concurrently, each with DNS, two STARTTLS sessions at most and one HTTPS fetch.
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

/// The policy changes on the server while the TXT id stays: the second round, compared with the
/// first through the history the exporter keeps across rounds, says so; a later id change clears
/// it.
#[tokio::test]
async fn policy_change_without_id_change_is_seen_across_rounds() {
    let w = world().await;
    let prober = w.prober().with_history(Arc::new(History::new()));

    let first = prober.probe_domain("idchange.test").await;
    let sts = |report: &DomainReport| report.mta_sts.clone().expect("MTA-STS checked");
    assert!(sts(&first).valid);
    assert!(sts_findings(&sts(&first)).is_empty());

    w.nginx.rewrite_policy(
        w.site_index["idchange.test"],
        b"version: STSv1\nmode: enforce\nmx: *.mail.test\nmx: backup.mail.test\nmax_age: 604800\n",
    );
    let second = sts(&prober.probe_domain("idchange.test").await);
    assert_eq!(sts_findings(&second), ["mta_sts_policy_id_unchanged"]);
    let stale = second.stale_id.clone().unwrap();
    assert_eq!(stale.until - stale.since, 604_800);

    // A third round with the same (new) policy: old copies may still live, still flagged.
    let third = sts(&prober.probe_domain("idchange.test").await);
    assert_eq!(sts_findings(&third), ["mta_sts_policy_id_unchanged"]);
    let _ = w.dir.path();
}

/// The real stack (NSD, unbound, Postfix, nginx from Debian; zones signed by ldns-signzone):
/// `dane_exporter check sts.test` through the validating resolver finds the records, fetches the
/// policy from nginx, and validates Postfix's certificate, in both DNSSEC modes; DANE passes too.
#[test]
fn real_stack_policy_is_valid_through_check() {
    let stack = crate::support::stack::Stack::up();
    for mode in ["trust-resolver", "validate"] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dane_exporter"));
        command.args([
            "check",
            "sts.test",
            "--json",
            "--timeout",
            "3s",
            "--dnssec-mode",
            mode,
            "--nameserver",
            stack.var("RESOLVER"),
            "--port",
            stack.var("SMTP_PORT"),
            "--https-port",
            stack.var("HTTPS_PORT"),
            "--mta-sts-ca-file",
            stack.var("MTA_STS_CA"),
        ]);
        if mode == "validate" {
            command.args(["--trust-anchor", stack.var("TRUST_ANCHOR")]);
        }
        let out = command.output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{mode}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(out.status.code(), Some(0), "{mode}: {report:#}");
        assert_eq!(report["verdict"], "pass", "{mode}");
        let sts = &report["mta_sts"];
        assert_eq!(sts["valid"], true, "{mode}: {sts:#}");
        assert_eq!(sts["record"]["id"], "stack1");
        assert_eq!(sts["policy"]["mode"], "enforce");
        assert_eq!(sts["policy"]["max_age"], 86400);
        assert_eq!(sts["hosts"][0]["name"], "mx.tagood.test");
        assert_eq!(sts["hosts"][0]["covered_by"], "*.tagood.test");
        assert_eq!(sts["hosts"][0]["endpoints"][0]["certificate_valid"], true);
        assert_eq!(sts["findings"], serde_json::json!([]));
        assert_eq!(report["tls_rpt"]["valid"], true, "{mode}");
        assert_eq!(
            report["tls_rpt"]["record"]["rua"],
            serde_json::json!(["mailto:tlsrpt@sts.test"])
        );
    }
    // The human report has its own sections.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
        .args([
            "check",
            "sts.test",
            "--timeout",
            "3s",
            "--nameserver",
            stack.var("RESOLVER"),
            "--port",
            stack.var("SMTP_PORT"),
            "--https-port",
            stack.var("HTTPS_PORT"),
            "--mta-sts-ca-file",
            stack.var("MTA_STS_CA"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "MTA-STS: enforce (max_age 86400s, id stack1)",
        "MX mx.tagood.test covered by *.tagood.test",
        "certificate valid (WebPKI)",
        "TLS-RPT: reports to mailto:tlsrpt@sts.test",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // Without the private CA, the same policy host is untrusted: WebPKI roots only.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
        .args([
            "check",
            "sts.test",
            "--json",
            "--timeout",
            "3s",
            "--nameserver",
            stack.var("RESOLVER"),
            "--port",
            stack.var("SMTP_PORT"),
            "--https-port",
            stack.var("HTTPS_PORT"),
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["verdict"], "pass",
        "MTA-STS never changes the DANE verdict"
    );
    let reasons: Vec<&str> = report["mta_sts"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["mta_sts_policy_host_cert_invalid"], "{report:#}");
}

/// RFC 8461 3.1 end to end on the real stack, through the exporter binary scraped across rounds:
/// nginx starts serving another policy while the signed `_mta-sts` TXT keeps its id, and the next
/// round raises `mta_sts_policy_id_unchanged` (`dane_mta_sts_problem_info`, the series alert
/// `MtaStsPolicyIdUnchanged` reads); once the TXT id is changed in the signed zone
/// (`tests/stack/set-sts-id.sh`: re-signed, NSD reload, unbound flush) the next round clears it.
#[test]
fn real_stack_policy_id_change_raises_and_clears_through_the_exporter() {
    use crate::support::exporter::{write_config, Exporter};

    let stack = crate::support::stack::Stack::up();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    write_config(&config, &stack, &["sts.test"], &[]);
    let exporter = Exporter::start(&config);
    let domain = [("domain", "sts.test")];
    let stale = [
        ("domain", "sts.test"),
        ("reason", "mta_sts_policy_id_unchanged"),
    ];
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    // A round that started after `since` has completed (rounds every 10 s).
    let round_after = |since: f64, what: &str| {
        exporter.wait_for(Duration::from_secs(30), what, |e| {
            e.metrics()
                .values("dane_probe_timestamp_seconds", &domain)
                .first()
                .is_some_and(|t| *t > since)
        });
        exporter.metrics()
    };

    let metrics = round_after(0.0, "first round");
    assert_eq!(metrics.value("dane_mta_sts_policy_valid", &domain), 1.0);
    assert!(metrics
        .values("dane_mta_sts_problem_info", &stale)
        .is_empty());

    // The postmaster edits the policy (another mx line) and forgets the id.
    let policy = stack.dir.join("nginx/www/.well-known/mta-sts.txt");
    let next = policy.with_extension("next");
    std::fs::write(
        &next,
        "version: STSv1\r\nmode: enforce\r\nmx: *.tagood.test\r\nmx: backup.sts.test\r\nmax_age: 86400\r\n",
    )
    .unwrap();
    std::fs::rename(&next, &policy).unwrap(); // nginx never serves a half-written file
    let changed = now();
    let metrics = round_after(changed, "a round after the policy change");
    assert_eq!(metrics.value("dane_mta_sts_policy_valid", &domain), 1.0);
    assert_eq!(
        metrics.values("dane_mta_sts_problem_info", &stale),
        [1.0],
        "{}",
        metrics.text
    );
    // Still flagged one round later: old copies live up to the old max_age.
    let metrics = round_after(now(), "a second round with the same id");
    assert_eq!(metrics.values("dane_mta_sts_problem_info", &stale), [1.0]);

    // The id changes in the signed zone: the next round has no such problem.
    let out = std::process::Command::new("bash")
        .arg(crate::support::stack::script("set-sts-id.sh"))
        .arg(&stack.dir)
        .arg("stack2")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "set-sts-id.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics = round_after(now(), "a round after the id change");
    assert_eq!(metrics.value("dane_mta_sts_policy_valid", &domain), 1.0);
    assert!(
        metrics
            .values("dane_mta_sts_problem_info", &stale)
            .is_empty(),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .values("dane_mta_sts_problem_info", &domain)
            .is_empty(),
        "{}",
        metrics.text
    );
}
