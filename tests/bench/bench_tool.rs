//! Helper programs of the performance benchmark (`tests/bench/run.sh`); not part of the exporter.
//!
//! One binary (`cargo build --release --example bench_tool`) with four jobs:
//!
//! - `listen`: a light tokio STARTTLS server on many addresses (banner, EHLO advertising STARTTLS,
//!   220, TLS 1.3 with the certificate the benchmark zone's TLSA records pin, EHLO, QUIT). Every
//!   client (exporter, bare loop, blackbox_exporter, posttls-finger) talks to the same listeners.
//! - `handshake`: the ceiling. A bare rustls client doing, per check, what a DANE check cannot
//!   avoid: connect, banner, EHLO, STARTTLS, TLS 1.3 handshake (signature checked), SHA-256 of the
//!   leaf's SubjectPublicKeyInfo compared with the expected `3 1 1` data, QUIT. No DNS, no report.
//! - `drive`: an HTTP load driver for `/probe` endpoints (ours and blackbox_exporter's): each URL
//!   of a list once, N in flight, counting statuses and probe successes in the bodies.
//! - `scrape`: fetches one URL repeatedly for a while, with a pause in between, every other time
//!   asking for gzip as Prometheus does, and reports latency percentiles and body sizes of each
//!   kind (the `/metrics` figures).
//! - `lateness`: how late the exporter started each probe of its first round: every target of a
//!   configuration is due at its warm-up offset (`scheduler::warm_up_offset`, within 30 s of the
//!   start), and `dane_probe_timestamp_seconds` says when it started; the earliest start less its
//!   offset is taken as the round's origin. Percentiles of the delay show how far behind its
//!   schedule the exporter fell (the probes queue on `concurrency`).
//!
//! Figures go to stdout as one `key=value ...` line that `run.sh` parses; CPU time is the process's
//! own `utime + stime` from `/proc/self/stat`, so the load driver's own CPU never counts against the
//! program it drives.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bound of every network step of the helpers: nothing here waits forever.
const STEP: Duration = Duration::from_secs(10);
/// Longest SMTP line or reply accepted.
const MAX_LINE: usize = 4096;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, BoxError>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => fail(&format!("tokio runtime: {e}")),
    };
    let outcome = runtime.block_on(async {
        match args.first().map(String::as_str) {
            Some("listen") => listen(&args[1..]).await,
            Some("handshake") => handshake(&args[1..]).await,
            Some("drive") => drive(&args[1..]).await,
            Some("scrape") => scrape(&args[1..]).await,
            Some("lateness") => lateness(&args[1..]),
            _ => Err(
                "usage: bench_tool listen|handshake|drive|scrape|lateness OPTIONS (see run.sh)"
                    .into(),
            ),
        }
    });
    if let Err(e) = outcome {
        fail(&e.to_string());
    }
}

fn fail(message: &str) -> ! {
    eprintln!("bench_tool: {message}");
    std::process::exit(1);
}

/// `--key value` options followed by free arguments.
struct Options {
    pairs: Vec<(String, String)>,
    rest: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let mut pairs = Vec::new();
        let mut rest = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.strip_prefix("--") {
                Some(key) => {
                    let value = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
                    pairs.push((key.to_string(), value.clone()));
                }
                None => rest.push(arg.clone()),
            }
        }
        Ok(Self { pairs, rest })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| format!("--{key} is required").into())
    }

    fn number(&self, key: &str, default: u64) -> Result<u64> {
        match self.get(key) {
            Some(v) => Ok(v.parse().map_err(|e| format!("--{key} {v}: {e}"))?),
            None => Ok(default),
        }
    }
}

/// CPU seconds (user + system) this process has used so far, all threads.
fn cpu_seconds() -> f64 {
    // Fields 14 and 15 of /proc/self/stat, counted after the parenthesised command name (which may
    // hold spaces). USER_HZ is 100 on every Linux build that matters here.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(STEP, f).await {
        Ok(r) => r,
        Err(_) => Err(format!("{what}: timed out").into()),
    }
}

