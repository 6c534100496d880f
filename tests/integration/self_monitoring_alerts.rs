//! The exporter's own alerts end to end, with the real stack, a real Prometheus and a real
//! Alertmanager, the exporter running in a network namespace of the test's own whose SMTP
//! egress and resolver the test takes away in turn:
//!
//! 1. the DS of an inbound domain (expected to have DANE) is removed from the live parent zone:
//!    `DaneMissing` (reason `dane_expected`) reaches the webhook;
//! 2. the namespace loses its route to the SMTP listeners: `DaneExporterSMTPEgressBlocked` fires,
//!    and with the inhibition `alerts/README.md` ships (read from the README itself) Alertmanager
//!    holds `DaneMissing` while it does; the route comes back, the egress alert resolves and
//!    `DaneMissing` is active again;
//! 3. the resolver is stopped: `DaneExporterResolverDown` fires, the verdicts turn `unknown`, the
//!    domain's alert resolves and no per-domain alert fires;
//! 4. the resolver comes back without validation: `DaneExporterResolverNotValidating` fires, still
//!    no per-domain alert.
//!
//! As in `alerting.rs`, every `for:` is 0s here: the boundaries are `promtool test rules`'
//! business (alerts/self-monitoring_test.yml).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::exporter::Exporter;
use crate::support::monitoring::{get_json, project_dir, query, wait_until, Monitoring};
use crate::support::netns::Netns;
use crate::support::stack::{free_dns_port, Stack};

/// Alerts about one domain (they carry a `domain` label).
const PER_DOMAIN: &[&str] = &[
    "DaneTLSAMismatch",
    "DaneTLSALookupFailed",
    "DaneDNSSECBogus",
    "DaneSTARTTLSMissing",
    "DaneMailDeferred",
    "DaneMissing",
    "DaneDomainNotFound",
    "DaneProbeError",
];

/// The `inhibit_rules:` block of alerts/README.md, as a user would copy it.
fn readme_inhibit_rules() -> String {
    let readme =
        std::fs::read_to_string(project_dir("alerts/README.md")).expect("alerts/README.md");
    let start = readme
        .find("```yaml\ninhibit_rules:")
        .expect("alerts/README.md has an inhibit_rules example")
        + "```yaml\n".len();
    let end = start + readme[start..].find("```").expect("end of the example");
    readme[start..end].to_string()
}

/// Alertmanager's current alerts named `name` (API v2), each with its state ("active",
/// "suppressed") and what inhibits it.
fn am_alerts(port: u16, name: &str) -> Vec<Value> {
    get_json(port, "/api/v2/alerts")
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == name)
        .collect()
}

