//! TLSA for other TLS services (`dane_exporter::service`): IMAP and POP3 with STARTTLS, implicit
//! TLS, SMTP submission, against a DNSSEC-signed private root served in process (validate mode).
//!
//! Fast cases here (in-process listeners from `support::service_server`); the real-stack cases
//! (dovecot and Postfix behind NSD and unbound) are at the end of the module and run the
//! exporter binary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use dane_exporter::checks::services::{
    run, ServiceProtocol, ServiceReport, ServiceSettings, ServiceSpec, TlsMode,
};
use dane_exporter::core::unix_now;
use dane_exporter::core::{HostDane, Verdict};
use dane_exporter::dane::PkixTrust;
use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use dane_exporter::smtp::SmtpSettings;

use crate::support::dns_server::DnsFixture;
use crate::support::probing::TestProber;
use crate::support::service_server::{Script, ServiceFixture};
use crate::support::smtp_server::{self_signed, FixtureConfig, SmtpFixture, TestCa, TestCert};

/// PEM of a DER certificate, for the trust store.
fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data))
}

struct World {
    ca: TestCa,
    imap_cert: TestCert,
    listeners: Vec<(&'static str, ServiceFixture)>,
    submission: SmtpFixture,
    _dns: DnsFixture,
    _dir: tempfile::TempDir,
    settings: DnsSettings,
}

impl World {
    fn port(&self, name: &str) -> u16 {
        self.fixture(name).addr().port()
    }

    fn fixture(&self, name: &str) -> &ServiceFixture {
        &self
            .listeners
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no listener {name}"))
            .1
    }

    fn trusted(&self) -> PkixTrust {
        PkixTrust::empty()
            .with_pem_bundle(pem(&self.ca.der).as_bytes())
            .unwrap()
    }

    async fn probe(
        &self,
        host: &str,
        port: u16,
        protocol: ServiceProtocol,
        tls: TlsMode,
    ) -> ServiceReport {
        self.probe_with(host, port, protocol, tls, &self.trusted())
            .await
    }

