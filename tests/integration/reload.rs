//! Reload and restart of the exporter binary while it is probing (issue 6, item 4).
//!
//! The exporter probes five domains served by the in-process fixtures: a signed private root
//! (hickory-server, `validate` mode) and one STARTTLS fixture reached through a slow TCP proxy per
//! MX address that holds each connection for [`DELAY`] before passing it on, so every probe takes
//! a few seconds and a reload can be made to land while probes are in flight (the proxies count
//! the connections they are holding). A scraper thread reads `/metrics` every 100 ms throughout.
//!
//! Checked: a SIGHUP and a `POST /-/reload`, each sent while probes of unchanged and of removed
//! targets are in flight, with a file that removes one target and adds another: every scrape has
//! every series of the unchanged targets with the same values (only `_seconds` series, times and
//! durations, may move); the removed target's series vanish and stay gone; the added target
//! appears. A bad file, by SIGHUP and by POST, keeps the running configuration (series, probing)
//! and sets `dane_exporter_config_last_reload_successful` to 0. SIGTERM during a probe round ends
//! the process with status 0 within the shutdown grace period (10 s).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::dns_server::DnsFixture;
use crate::support::exporter::{promtool_check, Exporter, Metrics};
use crate::support::smtp_server::{self_signed, FixtureConfig, SmtpFixture};

/// How long each proxy holds a connection before the SMTP server sees it: most of a probe.
const DELAY: Duration = Duration::from_secs(3);

/// The exporter's shutdown grace period (`SHUTDOWN_GRACE` in `src/main.rs`).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The targets: domain, direction, MX address (last octet of 127.0.78.x). `keep-*` are in every
/// configuration; `gone` and `new` are swapped by the reloads.
const KEEP: &[(&str, &str, u8)] = &[
    ("keep-a.test", "inbound", 1),
    ("keep-b.test", "outbound", 2),
    ("keep-c.test", "outbound", 3),
];
const GONE: (&str, &str, u8) = ("gone.test", "outbound", 4);
const NEW: (&str, &str, u8) = ("new.test", "inbound", 5);