#[test]
fn exporter_alerts_fire_and_hold_domain_pages_while_it_cannot_see() {
    let stack = Stack::up();
    let netns = Netns::new();
    netns.route_listeners(true);
    let dns_port = free_dns_port(&[]);
    let host = netns.host_addr.to_string();
    let resolver = stack.resolver_copy("veth", &host, dns_port, "validating");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    // Only what the scenario needs: no MTA-STS, TLS-RPT or authoritative checks (the namespace
    // reaches nothing on this host's loopback but the SMTP listeners, and only while routed).
    std::fs::write(
        &config,
        format!(
            "global:\n  interval: 10s\n  timeout: 8s\n  step_timeout: 3s\n  concurrency: 4\n  \
             nameservers: [\"{resolver}\"]\n  smtp_port: {}\n  ehlo_name: probe.test\n  \
             authoritative_checks: none\n  canary_bogus_name: brokends.test\n\
             inbound:\n  - {{domain: ok301.test, mta_sts: false, tls_rpt: false}}\n  \
             - {{domain: ok311.test, mta_sts: false, tls_rpt: false}}\n",
            stack.var("SMTP_PORT")
        ),
    )
    .unwrap();
    let exporter = Exporter::spawn(&config, Some(&netns));
    exporter.wait_for(Duration::from_secs(40), "ready", |e| {
        e.get("/-/ready").0 == 200
    });

    let monitoring = Monitoring::start_with(dir.path(), exporter.addr, &readme_inhibit_rules());
    let (prom_port, am_port) = (monitoring.prometheus, monitoring.alertmanager);
    let has = |expr: &str| {
        query(prom_port, expr)["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    };
    wait_until(Duration::from_secs(60), "scraped", || {
        has(r#"dane_probe_success{domain="ok301.test"} == 1"#)
            && has("dane_exporter_smtp_egress_up == 1")
            && has(r#"dane_exporter_resolver_validating == 1"#)
    });
    let began = Instant::now();
    let firing = |name: &str, domain: Option<&str>| {
        monitoring.alerts().iter().any(|(status, labels)| {
            status == "firing"
                && labels["alertname"] == name
                && domain.is_none_or(|d| labels["domain"] == d)
        })
    };
    let resolved = |name: &str| {
        monitoring
            .alerts()
            .iter()
            .any(|(status, labels)| status == "resolved" && labels["alertname"] == name)
    };

    // 1. The DS of ok301.test leaves test.: DANE is gone, and it was expected (inbound).
    let mark = Instant::now();
    stack.set_ds("ok301", false);
    wait_until(Duration::from_secs(60), "DaneMissing firing", || {
        monitoring.alerts().iter().any(|(status, l)| {
            status == "firing"
                && l["alertname"] == "DaneMissing"
                && l["domain"] == "ok301.test"
                && l["reason"] == "dane_expected"
                && l["severity"] == "critical"
                && l["direction"] == "inbound"
        })
    });
    let t1 = mark.elapsed();

    // 2. This host's SMTP egress is cut: one page for it, and the domain's page is held.
    let mark = Instant::now();
    netns.route_listeners(false);
    wait_until(Duration::from_secs(60), "egress alert", || {
        firing("DaneExporterSMTPEgressBlocked", None)
    });
    let t2_alert = mark.elapsed();
    wait_until(Duration::from_secs(30), "DaneMissing held", || {
        am_alerts(am_port, "DaneMissing").iter().any(|a| {
            a["labels"]["domain"] == "ok301.test"
                && a["status"]["state"] == "suppressed"
                && a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|by| !by.is_empty())
        })
    });
    assert!(has("dane_exporter_smtp_egress_up == 0"));
    assert!(has(
        r#"dane_exporter_smtp_sessions_total{result="smtp_no_route"} > 0"#
    ));
    let t2 = mark.elapsed();
    netns.route_listeners(true);
    wait_until(Duration::from_secs(60), "egress alert resolved", || {
        resolved("DaneExporterSMTPEgressBlocked")
    });
    wait_until(Duration::from_secs(30), "DaneMissing active again", || {
        am_alerts(am_port, "DaneMissing")
            .iter()
            .any(|a| a["labels"]["domain"] == "ok301.test" && a["status"]["state"] == "active")
    });

    // 3. The resolver goes away: the exporter's page, unknown verdicts, and the domain's alert
    //    resolves (nothing is claimed about a domain the exporter cannot see).
    let mark = Instant::now();
    stack.stop_resolver_copy("veth");
    wait_until(Duration::from_secs(60), "resolver down alert", || {
        firing("DaneExporterResolverDown", None)
    });
    let t3_alert = mark.elapsed();
    wait_until(Duration::from_secs(60), "DaneMissing resolved", || {
        resolved("DaneMissing")
    });
    let quiet_from = monitoring.alerts().len();
    wait_until(Duration::from_secs(60), "every verdict unknown", || {
        has(r#"count(dane_probe_unknown_info{reason="resolver_unavailable"}) == 2"#)
    });
    assert!(!has("dane_probe_failure_info"), "no domain is blamed");
    assert!(
        !has("dane_probe_success"),
        "no domain reads as success either"
    );
    let t3 = mark.elapsed();

    // 4. It comes back without validation: another page of the exporter's, none for a domain.
    let mark = Instant::now();
    stack.resolver_copy("veth", &host, dns_port, "off");
    wait_until(Duration::from_secs(60), "not validating alert", || {
        firing("DaneExporterResolverNotValidating", None)
    });
    let t4 = mark.elapsed();
    wait_until(Duration::from_secs(60), "resolver down resolved", || {
        resolved("DaneExporterResolverDown")
    });
    wait_until(Duration::from_secs(60), "unknown: not validating", || {
        has(r#"count(dane_probe_unknown_info{reason="resolver_not_validating"}) == 2"#)
    });
    // One more round of probes through the resolver that does not validate.
    std::thread::sleep(Duration::from_secs(11));
    assert!(!has("dane_probe_failure_info"));
    let (status, body) = exporter.get("/-/ready");
    assert_eq!(status, 503);
    assert!(body.contains("does not validate DNSSEC"), "{body}");

    let domain_pages: Vec<(String, Value)> = monitoring.alerts()[quiet_from..]
        .iter()
        .filter(|(status, labels)| {
            status == "firing" && PER_DOMAIN.iter().any(|name| labels["alertname"] == *name)
        })
        .cloned()
        .collect();
    assert!(
        domain_pages.is_empty(),
        "per-domain alerts fired while the exporter could not see: {domain_pages:?}"
    );
    eprintln!(
        "self-monitoring e2e (from each change to the webhook): DaneMissing {t1:.1?}; egress alert \
         {t2_alert:.1?}, DaneMissing held {t2:.1?}; resolver down alert {t3_alert:.1?}, every \
         verdict unknown {t3:.1?}; not validating alert {t4:.1?}; whole run {:.1?}",
        began.elapsed()
    );
    drop(exporter);
}
