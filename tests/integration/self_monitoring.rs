//! Never silently green, never blaming the domain for our own outage: the real stack seen through
//! resolvers that cannot be trusted or are gone, and from a host whose SMTP egress is cut.
//!
//! - `check` exits 2 with one sentence when it cannot see: through a copy of the stack's unbound
//!   with validation off (the stale-TLSA domain that read NOT_APPLICABLE and exit 0 before), one
//!   in permissive mode (caught by the bogus canary), a resolver address where nothing listens
//!   (fast, on the ICMP error), and in a network namespace of the test's own with no route to
//!   the SMTP listeners; it exits 1 for a domain that does not exist and for one whose DS was
//!   removed while DANE is expected.
//! - The exporter: its own gauges and counters, `/-/ready` saying why, unknown verdicts with their
//!   reason and no other series, and recovery on reload.
//!
//! Resolver copies: `tests/stack/resolver-copy.sh`; DS removal: `tests/stack/set-ds.sh`; the
//! namespace: `support/netns.rs`. The end-to-end run with Prometheus and Alertmanager is
//! `self_monitoring_alerts.rs`.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::exporter::{promtool_check, write_config, Exporter};
use crate::support::netns::Netns;
use crate::support::stack::{free_dns_port, Stack};

/// One `check --json` run: exit code, report, stderr, how long it took.
struct Run {
    code: Option<i32>,
    json: Value,
    stderr: String,
    took: Duration,
}

impl Run {
    fn verdict(&self) -> &str {
        self.json["verdict"].as_str().unwrap_or("")
    }

    fn reasons(&self, list: &str) -> Vec<String> {
        self.json[list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["reason"].as_str().map(String::from))
            .collect()
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stderr\n{}\n--- report\n{:#}",
            self.code, self.took, self.stderr, self.json
        )
    }
}

