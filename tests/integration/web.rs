//! The HTTP side (`dane_exporter::web`) over real sockets on 127.0.0.1: every route and status,
//! basic auth, TLS (with and without client certificates, HTTP/2 through ALPN), web config
//! fixtures, graceful shutdown, and the timeouts that bound slow clients.
//!
//! Requests are hand-written HTTP/1.1 over a `TcpStream` (or a tokio-rustls stream), so that the
//! tests see exactly what goes over the wire, and can misbehave (slowloris, plain HTTP to TLS).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dane_exporter::core::{Direction, TargetKey, Verdict};
use dane_exporter::store::{StatusDetail, StatusEntry, StatusRow};
use dane_exporter::web::{
    self, BoxFuture, Exporter, MetricsChunks, ProbeOptions, ProbeRequestError, ServeOptions,
    WebConfig, WebConfigError,
};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::exporter::http_body;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const METRICS: &str = "# HELP dane_up Test.\n# TYPE dane_up gauge\ndane_up 1\n";
const PASSWORD: &str = "s3cret";

// ---- A fake exporter ----

#[derive(Default)]
struct FakeExporter {
    metrics_calls: AtomicUsize,
    probes: Mutex<Vec<(String, Option<String>)>>,
    /// The options of every probe request that reached the exporter.
    probe_options: Mutex<Vec<ProbeOptions>>,
    not_ready: AtomicBool,
    reload_error: Mutex<Option<String>>,
    reload_calls: AtomicUsize,
    /// Why not ready, when set (else the trait's default reason-less answer).
    not_ready_reason: Mutex<Option<String>>,
    /// Every answered request: handler and status.
    requests: Mutex<Vec<(String, u16)>>,
}

impl Exporter for FakeExporter {
    fn metrics(&self) -> MetricsChunks {
        self.metrics_calls.fetch_add(1, Ordering::SeqCst);
        // A line a chunk: the body is sent in pieces, as the exporter's is.
        Box::new(
            METRICS
                .split_inclusive('\n')
                .map(|line| bytes::Bytes::from_static(line.as_bytes())),
        )
    }

    fn probe<'a>(
        &'a self,
        target: &'a str,
        module: Option<&'a str>,
        options: ProbeOptions,
    ) -> BoxFuture<'a, Result<String, ProbeRequestError>> {
        Box::pin(async move {
            self.probes
                .lock()
                .unwrap()
                .push((target.to_string(), module.map(str::to_string)));
            self.probe_options.lock().unwrap().push(options);
            match (target, module) {
                ("forbidden.example", _) => Err(ProbeRequestError::NotAllowed(target.to_string())),
                ("busy.example", _) => Err(ProbeRequestError::Busy),
                ("bad..example", _) => Err(ProbeRequestError::BadTarget(target.to_string())),
                (_, Some("sideways")) => Err(ProbeRequestError::BadModule("sideways".to_string())),
                (_, None) => Err(ProbeRequestError::BadModule("missing".to_string())),
                ("slow.example", Some(m)) => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Ok(format!("probe_success{{module=\"{m}\"}} 1\n"))
                }
                (t, Some(m)) => Ok(format!(
                    "probe_success{{target=\"{t}\",module=\"{m}\"}} 1\n"
                )),
            }
        })
    }

    fn ready(&self) -> bool {
        !self.not_ready.load(Ordering::SeqCst)
    }

    fn not_ready(&self) -> Option<String> {
        match self.not_ready_reason.lock().unwrap().clone() {
            Some(reason) => Some(reason),
            None => (!self.ready()).then(String::new),
        }
    }

    fn observe_request(&self, handler: &str, code: u16) {
        self.requests
            .lock()
            .unwrap()
            .push((handler.to_string(), code));
    }

    fn reload(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.reload_calls.fetch_add(1, Ordering::SeqCst);
            match self.reload_error.lock().unwrap().clone() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }

    fn status(&self) -> Vec<StatusEntry> {
        vec![
            StatusEntry::Probed(Arc::new(probed_row())),
            StatusEntry::Pending(TargetKey {
                direction: Direction::Outbound,
                domain: "pending.example".into(),
            }),
        ]
    }

    fn status_detail(&self, key: &TargetKey) -> Option<StatusDetail> {
        (key.domain == "ok.example" && key.direction == Direction::Inbound).then(|| StatusDetail {
            row: Arc::new(probed_row()),
            text: "ok.example: FAIL\n  - [undeliverable] banner 554 <b>go away</b>\n".into(),
            json: "{\"schema_version\":1}".into(),
        })
    }
}