/// A TCP proxy that holds every connection for [`DELAY`] before connecting it to `upstream`.
struct SlowProxy {
    /// Connections accepted and not yet passed on.
    holding: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SlowProxy {
    fn start(listener: TcpListener, upstream: SocketAddr) -> SlowProxy {
        let holding = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&holding);
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let counter = Arc::clone(&counter);
                connections.spawn(async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(DELAY).await;
                    counter.fetch_sub(1, Ordering::SeqCst);
                    let connect = TcpStream::connect(upstream);
                    let Ok(Ok(mut server)) =
                        tokio::time::timeout(Duration::from_secs(2), connect).await
                    else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
                    let _ = tokio::time::timeout(Duration::from_secs(20), copy).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        SlowProxy { holding, task }
    }

    fn holding(&self) -> bool {
        self.holding.load(Ordering::SeqCst) > 0
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds 127.0.78.1..=5 on one common port (the TLSA name follows the port), retrying with
/// another port when some other test holds it on one of the addresses.
async fn bind_mx_addresses() -> (u16, Vec<TcpListener>) {
    for _ in 0..20 {
        let first = TcpListener::bind("127.0.78.1:0")
            .await
            .expect("bind 127.0.78.1");
        let port = first.local_addr().expect("local addr").port();
        let mut listeners = vec![first];
        for n in 2..=5u8 {
            match TcpListener::bind(SocketAddr::from(([127, 0, 78, n], port))).await {
                Ok(l) => listeners.push(l),
                Err(_) => break,
            }
        }
        if listeners.len() == 5 {
            return (port, listeners);
        }
    }
    panic!("no common free port on 127.0.78.1-5");
}

fn zone(port: u16, tlsa_3_1_1: &str) -> String {
    let mut text = String::from(
        ".        3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n\
         .        3600 IN NS  ns.test.\n\
         ns.test. 3600 IN A   127.0.0.1\n",
    );
    for (domain, _, n) in KEEP.iter().chain([&GONE, &NEW]) {
        text.push_str(&format!(
            "{domain}. 300 IN MX 10 mx.{domain}.\n\
             mx.{domain}. 300 IN A 127.0.78.{n}\n\
             _{port}._tcp.mx.{domain}. 300 IN TLSA 3 1 1 {tlsa_3_1_1}\n"
        ));
    }
    text
}

/// The configuration probing the `KEEP` targets plus `extra`.
fn config_text(head: &str, extra: (&str, &str, u8)) -> String {
    let mut inbound = String::from("inbound:\n");
    let mut outbound = String::from("outbound:\n");
    for (domain, direction, _) in KEEP.iter().chain([&extra]) {
        let list = if *direction == "inbound" {
            &mut inbound
        } else {
            &mut outbound
        };
        list.push_str(&format!(
            "  - domain: {domain}\n    labels: {{team: mail}}\n"
        ));
    }
    format!("{head}{inbound}{outbound}")
}

/// Series of one domain: name and labels to value.
type Series = BTreeMap<String, f64>;

fn series_of(m: &Metrics, domain: &str) -> Series {
    m.series
        .iter()
        .filter(|(_, labels, _)| labels.get("domain").map(String::as_str) == Some(domain))
        .map(|(name, labels, value)| (format!("{name}{labels:?}"), *value))
        .collect()
}

/// Differences of `now` from `before`: missing series, and changed values of series that are not
/// times or durations (`..._seconds{`).
fn lost_or_changed(before: &Series, now: &Series) -> Vec<String> {
    before
        .iter()
        .filter_map(|(key, value)| match now.get(key) {
            None => Some(format!("missing {key}")),
            Some(v) if v != value && !key.contains("_seconds{") => {
                Some(format!("{key}: {value} -> {v}"))
            }
            Some(_) => None,
        })
        .collect()
}

fn success_of(m: &Metrics, domain: &str) -> Option<f64> {
    m.values("dane_probe_success", &[("domain", domain)])
        .first()
        .copied()
}

/// Waits until `busy` holds (up to `limit`), polling every 20 ms.
fn wait_until(limit: Duration, what: &str, busy: impl Fn() -> bool) {
    let began = Instant::now();
    while !busy() {
        assert!(began.elapsed() < limit, "not {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_during_a_round_keeps_series_and_sigterm_ends_cleanly() {
    let cert = self_signed(&["mx.test"]);
    let smtp = SmtpFixture::start(FixtureConfig::new(cert.clone())).await;
    let (port, listeners) = bind_mx_addresses().await;
    let proxies: Vec<SlowProxy> = listeners
        .into_iter()
        .map(|l| SlowProxy::start(l, smtp.addr()))
        .collect();
    let dns = DnsFixture::builder()
        .zone(".", &zone(port, &cert.leaf_3_1_1()))
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let anchors = dns.trust_anchor_file(dir.path());
    let config = dir.path().join("dane_exporter.yml");
    // The inbound targets' authoritative checks ask ns.test (127.0.0.1), on the fixture's port.
    let head = format!(
        "global:\n  interval: 10s\n  timeout: 8s\n  step_timeout: 5s\n  concurrency: 8\n  \
         dnssec_mode: validate\n  nameservers: [\"{}\"]\n  trust_anchor_file: {}\n  \
         smtp_port: {port}\n  ehlo_name: probe.test\n  authoritative_port: {}\n",
        dns.addr(),
        anchors.display(),
        dns.addr().port()
    );
    let with_gone = config_text(&head, GONE);
    let with_new = config_text(&head, NEW);
    std::fs::write(&config, &with_gone).unwrap();

    tokio::task::spawn_blocking(move || {
        let in_flight = |n: u8| proxies[usize::from(n) - 1].holding();
        let keep_in_flight = || KEEP.iter().any(|(_, _, n)| in_flight(*n));

        let exporter = Arc::new(Exporter::start(&config));
        let m = exporter.metrics();
        promtool_check(&m.text);
        let baseline: BTreeMap<&str, Series> = KEEP
            .iter()
            .map(|(domain, _, _)| (*domain, series_of(&m, domain)))
            .collect();
        for (domain, series) in &baseline {
            assert_eq!(success_of(&m, domain), Some(1.0), "{domain}\n{}", m.text);
            assert!(series.len() > 20, "{domain}: {series:?}");
        }
        assert_eq!(success_of(&m, GONE.0), Some(1.0));
        assert_eq!(success_of(&m, NEW.0), None);

        // Every scrape from here on, until SIGTERM, must hold the unchanged targets' series.
        let stop = Arc::new(AtomicBool::new(false));
        let scrapes = Arc::new(Mutex::new(0usize));
        let scraper = std::thread::spawn({
            let exporter = Arc::clone(&exporter);
            let stop = Arc::clone(&stop);
            let scrapes = Arc::clone(&scrapes);
            move || {
                while !stop.load(Ordering::SeqCst) {
                    let (status, body) = exporter.get("/metrics");
                    let n = {
                        let mut n = scrapes.lock().unwrap();
                        *n += 1;
                        *n
                    };
                    assert_eq!(status, 200, "scrape {n}");
                    let m = Metrics::parse(&body);
                    for (domain, before) in &baseline {
                        let problems = lost_or_changed(before, &series_of(&m, domain));
                        assert!(problems.is_empty(), "scrape {n}, {domain}: {problems:#?}");
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });

        // 1. SIGHUP while `gone` and an unchanged target are being probed: `gone` out, `new` in.
        wait_until(
            Duration::from_secs(40),
            "probing gone and a keep target",
            || in_flight(GONE.2) && keep_in_flight(),
        );
        std::fs::write(&config, &with_new).unwrap();
        exporter.signal("HUP");
        exporter.wait_for(Duration::from_secs(10), "reloaded by SIGHUP", |e| {
            success_of(&e.metrics(), GONE.0).is_none()
        });
        // The probe of `gone` that was in flight must not bring its series back.
        for _ in 0..15 {
            let m = exporter.metrics();
            assert_eq!(success_of(&m, GONE.0), None, "{}", m.text);
            std::thread::sleep(Duration::from_millis(200));
        }
        exporter.wait_for(Duration::from_secs(20), "probed new.test", |e| {
            success_of(&e.metrics(), NEW.0) == Some(1.0)
        });
        let m = exporter.metrics();
        promtool_check(&m.text);
        assert_eq!(
            m.value("dane_exporter_config_last_reload_successful", &[]),
            1.0
        );
        assert_eq!(
            m.value("dane_probe_success", &[("domain", NEW.0), ("team", "mail")]),
            1.0
        );

        // 2. The same by POST /-/reload, while `new` and an unchanged target are being probed.
        wait_until(
            Duration::from_secs(40),
            "probing new and a keep target",
            || in_flight(NEW.2) && keep_in_flight(),
        );
        std::fs::write(&config, &with_gone).unwrap();
        let (status, body) = exporter.request("POST", "/-/reload");
        assert_eq!(status, 200, "{body}");
        // The reload is done when the answer comes: the next scrape shows it.
        let m = exporter.metrics();
        assert_eq!(success_of(&m, NEW.0), None, "{}", m.text);
        for _ in 0..15 {
            let m = exporter.metrics();
            assert_eq!(success_of(&m, NEW.0), None, "{}", m.text);
            std::thread::sleep(Duration::from_millis(200));
        }
        exporter.wait_for(Duration::from_secs(20), "probed gone.test again", |e| {
            success_of(&e.metrics(), GONE.0) == Some(1.0)
        });

        // 3. A bad file, by POST and by SIGHUP: refused, the running configuration stays and
        // keeps probing.
        let stamp = |m: &Metrics| m.value("dane_probe_timestamp_seconds", &[("domain", KEEP[0].0)]);
        std::fs::write(&config, format!("{with_new}  - domain: \"\"\n")).unwrap();
        let (status, body) = exporter.request("POST", "/-/reload");
        assert_eq!(status, 500, "{body}");
        assert!(body.contains("dane_exporter.yml:"), "{body}");
        let m = exporter.metrics();
        assert_eq!(
            m.value("dane_exporter_config_last_reload_successful", &[]),
            0.0
        );
        std::fs::write(&config, "global:\n  interval: soon\n").unwrap();
        exporter.signal("HUP");
        std::thread::sleep(Duration::from_millis(500));
        let m = exporter.metrics();
        assert_eq!(
            m.value("dane_exporter_config_last_reload_successful", &[]),
            0.0
        );
        assert_eq!(success_of(&m, GONE.0), Some(1.0), "{}", m.text);
        assert_eq!(success_of(&m, NEW.0), None);
        let before = stamp(&m);
        exporter.wait_for(Duration::from_secs(20), "probing on", |e| {
            stamp(&e.metrics()) > before
        });

        stop.store(true, Ordering::SeqCst);
        scraper
            .join()
            .expect("every scrape kept the unchanged targets' series");
        let scraped = *scrapes.lock().unwrap();
        assert!(scraped > 50, "only {scraped} scrapes");
        eprintln!("reload: {scraped} scrapes, none lost a series");

        // 4. SIGTERM during a round: a clean exit within the grace period.
        wait_until(Duration::from_secs(20), "probing", keep_in_flight);
        let Ok(mut exporter) = Arc::try_unwrap(exporter) else {
            panic!("the scraper still holds the exporter");
        };
        exporter.signal("TERM");
        let began = Instant::now();
        let status = loop {
            if let Some(status) = exporter.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                began.elapsed() < SHUTDOWN_GRACE + Duration::from_secs(1),
                "no exit within the grace period after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "exit status {status}");
        eprintln!("reload: exit {:.1?} after SIGTERM", began.elapsed());
        drop(proxies);
    })
    .await
    .unwrap();
    drop(smtp);
    drop(dns);
}