/// Reads one line (up to LF) into `line`, through the carry-over buffer `buf`.
async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    line: &mut String,
) -> Result<()> {
    loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let rest = buf.split_off(end + 1);
            *line = String::from_utf8_lossy(buf).trim_end().to_string();
            *buf = rest;
            return Ok(());
        }
        if buf.len() > MAX_LINE {
            return Err("line too long".into());
        }
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads a whole (multi-line) SMTP reply; returns its lines.
async fn read_reply<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        read_line(stream, buf, &mut line).await?;
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return Ok(lines);
        }
        if lines.len() > 100 {
            return Err("reply too long".into());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// listen

async fn listen(args: &[String]) -> Result<()> {
    let o = Options::parse(args)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(o.required("cert")?)?
        .collect::<std::result::Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(o.required("key")?)?;
    let port = o.number("port", 25)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    // No session tickets: no client here resumes, and minting them is pure server cost.
    config.send_tls13_tickets = 0;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut tasks = tokio::task::JoinSet::new();
    for address in &o.rest {
        let socket: SocketAddr = format!("{address}:{port}").parse()?;
        let listener = TcpListener::bind(socket).await?;
        let acceptor = acceptor.clone();
        tasks.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A broken client is not the listener's problem: drop the connection quietly.
                    let _ = serve(stream, acceptor).await;
                });
            }
        });
    }
    eprintln!("bench_tool listen: {} addresses, port {port}", o.rest.len());
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn serve(mut tcp: TcpStream, acceptor: tokio_rustls::TlsAcceptor) -> Result<()> {
    tcp.set_nodelay(true)?;
    let mut buf = Vec::new();
    let mut line = String::new();
    tcp.write_all(b"220 mx.bench.test ESMTP bench\r\n").await?;
    loop {
        within("command", read_line(&mut tcp, &mut buf, &mut line)).await?;
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => {
                tcp.write_all(
                    b"250-mx.bench.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
                )
                .await?
            }
            "STAR" => {
                tcp.write_all(b"220 2.0.0 Ready to start TLS\r\n").await?;
                break;
            }
            "QUIT" => {
                tcp.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => tcp.write_all(b"250 2.0.0 OK\r\n").await?,
        }
    }
    let mut tls = within("handshake", async { Ok(acceptor.accept(tcp).await?) }).await?;
    let mut buf = Vec::new();
    loop {
        within("command", read_line(&mut tls, &mut buf, &mut line)).await?;
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => {
                tls.write_all(b"250-mx.bench.test\r\n250 8BITMIME\r\n")
                    .await?
            }
            "QUIT" => {
                tls.write_all(b"221 2.0.0 Bye\r\n").await?;
                let _ = within("close", async { Ok(tls.shutdown().await?) }).await;
                return Ok(());
            }
            _ => tls.write_all(b"250 2.0.0 OK\r\n").await?,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// handshake

/// Accepts any chain (the check is the `3 1 1` match afterwards) but verifies the handshake
/// signature, as the exporter's verifier does.
#[derive(Debug)]
struct AnyChain(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyChain {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

async fn handshake(args: &[String]) -> Result<()> {
    let o = Options::parse(args)?;
    let expected = hex::decode(o.required("spki-sha256")?)?;
    let concurrency = o.number("concurrency", 64)? as usize;
    let count = o.number("count", 20_000)? as usize;
    let port = o.number("port", 25)? as u16;
    let addresses: Vec<SocketAddr> = o
        .rest
        .iter()
        .map(|a| Ok(SocketAddr::new(a.parse()?, port)))
        .collect::<Result<_>>()?;
    if addresses.is_empty() {
        return Err("no listener addresses".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyChain(algorithms)))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let work = Arc::new(Work {
        next: AtomicUsize::new(0),
        count,
        ok: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
    });
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (work, connector, addresses, expected) = (
            Arc::clone(&work),
            connector.clone(),
            addresses.clone(),
            expected.clone(),
        );
        tasks.spawn(async move {
            while let Some(i) = work.take() {
                let address = addresses[i % addresses.len()];
                match check_once(address, &connector, &expected).await {
                    Ok(()) => work.ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        if work.errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("bench_tool handshake: {address}: {e}");
                        }
                        0
                    }
                };
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let ok = work.ok.load(Ordering::Relaxed);
    println!(
        "checks={count} ok={ok} errors={} wall_s={wall:.3} rate={:.1} cpu_s={cpu:.2} cpu_ms_per_check={:.3}",
        work.errors.load(Ordering::Relaxed),
        count as f64 / wall,
        cpu * 1000.0 / count as f64
    );
    Ok(())
}

/// A shared counter handing out work items `0..count`.
struct Work {
    next: AtomicUsize,
    count: usize,
    ok: AtomicUsize,
    errors: AtomicUsize,
}

impl Work {
    fn take(&self) -> Option<usize> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.count).then_some(i)
    }
}

async fn check_once(
    address: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
    expected: &[u8],
) -> Result<()> {
    let mut buf = Vec::new();
    let mut tcp = within("connect", async { Ok(TcpStream::connect(address).await?) }).await?;
    tcp.set_nodelay(true)?;
    expect(&mut tcp, &mut buf, "220").await?;
    tcp.write_all(b"EHLO bench.invalid\r\n").await?;
    let ehlo = within("EHLO", read_reply(&mut tcp, &mut buf)).await?;
    if !ehlo.iter().any(|l| {
        l.get(4..)
            .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
    }) {
        return Err("STARTTLS not offered".into());
    }
    tcp.write_all(b"STARTTLS\r\n").await?;
    expect(&mut tcp, &mut buf, "220").await?;
    let name = ServerName::try_from("mx.bench.test")?;
    let mut tls = within("TLS", async { Ok(connector.connect(name, tcp).await?) }).await?;
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("no certificate")?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())?;
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.tbs_certificate.subject_pki.raw);
    if digest.as_ref() != expected {
        return Err("3 1 1 does not match".into());
    }
    let mut buf = Vec::new();
    tls.write_all(b"QUIT\r\n").await?;
    expect(&mut tls, &mut buf, "221").await?;
    let _ = within("close", async { Ok(tls.shutdown().await?) }).await;
    Ok(())
}

async fn expect<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>, code: &str) -> Result<()> {
    let reply = within(code, read_reply(stream, buf)).await?;
    match reply.last() {
        Some(line) if line.starts_with(code) => Ok(()),
        other => Err(format!("expected {code}, got {other:?}").into()),
    }
}

