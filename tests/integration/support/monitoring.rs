//! A real Prometheus (Debian's `prometheus`) and Alertmanager (`prometheus-alertmanager`) for the
//! end-to-end tests: daemons killed when dropped, the alert rules with every `for:` at 0s, a
//! webhook receiver collecting what Alertmanager sends, the HTTP APIs as JSON, and
//! [`Monitoring`], the chain itself (Prometheus scraping one exporter every second with the
//! shipped rules, Alertmanager sending to the webhook) for `alerting.rs`, `demo.rs` and
//! `self_monitoring_alerts.rs`.
//!
//! The `for:` boundaries are the business of `promtool test rules` (alerts/*_test.yml); here
//! the wiring is proved end to end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::exporter::free_port;

/// A daemon killed when dropped.
pub struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    pub fn start(program: &str, args: &[String], log: &Path) -> Daemon {
        let log = std::fs::File::create(log).expect("log file");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting {program} (installed by tests/stack/install-deps.sh): {e}")
            });
        Daemon { child }
    }
}

pub fn project_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Copies the alert and threshold rule files with every `for:` set to 0s.
pub fn rules_without_for(into: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(project_dir("alerts")).expect("alerts/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.ends_with(".rules.yml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("rule file");
        let rewritten: String = text
            .lines()
            .map(|line| match line.trim_start().strip_prefix("for:") {
                Some(_) => format!("{}for: 0s", &line[..line.len() - line.trim_start().len()]),
                None => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let target = into.join(name);
        std::fs::write(&target, rewritten).expect("write rules");
        files.push(target);
    }
    assert!(!files.is_empty(), "no alerts/*.rules.yml");
    files
}

/// Receives Alertmanager's webhook posts.
pub struct Webhook {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Webhook {
    pub fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(body) = read_post(stream) {
                    if let Ok(json) = serde_json::from_slice::<Value>(&body) {
                        store.lock().unwrap().push(json);
                    }
                }
            }
        });
        Webhook { port, received }
    }

    /// The alerts received so far, flattened: (status, labels).
    pub fn alerts(&self) -> Vec<(String, Value)> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .map(|a| {
                (
                    a["status"].as_str().unwrap_or("").to_string(),
                    a["labels"].clone(),
                )
            })
            .collect()
    }
}

fn read_post(mut stream: TcpStream) -> Option<Vec<u8>> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body).ok()?;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    Some(body)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GET on a local HTTP API, the body as JSON.
pub fn get_json(port: u16, path: &str) -> Value {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return Value::Null;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    // HTTP/1.0, so that the answer is never chunked: the body is everything after the head.
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// An instant query on the Prometheus at `prometheus`.
pub fn query(prometheus: u16, expr: &str) -> Value {
    get_json(
        prometheus,
        &format!("/api/v1/query?query={}", percent_encode(expr)),
    )
}

pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(began.elapsed() < limit, "not {what} after {limit:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Prometheus scraping `exporter` with the shipped rules, Alertmanager, the webhook; stopped
/// when dropped.
pub struct Monitoring {
    /// Prometheus' port on 127.0.0.1.
    pub prometheus: u16,
    /// Alertmanager's port on 127.0.0.1.
    pub alertmanager: u16,
    webhook: Webhook,
    _daemons: Vec<Daemon>,
}

impl Monitoring {
    /// Starts both daemons with their data and logs in `dir`, and waits until Prometheus has
    /// scraped the exporter and loaded every rule group without error.
    pub fn start(dir: &Path, exporter: SocketAddr) -> Monitoring {
        Monitoring::start_with(dir, exporter, "")
    }

    /// [`Monitoring::start`] with `alertmanager_extra` appended to Alertmanager's configuration
    /// (e.g. `inhibit_rules`).
    pub fn start_with(dir: &Path, exporter: SocketAddr, alertmanager_extra: &str) -> Monitoring {
        let rules_dir = dir.join("rules");
        std::fs::create_dir_all(&rules_dir).unwrap();
        let rules = rules_without_for(&rules_dir);

        let webhook = Webhook::start();
        let am_port = free_port();
        let am_config = dir.join("alertmanager.yml");
        std::fs::write(
            &am_config,
            format!(
                "route:\n  receiver: hook\n  group_by: [alertname, domain, mx, address, nameserver]\n  \
                 group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
                 receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{}/\n        send_resolved: true\n{alertmanager_extra}",
                webhook.port
            ),
        )
        .unwrap();
        let alertmanager = Daemon::start(
            "prometheus-alertmanager",
            &[
                format!("--config.file={}", am_config.display()),
                format!("--storage.path={}", dir.join("am-data").display()),
                format!("--web.listen-address=127.0.0.1:{am_port}"),
                "--cluster.listen-address=".to_string(),
            ],
            &dir.join("alertmanager.log"),
        );

        let prometheus = free_port();
        let prom_config = dir.join("prometheus.yml");
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
                 scrape_configs:\n  - job_name: dane\n    static_configs:\n      - targets: ['{exporter}']\n"
            ),
        )
        .unwrap();
        let prometheus_daemon = Daemon::start(
            "prometheus",
            &[
                format!("--config.file={}", prom_config.display()),
                format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
                format!("--web.listen-address=127.0.0.1:{prometheus}"),
            ],
            &dir.join("prometheus.log"),
        );
        let monitoring = Monitoring {
            prometheus,
            alertmanager: am_port,
            webhook,
            _daemons: vec![prometheus_daemon, alertmanager],
        };

        wait_until(Duration::from_secs(60), "scraped", || {
            monitoring.query("up{job=\"dane\"} == 1")["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        });
        let rules = || -> Vec<Value> {
            let groups = get_json(prometheus, "/api/v1/rules");
            groups["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect()
        };
        // Every group evaluated once (health "unknown" before that), then every rule healthy.
        wait_until(Duration::from_secs(30), "rules evaluated", || {
            let rules = rules();
            !rules.is_empty() && rules.iter().all(|r| r["health"] != "unknown")
        });
        for rule in rules() {
            assert_eq!(
                rule["health"], "ok",
                "rule {} : {}",
                rule["name"], rule["lastError"]
            );
        }
        monitoring
    }

    /// An instant query on Prometheus.
    pub fn query(&self, expr: &str) -> Value {
        query(self.prometheus, expr)
    }

    /// The alerts the webhook received so far, flattened: (status, labels).
    pub fn alerts(&self) -> Vec<(String, Value)> {
        self.webhook.alerts()
    }

    /// Waits until the webhook received an alert with `status` whose labels include `labels`.
    pub fn wait_for_alert(&self, limit: Duration, status: &str, labels: &[(&str, &str)]) {
        wait_until(limit, &format!("{status} {labels:?}"), || {
            self.alerts()
                .iter()
                .any(|(s, l)| s == status && labels.iter().all(|(k, v)| l[*k].as_str() == Some(*v)))
        });
    }
}
