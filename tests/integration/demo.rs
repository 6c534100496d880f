//! `dane_exporter demo`, the binary, as a newcomer starts it: every scenario's verdict in the
//! first scrapes (checked by `promtool check metrics`), the status page, the exporter's own sight
//! (resolver up, SMTP egress up, no exporter alert), the shipped alerts firing for the broken
//! scenarios in a real Prometheus and Alertmanager (`support/monitoring.rs`), and the story of
//! docs/demo.md: a key rotated without its record fires `DaneTLSAMismatch`, `dane_exporter tlsa
//! --check --connect` prints the record to publish, publishing it through `/demo/tlsa` resolves
//! the alert.

use std::process::{Command, Stdio};
use std::time::Duration;

use dane_exporter::demo::world::SCENARIOS;

use crate::support::exporter::{promtool_check, Exporter};
use crate::support::monitoring::Monitoring;

#[test]
fn demo_scenarios_alerts_and_the_tlsa_fix() {
    let demo = Exporter::run(&["--log.level=warn", "demo"]);
    // The first round: every scenario has its verdict, and the scrape is lint-free.
    demo.wait_for(Duration::from_secs(30), "every verdict", |e| {
        let m = e.metrics();
        SCENARIOS.iter().all(|s| {
            m.values(
                "dane_probe_verdict",
                &[("domain", s.domain), ("verdict", s.verdict)],
            ) == vec![1.0]
        })
    });
    let m = demo.metrics();
    promtool_check(&m.text);
    // The exporter's own sight: the demo's DNS server answers, SMTP leaves the host.
    assert_eq!(m.values("dane_exporter_resolver_up", &[]), vec![1.0]);
    assert_eq!(m.values("dane_exporter_smtp_egress_up", &[]), vec![1.0]);
    let failure = |domain: &str, reason: &str| {
        m.values(
            "dane_probe_failure_info",
            &[("domain", domain), ("reason", reason)],
        )
    };
    assert_eq!(failure("stale.example", "tlsa_mismatch"), vec![1.0]);
    assert_eq!(
        failure("nostarttls.example", "starttls_not_offered"),
        vec![1.0]
    );
    assert_eq!(failure("bogus.example", "tlsa_lookup_failed"), vec![1.0]);
    assert_eq!(
        m.value(
            "dane_dnssec_status",
            &[
                ("domain", "bogus.example"),
                ("type", "TLSA"),
                ("status", "bogus")
            ]
        ),
        1.0
    );
    // Signatures "expiring in days": two days from the demo's start.
    let now = dane_exporter::core::unix_now() as f64;
    let expiry = m.value(
        "dane_rrsig_expiration_timestamp_seconds",
        &[("domain", "expiring.example"), ("type", "TLSA")],
    );
    assert!(
        (now + 86_400.0..now + 3.0 * 86_400.0).contains(&expiry),
        "{expiry} vs now {now}"
    );
    assert_eq!(
        m.value(
            "dane_tlsa_rollover_ready",
            &[("domain", "rollover.example")]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "dane_local_certificate_tlsa_match",
            &[("domain", "rollover.example"), ("slot", "staged")]
        ),
        1.0
    );
    assert_eq!(
        m.values(
            "dane_mx_dane_state",
            &[("domain", "nodane.example"), ("state", "no_tlsa")]
        ),
        vec![1.0]
    );
    // The status page lists every scenario, failures first, and links the demo's page, which
    // names every scenario and the flags.
    let (status, landing) = demo.get("/");
    assert_eq!(status, 200);
    assert!(landing.contains("href=\"/demo\""), "{landing}");
    for scenario in SCENARIOS {
        assert!(
            landing.contains(&format!("/status/inbound/{}", scenario.domain)),
            "{landing}"
        );
    }
    assert!(
        landing.find("stale.example") < landing.find("pass.example"),
        "{landing}"
    );
    let (status, report) = demo.get("/status/inbound/stale.example");
    assert_eq!(status, 200, "{report}");
    assert!(report.contains("mx.stale.example"), "{report}");
    let (status, overview) = demo.get("/demo");
    assert_eq!(status, 200);
    for scenario in SCENARIOS {
        assert!(overview.contains(scenario.domain), "{overview}");
    }
    let flags_line = overview
        .lines()
        .find(|l| l.contains("dane_exporter check stale.example"))
        .expect("a check command in /demo");
    let flags: Vec<String> = flags_line
        .split_whitespace()
        .skip(3)
        .map(str::to_string)
        .collect();
    assert_eq!(
        demo.request("POST", "/demo/rotate-key?domain=nope.example")
            .0,
        404
    );
    assert_eq!(demo.get("/demo/rotate-key?domain=pass.example").0, 405);

    // Prometheus with the shipped rules: each broken scenario's alerts fire.
    let dir = tempfile::tempdir().unwrap();
    let monitoring = Monitoring::start(dir.path(), demo.addr);
    for scenario in SCENARIOS {
        for alert in scenario.alerts {
            monitoring.wait_for_alert(
                Duration::from_secs(60),
                "firing",
                &[("alertname", alert), ("domain", scenario.domain)],
            );
        }
    }
    // Nothing pages or warns for the healthy ones. (Info alerts may: with `for: 0s`,
    // DaneStaleTLSARecord fires for rollover.example's next-key record at once; shipped, after
    // a week, as a reminder.)
    let alerting: Vec<String> = monitoring
        .alerts()
        .iter()
        .filter(|(_, l)| l["severity"] != "info")
        .filter_map(|(_, l)| Some(format!("{} {}", l["domain"].as_str()?, l["alertname"])))
        .collect();
    for quiet in ["pass.example", "rollover.example", "nodane.example"] {
        assert!(
            !alerting.iter().any(|a| a.starts_with(&format!("{quiet} "))),
            "{quiet} alerted: {alerting:?}"
        );
    }
    // And the exporter itself sees: its resolver (the demo's server) answers, SMTP leaves.
    let exporter_alerts: Vec<String> = monitoring
        .alerts()
        .iter()
        .filter_map(|(_, l)| l["alertname"].as_str().map(str::to_string))
        .filter(|name| name.starts_with("DaneExporter"))
        .collect();
    assert!(exporter_alerts.is_empty(), "{exporter_alerts:?}");

    // A renewal deployed without its record: the mismatch alert fires for pass.example.
    let (status, body) = demo.request("POST", "/demo/rotate-key?domain=pass.example");
    assert_eq!(status, 200, "{body}");
    let mismatch = [
        ("alertname", "DaneTLSAMismatch"),
        ("domain", "pass.example"),
        ("mx", "mx.pass.example"),
        ("severity", "critical"),
    ];
    monitoring.wait_for_alert(Duration::from_secs(60), "firing", &mismatch);

    // The fix step: `tlsa --check --connect` says fix now and prints the record to publish.
    let out = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
        .args(["tlsa", "--check", "--connect", "mx.pass.example"])
        .args(&flags)
        .output()
        .expect("dane_exporter tlsa");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("step (e), fix now"), "{stdout}");
    let record = stdout
        .lines()
        .find(|l| !l.starts_with(';') && l.contains(" IN TLSA "))
        .and_then(|l| l.split(" IN TLSA ").nth(1))
        .and_then(|r| r.split(';').next())
        .map(|r| r.trim().replace(' ', "+"))
        .expect("a record line");
    let (status, body) = demo.request(
        "POST",
        &format!("/demo/tlsa?domain=pass.example&add={record}"),
    );
    assert_eq!(status, 200, "{body}");
    monitoring.wait_for_alert(Duration::from_secs(60), "resolved", &mismatch);
    let check = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
        .args(["check", "pass.example", "--no-mta-sts"])
        .args(&flags)
        .stdout(Stdio::null())
        .status()
        .expect("dane_exporter check");
    assert_eq!(check.code(), Some(0), "check passes after the fix");
}