// ---------------------------------------------------------------------------------------------
// drive and scrape

/// One HTTP/1.1 GET with `Connection: close` (with `gzip`, accepting gzip): status, body as sent
/// (dechunked, not decompressed), time to the last byte and time to the first byte.
async fn get(url: &str, gzip: bool) -> Result<(u16, Vec<u8>, Duration, Duration)> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let started = Instant::now();
    let mut tcp = within("connect", async { Ok(TcpStream::connect(host).await?) }).await?;
    let accept = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{accept}Connection: close\r\n\r\n");
    let mut response = Vec::with_capacity(64 * 1024);
    let mut first_byte = Duration::ZERO;
    // Probes may take a while; the whole exchange is still bounded.
    tokio::time::timeout(Duration::from_secs(60), async {
        tcp.write_all(request.as_bytes()).await?;
        // The exporter writes `/metrics` while it sends it: the first byte times the request
        // and the first chunk, the last byte the whole render and transfer.
        tcp.read_buf(&mut response).await?;
        first_byte = started.elapsed();
        (&mut tcp)
            .take(512 * 1024 * 1024)
            .read_to_end(&mut response)
            .await
    })
    .await
    .map_err(|_| "HTTP request timed out")??;
    let elapsed = started.elapsed();
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP head")?;
    let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status")?;
    let mut body = response.split_off(head_end + 4);
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body)?;
    }
    Ok((status, body, elapsed, first_byte))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("short chunk")?);
        data = data.get(size + 2..).ok_or("short chunk")?;
    }
}

