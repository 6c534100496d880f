//! TLS-RPT reports (RFC 8460) delivered for real, and the database across restarts.
//!
//! One exporter process with TLS and basic auth on its metrics listener and a TLS-RPT listener
//! beside it: `curl` posts gzip and JSON reports with the test CA and no credentials; hostile
//! bodies (a gzip bomb, truncated gzip, huge and deep JSON, a wrong media type, a duplicate, a
//! domain not monitored) get clear errors and store nothing. A private Postfix delivers report
//! mail through its queue and a pipe(8) transport into `dane_exporter tlsrpt ingest`, into the
//! same database, and the running exporter picks the report up. A restart keeps every counter
//! and the verdict's "since"; a `kill -9` while reports are being written loses none that was
//! acknowledged, and the file passes `PRAGMA integrity_check`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dane_exporter::database::Database;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{json, Value};

use crate::support::dns_server::{reply_to, ScriptedServer};
use crate::support::exporter::{free_port, promtool_check, Metrics};
use crate::support::nginx::pem;
use crate::support::smtp_server::TestCa;

pub const TLSA_FIXTURE: &str = include_str!("../fixtures/tlsrpt/tlsa.json");
pub const STS_FIXTURE: &str = include_str!("../fixtures/tlsrpt/sts.json");
const TLSA: &str = TLSA_FIXTURE;
const STS: &str = STS_FIXTURE;

/// `fixture` for `domain` with a fresh report id and yesterday (UTC) as its period.
pub fn report(fixture: &str, id: &str, domain: &str) -> Vec<u8> {
    let mut value: Value = serde_json::from_str(fixture).unwrap();
    let today = dane_exporter::core::unix_now() / 86_400 * 86_400;
    let day = |t: i64| dane_exporter::core::time::format_time(t);
    value["report-id"] = json!(id);
    value["date-range"] =
        json!({"start-datetime": day(today - 86_400), "end-datetime": day(today)});
    for policy in value["policies"].as_array_mut().unwrap() {
        policy["policy"]["policy-domain"] = json!(domain);
    }
    value.to_string().into_bytes()
}

/// [`report`] with the fixture's MX host `mx1.example.org` renamed `mx`.
pub fn report_at(fixture: &str, id: &str, domain: &str, mx: &str) -> Vec<u8> {
    report(&fixture.replace("mx1.example.org", mx), id, domain)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A report mail as senders send it (RFC 8460 5.3): multipart/report, a text part, the report
/// as a base64 `application/tlsrpt+gzip` attachment.
fn report_mail(gz: &[u8], top: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(gz);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: TLS reports <tlsrpt-noreply@sender.example>\r\nTo: tlsrpt@reports.test\r\n\
         Subject: Report Domain: example.org Submitter: sender.example Report-ID: <x@sender.example>\r\n\
         TLS-Report-Domain: example.org\r\nTLS-Report-Submitter: sender.example\r\n\
         MIME-Version: 1.0\r\nContent-Type: {top}; boundary=\"----=_b\"\r\n\r\n\
         ------=_b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         This is an aggregate TLS report from sender.example\r\n\
         ------=_b\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"sender.example!example.org!1!2.json.gz\"\r\n\r\n\
         {}\r\n------=_b--\r\n",
        lines.join("\r\n")
    )
}

/// `curl` against the test's HTTPS listeners: status and body.
struct Curl {
    ca: PathBuf,
}

impl Curl {
    fn run(&self, url: &str, args: &[&str]) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&self.ca)
            .args(["-w", "\n%{http_code}"])
            .args(args)
            .arg(url)
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            eprintln!("curl {url}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
}

struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    dir: PathBuf,
    curl: Curl,
    web_port: u16,
    rpt_port: u16,
    resolver: Resolver,
}

/// A resolver on a runtime of its own that validates as far as the canary asks (`.` SOA with AD)
/// and answers every other query SERVFAIL: the MX lookup fails at once, so every round has a
/// verdict (fail). A silent resolver would make the verdict unknown (the exporter cannot see).
struct Resolver {
    server: ScriptedServer,
    /// Set: it answers nothing (the exporter cannot see).
    silent: Arc<AtomicBool>,
    _runtime: tokio::runtime::Runtime,
}

