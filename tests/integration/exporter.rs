//! The exporter as a process against the real stack: scheduled probes, `/metrics` checked by
//! `promtool check metrics`, `/probe` and its allow-list, reload by SIGHUP and by `POST /-/reload`
//! (a bad file keeps the running configuration), and a clean exit on SIGTERM.

use std::time::{Duration, Instant};

use crate::support::chromium::{png_size, Chromium};
use crate::support::exporter::{free_port, promtool_check, write_config, Exporter, Metrics};
use crate::support::stack::{Stack, TlsaChange};

#[test]
fn exporter_end_to_end_on_the_real_stack() {
    let stack = Stack::up();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    write_config(
        &config,
        &stack,
        &["ok311.test", "twomx.test"],
        &["bogus.test", "notlsa.test", "greet5xx.test"],
    );
    let exporter = Exporter::start(&config);

    // Scheduled results, labelled, and lint-clean.
    let m = exporter.metrics();
    promtool_check(&m.text);

    // A scraper asking for gzip (Prometheus does) gets it, and the same exposition inside.
    let curl = std::process::Command::new("curl")
        .args(["-sS", "--compressed", "-D", "-", "--max-time", "10"])
        .arg(format!("http://{}/metrics", exporter.addr))
        .output()
        .expect("curl");
    assert!(curl.status.success(), "curl: {curl:?}");
    let text = String::from_utf8(curl.stdout).expect("curl output is text");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers, then body");
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    promtool_check(body);
    assert_eq!(
        Metrics::parse(body).value("dane_probe_success", &[("domain", "ok311.test")]),
        1.0
    );
    let success = |d: &str| m.value("dane_probe_success", &[("domain", d)]);
    assert_eq!(success("ok311.test"), 1.0);
    assert_eq!(success("twomx.test"), 0.0);
    assert_eq!(success("bogus.test"), 0.0);
    assert_eq!(success("notlsa.test"), 1.0);
    assert_eq!(
        m.value(
            "dane_probe_success",
            &[
                ("domain", "ok311.test"),
                ("direction", "inbound"),
                ("team", "mail")
            ]
        ),
        1.0
    );
    assert_eq!(
        m.value("dane_domain_protected", &[("domain", "ok311.test")]),
        1.0
    );
    assert_eq!(m.value("dane_tlsa_match", &[("mx", "mx1.twomx.test")]), 1.0);
    assert_eq!(m.value("dane_tlsa_match", &[("mx", "mx2.twomx.test")]), 0.0);
    assert_eq!(
        m.value(
            "dane_probe_failure_info",
            &[
                ("domain", "twomx.test"),
                ("reason", "tlsa_mismatch"),
                ("mx", "mx2.twomx.test")
            ]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "dane_probe_failure_info",
            &[("domain", "bogus.test"), ("reason", "tlsa_lookup_failed")]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "dane_dnssec_status",
            &[
                ("domain", "bogus.test"),
                ("type", "TLSA"),
                ("status", "bogus")
            ]
        ),
        1.0
    );
    let tlsa_name = format!("_{}._tcp.mx.ok311.test", stack.var("SMTP_PORT"));
    assert_eq!(
        m.value(
            "dane_dnssec_valid",
            &[
                ("domain", "ok311.test"),
                ("name", &tlsa_name),
                ("type", "TLSA")
            ]
        ),
        1.0
    );
    assert!(
        m.value(
            "dane_divergence_remaining_seconds",
            &[("domain", "ok311.test")]
        ) > 86_400.0
    );
    // Counted at each scrape: two scrapes of the same probe a few seconds apart see it fall.
    exporter.wait_for(Duration::from_secs(60), "a falling countdown", |e| {
        let at = [("domain", "ok311.test")];
        let first = e.metrics();
        std::thread::sleep(Duration::from_millis(2_100));
        let second = e.metrics();
        let probe = |m: &Metrics| m.values("dane_probe_timestamp_seconds", &at);
        let left = |m: &Metrics| m.value("dane_divergence_remaining_seconds", &at);
        probe(&first) == probe(&second) && left(&second) <= left(&first) - 2.0
    });
    assert!(!m
        .values(
            "dane_rrsig_expiration_timestamp_seconds",
            &[("domain", "ok311.test"), ("type", "TLSA")]
        )
        .is_empty());
    assert_eq!(
        m.value("dane_exporter_config_last_reload_successful", &[]),
        1.0
    );
    assert_eq!(m.values("dane_exporter_build_info", &[]), vec![1.0]);
    assert_eq!(m.values("process_resident_memory_bytes", &[]).len(), 1);

    status_page_in_a_real_browser(&exporter);

    // /probe: one fresh probe, its metrics only; the allow-list and the module are enforced.
    let (status, body) = exporter.get("/probe?target=stale.test&module=outbound");
    assert_eq!(status, 200, "{body}");
    promtool_check(&body);
    let probed = Metrics::parse(&body);
    assert_eq!(
        probed.value(
            "dane_probe_success",
            &[("domain", "stale.test"), ("direction", "outbound")]
        ),
        1.0
    );
    assert!(probed.values("dane_exporter_build_info", &[]).is_empty());
    assert_eq!(
        exporter.get("/probe?target=example.org&module=inbound").0,
        403
    );
    assert_eq!(exporter.get("/probe?target=stale.test").0, 400);
    assert_eq!(
        exporter.get("/probe?target=stale.test&module=sideways").0,
        400
    );
    probe_debug_and_modules(&exporter);

    // A TLSA record broken in the live zone flips the gauges within one interval (10 s, plus the
    // probe itself), and its repair flips them back.
    let flipped = |expected: f64| {
        move |e: &Exporter| {
            let m = e.metrics();
            m.values("dane_tlsa_match", &[("domain", "ok311.test")]) == vec![expected]
                && success_of(&m, "ok311.test") == Some(expected)
        }
    };
    stack.set_tlsa("ok311", TlsaChange::Break);
    let broken_at = Instant::now();
    exporter.wait_for(Duration::from_secs(15), "flipped to 0", flipped(0.0));
    eprintln!(
        "exporter: mismatch seen {:.1?} after the break",
        broken_at.elapsed()
    );
    let m = exporter.metrics();
    assert_eq!(
        m.value(
            "dane_probe_failure_info",
            &[
                ("domain", "ok311.test"),
                ("reason", "tlsa_mismatch"),
                ("mx", "mx.ok311.test")
            ]
        ),
        1.0
    );
    stack.set_tlsa("ok311", TlsaChange::Repair);
    exporter.wait_for(Duration::from_secs(15), "flipped back to 1", flipped(1.0));

    // A bad configuration is refused and the running one stays.
    std::fs::write(&config, "global:\n  interval: soon\n").unwrap();
    let (status, body) = exporter.request("POST", "/-/reload");
    assert_eq!(status, 500);
    assert!(body.contains("global.interval"), "{body}");
    let m = exporter.metrics();
    assert_eq!(
        m.value("dane_exporter_config_last_reload_successful", &[]),
        0.0
    );
    assert_eq!(success_of(&m, "ok311.test"), Some(1.0));

    // SIGHUP with a good file: the removed domain's series vanish.
    write_config(&config, &stack, &["ok311.test"], &["notlsa.test"]);
    exporter.signal("HUP");
    exporter.wait_for(Duration::from_secs(10), "reloaded", |e| {
        let m = e.metrics();
        m.values("dane_exporter_config_last_reload_successful", &[]) == vec![1.0]
            && success_of(&m, "twomx.test").is_none()
            && success_of(&m, "bogus.test").is_none()
    });
    let m = exporter.metrics();
    assert!(m
        .values("dane_tlsa_match", &[("domain", "twomx.test")])
        .is_empty());
    assert_eq!(success_of(&m, "ok311.test"), Some(1.0));
    assert_eq!(exporter.config, config);

    // SIGTERM: a clean exit.
    let mut exporter = exporter;
    exporter.signal("TERM");
    let began = Instant::now();
    let status = loop {
        if let Some(status) = exporter.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");
}

/// The status page as a postmaster sees it: loaded in headless Chromium, every target listed
/// worst first with its verdict, the report of one target with what its server said escaped, a
/// screenshot with content in it, and the JSON of the same report.
fn status_page_in_a_real_browser(exporter: &Exporter) {
    let browser = Chromium::new();
    let base = format!("http://{}", exporter.addr);
    let dom = browser.dom(&format!("{base}/"));
    let rows: Vec<&str> = dom.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 5, "{dom}");
    let verdict_of = |domain: &str| {
        let row = rows
            .iter()
            .find(|r| r.contains(&format!(">{domain}</a>")))
            .unwrap_or_else(|| panic!("no row for {domain}: {dom}"));
        ["fail", "pass", "not_applicable", "encrypt_only"]
            .into_iter()
            .find(|v| row.contains(&format!("class=\"verdict {v}\"")))
            .unwrap_or_else(|| panic!("no verdict in {row}"))
    };
    assert_eq!(verdict_of("ok311.test"), "pass");
    assert_eq!(verdict_of("twomx.test"), "fail");
    assert_eq!(verdict_of("bogus.test"), "fail");
    assert_eq!(verdict_of("notlsa.test"), "not_applicable");
    assert_eq!(verdict_of("greet5xx.test"), "pass");
    // Worst first: the failing rows come before the passing ones.
    assert!(rows[0].contains("verdict fail") && rows[1].contains("verdict fail"));
    assert!(rows[1].contains("tlsa_"), "{}", rows[1]);

    // greet5xx's first MX greets "554 5.7.1 <localhost[127.0.0.1]>: ...": text, not markup.
    let dom = browser.dom(&format!("{base}/status/outbound/greet5xx.test"));
    assert!(dom.contains("&lt;localhost[127.0.0.1]&gt;"), "{dom}");
    assert!(!dom.contains("<localhost"), "{dom}");
    assert!(
        dom.contains("<pre id=\"report\">greet5xx.test: PASS"),
        "{dom}"
    );

    let dir = tempfile::tempdir().unwrap();
    let page = browser.screenshot(
        &format!("{base}/"),
        &dir.path().join("status.png"),
        1280,
        900,
    );
    let blank = browser.screenshot("about:blank", &dir.path().join("blank.png"), 1280, 900);
    assert_eq!(png_size(&page), (1280, 900));
    assert!(
        page.len() > blank.len() * 3,
        "the screenshot looks empty: {} bytes, a blank page {}",
        page.len(),
        blank.len()
    );

    let (status, body) = exporter.get("/status/inbound/ok311.test?format=json");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["domain"], "ok311.test");
}

