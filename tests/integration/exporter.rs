//! The exporter as a process against the real stack: scheduled probes, `/metrics` checked by
//! `promtool check metrics`, `/probe` and its allow-list, reload by SIGHUP and by `POST /-/reload`
//! (a bad file keeps the running configuration), and a clean exit on SIGTERM.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::stack::Stack;

/// A running `dane_exporter` process, killed when dropped.
struct Exporter {
    child: Child,
    addr: SocketAddr,
    config: PathBuf,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Exporter {
    fn start(config: &Path) -> Exporter {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.format=json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting dane_exporter");
        let exporter = Exporter {
            child,
            addr,
            config: config.to_path_buf(),
        };
        exporter.wait_for(Duration::from_secs(30), "ready", |e| {
            e.get("/-/ready").0 == 200
        });
        exporter
    }

    /// One HTTP/1.1 request; returns status and body.
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut stream = match TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)) {
            Ok(stream) => stream,
            Err(_) => return (0, String::new()),
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        let _ = write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.addr
        );
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path)
    }

    fn metrics(&self) -> Metrics {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "GET /metrics");
        Metrics::parse(&body)
    }

    fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&Exporter) -> bool) {
        let began = Instant::now();
        while !done(self) {
            assert!(
                began.elapsed() < limit,
                "exporter: not {what} after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

/// A parsed text exposition: series (name plus sorted labels) to value.
struct Metrics {
    text: String,
    series: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Metrics {
    fn parse(text: &str) -> Metrics {
        let mut series = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (head, value) = line.rsplit_once(' ').expect("name value");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match head.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (head, BTreeMap::new()),
            };
            series.push((name.to_string(), labels, value));
        }
        Metrics {
            text: text.to_string(),
            series,
        }
    }

    /// Values of `name` whose labels include all of `labels`.
    fn values(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.series
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
            .collect()
    }

    /// The single value of `name` with `labels`; panics with the scrape when not exactly one.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let values = self.values(name, labels);
        assert_eq!(
            values.len(),
            1,
            "{name}{labels:?}: expected one series, found {values:?}\n{}",
            self.text
        );
        values[0]
    }
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let end = after.find('"').expect("closing quote");
        labels.insert(
            key.trim_start_matches(',').to_string(),
            after[..end].to_string(),
        );
        rest = &after[end + 1..];
    }
    labels
}

fn promtool_check(exposition: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (tests/stack/install-deps.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_config(path: &Path, stack: &Stack, inbound: &[&str], outbound: &[&str]) {
    let mut text = format!(
        "global:\n  interval: 10s\n  timeout: 8s\n  step_timeout: 3s\n  concurrency: 4\n  \
         nameservers: [\"{}\"]\n  smtp_port: {}\n  ehlo_name: probe.test\n\
         probe_allow: [\"*.test\"]\n",
        stack.var("RESOLVER"),
        stack.var("SMTP_PORT")
    );
    text.push_str("inbound:\n");
    for domain in inbound {
        text.push_str(&format!(
            "  - domain: {domain}\n    labels: {{team: mail}}\n"
        ));
    }
    text.push_str("outbound:\n");
    for domain in outbound {
        text.push_str(&format!("  - domain: {domain}\n"));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn exporter_end_to_end_on_the_real_stack() {
    let stack = Stack::up();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    write_config(
        &config,
        &stack,
        &["ok311.test", "twomx.test"],
        &["bogus.test", "notlsa.test"],
    );
    let exporter = Exporter::start(&config);

    // Scheduled results, labelled, and lint-clean.
    let m = exporter.metrics();
    promtool_check(&m.text);
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

fn success_of(m: &Metrics, domain: &str) -> Option<f64> {
    m.values("dane_probe_success", &[("domain", domain)])
        .first()
        .copied()
}