impl Resolver {
    fn start() -> Resolver {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let silent = Arc::new(AtomicBool::new(false));
        let quiet = Arc::clone(&silent);
        let server = runtime.block_on(ScriptedServer::start(move |query, _| {
            if quiet.load(Ordering::SeqCst) {
                return None;
            }
            let mut reply = reply_to(query);
            let root_soa = query
                .queries
                .first()
                .is_some_and(|q| q.name().is_root() && q.query_type() == RecordType::SOA);
            if root_soa {
                reply.metadata.authentic_data = true;
            } else {
                reply.metadata.response_code = ResponseCode::ServFail;
            }
            Some(reply)
        }));
        Resolver {
            server,
            silent,
            _runtime: runtime,
        }
    }
}

impl Setup {
    fn metrics_url(&self) -> String {
        format!("https://reports.test:{}/metrics", self.web_port)
    }

    fn rpt_url(&self) -> String {
        format!("https://reports.test:{}/tlsrpt", self.rpt_port)
    }

    fn resolve(&self) -> Vec<String> {
        [self.web_port, self.rpt_port]
            .iter()
            .flat_map(|p| {
                [
                    "--resolve".to_string(),
                    format!("reports.test:{p}:127.0.0.1"),
                ]
            })
            .collect()
    }

    fn get(&self, url: &str, auth: bool) -> (u16, String) {
        let mut args = self.resolve();
        if auth {
            args.extend(["-u".to_string(), "prometheus:secret".to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.curl.run(url, &args)
    }

    fn post(&self, content_type: &str, body: &[u8]) -> (u16, String) {
        let file = self.dir.join(format!("body-{}", free_port()));
        std::fs::write(&file, body).unwrap();
        let mut args = self.resolve();
        args.extend([
            "-H".to_string(),
            format!("Content-Type: {content_type}"),
            "--data-binary".to_string(),
            format!("@{}", file.display()),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.curl.run(&self.rpt_url(), &args)
    }

    fn start(&self) -> Running {
        let child = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
            .arg(format!(
                "--config.file={}",
                self.dir.join("dane_exporter.yml").display()
            ))
            .arg(format!(
                "--web.config.file={}",
                self.dir.join("web.yml").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.web_port))
            .arg(format!(
                "--tlsrpt.listen-address=127.0.0.1:{}",
                self.rpt_port
            ))
            .arg(format!(
                "--storage.path={}",
                self.dir.join("data").display()
            ))
            .arg("--log.format=json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dane_exporter");
        let running = Running { child };
        self.wait("healthy", Duration::from_secs(20), || {
            self.get(
                &format!("https://reports.test:{}/-/healthy", self.web_port),
                true,
            )
            .0 == 200
        });
        running
    }

    fn metrics(&self) -> Metrics {
        let (status, body) = self.get(&self.metrics_url(), true);
        assert_eq!(status, 200, "{body}");
        Metrics::parse(&body)
    }

    fn wait(&self, what: &str, limit: Duration, done: impl Fn() -> bool) {
        let began = Instant::now();
        while !done() {
            assert!(began.elapsed() < limit, "not {what} after {limit:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stored_ids(&self) -> Vec<String> {
        let db = Database::open_read_only(&self.dir.join("data"))
            .unwrap()
            .expect("a database");
        let (reports, _) = db.reports_since(0).unwrap();
        let mut ids: Vec<String> = reports.into_iter().map(|r| r.report_id).collect();
        ids.sort();
        ids
    }
}

fn setup() -> (tempfile::TempDir, Setup) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let ca = TestCa::root("TLS-RPT Test Root");
    let leaf = ca.issue(&["reports.test"]);
    std::fs::write(dir.join("ca.pem"), pem("CERTIFICATE", &ca.der)).unwrap();
    let chain: String = leaf.chain.iter().map(|c| pem("CERTIFICATE", c)).collect();
    std::fs::write(dir.join("server.crt"), chain).unwrap();
    std::fs::write(dir.join("server.key"), pem("PRIVATE KEY", &leaf.key_pkcs8)).unwrap();
    let hash = bcrypt::hash("secret", 4).unwrap();
    std::fs::write(
        dir.join("web.yml"),
        format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: {hash}\n"),
    )
    .unwrap();
    let resolver = Resolver::start();
    std::fs::write(
        dir.join("dane_exporter.yml"),
        format!(
            "global:\n  interval: 10s\n  timeout: 5s\n  step_timeout: 1s\n  nameservers: [\"{}\"]\n  \
             canary_bogus_name: \"\"\n\
             inbound:\n  - domain: example.org\n    labels: {{team: mail}}\n",
            resolver.server.addr()
        ),
    )
    .unwrap();
    let setup = Setup {
        curl: Curl {
            ca: dir.join("ca.pem"),
        },
        dir,
        web_port: free_port(),
        rpt_port: free_port(),
        resolver,
    };
    (tmp, setup)
}

/// The private Postfix of `tests/stack/tlsrpt-postfix.sh`, stopped when dropped.
struct Postfix {
    dir: PathBuf,
    port: u16,
}

impl Postfix {
    fn up(dir: &Path, config: &Path, storage: &Path) -> Postfix {
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stack/tlsrpt-postfix.sh");
        let postfix = Postfix {
            dir: dir.to_path_buf(),
            port,
        };
        let out = Command::new("bash")
            .arg(&script)
            .args(["up".as_ref(), dir.as_os_str(), port.to_string().as_ref()])
            .arg(env!("CARGO_BIN_EXE_dane_exporter"))
            .arg(config)
            .arg(storage)
            .output()
            .expect("tlsrpt-postfix.sh");
        assert!(
            out.status.success(),
            "tlsrpt-postfix.sh up: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        postfix
    }

    /// One SMTP transaction from a null sender (bounces of it are dropped, not sent).
    fn send(&self, message: &str) {
        let began = Instant::now();
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", self.port)) {
                Ok(s) => break s,
                Err(e) if began.elapsed() < Duration::from_secs(10) => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => panic!("connect to Postfix: {e}"),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut expect = |code: &str| loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        };
        expect("220");
        for (command, code) in [
            ("EHLO sender.example", "250"),
            ("MAIL FROM:<>", "250"),
            ("RCPT TO:<tlsrpt@reports.test>", "250"),
            ("DATA", "354"),
        ] {
            write!(writer, "{command}\r\n").unwrap();
            expect(code);
        }
        for line in message.split("\r\n") {
            let stuffed = if line.starts_with('.') { "." } else { "" };
            write!(writer, "{stuffed}{line}\r\n").unwrap();
        }
        write!(writer, ".\r\n").unwrap();
        expect("250");
        write!(writer, "QUIT\r\n").unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    fn wait_log(&self, what: &str, count: usize) {
        let began = Instant::now();
        while self.log().matches(what).count() < count {
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "Postfix logged {what:?} fewer than {count} times:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stack/tlsrpt-postfix.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg("down")
            .arg(&self.dir)
            .status();
    }
}

fn sum(m: &Metrics, name: &str) -> f64 {
    m.series
        .iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, _, v)| v)
        .sum()
}

#[test]
fn reports_by_https_and_by_mail_survive_restarts_and_kills() {
    let (_tmp, s) = setup();
    let exporter = s.start();

    // HTTPS, gzip and JSON, without credentials.
    let (status, body) = s.post(
        "application/tlsrpt+gzip",
        &gzip(&report(TLSA, "t-1", "example.org")),
    );
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            "stored: Sender Two Corporation report-id t-1 for example.org\n"
        )
    );
    let (status, body) = s.post(
        "application/tlsrpt+json",
        &report(STS, "s-1", "example.org"),
    );
    assert_eq!(status, 200, "{body}");
    // The TLS-RPT listener serves nothing else; /metrics needs the credentials.
    assert_eq!(
        s.get(
            &format!("https://reports.test:{}/metrics", s.rpt_port),
            false
        )
        .0,
        404
    );
    assert_eq!(s.get(&s.metrics_url(), false).0, 401);

    // Hostile bodies: a clear error each, nothing stored.
    // 20 MiB of spaces are ~20 KB of gzip (a ratio of 1000); 200 MiB pass the size bound first.
    let bomb = gzip(&vec![b' '; 20 << 20]);
    let big_bomb = gzip(&vec![b' '; 200 << 20]);
    let whole = gzip(&report(TLSA, "t-2", "example.org"));
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("application/tlsrpt+gzip", bomb, 400, "gzip bomb"),
        (
            "application/tlsrpt+gzip",
            big_bomb,
            400,
            "decompressed report larger than 8388608 bytes",
        ),
        (
            "application/tlsrpt+gzip",
            whole[..whole.len() - 9].to_vec(),
            400,
            "truncated gzip",
        ),
        (
            "application/tlsrpt+json",
            vec![b' '; 2 << 20],
            413,
            "too large",
        ),
        (
            "application/tlsrpt+json",
            deep.into_bytes(),
            400,
            "nested deeper than 8",
        ),
        (
            "application/json",
            report(TLSA, "t-3", "example.org"),
            415,
            "unsupported media type",
        ),
        (
            "application/tlsrpt+gzip",
            gzip(&report(TLSA, "t-1", "example.org")),
            409,
            "duplicate report",
        ),
        (
            "application/tlsrpt+json",
            report(TLSA, "t-4", "example.net"),
            403,
            "no policy domain of the report is monitored here: example.net",
        ),
        (
            "application/tlsrpt+json",
            br#"{"organization-name": "x"}"#.to_vec(),
            400,
            "required field date-range is missing",
        ),
    ];
    for (media, body, code, text) in cases {
        let (status, answer) = s.post(media, &body);
        assert_eq!(status, code, "{text}: {answer}");
        assert!(answer.contains(text), "{text}: {answer}");
    }
    assert_eq!(s.stored_ids(), vec!["s-1", "t-1"]);

    // Mail through Postfix's queue and pipe(8) into `tlsrpt ingest`, into the same database
    // (pipe runs as nobody: the file is theirs; SQLite hands root's -wal/-shm to the file's owner).
    let storage = s.dir.join("data");
    assert!(Command::new("chown")
        .args(["-R", "nobody"])
        .arg(&storage)
        .status()
        .unwrap()
        .success());
    let postfix = Postfix::up(
        &s.dir.join("postfix"),
        &s.dir.join("dane_exporter.yml"),
        &storage,
    );
    let mail = report_mail(
        &gzip(&report(TLSA, "m-1", "example.org")),
        "multipart/report; report-type=tlsrpt",
    );
    postfix.send(&mail);
    postfix.wait_log("status=sent", 1);
    assert_eq!(s.stored_ids(), vec!["m-1", "s-1", "t-1"]);
    // The same mail again is delivered (exit 0) and stores nothing; a message that is no report
    // bounces with the reason.
    postfix.send(&mail);
    postfix.send(&report_mail(&gzip(b"{}"), "multipart/mixed"));
    postfix.wait_log("status=sent", 2);
    postfix.wait_log("status=bounced", 1);
    assert!(
        postfix.log().contains("not a TLS-RPT message"),
        "{}",
        postfix.log()
    );
    assert_eq!(s.stored_ids(), vec!["m-1", "s-1", "t-1"]);

    // The running exporter picks up what another process stored.
    s.wait("the mailed report counted", Duration::from_secs(20), || {
        s.metrics().value(
            "dane_tlsrpt_reports_total",
            &[("organization", "Sender Two Corporation")],
        ) == 2.0
    });
    s.wait("a verdict", Duration::from_secs(20), || {
        sum(&s.metrics(), "dane_probe_verdict_since_timestamp_seconds") > 0.0
    });
    let before = s.metrics();
    promtool_check(&before.text);
    let failed = before.value(
        "dane_tlsrpt_failed_sessions_total",
        &[
            ("organization", "Sender Two Corporation"),
            ("result_type", "tlsa-invalid"),
            ("team", "mail"),
        ],
    );
    assert_eq!(failed, 8.0, "two reports of 4 tlsa-invalid sessions");
    let since = sum(&before, "dane_probe_verdict_since_timestamp_seconds");
    // The status page: the detail has the senders' section beside the probe's view, the index
    // counts their failures (both behind the metrics listener's credentials).
    let page = |path: &str| s.get(&format!("https://reports.test:{}{path}", s.web_port), true);
    s.wait(
        "the status page with the reports",
        Duration::from_secs(30),
        || {
            page("/status/inbound/example.org")
                .1
                .contains("what senders saw")
        },
    );
    let (status, detail) = page("/status/inbound/example.org");
    assert_eq!(status, 200);
    assert!(
        detail.contains("mx1.example.org (") && detail.contains("tlsa-invalid under tlsa"),
        "{detail}"
    );
    let (_, index) = page("/");
    assert!(
        index.contains("failed sessions</span>") && index.contains("class=\"since\""),
        "{index}"
    );

    // A clean restart keeps every counter and the verdict's start.
    drop(exporter);
    let exporter = s.start();
    s.wait("the counters back", Duration::from_secs(20), || {
        sum(&s.metrics(), "dane_tlsrpt_reports_total") == 3.0
    });
    let after = s.metrics();
    for name in [
        "dane_tlsrpt_reports_total",
        "dane_tlsrpt_successful_sessions_total",
        "dane_tlsrpt_failed_sessions_total",
        "dane_tlsrpt_last_report_end_timestamp_seconds",
    ] {
        assert_eq!(sum(&after, name), sum(&before, name), "{name}");
    }
    s.wait(
        "a verdict after the restart",
        Duration::from_secs(20),
        || sum(&s.metrics(), "dane_probe_verdict_since_timestamp_seconds") > 0.0,
    );
    assert_eq!(
        sum(&s.metrics(), "dane_probe_verdict_since_timestamp_seconds"),
        since,
        "still failing since the first round before the restart"
    );
    // Our resolver goes silent: the verdict is unknown and the series goes, like every fact of
    // the domain; when it answers again the domain is still failing since the same time.
    s.resolver.silent.store(true, Ordering::SeqCst);
    s.wait("an unknown verdict", Duration::from_secs(60), || {
        sum(&s.metrics(), "dane_probe_unknown_info") > 0.0
    });
    assert_eq!(
        sum(&s.metrics(), "dane_probe_verdict_since_timestamp_seconds"),
        0.0
    );
    s.resolver.silent.store(false, Ordering::SeqCst);
    s.wait("a verdict again", Duration::from_secs(60), || {
        sum(&s.metrics(), "dane_probe_verdict_since_timestamp_seconds") > 0.0
    });
    assert_eq!(
        sum(&s.metrics(), "dane_probe_verdict_since_timestamp_seconds"),
        since,
        "an unknown round leaves the verdict's clock alone"
    );

    // kill -9 while reports are being written: every acknowledged report is there, the file is
    // sound.
    let mut child = exporter;
    let posts: Vec<_> = (0..24)
        .map(|i| {
            let body = report(TLSA, &format!("k-{i:02}"), "example.org");
            let (curl, url, resolve) = (
                Curl {
                    ca: s.curl.ca.clone(),
                },
                s.rpt_url(),
                s.resolve(),
            );
            let file = s.dir.join(format!("k-{i:02}.json"));
            std::fs::write(&file, &body).unwrap();
            std::thread::spawn(move || {
                let mut args = resolve;
                args.extend([
                    "-H".into(),
                    "Content-Type: application/tlsrpt+json".into(),
                    "--data-binary".into(),
                    format!("@{}", file.display()),
                ]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                (format!("k-{i:02}"), curl.run(&url, &args).0)
            })
        })
        .collect();
    // Killed as soon as a quarter of them is committed, while the rest are in flight.
    let began = Instant::now();
    while s
        .stored_ids()
        .iter()
        .filter(|id| id.starts_with("k-"))
        .count()
        < 6
    {
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "no report of the burst stored"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.child.kill(); // SIGKILL
    let _ = child.child.wait();
    let acknowledged: Vec<String> = posts
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|(_, status)| *status == 200)
        .map(|(id, _)| id)
        .collect();
    let db = Database::open(&storage).expect("the database opens after kill -9");
    assert_eq!(db.integrity_check().unwrap(), "ok");
    drop(db);
    let stored = s.stored_ids();
    for id in &acknowledged {
        assert!(
            stored.contains(id),
            "{id} was acknowledged but is not stored"
        );
    }
    eprintln!(
        "kill -9: {} of 24 acknowledged, all stored",
        acknowledged.len()
    );
    drop(child);
}

#[test]
fn a_maildir_is_imported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("dane_exporter.yml"),
        "inbound:\n  - domain: example.org\n",
    )
    .unwrap();
    let maildir = dir.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let top = "multipart/report; report-type=tlsrpt";
    std::fs::write(
        maildir.join("new/1"),
        report_mail(&gzip(&report(TLSA, "d-1", "example.org")), top),
    )
    .unwrap();
    std::fs::write(
        maildir.join("cur/2:2,S"),
        report_mail(&gzip(&report(STS, "d-2", "example.org")), top),
    )
    .unwrap();
    std::fs::write(maildir.join("cur/3:2,S"), "From: x\r\n\r\nhello\r\n").unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
            .arg(format!(
                "--config.file={}",
                dir.join("dane_exporter.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .args(["tlsrpt", "ingest", "--maildir"])
            .arg(&maildir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(run(), "2 stored, 0 duplicates, 1 refused, 0 failed");
    assert_eq!(run(), "0 stored, 2 duplicates, 1 refused, 0 failed");
    // One message from a file: refused with EX_DATAERR and the reason.
    let mut child = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
        .arg(format!(
            "--config.file={}",
            dir.join("dane_exporter.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .args(["tlsrpt", "ingest", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"not a message at all")
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(65), "{err}");
    assert!(err.contains("refused, nothing stored"), "{err}");
}