fn success_of(m: &Metrics, domain: &str) -> Option<f64> {
    m.values("dane_probe_success", &[("domain", domain)])
        .first()
        .copied()
}

/// `/probe?debug=true` answers with the probe's own log (at debug level, though the exporter logs
/// at info), the report as `check` prints it, the metrics and the module's settings; a configured
/// module's settings apply, and Prometheus' scrape timeout (less 0.5 s) cuts the probe's.
fn probe_debug_and_modules(exporter: &Exporter) {
    let (status, body) = exporter.get("/probe?target=ok311.test&module=outbound&debug=true");
    assert_eq!(status, 200, "{body}");
    let (log, rest) = body
        .strip_prefix("Logs for the probe:\n")
        .and_then(|b| b.split_once("\n\nReport:\n"))
        .unwrap_or_else(|| panic!("no log section: {body}"));
    assert!(
        log.lines()
            .any(|l| l.contains(" level=debug ") && l.contains("TLS handshake with")),
        "the probe's debug lines: {log}"
    );
    assert!(log.lines().all(|l| l.starts_with("ts=")), "{log}");
    let (report, rest) = rest
        .split_once("Metrics that would have been returned:\n")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(report.starts_with("ok311.test: PASS"), "{report}");
    let (metrics, settings) = rest
        .split_once("Module configuration:\n")
        .unwrap_or_else(|| panic!("{body}"));
    promtool_check(&format!("{}\n", metrics.trim_end()));
    assert!(
        settings.contains("module: outbound\ndirection: outbound\n"),
        "{settings}"
    );

    let (status, body) = exporter.request_with(
        "GET",
        "/probe?target=ok311.test&module=quick&debug=true",
        "X-Prometheus-Scrape-Timeout-Seconds: 2.5\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let settings = body
        .split("Module configuration:\n")
        .nth(1)
        .unwrap_or_default();
    for line in [
        "module: quick",
        "direction: inbound",
        "timeout: 2s",
        "mta_sts: false",
    ] {
        assert!(
            settings.lines().any(|l| l == line),
            "{line:?} in {settings}"
        );
    }
    let (status, body) = exporter.request_with(
        "GET",
        "/probe?target=ok311.test&module=quick",
        "X-Prometheus-Scrape-Timeout-Seconds: 0.4\r\n",
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = exporter.get("/probe?target=ok311.test&module=quick");
    assert_eq!(status, 200, "{body}");
    let probed = Metrics::parse(&body);
    assert_eq!(
        probed.value(
            "dane_probe_success",
            &[("domain", "ok311.test"), ("direction", "inbound")]
        ),
        1.0
    );
}

/// `--web.listen-address` is repeatable and takes host names: `localhost` binds what it resolves
/// to; every address answers. No stack: the resolver is a closed loopback port.
#[test]
fn listens_on_every_address_given() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    std::fs::write(&config, "global:\n  nameservers: [\"127.0.0.1:9\"]\n").unwrap();
    let (named, other) = (free_port(), free_port());
    let by_name = format!("--web.listen-address=localhost:{named}");
    let by_address = format!("--web.listen-address=127.0.0.3:{other}");
    let exporter = Exporter::spawn_with(&config, None, &[&by_name, &by_address], None);
    assert_eq!(exporter.get("/-/healthy").0, 200);
    for addr in [format!("127.0.0.1:{named}"), format!("127.0.0.3:{other}")] {
        let addr: std::net::SocketAddr = addr.parse().unwrap();
        let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{addr}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        assert!(response.starts_with("HTTP/1.1 200"), "{addr}: {response}");
    }
    drop(exporter);

    // A flag that is neither HOST:PORT nor :PORT is refused with exit status 2.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
        .arg(format!("--config.file={}", config.display()))
        .arg("--web.listen-address=localhost")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not HOST:PORT or :PORT"));
}