    async fn probe_with(
        &self,
        host: &str,
        port: u16,
        protocol: ServiceProtocol,
        tls: TlsMode,
        trust: &PkixTrust,
    ) -> ServiceReport {
        let dns = DnsClient::new(&self.settings).unwrap();
        let spec = ServiceSpec {
            host: host.to_string(),
            port,
            protocol,
            tls,
        };
        let settings = ServiceSettings {
            step_timeout: Duration::from_millis(500),
            reply_timeout: Duration::from_millis(500),
            ehlo_name: "probe.test",
            pkix: trust,
        };
        ServiceReport::judged(run(&dns, &spec, settings, unix_now()).await)
    }
}

async fn listen(ip: [u8; 4], cert: &TestCert, script: Script) -> ServiceFixture {
    ServiceFixture::start(SocketAddr::from((ip, 0)), cert, script).await
}

async fn world() -> World {
    let ca = TestCa::root("Services Test CA");
    let imap_cert = ca.issue(&["imap.svc.test"]);
    let pop_cert = ca.issue(&["pop.svc.test"]);
    let other = self_signed(&["imap.svc.test"]);
    let listeners = vec![
        (
            "imap",
            listen([127, 0, 0, 31], &imap_cert, Script::Imap).await,
        ),
        (
            "implicit",
            listen([127, 0, 0, 31], &imap_cert, Script::Implicit).await,
        ),
        (
            "pop3",
            listen([127, 0, 0, 32], &pop_cert, Script::Pop3).await,
        ),
        (
            "no_starttls",
            listen([127, 0, 0, 33], &imap_cert, Script::ImapNoStarttls).await,
        ),
        (
            "inject",
            listen([127, 0, 0, 34], &imap_cert, Script::ImapInjects).await,
        ),
        (
            "silent",
            listen([127, 0, 0, 35], &imap_cert, Script::Silent).await,
        ),
        (
            "endless",
            listen([127, 0, 0, 36], &imap_cert, Script::EndlessLine).await,
        ),
        (
            "no_stls",
            listen([127, 0, 0, 37], &pop_cert, Script::Pop3NoStls).await,
        ),
    ];
    let mut submission = FixtureConfig::new(imap_cert.clone());
    submission.bind = "127.0.0.38:0".parse().unwrap();
    let submission = SmtpFixture::start(submission).await;

    let port = |name: &str| {
        listeners
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .addr()
            .port()
    };
    let (imap, implicit, pop3) = (port("imap"), port("implicit"), port("pop3"));
    let leaf = imap_cert.leaf_3_1_1();
    let pop_leaf = pop_cert.leaf_3_1_1();
    let other_leaf = other.leaf_3_1_1();
    let ca_key = sha256_hex(&ca.spki);
    let sub = submission.port();
    let mut zone = format!(
        r#"
.                              3600 IN SOA  ns.test. hostmaster.test. 1 3600 600 86400 300
.                              3600 IN NS   ns.test.
ns.test.                       3600 IN A    127.0.0.1
imap.svc.test.                  300 IN A    127.0.0.31
_{imap}._tcp.imap.svc.test.     300 IN TLSA 3 1 1 {leaf}
_{implicit}._tcp.imap.svc.test. 300 IN TLSA 0 1 1 {ca_key}
pop.svc.test.                   300 IN A    127.0.0.32
_{pop3}._tcp.pop.svc.test.      300 IN TLSA 1 1 1 {pop_leaf}
alias.svc.test.                 300 IN CNAME imap.svc.test.
bad.svc.test.                   300 IN A    127.0.0.31
_{imap}._tcp.bad.svc.test.      300 IN TLSA 3 1 1 {other_leaf}
wrongname.svc.test.             300 IN A    127.0.0.31
_{implicit}._tcp.wrongname.svc.test. 300 IN TLSA 1 1 1 {leaf}
plain.svc.test.                 300 IN A    127.0.0.31
_{imap}._tcp.plain.svc.test.    300 IN TXT  "no TLSA here"
submission.svc.test.            300 IN A    127.0.0.38
_{sub}._tcp.submission.svc.test. 300 IN TLSA 3 1 1 {leaf}
"#
    );
    for (name, ip) in [
        ("no_starttls", 33),
        ("inject", 34),
        ("silent", 35),
        ("endless", 36),
        ("no_stls", 37),
    ] {
        let p = port(name);
        let host = name.replace('_', "-");
        zone.push_str(&format!(
            "{host}.svc.test. 300 IN A 127.0.0.{ip}\n_{p}._tcp.{host}.svc.test. 300 IN TLSA 3 1 1 {leaf}\n"
        ));
    }
    let dns = DnsFixture::builder().zone(".", &zone).start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = DnsSettings {
        mode: DnssecMode::Validate,
        nameservers: vec![dns.addr()],
        trust_anchor_file: Some(dns.trust_anchor_file(dir.path())),
        timeout: Duration::from_secs(3),
    };
    World {
        ca,
        imap_cert,
        listeners,
        submission,
        _dns: dns,
        _dir: dir,
        settings,
    }
}

fn reasons(report: &ServiceReport) -> Vec<&str> {
    report.failures.iter().map(|f| f.reason.as_str()).collect()
}

#[tokio::test]
async fn imap_starttls_with_a_matching_dane_ee_record_passes() {
    let w = world().await;
    let port = w.port("imap");
    let r = w
        .probe(
            "imap.svc.test",
            port,
            ServiceProtocol::Imap,
            TlsMode::Starttls,
        )
        .await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    assert_eq!(r.facts.dane, HostDane::Applies);
    let endpoint = &r.facts.endpoints[0];
    assert_eq!(endpoint.session.starttls_offered(), Some(true));
    assert_eq!(
        r.facts.tlsa_lookups[0].name,
        format!("_{port}._tcp.imap.svc.test")
    );
    assert!(endpoint.evaluation.as_ref().unwrap().passes());
    assert_eq!(
        w.fixture("imap").snis_after(1).await,
        vec![Some("imap.svc.test".to_string())]
    );
}

#[tokio::test]
async fn pkix_ta_on_implicit_tls_needs_the_private_ca_to_be_trusted() {
    let w = world().await;
    let port = w.port("implicit");
    let trusted = w
        .probe(
            "imap.svc.test",
            port,
            ServiceProtocol::Imap,
            TlsMode::Implicit,
        )
        .await;
    assert_eq!(trusted.verdict, Verdict::Pass, "{trusted:#?}");
    let evaluation = trusted.facts.endpoints[0].evaluation.as_ref().unwrap();
    assert_eq!(evaluation.records[0].state.label(), "matched");
    assert!(
        evaluation.rollover_ready,
        "a PKIX-TA binding survives leaf key changes"
    );

    // The same server and records with only Mozilla's roots: the chain does not validate.
    let public = w
        .probe_with(
            "imap.svc.test",
            port,
            ServiceProtocol::Imap,
            TlsMode::Implicit,
            &PkixTrust::public_roots(),
        )
        .await;
    assert_eq!(public.verdict, Verdict::Fail);
    assert_eq!(reasons(&public), vec!["pkix_chain_invalid"]);
}

#[tokio::test]
async fn pkix_ee_on_pop3_stls_passes() {
    let w = world().await;
    let r = w
        .probe(
            "pop.svc.test",
            w.port("pop3"),
            ServiceProtocol::Pop3,
            TlsMode::Starttls,
        )
        .await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    assert_eq!(
        w.fixture("pop3").snis_after(1).await,
        vec![Some("pop.svc.test".to_string())]
    );
}

#[tokio::test]
async fn pkix_records_check_the_service_name() {
    let w = world().await;
    let r = w
        .probe(
            "wrongname.svc.test",
            w.port("implicit"),
            ServiceProtocol::Imap,
            TlsMode::Implicit,
        )
        .await;
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(reasons(&r), vec!["pkix_name_mismatch"]);
}

#[tokio::test]
async fn a_record_for_another_key_is_a_mismatch() {
    let w = world().await;
    let r = w
        .probe(
            "bad.svc.test",
            w.port("imap"),
            ServiceProtocol::Imap,
            TlsMode::Starttls,
        )
        .await;
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(reasons(&r), vec!["tlsa_mismatch"]);
    assert_eq!(r.failures[0].address, Some("127.0.0.31".parse().unwrap()));
}

#[tokio::test]
async fn a_cnamed_host_uses_the_expanded_name_as_tlsa_base_and_sni() {
    let w = world().await;
    let r = w
        .probe(
            "alias.svc.test",
            w.port("imap"),
            ServiceProtocol::Imap,
            TlsMode::Starttls,
        )
        .await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    assert_eq!(r.facts.tlsa_base_domain.as_deref(), Some("imap.svc.test"));
    assert_eq!(
        w.fixture("imap").snis_after(1).await,
        vec![Some("imap.svc.test".to_string())]
    );
}

#[tokio::test]
async fn no_tlsa_is_not_applicable_with_a_warning() {
    let w = world().await;
    let r = w
        .probe(
            "plain.svc.test",
            w.port("imap"),
            ServiceProtocol::Imap,
            TlsMode::Starttls,
        )
        .await;
    assert_eq!(r.verdict, Verdict::NotApplicable, "{r:#?}");
    assert_eq!(r.facts.dane, HostDane::NoTlsa);
    assert_eq!(r.warnings[0].reason.as_str(), "service_dane_not_applicable");
    // TLS facts are still gathered.
    assert!(r.facts.endpoints[0].session.tls().is_some());
}

#[tokio::test]
async fn submission_starttls_reuses_the_smtp_dialogue() {
    let w = world().await;
    let r = w
        .probe(
            "submission.svc.test",
            w.submission.port(),
            ServiceProtocol::Smtp,
            TlsMode::Starttls,
        )
        .await;
    assert_eq!(r.verdict, Verdict::Pass, "{r:#?}");
    let sessions = w.submission.sessions();
    assert_eq!(sessions[0].sni.as_deref(), Some("submission.svc.test"));
    assert_eq!(sessions[0].plaintext_commands[0], "EHLO probe.test");
}

#[tokio::test]
async fn misbehaving_servers_fail_with_stable_reasons_within_their_bounds() {
    let w = world().await;
    let cases = [
        (
            "no-starttls.svc.test",
            "no_starttls",
            ServiceProtocol::Imap,
            "starttls_not_offered",
        ),
        (
            "inject.svc.test",
            "inject",
            ServiceProtocol::Imap,
            "service_protocol_error",
        ),
        (
            "silent.svc.test",
            "silent",
            ServiceProtocol::Imap,
            "service_timeout",
        ),
        (
            "endless.svc.test",
            "endless",
            ServiceProtocol::Imap,
            "service_protocol_error",
        ),
        (
            "no-stls.svc.test",
            "no_stls",
            ServiceProtocol::Pop3,
            "starttls_not_offered",
        ),
    ];
    for (host, listener, protocol, reason) in cases {
        let started = Instant::now();
        let r = w
            .probe(host, w.port(listener), protocol, TlsMode::Starttls)
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{host} took {:?}",
            started.elapsed()
        );
        assert_eq!(r.verdict, Verdict::Fail, "{host}: {r:#?}");
        assert_eq!(reasons(&r), vec![reason], "{host}");
        assert!(
            w.fixture(listener).snis().is_empty(),
            "{host}: no TLS may follow"
        );
    }
    let not_offered = w
        .probe(
            "no-starttls.svc.test",
            w.port("no_starttls"),
            ServiceProtocol::Imap,
            TlsMode::Starttls,
        )
        .await;
    assert_eq!(
        not_offered.facts.endpoints[0].session.starttls_offered(),
        Some(false)
    );
}

