//! Fixture tests: every `tests/fixtures/config/invalid-*.yml` must fail with the exact message of
//! its `.err` sidecar; the `valid-*.yml` files and `examples/dane_exporter.yml` must load, with the
//! values checked here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::core::Direction;
use crate::dns::DnssecMode;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
}

fn fixture(name: &str) -> Config {
    let path = fixtures().join(name);
    load(&path).unwrap_or_else(|e| panic!("{name} should load: {e}"))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// Every invalid fixture fails with the message pinned in its `.err` file, the fixture directory
/// removed from the path.
#[test]
fn invalid_fixtures_fail_with_their_exact_message() {
    let dir = fixtures();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("invalid-") && name.ends_with(".yml")
        })
        .collect();
    names.sort();
    assert!(names.len() >= 25, "fixtures went missing: {names:?}");
    let prefix = format!("{}/", dir.display());
    let mut failures = Vec::new();
    for path in &names {
        let expected_file = path.with_extension("err");
        let expected = std::fs::read_to_string(&expected_file)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_file.display()));
        let expected = expected.trim_end_matches('\n');
        match load(path) {
            Ok(config) => failures.push(format!("{}: loaded: {config:?}", path.display())),
            Err(e) => {
                let got = e.to_string().replace(&prefix, "");
                if got != expected {
                    failures.push(format!("expected: {expected}\n     got: {got}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn errors_are_typed() {
    let err = load(&fixtures().join("invalid-duplicate-domain.yml")).unwrap_err();
    match err {
        ConfigError::Invalid {
            line, key, problem, ..
        } => {
            assert_eq!(line, 4);
            assert_eq!(key, "inbound[2].domain");
            assert_eq!(
                problem,
                Problem::DuplicateDomain {
                    domain: "example.org".into(),
                    first_line: 2
                }
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = load(&fixtures().join("invalid-syntax.yml")).unwrap_err();
    assert!(
        matches!(err, ConfigError::Syntax { line: 3, .. }),
        "{err:?}"
    );
    assert!(err.problem().is_none());
}

/// `key_algorithm_checks` takes the words of `authoritative_checks`, independently of it, and
/// decides by direction for configured and `/probe` targets alike; anything else names the line
/// and the key.
#[test]
fn key_algorithm_checks_follow_the_direction() {
    let here = Path::new("inline.yml");
    let targets = "inbound:\n  - domain: a.example\noutbound:\n  - domain: b.example\n";
    for (value, inbound, outbound) in [
        (None, true, false),
        (Some("none"), false, false),
        (Some("inbound"), true, false),
        (Some("all"), true, true),
    ] {
        let text = match value {
            Some(v) => format!("global:\n  key_algorithm_checks: {v}\n{targets}"),
            None => targets.to_string(),
        };
        let config = parse(&text, here).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        let ops = &config.global.operations;
        assert_eq!(
            ops.authoritative_checks,
            DirectionScope::Inbound,
            "{value:?}"
        );
        let configured: Vec<bool> = config.targets().iter().map(|t| t.key_algorithms).collect();
        assert_eq!(configured, [inbound, outbound], "{value:?}");
        let adhoc = [Direction::Inbound, Direction::Outbound]
            .map(|direction| config.adhoc_target("c.example", direction).key_algorithms);
        assert_eq!(adhoc, [inbound, outbound], "{value:?} through /probe");
    }

    let text = "global:\n  authoritative_checks: all\n  key_algorithm_checks: Inbound\n";
    let err = parse(text, here).unwrap_err();
    assert_eq!(
        err.to_string(),
        "inline.yml:3: global.key_algorithm_checks: invalid value \"Inbound\"; expected one of: \
         none, inbound, all"
    );
    match err {
        ConfigError::Invalid {
            line, key, problem, ..
        } => {
            assert_eq!((line, key.as_str()), (3, "global.key_algorithm_checks"));
            assert!(
                matches!(problem, Problem::InvalidChoice { .. }),
                "{problem:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = parse("global:\n  key_algorithm_checks: [all]\n", here).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("inline.yml:2: global.key_algorithm_checks: "),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_a_read_error() {
    let path = fixtures().join("does-not-exist.yml");
    let err = load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with(&format!("{}: cannot read config file: ", path.display())));
}

/// An empty file, or one of comments only, is the default config without targets.
#[test]
fn empty_config_is_the_default() {
    assert_eq!(fixture("valid-empty.yml"), Config::default());
    let here = Path::new("inline.yml");
    assert_eq!(parse("", here).unwrap(), Config::default());
    assert_eq!(parse("---\n", here).unwrap(), Config::default());
    assert_eq!(
        parse("global:\ninbound:\n", here).unwrap(),
        Config::default()
    );
    assert!(Config::default().targets().is_empty());
}

#[test]
fn defaults_are_applied() {
    let config = fixture("valid-minimal.yml");
    assert_eq!(config.global, Global::default());
    assert_eq!(config.probe_allow, None);
    // Without probe_allow, /probe answers for the configured targets only.
    assert!(config.probe_allowed("gmail.com"));
    assert!(!config.probe_allowed("anything.example"));
    let targets = config.targets();
    assert_eq!(targets.len(), 1);
    let t = &targets[0];
    assert_eq!(t.domain, "gmail.com");
    assert_eq!(t.direction, Direction::Outbound);
    assert!(t.labels.is_empty());
    assert_eq!(t.interval, secs(300));
    assert_eq!(t.timeout, secs(120));
    assert_eq!(t.dns.mode, DnssecMode::TrustResolver);
    assert!(t.dns.nameservers.is_empty());
    assert_eq!(t.dns.trust_anchor_file, None);
    assert_eq!(t.dns.timeout, secs(10));
    assert_eq!(t.smtp.port, 25);
    assert_eq!(t.smtp.ehlo_name, "dane-exporter.invalid");
    assert_eq!(t.smtp.step_timeout, secs(10));
    assert_eq!(t.smtp.reply_timeout, secs(60));
    assert_eq!(t.expect, crate::core::Expectation::Any, "outbound: any");
}

#[test]
fn overrides_are_merged_and_labels_kept() {
    let config = fixture("valid-full.yml");
    let anchor = fixtures().join("root.key");
    assert_eq!(
        config.global,
        Global {
            interval: secs(600),
            timeout: secs(60),
            step_timeout: secs(15),
            smtp_reply_timeout: secs(60),
            concurrency: 8,
            host_concurrency: 2,
            dnssec_mode: DnssecMode::Validate,
            nameservers: vec![
                addr("127.0.0.1:53"),
                addr("127.0.0.1:5353"),
                addr("[::1]:53")
            ],
            trust_anchor_file: Some(anchor.clone()),
            ehlo_name: "monitor.example.org".into(),
            smtp_port: 2525,
            service_ca_file: None,
            service_ca_pem: None,
            mta_sts_ca_file: None,
            https_port: 443,
            operations: OperationsConfig {
                authoritative_checks: DirectionScope::All,
                authoritative_port: 5300,
                key_algorithm_checks: DirectionScope::None,
                hygiene: crate::checks::authoritative::HygieneLimits {
                    max_records: 8,
                    max_ttl: 7200,
                    stale_after: secs(30 * 86_400),
                },
            },
            expect: Some(crate::core::Expectation::Any),
            canary_secure_name: "example.org".into(),
            canary_bogus_name: None,
        }
    );
    let targets = config.targets();
    let summary: Vec<(&str, Direction)> = targets
        .iter()
        .map(|t| (t.domain.as_str(), t.direction))
        .collect();
    assert_eq!(
        summary,
        [
            ("example.org", Direction::Inbound),
            ("example.net", Direction::Inbound),
            ("example.org", Direction::Outbound),
            ("gmail.com", Direction::Outbound),
        ]
    );

    // Everything overridden that can be.
    let t = &targets[0];
    let labels = BTreeMap::from([
        ("team".to_string(), "mail".to_string()),
        ("tier".to_string(), "1".to_string()),
    ]);
    assert_eq!(*t.labels, labels);
    assert_eq!((t.interval, t.timeout), (secs(60), secs(20)));
    assert_eq!(t.dns.mode, DnssecMode::TrustResolver);
    assert!(t.dns.nameservers.is_empty(), "[] overrides the global list");
    assert_eq!(t.dns.trust_anchor_file, Some(anchor.clone()));
    assert_eq!((t.dns.timeout, t.smtp.step_timeout), (secs(5), secs(5)));
    assert_eq!(
        (t.smtp.port, t.smtp.ehlo_name.as_str()),
        (2525, "monitor.example.org")
    );

    // MTA-STS/TLS-RPT: on for inbound unless switched off, off for outbound unless switched on.
    let checks: Vec<(bool, bool)> = targets
        .iter()
        .map(|t| (t.mta_sts.mta_sts, t.mta_sts.tls_rpt))
        .collect();
    assert_eq!(
        checks,
        [(true, false), (true, true), (false, false), (true, false)]
    );
    assert!(targets.iter().all(|t| t.mta_sts.https_port == 443));
    // expect: the target's own, else the global one (without it: dane inbound, any outbound).
    let expected: Vec<&str> = targets.iter().map(|t| t.expect.as_str()).collect();
    assert_eq!(expected, ["dane", "any", "any", "any"]);
    assert_eq!(
        config.global.canary().timeout,
        secs(5),
        "at most 5 s per query"
    );

    // Only nameservers overridden.
    let t = &targets[1];
    assert!(t.labels.is_empty());
    assert_eq!((t.interval, t.timeout), (secs(600), secs(60)));
    assert_eq!(t.dns.mode, DnssecMode::Validate);
    assert_eq!(t.dns.nameservers, [addr("192.0.2.53:53")]);
    assert_eq!((t.dns.timeout, t.smtp.step_timeout), (secs(15), secs(15)));

    assert_eq!(
        targets[2].labels.get("peer").map(String::as_str),
        Some("self")
    );
    assert_eq!(targets[3].dns.nameservers.len(), 3);

    assert!(config.probe_allowed("mx.example.org"));
    assert!(config.probe_allowed("example.net"));
    assert!(!config.probe_allowed("example.org"));
    assert!(!config.probe_allowed("gmail.com"));
    let adhoc = config.adhoc_target("a.example.org", Direction::Outbound);
    assert!(adhoc.labels.is_empty());
    assert_eq!(
        (adhoc.interval, adhoc.dns.mode),
        (secs(600), DnssecMode::Validate)
    );
}

#[test]
fn empty_probe_allow_list_allows_nothing() {
    let config = parse("probe_allow: []\n", Path::new("inline.yml")).unwrap();
    assert_eq!(config.probe_allow, Some(Vec::new()));
    assert!(!config.probe_allowed("example.org"));
}

#[test]
fn relative_trust_anchor_is_resolved_against_the_config_directory() {
    let text = "outbound:\n  - domain: example.org\n    dnssec_mode: validate\n    trust_anchor_file: root.key\n";
    let config = parse(text, &fixtures().join("inline.yml")).unwrap();
    assert_eq!(
        config.targets()[0].dns.trust_anchor_file,
        Some(fixtures().join("root.key"))
    );
    let err = parse(text, Path::new("/nonexistent/dir/inline.yml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/dir/inline.yml:4: outbound[0].trust_anchor_file: trust anchor file \"root.key\" does not exist"
    );
    let err = parse(
        "global:\n  trust_anchor_file: .\n",
        &fixtures().join("x.yml"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("trust anchor file \".\" cannot be used: not a regular file"),
        "{err}"
    );
}

#[test]
fn anchors_and_aliases_work() {
    let text = "inbound:\n  - domain: a.example\n    labels: &common {team: mail}\n  - domain: b.example\n    labels: *common\n";
    let targets = parse(text, Path::new("inline.yml")).unwrap().targets();
    assert_eq!(targets[1].labels, targets[0].labels);
}

#[test]
fn shipped_example_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dane_exporter.yml");
    let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.global, Global::default());
    let targets = config.targets();
    assert_eq!(targets.len(), 4);
    assert_eq!(targets[1].interval, secs(60));
    assert_eq!(
        targets[3].labels.get("peer").map(String::as_str),
        Some("posteo")
    );
}

#[test]
fn services_infer_protocol_and_mode_from_well_known_ports() {
    use crate::checks::services::{ServiceProtocol, ServiceSpec, TlsMode};
    let config = fixture("valid-services.yml");
    assert_eq!(
        config.global.service_ca_file,
        Some(fixtures().join("service-ca.pem"))
    );
    let targets = config.targets();
    let spec = |host: &str, port, protocol, tls| ServiceSpec {
        host: host.to_string(),
        port,
        protocol,
        tls,
    };
    assert_eq!(
        targets[0].services,
        vec![
            spec(
                "imap.example.org",
                993,
                ServiceProtocol::Imap,
                TlsMode::Implicit
            ),
            spec(
                "imap.example.org",
                143,
                ServiceProtocol::Imap,
                TlsMode::Starttls
            ),
            spec(
                "smtp.example.org",
                587,
                ServiceProtocol::Smtp,
                TlsMode::Starttls
            ),
            spec(
                "smtp.example.org",
                465,
                ServiceProtocol::Smtp,
                TlsMode::Implicit
            ),
            spec(
                "pop.example.org",
                110,
                ServiceProtocol::Pop3,
                TlsMode::Starttls
            ),
            spec(
                "pop.example.org",
                995,
                ServiceProtocol::Pop3,
                TlsMode::Implicit
            ),
            spec(
                "www.example.org",
                443,
                ServiceProtocol::Https,
                TlsMode::Implicit
            ),
            spec(
                "imap.example.org",
                10143,
                ServiceProtocol::Imap,
                TlsMode::Starttls
            ),
            spec(
                "imap.example.org",
                8993,
                ServiceProtocol::Imap,
                TlsMode::Implicit
            ),
        ]
    );
    // The configured CA joins Mozilla's roots.
    let public = crate::dane::PkixTrust::public_roots().len();
    assert_eq!(targets[0].service_trust.len(), public + 1);
    assert!(targets[1].services.is_empty());
}

/// `certificates` of an inbound target: MX names normalised, relative paths anchored at the
/// config file's directory, a lineage kept as a directory; carried into the resolved target.
#[test]
fn valid_certificates_fixture() {
    let config = fixture("valid-certificates.yml");
    let specs = &config.inbound[0].certificates;
    assert_eq!(
        specs,
        &vec![
            CertificateSpec {
                mx: "mx1.example.org".into(),
                source: CertificateSource::Files {
                    live: fixtures().join("certs/mx1.pem"),
                    staged: Some(PathBuf::from("/etc/postfix/mx1.next.pem")),
                },
            },
            CertificateSpec {
                mx: "mx2.example.org".into(),
                source: CertificateSource::Lineage(PathBuf::from(
                    "/etc/letsencrypt/live/mx2.example.org"
                )),
            },
        ]
    );
    assert_eq!(&config.targets()[0].certificates, specs);
}

/// The default whole-probe timeout (2 min) yields to a shorter interval, at either level, and so
/// does the reply timeout to the probe's; a written timeout must still fit its interval.
#[test]
fn default_timeouts_yield_to_shorter_intervals() {
    let here = Path::new("inline.yml");
    let text = "global:\n  interval: 30s\ninbound:\n  - domain: a.example\n";
    let targets = parse(text, here).unwrap().targets();
    assert_eq!(targets[0].timeout, secs(30));
    assert_eq!(targets[0].smtp.reply_timeout, secs(30));
    let text = "inbound:\n  - domain: a.example\n    interval: 1m\n  - domain: b.example\n";
    let targets = parse(text, here).unwrap().targets();
    assert_eq!(
        (targets[0].timeout, targets[1].timeout),
        (secs(60), secs(120))
    );
    assert_eq!(targets[0].smtp.reply_timeout, secs(60));
    let text = "global:\n  timeout: 2m\ninbound:\n  - domain: a.example\n    interval: 1m\n";
    let err = parse(text, here).unwrap_err().to_string();
    assert!(
        err.contains("timeout 2m must not exceed interval 1m"),
        "{err}"
    );
}

/// `domains_file` lists: every domain of a list gets the entry's labels and overrides and the
/// summary shape unless the entry says otherwise; single entries stay full unless they say so.
#[test]
fn domain_lists_are_expanded() {
    use crate::target::MetricsShape;
    let config = fixture("valid-lists.yml");
    let outbound: Vec<&str> = config.outbound.iter().map(|t| t.domain.as_str()).collect();
    assert_eq!(
        outbound,
        vec![
            "example.org",
            "gmail.com",
            "posteo.de",
            "example.net",
            "partner.example"
        ]
    );
    let targets = config.targets();
    let shape = |domain: &str, direction: Direction| {
        let target = targets
            .iter()
            .find(|t| t.domain == domain && t.direction == direction)
            .unwrap();
        (target.metrics, target.interval, (*target.labels).clone())
    };
    let list = BTreeMap::from([("list".to_string(), "recipients".to_string())]);
    assert_eq!(
        shape("example.org", Direction::Outbound),
        (MetricsShape::Full, secs(300), BTreeMap::new())
    );
    assert_eq!(
        shape("posteo.de", Direction::Outbound),
        (MetricsShape::Summary, secs(600), list.clone())
    );
    assert_eq!(
        shape("example.net", Direction::Outbound),
        (MetricsShape::Summary, secs(600), list)
    );
    assert_eq!(
        shape("partner.example", Direction::Outbound).0,
        MetricsShape::Full
    );
    assert_eq!(
        shape("example.org", Direction::Inbound).0,
        MetricsShape::Summary
    );
    // The domains of one list hold one copy of its settings; other entries their own.
    let settings = |domain: &str| {
        let target = targets
            .iter()
            .find(|t| t.domain == domain && t.direction == Direction::Outbound)
            .unwrap();
        Arc::clone(&target.settings)
    };
    assert!(Arc::ptr_eq(&settings("gmail.com"), &settings("posteo.de")));
    assert!(Arc::ptr_eq(
        &settings("posteo.de"),
        &settings("example.net")
    ));
    assert!(!Arc::ptr_eq(
        &settings("example.org"),
        &settings("gmail.com")
    ));
    assert!(!Arc::ptr_eq(
        &settings("example.net"),
        &settings("partner.example")
    ));
    // Writing one target's settings leaves the others' alone.
    let mut one = targets
        .iter()
        .find(|t| t.domain == "gmail.com")
        .unwrap()
        .clone();
    one.smtp.port = 2525;
    assert_eq!(one.smtp.port, 2525);
    assert_eq!(settings("posteo.de").smtp.port, 25);
}

#[test]
fn modules_name_a_direction_and_settings_for_probe() {
    let here = Path::new("inline.yml");
    let text = "global:\n  timeout: 1m\nmodules:\n  quick-out:\n    direction: outbound\n    \
                timeout: 20s\n    dnssec_mode: validate\n    mta_sts: false\n";
    let config = parse(text, here).unwrap();
    let module = config.module("quick-out").unwrap();
    assert_eq!(module.direction, Direction::Outbound);
    let target = config.module_target("example.org", &module);
    assert_eq!(target.direction, Direction::Outbound);
    assert_eq!(target.timeout, Duration::from_secs(20));
    assert_eq!(target.dns.mode, crate::dns::DnssecMode::Validate);
    assert!(!target.mta_sts.mta_sts);
    for (name, direction) in [
        ("inbound", Direction::Inbound),
        ("outbound", Direction::Outbound),
    ] {
        assert_eq!(config.module(name).map(|m| m.direction), Some(direction));
    }
    assert!(config.module("sideways").is_none());

    let errors = [
        (
            "modules:\n  inbound:\n    direction: inbound\n",
            "inline.yml:2: modules.inbound: \"inbound\" is a built-in module; choose another name",
        ),
        (
            "modules:\n  quick:\n    timeout: 5s\n",
            "inline.yml:2: modules.quick: missing required key \"direction\"",
        ),
        (
            "modules:\n  quick:\n    direction: sideways\n",
            "inline.yml:3: modules.quick.direction: invalid value \"sideways\"; expected one of: \
             inbound, outbound",
        ),
        (
            "modules:\n  quick:\n    direction: inbound\n    interval: 5m\n",
            "inline.yml:4: modules.quick.interval: unknown key; expected one of: direction, \
             expect, timeout, step_timeout, dnssec_mode, nameservers, trust_anchor_file, mta_sts, \
             tls_rpt",
        ),
        (
            "modules:\n  \"a b\":\n    direction: inbound\n",
            "inline.yml:2: modules.a b: invalid module name \"a b\": use letters, digits, \"_\" \
             and \"-\"",
        ),
    ];
    for (text, want) in errors {
        let err = parse(text, here).unwrap_err();
        assert_eq!(err.to_string(), want, "{text}");
    }
}