/// True when the body holds `metric` (with or without labels) with value 1.
fn metric_is_one(body: &[u8], metric: &str) -> bool {
    String::from_utf8_lossy(body).lines().any(|line| {
        line.strip_prefix(metric)
            .is_some_and(|rest| rest.starts_with([' ', '{']) && rest.ends_with(" 1"))
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn drive(args: &[String]) -> Result<()> {
    let o = Options::parse(args)?;
    let concurrency = o.number("concurrency", 64)? as usize;
    let success = o.required("success-metric")?.to_string();
    let urls: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(o.required("urls")?)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    );
    let work = Arc::new(Work {
        next: AtomicUsize::new(0),
        count: urls.len(),
        ok: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
    });
    let successes = Arc::new(AtomicUsize::new(0));
    let latency_us = Arc::new(std::sync::Mutex::new(Vec::with_capacity(urls.len())));
    let other = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (work, urls, successes, latency_us, other, success) = (
            Arc::clone(&work),
            Arc::clone(&urls),
            Arc::clone(&successes),
            Arc::clone(&latency_us),
            Arc::clone(&other),
            success.clone(),
        );
        tasks.spawn(async move {
            while let Some(i) = work.take() {
                match get(&urls[i], false).await {
                    Ok((200, body, elapsed, _)) => {
                        work.ok.fetch_add(1, Ordering::Relaxed);
                        if metric_is_one(&body, &success) {
                            successes.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Ok(mut l) = latency_us.lock() {
                            l.push(elapsed.as_secs_f64() * 1000.0);
                        }
                    }
                    Ok((status, _, _, _)) => {
                        other.fetch_add(1, Ordering::Relaxed);
                        if other.load(Ordering::Relaxed) <= 3 {
                            eprintln!("bench_tool drive: {}: HTTP {status}", urls[i]);
                        }
                    }
                    Err(e) => {
                        if work.errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("bench_tool drive: {}: {e}", urls[i]);
                        }
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let wall = started.elapsed().as_secs_f64();
    let mut lat = latency_us.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort_by(f64::total_cmp);
    println!(
        "requests={} http200={} other_status={} errors={} success={} wall_s={wall:.3} rate={:.1} p50_ms={:.1} p99_ms={:.1}",
        urls.len(),
        work.ok.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
        work.errors.load(Ordering::Relaxed),
        successes.load(Ordering::Relaxed),
        urls.len() as f64 / wall,
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
    );
    Ok(())
}

async fn scrape(args: &[String]) -> Result<()> {
    let o = Options::parse(args)?;
    let url = o.required("url")?;
    let seconds = Duration::from_secs(o.number("seconds", 30)?);
    let gap = Duration::from_millis(o.number("gap-ms", 1100)?);
    // Per kind, plain then gzip: last-byte times, first-byte times, body size as sent.
    let mut kinds = [(Vec::new(), Vec::new(), 0), (Vec::new(), Vec::new(), 0)];
    let mut plain_size = 0;
    let started = Instant::now();
    for turn in 0usize.. {
        if started.elapsed() >= seconds {
            break;
        }
        let gzip = turn % 2 == 1;
        let (status, body, elapsed, first_byte) = get(url, gzip).await?;
        if status != 200 {
            return Err(format!("{url}: HTTP {status}").into());
        }
        let (times, first_bytes, size) = &mut kinds[usize::from(gzip)];
        *size = body.len();
        times.push(elapsed.as_secs_f64() * 1000.0);
        first_bytes.push(first_byte.as_secs_f64() * 1000.0);
        if gzip {
            // Whole and valid: the compressed body decompresses to about the plain size.
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut text)?;
            if !text.ends_with(b"\n") || text.len() < plain_size / 2 {
                return Err(format!("gzip body of {} bytes is cut short", text.len()).into());
            }
        } else {
            plain_size = body.len();
        }
        tokio::time::sleep(gap).await;
    }
    let mut line = String::new();
    for ((times, first_bytes, size), prefix) in kinds.iter_mut().zip(["", "gzip_"]) {
        times.sort_by(f64::total_cmp);
        first_bytes.sort_by(f64::total_cmp);
        line.push_str(&format!(
            "{prefix}scrapes={} {prefix}p50_ms={:.1} {prefix}p99_ms={:.1} {prefix}max_ms={:.1} \
             {prefix}first_byte_p50_ms={:.1} {prefix}first_byte_p99_ms={:.1} {prefix}bytes={size} ",
            times.len(),
            percentile(times, 50.0),
            percentile(times, 99.0),
            times.last().copied().unwrap_or(0.0),
            percentile(first_bytes, 50.0),
            percentile(first_bytes, 99.0),
        ));
    }
    println!("{}", line.trim_end());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// lateness

fn lateness(args: &[String]) -> Result<()> {
    let o = Options::parse(args)?;
    let config = dane_exporter::config::load(std::path::Path::new(o.required("config")?))?;
    let offsets: std::collections::HashMap<String, f64> = config
        .targets()
        .iter()
        .map(|t| {
            let offset = dane_exporter::scheduler::warm_up_offset(t).as_secs_f64();
            (t.domain.clone(), offset)
        })
        .collect();
    let metrics = std::fs::read_to_string(o.required("metrics")?)?;
    // Each probe's start less its offset: the round's origin plus how late it started.
    let mut shifted = Vec::with_capacity(offsets.len());
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("dane_probe_timestamp_seconds{") else {
            continue;
        };
        let domain = rest
            .split("domain=\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        let value = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
        if let (Some(offset), Some(started)) = (domain.and_then(|d| offsets.get(d)), value) {
            shifted.push(started - offset);
        }
    }
    if shifted.is_empty() {
        return Err("no dane_probe_timestamp_seconds of a configured target".into());
    }
    shifted.sort_by(f64::total_cmp);
    let origin = shifted[0];
    let late: Vec<f64> = shifted.iter().map(|s| s - origin).collect();
    println!(
        "probes={} late_p50_s={:.1} late_p99_s={:.1} late_max_s={:.1}",
        late.len(),
        percentile(&late, 50.0),
        percentile(&late, 99.0),
        late.last().copied().unwrap_or(0.0)
    );
    Ok(())
}