/// The whole probe: the domain's MX part and its services in one report, services in the
/// metrics, the domain verdict untouched by a failing service.
#[tokio::test]
async fn services_ride_along_with_the_domain_probe_and_become_metrics() {
    let w = world().await;
    let services = vec![
        ServiceSpec {
            host: "imap.svc.test".into(),
            port: w.port("imap"),
            protocol: ServiceProtocol::Imap,
            tls: TlsMode::Starttls,
        },
        ServiceSpec {
            host: "bad.svc.test".into(),
            port: w.port("imap"),
            protocol: ServiceProtocol::Imap,
            tls: TlsMode::Starttls,
        },
    ];
    let prober = TestProber::new(
        DnsClient::new(&w.settings).unwrap(),
        SmtpSettings {
            port: 1,
            ehlo_name: "probe.test".into(),
            step_timeout: Duration::from_millis(500),
            reply_timeout: Duration::from_millis(500),
            tls_fallback: true,
        },
    )
    .with_services(services, Arc::new(w.trusted()));
    // imap.svc.test has no MX: its address is the implicit MX, and nothing
    // listens on SMTP port 1 there, so the mail part is undeliverable on its
    // own. The failing service must add nothing to the mail findings.
    let report = prober.probe_domain("imap.svc.test").await;
    assert_eq!(report.services.len(), 2);
    assert_eq!(report.services[0].verdict, Verdict::Pass);
    assert_eq!(report.services[1].verdict, Verdict::Fail);
    let mail: Vec<&str> = report.failures.iter().map(|f| f.reason.as_str()).collect();
    assert_eq!(
        mail,
        vec!["undeliverable"],
        "a service never changes the mail verdict"
    );

    let labels = std::collections::BTreeMap::new();
    let families =
        dane_exporter::metrics::probe_families(&[dane_exporter::metrics::LabelledReport {
            direction: dane_exporter::core::Direction::Inbound,
            extra_labels: &labels,
            report: &report,
        }]);
    let mut text = String::new();
    prometheus::TextEncoder::new()
        .encode_utf8(&families, &mut text)
        .unwrap();
    let port = w.port("imap");
    assert!(text.contains(&format!(
        "dane_service_tlsa_match{{domain=\"imap.svc.test\",direction=\"inbound\",host=\"imap.svc.test\",port=\"{port}\",protocol=\"imap\",address=\"127.0.0.31\"}} 1"
    )), "{text}");
    assert!(text.contains(&format!(
        "dane_service_failure_info{{domain=\"imap.svc.test\",direction=\"inbound\",host=\"bad.svc.test\",port=\"{port}\",protocol=\"imap\",reason=\"tlsa_mismatch\",address=\"127.0.0.31\"}} 1"
    )), "{text}");
    crate::support::exporter::promtool_check(&text);
    // The human report names both services.
    let human = dane_exporter::text::render(&report);
    assert!(
        human.contains(&format!(
            "SERVICE bad.svc.test:{port} (imap, STARTTLS): FAIL"
        )),
        "{human}"
    );
    let _ = &w.imap_cert;
}

