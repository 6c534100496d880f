//! A real Prometheus and Alertmanager for the end-to-end tests (`alerting.rs`,
//! `self_monitoring_alerts.rs`): daemons killed when dropped, the alert rules with every `for:`
//! at 0s, a webhook receiver collecting what Alertmanager sends, and the HTTP APIs as JSON.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

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
