//! The `dane_exporter` binary as a process, and a reader for its text exposition: shared by the
//! exporter and alerting end-to-end tests.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::netns::Netns;
use crate::support::stack::Stack;

/// A running `dane_exporter` process, killed when dropped.
pub struct Exporter {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its configuration file.
    pub config: PathBuf,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Exporter {
    /// The exporter on `config`, its database in `data/` beside the configuration file.
    pub fn start(config: &Path) -> Exporter {
        Exporter::start_with(config, &[])
    }

    /// [`Exporter::start`] with more flags (not `--storage.path`: put the config where the
    /// database should be).
    pub fn start_with(config: &Path, extra: &[&str]) -> Exporter {
        let exporter = Exporter::spawn_with(config, None, extra, None);
        exporter.wait_for(Duration::from_secs(30), "ready", |e| {
            e.get("/-/ready").0 == 200
        });
        exporter
    }

    /// Starts the exporter without waiting for it to be ready (it may never be: its resolver
    /// may be one the test broke); inside `netns` when given, listening on its address there.
    /// Returns once it answers `/-/healthy`.
    pub fn spawn(config: &Path, netns: Option<&Netns>) -> Exporter {
        Exporter::spawn_with(config, netns, &[], None)
    }

    /// [`Exporter::spawn`] with `extra` flags, and its log (JSON lines) written to `log` instead
    /// of the test's stderr.
    pub fn spawn_with(
        config: &Path,
        netns: Option<&Netns>,
        extra: &[&str],
        log: Option<&Path>,
    ) -> Exporter {
        let ip = netns.map_or("127.0.0.1".to_string(), |n| n.ns_addr.to_string());
        let addr: SocketAddr = format!("{ip}:{}", free_port()).parse().unwrap();
        let storage = config.parent().unwrap_or(Path::new(".")).join("data");
        let mut args = vec![
            format!("--config.file={}", config.display()),
            format!("--web.listen-address={addr}"),
            format!("--storage.path={}", storage.display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut exporter = Exporter::launch(netns, addr, &args, log);
        exporter.config = config.to_path_buf();
        exporter
    }

    /// The binary with `args` (a subcommand, flags), on a free port of 127.0.0.1; returns once
    /// it is ready.
    pub fn run(args: &[&str]) -> Exporter {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        Self::run_listening(&[&format!("--web.listen-address={addr}")], addr, args)
    }

    /// As [`Exporter::run`], with the listen flags given (`listen`) and `addr` where they make
    /// it reachable.
    pub fn run_listening(listen: &[&str], addr: SocketAddr, args: &[&str]) -> Exporter {
        let args: Vec<String> = listen.iter().chain(args).map(|a| a.to_string()).collect();
        let exporter = Exporter::launch(None, addr, &args, None);
        exporter.wait_for(Duration::from_secs(40), "ready", |e| {
            e.get("/-/ready").0 == 200
        });
        exporter
    }

    /// The binary with `args`, logging JSON, reached at `addr`; returns once it answers
    /// `/-/healthy`.
    fn launch(
        netns: Option<&Netns>,
        addr: SocketAddr,
        args: &[String],
        log: Option<&Path>,
    ) -> Exporter {
        let binary = env!("CARGO_BIN_EXE_dane_exporter");
        let mut command = match netns {
            Some(netns) => netns.command(binary),
            None => Command::new(binary),
        };
        // `ip netns exec` execs the program: the child is the exporter itself. The log flag
        // goes first: `args` may end in a subcommand.
        let child = command
            .arg("--log.format=json")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(match log {
                Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
                None => Stdio::inherit(),
            })
            .spawn()
            .expect("starting dane_exporter");
        let exporter = Exporter {
            child,
            addr,
            config: PathBuf::new(),
        };
        exporter.wait_for(Duration::from_secs(30), "healthy", |e| {
            e.get("/-/healthy").0 == 200
        });
        exporter
    }

    /// One HTTP/1.1 request; returns status and body.
    pub fn request(&self, method: &str, path: &str) -> (u16, String) {
        self.request_with(method, path, "")
    }

    /// [`Exporter::request`] with extra header lines (each ending in `\r\n`).
    pub fn request_with(&self, method: &str, path: &str, headers: &str) -> (u16, String) {
        let mut stream = match TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)) {
            Ok(stream) => stream,
            Err(_) => return (0, String::new()),
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        let _ = write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n",
            self.addr
        );
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let response = String::from_utf8_lossy(&raw);
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(head, body)| http_body(head, body.as_bytes()))
            .unwrap_or_default();
        (status, body)
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path)
    }

    pub fn metrics(&self) -> Metrics {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "GET /metrics");
        Metrics::parse(&body)
    }

    pub fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&Exporter) -> bool) {
        let began = Instant::now();
        while !done(self) {
            assert!(
                began.elapsed() < limit,
                "exporter: not {what} after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

/// A parsed text exposition: series (name plus sorted labels) to value.
pub struct Metrics {
    /// The exposition as scraped.
    pub text: String,
    /// Every sample: name, labels, value.
    pub series: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
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
    pub fn values(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
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
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
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

pub fn parse_labels(text: &str) -> BTreeMap<String, String> {
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

pub fn promtool_check(exposition: &str) {
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

/// Writes an exporter configuration probing `inbound` and `outbound` domains of the stack every
/// 10 s (the shortest interval the configuration allows); inbound targets get `team: mail`. The
/// resolver canary's bogus name is the stack's `brokends.test` (its DS matches no key). `/probe`
/// may probe any `.test` domain and has a module `quick` (inbound, 3 s, no MTA-STS).
pub fn write_config(path: &Path, stack: &Stack, inbound: &[&str], outbound: &[&str]) {
    // MTA-STS (checked for inbound targets): the stack's private CA and policy host port.
    let mut text = format!(
        "global:\n  interval: 10s\n  timeout: 8s\n  step_timeout: 3s\n  concurrency: 4\n  \
         nameservers: [\"{}\"]\n  smtp_port: {}\n  ehlo_name: probe.test\n  \
         mta_sts_ca_file: {}\n  https_port: {}\n  authoritative_port: {}\n  \
         canary_bogus_name: brokends.test\n\
         probe_allow: [\"*.test\"]\n\
         modules:\n  quick:\n    direction: inbound\n    timeout: 3s\n    mta_sts: false\n",
        stack.var("RESOLVER"),
        stack.var("SMTP_PORT"),
        stack.var("MTA_STS_CA"),
        stack.var("HTTPS_PORT"),
        // NS records carry no port: the stack's NSD listens on its own.
        stack.var("AUTH").rsplit(':').next().unwrap_or_default()
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

/// The text exposition of one inbound report without extra labels, as `/probe` renders it.
pub fn exposition(report: &dane_exporter::report::DomainReport) -> String {
    use dane_exporter::metrics::{probe_families, LabelledReport};
    let labels = Default::default();
    let families = probe_families(&[LabelledReport {
        direction: dane_exporter::core::Direction::Inbound,
        extra_labels: &labels,
        report,
    }]);
    let mut out = String::new();
    prometheus::TextEncoder::new()
        .encode_utf8(&families, &mut out)
        .expect("text encoding");
    out
}

/// A response body as sent after `head`: decoded when the transfer coding is chunked (as
/// `/metrics` is: written while it is sent), as is otherwise. A malformed chunked body is
/// returned as received, so that the assertion on it fails showing what came.
pub fn http_body(head: &str, body: &[u8]) -> String {
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let decoded = if chunked { dechunk(body) } else { None };
    String::from_utf8_lossy(decoded.as_deref().unwrap_or(body)).into_owned()
}

/// The data of a chunked body (RFC 9112 7.1), `None` when it is malformed or cut short.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_line = std::str::from_utf8(data.get(..line_end)?).ok()?;
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        data = data.get(line_end + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size..)?.strip_prefix(b"\r\n")?;
    }
}