fn probed_row() -> StatusRow {
    StatusRow {
        direction: Direction::Inbound,
        domain: "ok.example".into(),
        verdict: Verdict::Fail,
        protected: false,
        failures: vec!["undeliverable"],
        warnings: vec![],
        checked_at: dane_exporter::core::time::unix_now(),
        divergence: None,
        duration_seconds: 0.25,
        since: None,
        senders_failed: None,
    }
}

// ---- A server under test ----

struct Server {
    addr: std::net::SocketAddr,
    exporter: Arc<FakeExporter>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(config: Option<WebConfig>, options: ServeOptions) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let exporter = Arc::new(FakeExporter::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let shared: Arc<dyn Exporter> = exporter.clone();
        let task = tokio::spawn(web::serve_with(listener, config, shared, options, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            exporter,
            stop: Some(stop),
            task,
        }
    }

    async fn plain() -> Server {
        Server::start(None, ServeOptions::default()).await
    }

    /// Sends `request` (a request head without the final empty line; `Connection: close` is
    /// added) and returns the parsed response.
    async fn send(&self, request: &str) -> Response {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        exchange(stream, request).await.expect("a response")
    }

    async fn get(&self, path: &str) -> Response {
        self.send(&format!("GET {path} HTTP/1.1\r\nHost: x\r\n"))
            .await
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Writes the request, reads the response to EOF (the request asks to close). `None` when the
/// peer sent no HTTP response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> Option<Response> {
    let request = format!("{request}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("response within 10 s");
    if read.is_err() && raw.is_empty() {
        return None;
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(raw);
    let head_end = text.find("\r\n\r\n")?;
    let head = &text[..head_end];
    let body = http_body(head, raw.get(head_end + 4..)?);
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    if !status_line.starts_with("HTTP/1.1 ") {
        return None;
    }
    let status = status_line.get(9..12)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Response {
        status,
        headers,
        body,
    })
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/web")
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Authorization: Basic {creds}\r\n")
}

// ---- Routes ----

#[tokio::test]
async fn routes_answer_with_their_status_codes() {
    let server = Server::plain().await;

    let r = server.get("/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    for link in [
        "href=\"/metrics\"",
        "href=\"/probe?target=ok.example&amp;module=inbound\"",
        "href=\"/status/inbound/ok.example\"",
        "href=\"/status/outbound/pending.example?format=json\"",
        "href=\"/-/healthy\"",
        "href=\"/-/ready\"",
    ] {
        assert!(
            r.body.contains(link),
            "status page lacks {link}: {}",
            r.body
        );
    }
    assert!(r.body.contains(env!("CARGO_PKG_VERSION")));

    // The report of one target: HTML (escaped), JSON, and 404s that say why.
    let r = server.get("/status/inbound/OK.example.").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        r.body.contains("banner 554 &lt;b&gt;go away&lt;/b&gt;"),
        "{}",
        r.body
    );
    let r = server.get("/status/inbound/ok.example?format=json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, "{\"schema_version\":1}");
    let r = server.get("/status/outbound/pending.example").await;
    assert_eq!(r.status, 404);
    assert!(
        r.body.contains("first probe has not finished"),
        "{}",
        r.body
    );
    let r = server.get("/status/outbound/other.example").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Not a configured target"), "{}", r.body);
    for path in ["/status/sideways/ok.example", "/status/inbound", "/status/"] {
        assert_eq!(server.get(path).await.status, 404, "{path}");
    }

    let r = server.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, METRICS);
    // Sent as it is written (chunked), not built whole first.
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(server.exporter.metrics_calls.load(Ordering::SeqCst), 1);

    let r = server.get("/-/healthy").await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK\n"));
    let r = server.get("/-/ready").await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK\n"));
    server.exporter.not_ready.store(true, Ordering::SeqCst);
    let r = server.get("/-/ready").await;
    assert_eq!((r.status, r.body.as_str()), (503, "not ready\n"));

    assert_eq!(server.get("/nope").await.status, 404);
    assert_eq!(server.get("/metrics/").await.status, 404);

    for (method, path) in [
        ("POST", "/metrics"),
        ("PUT", "/"),
        ("DELETE", "/probe"),
        ("POST", "/-/healthy"),
    ] {
        let r = server
            .send(&format!(
                "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
            ))
            .await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
    for method in ["GET", "PUT"] {
        let r = server
            .send(&format!("{method} /-/reload HTTP/1.1\r\nHost: x\r\n"))
            .await;
        assert_eq!(r.status, 405, "{method} /-/reload");
        assert_eq!(r.header("allow"), Some("POST"));
    }
    assert_eq!(server.exporter.reload_calls.load(Ordering::SeqCst), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn head_has_headers_but_no_body() {
    let server = Server::plain().await;
    let r = server.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(r.body, "");
    // Small answers are one buffer and say their length.
    let r = server.send("HEAD / HTTP/1.1\r\nHost: x\r\n").await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert!(
        r.header("content-length").is_some_and(|n| n != "0"),
        "{r:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn probe_passes_target_and_module_and_maps_errors() {
    let server = Server::plain().await;
    let r = server
        .get("/probe?target=mail.example%2Eorg&module=inbound")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        "probe_success{target=\"mail.example.org\",module=\"inbound\"} 1\n"
    );
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );

    let cases = [
        ("/probe", 400, "target parameter is missing\n"),
        (
            "/probe?module=inbound",
            400,
            "target parameter is missing\n",
        ),
        (
            "/probe?target=&module=inbound",
            400,
            "target parameter is missing\n",
        ),
        ("/probe?target=a.example", 400, "invalid module: missing\n"),
        (
            "/probe?target=a.example&module=sideways",
            400,
            "invalid module: sideways\n",
        ),
        (
            "/probe?target=bad..example&module=inbound",
            400,
            "invalid target: bad..example\n",
        ),
        (
            "/probe?target=forbidden.example&module=outbound",
            403,
            "target not allowed: forbidden.example\n",
        ),
        ("/probe?target=%zz", 400, "malformed query string\n"),
    ];
    for (path, status, body) in cases {
        let r = server.get(path).await;
        assert_eq!((r.status, r.body.as_str()), (status, body), "{path}");
    }
    let probes = server.exporter.probes.lock().unwrap().clone();
    assert_eq!(
        probes,
        vec![
            ("mail.example.org".to_string(), Some("inbound".to_string())),
            ("a.example".to_string(), None),
            ("a.example".to_string(), Some("sideways".to_string())),
            ("bad..example".to_string(), Some("inbound".to_string())),
            (
                "forbidden.example".to_string(),
                Some("outbound".to_string())
            ),
        ],
        "missing targets and bad queries never reach the exporter"
    );
    server.shutdown().await;
}

/// Prometheus' scrape timeout, less the offset, is the probe's deadline (blackbox_exporter's
/// rule); a header that leaves nothing is refused before probing; `debug=true` is passed on and
/// answered as plain text.
#[tokio::test]
async fn probe_deadline_comes_from_the_scrape_timeout_and_debug_is_text() {
    let server = Server::plain().await;
    let with_timeout = |value: &str, query: &str| {
        format!("GET /probe?target=a.example&module=inbound{query} HTTP/1.1\r\nHost: x\r\nX-Prometheus-Scrape-Timeout-Seconds: {value}\r\n")
    };
    let r = server.send(&with_timeout("10", "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = server.send(&with_timeout("2.75", "&debug=true")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let r = server
        .get("/probe?target=a.example&module=inbound&debug=false")
        .await;
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for bad in ["0.5", "0.2", "soon", "-3", "NaN"] {
        let r = server.send(&with_timeout(bad, "")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(
            r.body
                .starts_with("invalid X-Prometheus-Scrape-Timeout-Seconds: "),
            "{}",
            r.body
        );
    }
    let options = server.exporter.probe_options.lock().unwrap().clone();
    assert_eq!(
        options,
        vec![
            ProbeOptions {
                deadline: Some(Duration::from_millis(9_500)),
                debug: false
            },
            ProbeOptions {
                deadline: Some(Duration::from_millis(2_250)),
                debug: true
            },
            ProbeOptions {
                deadline: None,
                debug: false
            },
        ],
        "bad headers never reach the exporter"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn busy_probe_is_429_with_retry_after() {
    let server = Server::plain().await;
    let r = server
        .get("/probe?target=busy.example&module=outbound")
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body, "too many concurrent probes, retry later\n");
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    // Other refusals carry no Retry-After.
    let r = server
        .get("/probe?target=forbidden.example&module=outbound")
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("retry-after"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn reload_succeeds_or_reports_the_error() {
    let server = Server::plain().await;
    let post = "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n";
    let r = server.send(post).await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK\n"));
    *server.exporter.reload_error.lock().unwrap() =
        Some("dane_exporter.yml:3: inbound: expected a list".to_string());
    let r = server.send(post).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        "reload failed: dane_exporter.yml:3: inbound: expected a list\n"
    );
    assert_eq!(server.exporter.reload_calls.load(Ordering::SeqCst), 2);
    server.shutdown().await;
}

/// Every answered request reaches the exporter's counter with a bounded handler label (the route,
/// or "other"), 429s from a busy `/probe` and 401s included; `/-/ready` gives the reason.
#[tokio::test]
async fn requests_are_counted_by_handler_and_code_and_readiness_says_why() {
    let server = Server::start(None, ServeOptions::default()).await;
    assert_eq!(server.get("/metrics").await.status, 200);
    assert_eq!(
        server
            .get("/probe?target=busy.example&module=inbound")
            .await
            .status,
        429
    );
    assert_eq!(server.get("/no/such/path/123").await.status, 404);
    assert_eq!(server.get("/another-unknown").await.status, 404);
    *server.exporter.not_ready_reason.lock().unwrap() =
        Some("resolver 127.0.0.1:53 does not validate DNSSEC".into());
    let r = server.get("/-/ready").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            503,
            "not ready: resolver 127.0.0.1:53 does not validate DNSSEC\n"
        )
    );
    let requests = server.exporter.requests.lock().unwrap().clone();
    assert_eq!(
        requests,
        [
            ("/metrics".to_string(), 200),
            ("/probe".to_string(), 429),
            ("other".to_string(), 404),
            ("other".to_string(), 404),
            ("/-/ready".to_string(), 503),
        ]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn request_bodies_are_bounded() {
    let server = Server::plain().await;
    // Announced too large: refused without reading it.
    let r = server
        .send("POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n")
        .await;
    assert_eq!(r.status, 413);
    // A small body is read and ignored.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        .await
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    assert_eq!(parse_response(&raw).unwrap().status, 200);
    // Chunked, without a length, over the limit: cut off while reading.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 40000, "a".repeat(40000));
    for _ in 0..2 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    assert_eq!(parse_response(&raw).unwrap().status, 413);
    server.shutdown().await;
}

#[tokio::test]
async fn request_heads_are_bounded() {
    let server = Server::plain().await;
    let huge = "a".repeat(80 * 1024);
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let r = exchange(
        stream,
        &format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\n"),
    )
    .await;
    // hyper answers 431 or just closes; either way the request is not served.
    assert!(r.as_ref().is_none_or(|r| r.status == 431), "{r:?}");
    assert_eq!(server.exporter.metrics_calls.load(Ordering::SeqCst), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn sighup_reloads() {
    let exporter = Arc::new(FakeExporter::default());
    let shared: Arc<dyn Exporter> = exporter.clone();
    let task = tokio::spawn(web::reload_on_sighup(shared));
    // Let the task install its handler before the signal (the default action would end us).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..50 {
        if exporter.reload_calls.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(exporter.reload_calls.load(Ordering::SeqCst), 1);
    task.abort();
}

// ---- Basic auth and headers ----

#[tokio::test]
async fn basic_auth_protects_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(
        &path,
        format!(
            "basic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        ),
    )
    .unwrap();
    let config = WebConfig::load(&path).unwrap();
    let server = Server::start(Some(config), ServeOptions::default()).await;

    for path in [
        "/",
        "/metrics",
        "/-/healthy",
        "/-/ready",
        "/probe?target=a.example&module=inbound",
        "/status/inbound/ok.example",
        "/status/inbound/ok.example?format=json",
        "/nope",
    ] {
        let r = server.get(path).await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"dane_exporter\", charset=\"UTF-8\"")
        );
        assert_eq!(
            r.header("x-frame-options"),
            Some("deny"),
            "custom headers on errors too"
        );
    }
    let reload = server
        .send("POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n")
        .await;
    assert_eq!(reload.status, 401);
    assert_eq!(server.exporter.reload_calls.load(Ordering::SeqCst), 0);
    assert_eq!(server.exporter.metrics_calls.load(Ordering::SeqCst), 0);

    let refused = [
        basic("alice", "wrong"),
        basic("mallory", PASSWORD),
        basic("alice", ""),
        "Authorization: Basic !!!notbase64\r\n".to_string(),
        "Authorization: Bearer abc\r\n".to_string(),
        "Authorization: Basic YWxpY2U=\r\n".to_string(), // "alice", no colon
    ];
    for header in refused {
        let r = server
            .send(&format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{header}"))
            .await;
        assert_eq!(r.status, 401, "{header}");
    }
    for _ in 0..2 {
        // The second time comes from the cache; same answer.
        let r = server
            .send(&format!(
                "GET /metrics HTTP/1.1\r\nHost: x\r\n{}",
                basic("alice", PASSWORD)
            ))
            .await;
        assert_eq!((r.status, r.body.as_str()), (200, METRICS));
        assert_eq!(r.header("x-frame-options"), Some("deny"));
    }
    let r = server
        .send(&format!(
            "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n{}",
            basic("alice", PASSWORD)
        ))
        .await;
    assert_eq!(r.status, 200);
    server.shutdown().await;
}

// ---- TLS ----

/// A CA, a server certificate for "localhost" and a client certificate, all from rcgen (ECDSA
/// P-256), written as PEM files next to a web config.
struct Pki {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
    client_chain: Vec<CertificateDer<'static>>,
    client_key: PrivateKeyDer<'static>,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let server_key = KeyPair::generate().unwrap();
        let server_cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        std::fs::write(dir.path().join("server.crt"), server_cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca_cert.pem()).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(vec!["prometheus".to_string()]).unwrap();
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();
        Pki {
            dir,
            ca: ca_cert.der().clone(),
            client_chain: vec![client_cert.der().clone()],
            client_key: PrivateKeyDer::from_pem_slice(client_key.serialize_pem().as_bytes())
                .unwrap(),
        }
    }

    /// A web config with TLS (cert_file and key_file relative to it) plus `extra` TLS keys.
    fn config(&self, extra: &str) -> WebConfig {
        let path = self.dir.path().join("web.yml");
        std::fs::write(
            &path,
            format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}"),
        )
        .unwrap();
        WebConfig::load(&path).unwrap()
    }
}

fn client_config(
    root: &CertificateDer<'static>,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    alpn: &[&[u8]],
) -> tokio_rustls::TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    store.add(root.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store);
    let mut config = match client {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// GET over TLS; `None` when the handshake or the exchange failed.
async fn tls_get(
    addr: std::net::SocketAddr,
    connector: &tokio_rustls::TlsConnector,
    path: &str,
) -> Option<Response> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.ok()?;
    exchange(tls, &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n")).await
}

#[tokio::test]
async fn tls_serves_https_and_refuses_plain_http() {
    let pki = Pki::new();
    let server = Server::start(Some(pki.config("")), ServeOptions::default()).await;
    let connector = client_config(&pki.ca, None, &[b"http/1.1"]);
    let r = tls_get(server.addr, &connector, "/metrics").await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, METRICS));

    // Plain HTTP to the TLS port gets no HTTP response.
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let plain = exchange(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\n").await;
    assert!(plain.is_none(), "{plain:?}");

    // A client that does not trust the server's CA fails the handshake.
    let other = Pki::new();
    let stranger = client_config(&other.ca, None, &[]);
    assert!(tls_get(server.addr, &stranger, "/metrics").await.is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn tls_offers_http2_through_alpn_unless_disabled() {
    let pki = Pki::new();
    let server = Server::start(Some(pki.config("")), ServeOptions::default()).await;
    let connector = client_config(&pki.ca, None, &[b"h2", b"http/1.1"]);
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // The HTTP/2 connection preface and an empty SETTINGS frame; the server answers with its
    // own SETTINGS frame (type 4), which shows it speaks HTTP/2 here.
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut frame_head = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut frame_head))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame_head[3], 4, "first frame is SETTINGS");
    // Closed by the client: a graceful HTTP/2 shutdown would wait (up to the grace period) for
    // this silent client to acknowledge the server's GOAWAY ping.
    drop(tls);

    // A real HTTP/2 client gets `/metrics`, sent as it is written (DATA frames, no length), whole.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get("https://localhost/metrics")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, METRICS);
    drop(sender);
    driver.abort();
    server.shutdown().await;

    let pki_config = {
        let path = pki.dir.path().join("web-h1.yml");
        std::fs::write(
            &path,
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nhttp_server_config:\n  http2: false\n",
        )
        .unwrap();
        WebConfig::load(&path).unwrap()
    };
    let server = Server::start(Some(pki_config), ServeOptions::default()).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let r = exchange(tls, "GET /-/healthy HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn client_certificates_when_required() {
    let pki = Pki::new();
    let config =
        pki.config("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n");
    let server = Server::start(Some(config), ServeOptions::default()).await;
    let without = client_config(&pki.ca, None, &[]);
    assert!(
        tls_get(server.addr, &without, "/metrics").await.is_none(),
        "no client certificate: refused"
    );
    let other = Pki::new();
    let foreign = client_config(
        &pki.ca,
        Some((other.client_chain.clone(), other.client_key.clone_key())),
        &[],
    );
    assert!(
        tls_get(server.addr, &foreign, "/metrics").await.is_none(),
        "client certificate from another CA: refused"
    );
    let with = client_config(
        &pki.ca,
        Some((pki.client_chain.clone(), pki.client_key.clone_key())),
        &[],
    );
    let r = tls_get(server.addr, &with, "/metrics").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(server.exporter.metrics_calls.load(Ordering::SeqCst), 1);
    server.shutdown().await;

    // VerifyClientCertIfGiven: no certificate is fine, a foreign one is not.
    let config =
        pki.config("  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n");
    let server = Server::start(Some(config), ServeOptions::default()).await;
    assert_eq!(
        tls_get(server.addr, &without, "/metrics")
            .await
            .unwrap()
            .status,
        200
    );
    assert!(tls_get(server.addr, &foreign, "/metrics").await.is_none());
    assert_eq!(
        tls_get(server.addr, &with, "/metrics")
            .await
            .unwrap()
            .status,
        200
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tls_handshake_is_bounded_in_time() {
    let pki = Pki::new();
    let options = ServeOptions {
        tls_handshake_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let server = Server::start(Some(pki.config("")), options).await;
    // Connect and say nothing: the server gives up on the handshake and closes.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("closed well before 5 s");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    server.shutdown().await;
}

// ---- Web config fixtures ----

/// Each fixture key type and format serves a TLS request (client trusting that certificate).
#[tokio::test]
async fn fixture_keys_of_every_kind_serve_tls() {
    for (config, cert) in [
        ("valid-tls-rsa-pkcs1.yml", "rsa.crt"),
        ("valid-tls-rsa-pkcs8.yml", "rsa.crt"),
        ("valid-tls-ec-sec1.yml", "ec.crt"),
        ("valid-tls-ed25519-pkcs8.yml", "ed25519.crt"),
    ] {
        let web_config =
            WebConfig::load(&fixtures().join(config)).unwrap_or_else(|e| panic!("{config}: {e}"));
        assert!(web_config.tls_enabled());
        let root = CertificateDer::from_pem_file(fixtures().join(cert)).unwrap();
        let server = Server::start(Some(web_config), ServeOptions::default()).await;
        let connector = client_config(&root, None, &[]);
        let r = tls_get(server.addr, &connector, "/-/healthy")
            .await
            .unwrap_or_else(|| panic!("{config}: no response"));
        assert_eq!(r.status, 200, "{config}");
        server.shutdown().await;
    }
}

#[test]
fn full_fixture_loads_with_every_key() {
    let config = WebConfig::load(&fixtures().join("valid-full.yml")).unwrap();
    assert!(config.tls_enabled());
    assert!(config.basic_auth_enabled());
    let rendered = format!("{config:?}");
    assert!(
        rendered.contains("strict-transport-security") && rendered.contains("\"bob\""),
        "{rendered}"
    );
    assert!(
        !rendered.contains("$2b$"),
        "hashes stay out of Debug: {rendered}"
    );
}

/// Every `invalid-*.yml` fails with the message in its `.err` file (fixture directory removed
/// from the path).
#[test]
fn invalid_fixtures_fail_with_their_exact_message() {
    let dir = fixtures();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("invalid-") && name.ends_with(".yml")
        })
        .collect();
    names.sort();
    assert!(names.len() >= 20, "fixtures went missing: {names:?}");
    let prefix = format!("{}/", dir.display());
    let mut failures = Vec::new();
    for path in &names {
        let expected = std::fs::read_to_string(path.with_extension("err"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let expected = expected.trim_end_matches('\n');
        match WebConfig::load(path) {
            Ok(_) => failures.push(format!("{}: loaded", path.display())),
            Err(e) => {
                let actual = e.to_string().replace(&prefix, "");
                if actual != expected {
                    failures.push(format!("{actual}\n  expected: {expected}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn missing_web_config_file_is_a_read_error() {
    let err = WebConfig::load(Path::new("/nonexistent/web.yml")).unwrap_err();
    assert!(matches!(err, WebConfigError::Read { .. }));
    assert_eq!(err.problem(), None);
    assert_eq!(
        err.to_string(),
        "/nonexistent/web.yml: cannot read web config file: No such file or directory (os error 2)"
    );
}

// ---- Shutdown and slow clients ----

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_then_refuses_connections() {
    let server = Server::plain().await;
    let addr = server.addr;
    // A probe that takes 500 ms is in flight when shutdown starts.
    let in_flight = tokio::spawn(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        exchange(
            stream,
            "GET /probe?target=slow.example&module=inbound HTTP/1.1\r\nHost: x\r\n",
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = std::time::Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "waited for the probe"
    );
    let r = in_flight
        .await
        .unwrap()
        .expect("in-flight request answered");
    assert_eq!(r.status, 200);
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

/// An idle keep-alive connection (Prometheus keeps one per target) does not hold up shutdown.
#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections_at_once() {
    let server = Server::plain().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = std::time::Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}; the default grace is 10 s",
        started.elapsed()
    );
    assert_eq!(
        stream.read(&mut buf).await.unwrap_or(0),
        0,
        "closed by the server"
    );
}

#[tokio::test]
async fn shutdown_grace_is_bounded() {
    let options = ServeOptions {
        shutdown_grace: Duration::from_millis(100),
        ..ServeOptions::default()
    };
    let server = Server::start(None, options).await;
    let addr = server.addr;
    let in_flight = tokio::spawn(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        exchange(
            stream,
            "GET /probe?target=slow.example&module=inbound HTTP/1.1\r\nHost: x\r\n",
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(in_flight.await.unwrap().is_none(), "cut before its answer");
}

const SLOW_HEAD: &[u8] =
    b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

/// Sends `SLOW_HEAD` a byte every 50 ms (about 4.5 s in all) until the server closes; returns what the
/// server sent back and how long it took to be cut off.
async fn trickle(stream: &mut TcpStream) -> (String, Duration) {
    let started = std::time::Instant::now();
    for byte in SLOW_HEAD {
        if stream.write_all(&[*byte]).await.is_err() {
            break; // the server closed: what these tests expect
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut rest = Vec::new();
    // A reset instead of a clean close is as good; only the time matters.
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("server closed the connection");
    (
        String::from_utf8_lossy(&rest).into_owned(),
        started.elapsed(),
    )
}

fn slowloris_options() -> ServeOptions {
    ServeOptions {
        header_read_timeout: Duration::from_millis(500),
        ..ServeOptions::default()
    }
}

/// A slowloris client sends its request head one byte at a time; the header read timeout
/// closes the connection although bytes keep coming.
#[tokio::test]
async fn slow_request_heads_are_cut_off() {
    let server = Server::start(None, slowloris_options()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let (answer, took) = trickle(&mut stream).await;
    // Either the server answered 408 and closed, or just closed; it never served the request.
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "slow client got served: {answer}"
    );
    assert!(took < Duration::from_secs(3), "cut after {took:?}");
    assert_eq!(server.exporter.metrics_calls.load(Ordering::SeqCst), 0);
    server.shutdown().await;
}

/// The same on a kept-alive connection, after a first request that went through.
#[tokio::test]
async fn slow_second_request_heads_are_cut_off() {
    let server = Server::start(None, slowloris_options()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let (answer, took) = trickle(&mut stream).await;
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "slow client got served: {answer}"
    );
    assert!(took < Duration::from_secs(3), "cut after {took:?}");
    assert_eq!(server.exporter.metrics_calls.load(Ordering::SeqCst), 0);
    server.shutdown().await;
}

/// A connection that never sends a request is closed after the idle timeout.
#[tokio::test]
async fn idle_connections_are_closed() {
    let options = ServeOptions {
        idle_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let server = Server::start(None, options).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("closed well before 5 s");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    server.shutdown().await;
}

/// With one connection allowed, a second client is served only after the first one leaves.
#[tokio::test]
async fn connections_are_capped() {
    let options = ServeOptions {
        max_connections: 1,
        ..ServeOptions::default()
    };
    let server = Server::start(None, options).await;
    let first = TcpStream::connect(server.addr).await.unwrap();
    // Let the server accept the first connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let addr = server.addr;
    let second = tokio::spawn(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        exchange(stream, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n").await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "second client waits while the first is open"
    );
    drop(first);
    let r = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 200);
    server.shutdown().await;
}