// ---------------------------------------------------------------------------------------------
// The real stack: dovecot (IMAP STARTTLS, IMAPS, POP3 STLS) and a Postfix listener without TLS,
// behind NSD with the signed zone svc.test and a validating unbound (tests/stack/up.sh, block
// "services"). Every service listens on the stack's SMTP port, each on its own address.
// ---------------------------------------------------------------------------------------------

mod stack {
    use std::path::Path;
    use std::process::Command;
    use std::time::Duration;

    use crate::support::exporter::{promtool_check, Exporter};
    use crate::support::stack::Stack;

    /// (host, protocol/tls, expected dane_service_success, expected failure reason)
    const SERVICES: &[(&str, &str, f64, Option<&str>)] = &[
        ("imap.svc.test", "imap/starttls", 1.0, None),
        ("imaps.svc.test", "imap/implicit", 1.0, None),
        ("pop3.svc.test", "pop3/starttls", 1.0, None),
        (
            "imapstale.svc.test",
            "imap/starttls",
            0.0,
            Some("tlsa_mismatch"),
        ),
        (
            "imapsname.svc.test",
            "imap/implicit",
            0.0,
            Some("pkix_name_mismatch"),
        ),
        (
            "nosubmission.svc.test",
            "smtp/starttls",
            0.0,
            Some("starttls_not_offered"),
        ),
        // nginx (HTTPS, DANE-EE) and Postfix in wrappermode (submissions, DANE-TA).
        ("https.svc.test", "https/implicit", 1.0, None),
        (
            "httpsstale.svc.test",
            "https/implicit",
            0.0,
            Some("tlsa_mismatch"),
        ),
        ("smtps.svc.test", "smtp/implicit", 1.0, None),
    ];