/// `dane_exporter check DOMAIN --json` against the stack's SMTP port through `nameserver`, inside
/// `netns` when given.
fn check(
    stack: &Stack,
    netns: Option<&Netns>,
    domain: &str,
    nameserver: SocketAddr,
    extra: &[&str],
) -> Run {
    let binary = env!("CARGO_BIN_EXE_dane_exporter");
    let mut command = match netns {
        Some(netns) => netns.command(binary),
        None => Command::new(binary),
    };
    let started = Instant::now();
    let out = command
        .args(["check", domain, "--nameserver", &nameserver.to_string()])
        .args([
            "--port",
            stack.var("SMTP_PORT"),
            "--timeout",
            "3s",
            "--json",
        ])
        .args(["--no-mta-sts", "--no-authoritative"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("running dane_exporter check");
    let took = started.elapsed();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    Run {
        code: out.status.code(),
        json,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    }
}

fn resolver(stack: &Stack) -> SocketAddr {
    stack.var("RESOLVER").parse().expect("RESOLVER")
}

#[test]
fn check_exits_2_with_one_sentence_when_this_host_cannot_see() {
    let stack = Stack::up();
    let off_port = free_dns_port(&[]);
    let off = stack.resolver_copy("off", "127.0.0.1", off_port, "off");
    let permissive_port = free_dns_port(&[off_port]);
    let permissive = stack.resolver_copy("permissive", "127.0.0.1", permissive_port, "permissive");
    let validating = resolver(&stack);

    // The example: a stale TLSA record behind a resolver that does not validate read
    // NOT_APPLICABLE and exit 0. Now: unknown, exit 2, and how to fix it.
    for domain in ["stale.test", "bogus.test", "ok311.test"] {
        let run = check(&stack, None, domain, off, &[]);
        assert_eq!(run.code, Some(2), "{domain}: {run:?}");
        assert_eq!(run.verdict(), "unknown", "{domain}: {run:?}");
        assert_eq!(
            run.reasons("unknown"),
            ["resolver_not_validating"],
            "{run:?}"
        );
        assert!(run.reasons("failures").is_empty(), "{run:?}");
        assert!(
            run.stderr.contains("the resolver does not validate DNSSEC")
                && run.stderr.contains("--dnssec-mode validate"),
            "{run:?}"
        );
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("dane_exporter: "))
                .count(),
            1
        );
    }
    // The fix the sentence names works: validating here, through the same resolver.
    let run = check(
        &stack,
        None,
        "stale.test",
        off,
        &[
            "--dnssec-mode",
            "validate",
            "--trust-anchor",
            stack.var("TRUST_ANCHOR"),
        ],
    );
    assert_eq!((run.code, run.verdict()), (Some(0), "pass"), "{run:?}");

    // A resolver that sets AD honestly but passes bogus data on: the bogus canary (a zone whose
    // DS matches no key) catches it.
    let run = check(
        &stack,
        None,
        "bogus.test",
        permissive,
        &["--canary-bogus-name", "brokends.test"],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(
        run.reasons("unknown"),
        ["resolver_not_validating"],
        "{run:?}"
    );
    // The stack's own unbound passes both canaries, and bogus.test fails as it should.
    let run = check(
        &stack,
        None,
        "bogus.test",
        validating,
        &["--canary-bogus-name", "brokends.test"],
    );
    assert_eq!((run.code, run.verdict()), (Some(1), "fail"), "{run:?}");
    assert_eq!(run.reasons("failures"), ["tlsa_lookup_failed"], "{run:?}");

    // Nothing listens: the ICMP port unreachable ends it at once, not after the timeout.
    let dead: SocketAddr = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let run = check(&stack, None, "ok311.test", dead, &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.verdict(), "unknown", "{run:?}");
    assert_eq!(run.reasons("unknown"), ["resolver_unavailable"], "{run:?}");
    assert!(run.stderr.contains("no resolver answers"), "{run:?}");
    assert!(run.took < Duration::from_secs(2), "{run:?}");
    eprintln!("check through a dead resolver: {:?}", run.took);
    // In validate mode too: only whether it answers is checked there, and it does not.
    let run = check(
        &stack,
        None,
        "ok311.test",
        dead,
        &[
            "--dnssec-mode",
            "validate",
            "--trust-anchor",
            stack.var("TRUST_ANCHOR"),
        ],
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.reasons("unknown"), ["resolver_unavailable"], "{run:?}");

    // A domain that does not exist is a failure of the domain, not "not applicable".
    let run = check(&stack, None, "nosuch.test", validating, &[]);
    assert_eq!((run.code, run.verdict()), (Some(1), "fail"), "{run:?}");
    assert_eq!(run.reasons("failures"), ["domain_not_found"], "{run:?}");
    // A null MX has nowhere to deliver either.
    let run = check(&stack, None, "nullmx.test", validating, &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.reasons("failures")
            .contains(&"domain_not_found".to_string()),
        "{run:?}"
    );

    // DS removed while the stack runs: not applicable, which --expect dane fails.
    let run = check(
        &stack,
        None,
        "ok301.test",
        validating,
        &["--expect", "dane"],
    );
    assert_eq!((run.code, run.verdict()), (Some(0), "pass"), "{run:?}");
    stack.set_ds("ok301", false);
    let run = check(&stack, None, "ok301.test", validating, &[]);
    assert_eq!(
        (run.code, run.verdict()),
        (Some(0), "not_applicable"),
        "{run:?}"
    );
    let run = check(
        &stack,
        None,
        "ok301.test",
        validating,
        &["--expect", "dane"],
    );
    assert_eq!((run.code, run.verdict()), (Some(1), "fail"), "{run:?}");
    assert_eq!(run.reasons("failures"), ["dane_expected"], "{run:?}");
    stack.set_ds("ok301", true);
    let run = check(
        &stack,
        None,
        "ok301.test",
        validating,
        &["--expect", "dane"],
    );
    assert_eq!((run.code, run.verdict()), (Some(0), "pass"), "{run:?}");

    // A host whose SMTP egress is cut (a namespace without a route to the listeners): DNS
    // works through a resolver on the veth pair, every connect fails with ENETUNREACH.
    let netns = Netns::new();
    let port = free_dns_port(&[off_port, permissive_port]);
    let veth = stack.resolver_copy("veth", &netns.host_addr.to_string(), port, "validating");
    let run = check(&stack, Some(&netns), "twomx.test", veth, &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("no SMTP connection could leave this host")
            && run.stderr.contains("no route to the address")
            && run.stderr.contains("open outgoing TCP port"),
        "{run:?}"
    );
    // One address is not enough to tell this host from the domain's server.
    let run = check(&stack, Some(&netns), "ok311.test", veth, &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        !run.stderr.contains("no SMTP connection could leave"),
        "{run:?}"
    );
    // With the route, the same namespace delivers.
    netns.route_listeners(true);
    let run = check(&stack, Some(&netns), "twomx.test", veth, &[]);
    assert_eq!(
        run.code,
        Some(1),
        "twomx fails on its own (mx2 mismatches): {run:?}"
    );
    assert_eq!(run.reasons("failures"), ["tlsa_mismatch"], "{run:?}");
    let run = check(&stack, Some(&netns), "ok311.test", veth, &[]);
    assert_eq!((run.code, run.verdict()), (Some(0), "pass"), "{run:?}");
}

/// The exporter's own view of a resolver that does not validate and of one that is gone, and its
/// recovery when the configuration is fixed and reloaded.
#[test]
fn the_exporter_says_what_it_cannot_see() {
    let stack = Stack::up();
    let off_port = free_dns_port(&[]);
    let off = stack.resolver_copy("off", "127.0.0.1", off_port, "off");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    let with_resolver = |nameserver: &str| {
        write_config(
            &config,
            &stack,
            &["ok311.test", "stale.test"],
            &["bogus.test"],
        );
        let text = std::fs::read_to_string(&config).unwrap().replacen(
            &format!("nameservers: [\"{}\"]", stack.var("RESOLVER")),
            &format!("nameservers: [\"{nameserver}\"]"),
            1,
        );
        std::fs::write(&config, text).unwrap();
    };
    with_resolver(&off.to_string());
    let log = dir.path().join("exporter.log");
    let exporter = Exporter::spawn_with(&config, None, &["--log.level=debug"], Some(&log));
    let off_label = off.to_string();
    exporter.wait_for(Duration::from_secs(40), "unknown everywhere", |e| {
        let m = e.metrics();
        ["ok311.test", "stale.test", "bogus.test"].iter().all(|d| {
            m.values(
                "dane_probe_verdict",
                &[("domain", d), ("verdict", "unknown")],
            ) == [1.0]
        })
    });
    let m = exporter.metrics();
    promtool_check(&m.text);
    assert_eq!(
        m.value("dane_exporter_resolver_up", &[("nameserver", &off_label)]),
        1.0
    );
    assert_eq!(
        m.value(
            "dane_exporter_resolver_validating",
            &[("nameserver", &off_label)]
        ),
        0.0
    );
    for domain in ["ok311.test", "stale.test", "bogus.test"] {
        assert_eq!(
            m.value(
                "dane_probe_unknown_info",
                &[("domain", domain), ("reason", "resolver_not_validating")]
            ),
            1.0
        );
        // Nothing else about the domain: no success, no findings, no facts.
        for absent in [
            "dane_probe_success",
            "dane_probe_failure_info",
            "dane_dnssec_status",
            "dane_mx_dane_state",
            "dane_domain_protected",
        ] {
            assert!(
                m.values(absent, &[("domain", domain)]).is_empty(),
                "{absent} {domain}"
            );
        }
    }
    let counted = |name: &str, labels: &[(&str, &str)]| m.values(name, labels).iter().sum::<f64>();
    assert!(counted("dane_exporter_probes_total", &[("verdict", "unknown")]) >= 3.0);
    assert!(
        counted(
            "dane_exporter_probe_errors_total",
            &[("reason", "resolver_not_validating")]
        ) >= 3.0
    );
    assert_eq!(
        counted(
            "dane_exporter_probe_errors_total",
            &[("reason", "probe_timeout")]
        ),
        0.0
    );
    assert!(
        counted(
            "dane_exporter_dns_queries_total",
            &[("nameserver", &off_label), ("result", "noerror")]
        ) >= 1.0,
        "the canary's queries are counted"
    );
    let (status, body) = exporter.get("/-/ready");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains(&format!("resolver {off_label} does not validate DNSSEC"))
            && body.contains("dnssec_mode: validate"),
        "{body}"
    );
    let m = exporter.metrics();
    assert!(
        m.value(
            "dane_exporter_http_requests_total",
            &[("handler", "/-/ready"), ("code", "503")]
        ) >= 1.0
    );

    // Fixed: the validating resolver, reloaded. Ready, and the verdicts are the domains' own.
    with_resolver(stack.var("RESOLVER"));
    assert_eq!(exporter.request("POST", "/-/reload").0, 200);
    exporter.wait_for(Duration::from_secs(40), "ready after the fix", |e| {
        e.get("/-/ready").0 == 200
    });
    // The results stored before the reload stay until each domain is probed again.
    exporter.wait_for(
        Duration::from_secs(40),
        "verdicts of the domains' own",
        |e| {
            e.metrics()
                .values("dane_probe_verdict", &[("verdict", "unknown")])
                .is_empty()
        },
    );
    let m = exporter.metrics();
    promtool_check(&m.text);
    let success = |d: &str| m.value("dane_probe_success", &[("domain", d)]);
    assert_eq!(
        (
            success("ok311.test"),
            success("stale.test"),
            success("bogus.test")
        ),
        (1.0, 1.0, 0.0)
    );
    assert_eq!(
        m.value(
            "dane_exporter_resolver_validating",
            &[("nameserver", stack.var("RESOLVER"))]
        ),
        1.0
    );
    assert!(
        m.values("dane_exporter_resolver_up", &[("nameserver", &off_label)])
            .is_empty(),
        "a resolver no longer configured has no gauge"
    );
    assert!(
        m.values("dane_exporter_smtp_egress_up", &[]) == [1.0],
        "SMTP connects succeeded"
    );
    drop(exporter);

    // The logs: the resolver's state, every probe at debug, verdict changes and the first round
    // at info (JSON lines: ts, level, caller, msg, then the fields).
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let with = |level: &str, message: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["level"] == level && l["msg"] == message)
            .collect()
    };
    assert!(
        with("warn", "resolver does not validate DNSSEC: verdicts are unknown; use a validating resolver or dnssec_mode: validate")
            .iter()
            .any(|l| l["nameserver"] == off_label.as_str()),
        "{lines:#?}"
    );
    let probes = with("debug", "probe done");
    for domain in ["ok311.test", "stale.test", "bogus.test"] {
        let of = |verdict: &str| {
            probes.iter().any(|l| {
                l["domain"] == domain
                    && l["verdict"] == verdict
                    && l["duration_seconds"].is_number()
            })
        };
        assert!(of("unknown"), "{domain}: {probes:#?}");
    }
    assert!(probes.iter().any(|l| l["domain"] == "bogus.test"
        && l["verdict"] == "fail"
        && l["reasons"] == "tlsa_lookup_failed"));
    let changes = with("info", "verdict changed");
    assert!(
        changes
            .iter()
            .any(|l| l["domain"] == "ok311.test" && l["from"] == "unknown" && l["to"] == "pass"),
        "{changes:#?}"
    );
    let rounds = with("info", "first round done");
    assert!(
        rounds
            .iter()
            .any(|l| l["targets"] == 3 && l["unknown"] == 3),
        "{rounds:#?}"
    );

    // A resolver address where nothing listens.
    let dead: SocketAddr = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    with_resolver(&dead.to_string());
    let exporter = Exporter::spawn(&config, None);
    let dead_label = dead.to_string();
    exporter.wait_for(
        Duration::from_secs(40),
        "unknown: resolver unavailable",
        |e| {
            let m = e.metrics();
            ["ok311.test", "stale.test", "bogus.test"].iter().all(|d| {
                m.values(
                    "dane_probe_unknown_info",
                    &[("domain", d), ("reason", "resolver_unavailable")],
                ) == [1.0]
            })
        },
    );
    let m = exporter.metrics();
    promtool_check(&m.text);
    assert_eq!(
        m.value("dane_exporter_resolver_up", &[("nameserver", &dead_label)]),
        0.0
    );
    assert!(
        m.values("dane_probe_failure_info", &[("reason", "mx_lookup_failed")])
            .is_empty(),
        "never blamed on the domains"
    );
    assert!(
        m.value(
            "dane_exporter_dns_queries_total",
            &[("nameserver", &dead_label), ("result", "network_error")]
        ) >= 1.0
    );
    let (status, body) = exporter.get("/-/ready");
    assert_eq!(status, 503);
    assert!(
        body.contains(&format!("resolver {dead_label} does not answer")),
        "{body}"
    );
}
