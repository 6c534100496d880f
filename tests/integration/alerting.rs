//! The whole chain a postmaster relies on, with real components: the real stack, the exporter,
//! a real Prometheus (Debian's `prometheus`) scraping it and evaluating `alerts/`, a real
//! Alertmanager (`prometheus-alertmanager`) sending to a webhook in this test
//! (`support/monitoring.rs`).
//!
//! - Every PromQL expression of `dashboards/` (variables substituted, `$domain` = All) must run on
//!   that Prometheus and return data from a fleet of a passing and a failing inbound domain.
//! - A TLS-RPT report posted to the exporter's TLS-RPT listener, with DANE failures on an MX host
//!   the probe authenticates, must reach the webhook as `DaneTLSRPTFailuresReported` (critical)
//!   and, once the next probe compares the two views, `DaneTLSRPTViewDiffers`.
//! - A TLSA record broken in the live zone (re-signed, so a valid mismatch) must reach the webhook
//!   as a firing `DaneTLSAMismatch` alert with the domain, MX host, address and severity; the
//!   repair must reach it as resolved.
//!
//! The rules are loaded with every `for:` set to 0s (see `support/monitoring.rs`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::support::dashboards::{dashboard_files, queries_for};
use crate::support::exporter::{free_port, write_config, Exporter};
use crate::support::monitoring::{wait_until, Monitoring};
use crate::support::stack::{Stack, TlsaChange};

/// POSTs a gzip TLS-RPT report to the exporter's TLS-RPT listener (plain HTTP); the status.
fn post_report(port: u16, gz: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("TLS-RPT listener");
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        stream,
        "POST /tlsrpt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/tlsrpt+gzip\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        gz.len()
    );
    let _ = stream.write_all(gz);
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn alerts_reach_alertmanager_and_dashboards_query_real_data() {
    let stack = Stack::up();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    write_config(
        &config,
        &stack,
        // hfull.test passes with a TLSA hygiene warning (a full-certificate record), and
        // insecuremx.test with an MX RRset that is not secure, for the panels of both.
        &[
            "ok311.test",
            "twomx.test",
            "sts.test",
            "hfull.test",
            "insecuremx.test",
        ],
        &["bogus.test"],
    );
    // staged.test with its certificate files (live and staged), so that the local certificate
    // panels (dashboards/dane-operations-tls.json) have data too; svc.test with dovecot's IMAP
    // services (one passing, one mismatched) and a submission host without TLSA (a warning) for
    // the service panels (dashboards/dane-services.json).
    let certs = stack.dir.join("certs");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "inbound:\n",
        &format!(
            "inbound:\n  - domain: staged.test\n    certificates:\n      - mx: mx.staged.test\n        \
             live: {}\n        staged: {}\n  - domain: svc.test\n    services:\n      - \
             {{host: imap.svc.test, port: {port}, protocol: imap, tls: starttls}}\n      - \
             {{host: imapstale.svc.test, port: {port}, protocol: imap, tls: starttls}}\n      - \
             {{host: mx.notlsa.test, port: {port}, protocol: smtp, tls: starttls}}\n",
            certs.join("staged_live.pem").display(),
            certs.join("staged_next.pem").display(),
            port = stack.var("SMTP_PORT"),
        ),
        1,
    );
    std::fs::write(&config, text).unwrap();
    let tlsrpt_port = free_port();
    let tlsrpt_flag = format!("--tlsrpt.listen-address=127.0.0.1:{tlsrpt_port}");
    let exporter = Exporter::start_with(&config, &[&tlsrpt_flag]);
    // Senders report DANE failures on mx.ok311.test, which the probe authenticates.
    let report = crate::tlsrpt::report_at(
        crate::tlsrpt::TLSA_FIXTURE,
        "alerting-1",
        "ok311.test",
        "mx.ok311.test",
    );
    assert_eq!(
        post_report(tlsrpt_port, &crate::tlsrpt::gzip(&report)),
        200,
        "the report is stored"
    );
    let monitoring = Monitoring::start(dir.path(), exporter.addr);
    wait_until(Duration::from_secs(60), "scraped", || {
        monitoring.query("dane_probe_success{domain=\"ok311.test\"}")["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    // Counters need two samples for rate() and increase(): a few scrapes more. (Every rule
    // group loaded and healthy: `Monitoring::start` checked.)
    wait_until(Duration::from_secs(60), "scraped thrice", || {
        monitoring.query("count_over_time(dane_exporter_build_info[1m]) >= 3")["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });

    // The report's counters are scraped (twice: increase() needs two samples) before the
    // dashboards are asked for them.
    wait_until(Duration::from_secs(60), "TLS-RPT scraped", || {
        monitoring.query(
            "count_over_time(dane_tlsrpt_failed_sessions_total{domain=\"ok311.test\"}[1m]) > 2",
        )["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });

    // Every dashboard query parses on the real Prometheus and returns data.
    let queries: Vec<(String, String)> = dashboard_files()
        .iter()
        .flat_map(|file| queries_for(file, ".*"))
        .map(|q| (q.origin, q.expr))
        .collect();
    assert!(!queries.is_empty());
    let mut empty = Vec::new();
    for (panel, expr) in &queries {
        let answer = monitoring.query(expr);
        assert_eq!(answer["status"], "success", "{panel}: {expr}: {answer}");
        let data = &answer["data"]["result"];
        let has_data = match data {
            Value::Array(items) => !items.is_empty(),
            Value::Null => false,
            _ => true,
        };
        if !has_data {
            empty.push(format!("{panel}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );

    // The senders' DANE failures alert, and the probe sees the two views differ.
    let reported = [
        ("alertname", "DaneTLSRPTFailuresReported"),
        ("domain", "ok311.test"),
        ("result_type", "tlsa-invalid"),
        ("organization", "Sender Two Corporation"),
        ("severity", "critical"),
    ];
    monitoring.wait_for_alert(Duration::from_secs(60), "firing", &reported);
    let differs = [
        ("alertname", "DaneTLSRPTViewDiffers"),
        ("domain", "ok311.test"),
        ("mx", "mx.ok311.test"),
        ("reason", "tlsrpt_failures_probe_passes"),
    ];
    monitoring.wait_for_alert(Duration::from_secs(60), "firing", &differs);

    // Break the TLSA record of ok311.test: a critical mismatch alert reaches the webhook.
    stack.set_tlsa("ok311", TlsaChange::Break);
    let mismatch = [
        ("alertname", "DaneTLSAMismatch"),
        ("domain", "ok311.test"),
        ("mx", "mx.ok311.test"),
        ("address", "127.0.1.1"),
        ("direction", "inbound"),
        ("severity", "critical"),
    ];
    monitoring.wait_for_alert(Duration::from_secs(60), "firing", &mismatch);

    // Repair it: the same alert is resolved.
    stack.set_tlsa("ok311", TlsaChange::Repair);
    monitoring.wait_for_alert(Duration::from_secs(60), "resolved", &mismatch);
    drop(exporter);
}