    fn ca_file(stack: &Stack) -> std::path::PathBuf {
        stack.dir.join("certs/ca.pem")
    }

    fn check(stack: &Stack, domain: &str, services: &[&str], ca: Option<&Path>) -> (i32, String) {
        let port = stack.var("SMTP_PORT");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dane_exporter"));
        cmd.args(["check", domain, "--nameserver", stack.var("RESOLVER")])
            .args([
                "--port",
                port,
                "--timeout",
                "3s",
                "--no-mta-sts",
                "--no-authoritative",
            ]);
        for s in services {
            cmd.arg("--service").arg(s.replace("PORT", port));
        }
        if let Some(ca) = ca {
            cmd.arg("--service-ca").arg(ca);
        }
        let out = cmd.output().expect("dane_exporter check");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    #[test]
    fn dovecot_and_postfix_services_in_the_real_stack() {
        let stack = Stack::up();
        let port = stack.var("SMTP_PORT").to_string();

        // The exporter, scheduled: every service of svc.test with the stack's CA trusted.
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("dane_exporter.yml");
        let mut text = format!(
            "global:\n  interval: 10s\n  timeout: 8s\n  step_timeout: 3s\n  \
             nameservers: [\"{}\"]\n  smtp_port: {port}\n  ehlo_name: probe.test\n  \
             service_ca_file: {}\n  authoritative_checks: none\ninbound:\n  - domain: svc.test\n    \
             mta_sts: false\n    tls_rpt: false\n    services:\n",
            stack.var("RESOLVER"),
            ca_file(&stack).display()
        );
        for (host, mode, _, _) in SERVICES {
            let (protocol, tls) = mode.split_once('/').unwrap();
            text.push_str(&format!(
                "      - {{host: {host}, port: {port}, protocol: {protocol}, tls: {tls}}}\n"
            ));
        }
        std::fs::write(&config, text).unwrap();
        let exporter = Exporter::start(&config);
        exporter.wait_for(Duration::from_secs(30), "services probed", |e| {
            e.metrics().values("dane_service_success", &[]).len() == SERVICES.len()
        });
        let metrics = exporter.metrics();
        for (host, _, success, reason) in SERVICES {
            let at = [("host", *host), ("port", port.as_str())];
            assert_eq!(
                metrics.value("dane_service_success", &at),
                *success,
                "{host}"
            );
            if let Some(reason) = reason {
                let mut labels = at.to_vec();
                labels.push(("reason", reason));
                assert_eq!(
                    metrics.value("dane_service_failure_info", &labels),
                    1.0,
                    "{host}"
                );
            }
        }
        // The PKIX-TA record of IMAPS matched through the configured CA.
        assert_eq!(
            metrics.value(
                "dane_service_tlsa_match",
                &[("host", "imaps.svc.test"), ("address", "127.0.1.41")]
            ),
            1.0
        );
        // The real nginx and the Postfix wrappermode listener authenticated by their own records.
        for (host, address) in [
            ("https.svc.test", "127.0.1.43"),
            ("smtps.svc.test", "127.0.1.44"),
        ] {
            assert_eq!(
                metrics.value(
                    "dane_service_tlsa_match",
                    &[("host", host), ("address", address)]
                ),
                1.0,
                "{host}"
            );
        }
        // svc.test has no MX record and no address (the domain itself as implicit MX): mail has
        // nowhere to go, so the mail verdict fails with domain_not_found, whatever the services
        // say; their own verdicts above are untouched.
        assert_eq!(
            metrics.value("dane_probe_success", &[("domain", "svc.test")]),
            0.0,
            "{}",
            metrics.text
        );
        assert_eq!(
            metrics.value(
                "dane_probe_failure_info",
                &[("domain", "svc.test"), ("reason", "domain_not_found")]
            ),
            1.0
        );
        let (_, body) = exporter.get("/metrics");
        promtool_check(&body);

        // `check`, without the CA: the PKIX records cannot validate against Mozilla's roots.
        let (code, out) = check(
            &stack,
            "svc.test",
            &[
                "imaps.svc.test:PORT/imap/implicit",
                "pop3.svc.test:PORT/pop3/starttls",
            ],
            None,
        );
        assert_eq!(code, 1, "{out}");
        assert_eq!(out.matches("[pkix_chain_invalid]").count(), 2, "{out}");
        // With it, and with the DANE-EE IMAP service: exit 0 (for a domain whose mail passes
        // too: svc.test itself has nowhere to deliver mail, domain_not_found, exit 1).
        let (code, out) = check(
            &stack,
            "svc.test",
            &["imap.svc.test:PORT/imap/starttls"],
            Some(&ca_file(&stack)),
        );
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("[domain_not_found]"), "{out}");
        assert_eq!(out.matches("): PASS, DANE applies").count(), 1, "{out}");
        let (code, out) = check(
            &stack,
            "ok311.test",
            &[
                "imap.svc.test:PORT/imap/starttls",
                "imaps.svc.test:PORT/imap/implicit",
                "pop3.svc.test:PORT/pop3/starttls",
                "https.svc.test:PORT/https/implicit",
                "smtps.svc.test:PORT/smtp/implicit",
            ],
            Some(&ca_file(&stack)),
        );
        assert_eq!(code, 0, "{out}");
        assert_eq!(out.matches("): PASS, DANE applies").count(), 5, "{out}");
        // The stale HTTPS record fails `check` too.
        let (code, out) = check(
            &stack,
            "svc.test",
            &["httpsstale.svc.test:PORT/https/implicit"],
            None,
        );
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("[tlsa_mismatch]"), "{out}");

