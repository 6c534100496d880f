//! The whole chain a postmaster relies on, with real components: the real stack, the exporter,
//! a real Prometheus (Debian's `prometheus`) scraping it and evaluating `alerts/`, a real
//! Alertmanager (`prometheus-alertmanager`) sending to a webhook in this test.
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
//! The rules are loaded with every `for:` set to 0s: the `for` boundaries are the business of
//! `promtool test rules` (alerts/*_test.yml); here we prove the wiring end to end.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::support::dashboards::{dashboard_files, queries_for};
use crate::support::exporter::{free_port, write_config, Exporter};
use crate::support::monitoring::{get_json, query, rules_without_for, wait_until, Daemon, Webhook};
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

    let rules_dir = dir.path().join("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    let rules = rules_without_for(&rules_dir);

    let webhook = Webhook::start();
    let am_port = free_port();
    let am_config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname, domain, mx, address]\n  \
             group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{}/\n        send_resolved: true\n",
            webhook.port
        ),
    )
    .unwrap();
    let am_data = dir.path().join("am-data");
    let _alertmanager = Daemon::start(
        "prometheus-alertmanager",
        &[
            format!("--config.file={}", am_config.display()),
            format!("--storage.path={}", am_data.display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".to_string(),
        ],
        &dir.path().join("alertmanager.log"),
    );

    let prom_port = free_port();
    let prom_config = dir.path().join("prometheus.yml");
    let rule_list = rules
        .iter()
        .map(|r| format!("  - {}\n", r.display()))
        .collect::<String>();
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n{rule_list}\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
             scrape_configs:\n  - job_name: dane\n    static_configs:\n      - targets: ['{}']\n",
            exporter.addr
        ),
    )
    .unwrap();
    let _prometheus = Daemon::start(
        "prometheus",
        &[
            format!("--config.file={}", prom_config.display()),
            format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
        &dir.path().join("prometheus.log"),
    );

    // Prometheus has scraped the exporter and loaded every rule group without error.
    wait_until(Duration::from_secs(60), "scraped", || {
        query(prom_port, "dane_probe_success{domain=\"ok311.test\"}")["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    // Counters need two samples for rate() and increase(): a few scrapes more.
    wait_until(Duration::from_secs(60), "scraped thrice", || {
        query(
            prom_port,
            "count_over_time(dane_exporter_build_info[1m]) >= 3",
        )["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    let groups = get_json(prom_port, "/api/v1/rules");
    let groups = groups["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!groups.is_empty(), "no rule groups loaded");
    for group in &groups {
        for rule in group["rules"].as_array().cloned().unwrap_or_default() {
            assert_eq!(
                rule["health"], "ok",
                "rule {} : {}",
                rule["name"], rule["lastError"]
            );
        }
    }

    // The report's counters are scraped (twice: increase() needs two samples) before the
    // dashboards are asked for them.
    wait_until(Duration::from_secs(60), "TLS-RPT scraped", || {
        query(
            prom_port,
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
        let answer = query(prom_port, expr);
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
    let reported = |status: &str, labels: &Value| {
        labels["alertname"] == "DaneTLSRPTFailuresReported"
            && labels["domain"] == "ok311.test"
            && labels["result_type"] == "tlsa-invalid"
            && labels["organization"] == "Sender Two Corporation"
            && labels["severity"] == "critical"
            && status == "firing"
    };
    let differs = |status: &str, labels: &Value| {
        labels["alertname"] == "DaneTLSRPTViewDiffers"
            && labels["domain"] == "ok311.test"
            && labels["mx"] == "mx.ok311.test"
            && labels["reason"] == "tlsrpt_failures_probe_passes"
            && status == "firing"
    };
    wait_until(Duration::from_secs(60), "TLS-RPT alerts", || {
        let alerts = webhook.alerts();
        alerts.iter().any(|(s, l)| reported(s, l)) && alerts.iter().any(|(s, l)| differs(s, l))
    });

    // Break the TLSA record of ok311.test: a critical mismatch alert reaches the webhook.
    stack.set_tlsa("ok311", TlsaChange::Break);
    let mismatch = |status: &str, labels: &Value| {
        labels["alertname"] == "DaneTLSAMismatch"
            && labels["domain"] == "ok311.test"
            && labels["mx"] == "mx.ok311.test"
            && labels["address"] == "127.0.1.1"
            && labels["direction"] == "inbound"
            && labels["severity"] == "critical"
            && status == "firing"
    };
    wait_until(Duration::from_secs(60), "alerted", || {
        webhook.alerts().iter().any(|(s, l)| mismatch(s, l))
    });

    // Repair it: the same alert is resolved.
    stack.set_tlsa("ok311", TlsaChange::Repair);
    wait_until(Duration::from_secs(60), "resolved", || {
        webhook
            .alerts()
            .iter()
            .any(|(s, l)| s == "resolved" && mismatch("firing", l))
    });
    drop(exporter);
}