        // Cross-check with OpenSSL's DANE client on the same dovecot endpoints and records.
        let tlsa = |name: &str| {
            let out = Command::new("dig")
                .args(["+short", "-p"])
                .arg(stack.var("RESOLVER").rsplit(':').next().unwrap())
                .arg("@127.0.0.1")
                .arg(format!("_{port}._tcp.{name}"))
                .arg("TLSA")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            // dig splits long hex into words: "3 1 1 ABCD EF01".
            let mut words = text.split_whitespace();
            let head: Vec<&str> = words.by_ref().take(3).collect();
            format!("{} {}", head.join(" "), words.collect::<String>())
        };
        let openssl = |address: &str, starttls: Option<&str>, name: &str, extra: &[&str]| {
            let mut cmd = Command::new("openssl");
            cmd.args(["s_client", "-brief", "-verify_return_error"])
                .arg("-connect")
                .arg(format!("{address}:{port}"))
                .args(["-servername", name, "-dane_tlsa_domain", name])
                .arg("-dane_tlsa_rrdata")
                .arg(tlsa(name))
                .args(extra);
            if let Some(proto) = starttls {
                cmd.args(["-starttls", proto]);
            }
            let out = cmd
                .stdin(std::process::Stdio::null())
                .output()
                .expect("openssl s_client");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let ca = ca_file(&stack).display().to_string();
        let (ok, log) = openssl("127.0.1.40", Some("imap"), "imap.svc.test", &[]);
        assert!(ok && log.contains("Verification: OK"), "{log}");
        let (ok, log) = openssl("127.0.1.41", None, "imaps.svc.test", &["-CAfile", &ca]);
        assert!(ok && log.contains("Verification: OK"), "{log}");
        let (ok, log) = openssl("127.0.1.40", Some("imap"), "imapstale.svc.test", &[]);
        assert!(!ok, "openssl accepted the stale record: {log}");
        let (ok, log) = openssl("127.0.1.43", None, "https.svc.test", &[]);
        assert!(ok && log.contains("Verification: OK"), "{log}");
        let (ok, log) = openssl("127.0.1.43", None, "httpsstale.svc.test", &[]);
        assert!(!ok, "openssl accepted the stale HTTPS record: {log}");
        let (ok, log) = openssl("127.0.1.44", None, "smtps.svc.test", &[]);
        assert!(ok && log.contains("Verification: OK"), "{log}");
    }
}
