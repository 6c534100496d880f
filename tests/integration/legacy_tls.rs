//! `dane_exporter::tls::legacy` against real servers: `openssl s_server` (Debian's OpenSSL 3.0) in
//! every legacy shape, each handshake cross-checked with Postfix's own client (`posttls-finger`,
//! Postfix 3.7, in wrapper mode against the same server) and with the rustls path
//! (`dane_exporter::smtp::probe_starttls`, through a tiny SMTP front that hands STARTTLS over to
//! the s_server).
//!
//! The tools come from `tests/stack/install-deps.sh` (openssl, postfix). Every server listens on
//! 127.0.0.1 on a port of its own choice (`-accept 127.0.0.1:0`); it is ready when it prints its
//! `ACCEPT` line, which s_server does after listen(2). Certificates are made with openssl in a
//! temporary directory per test.
//!
//! Run with `--nocapture` to see each client's outcome per shape (the rustls errors are what a
//! caller sees before it falls back to the OpenSSL engine).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use dane_exporter::core::{SmtpError, TlsSession};
use dane_exporter::smtp::{probe_starttls, SmtpSettings};
use dane_exporter::tls::legacy::{
    self as legacy_tls, LegacyFacts, LegacyTlsError, MAX_CHAIN_CERTS,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SNI: &str = "mx.example.test";
const LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

/// A directory of test certificates made by openssl.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new() -> Certs {
        Certs {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn openssl(&self, args: &[&str]) {
        run_openssl(self.dir.path(), args);
    }

    /// A key: `rsa:BITS`, `ec:CURVE` or `rsa-pss:BITS`; returns its file name.
    fn key(&self, name: &str, kind: &str) -> String {
        let file = format!("{name}.key");
        let (algorithm, option) = match kind.split_once(':') {
            Some(("rsa", bits)) => ("RSA", format!("rsa_keygen_bits:{bits}")),
            Some(("rsa-pss", bits)) => ("RSA-PSS", format!("rsa_keygen_bits:{bits}")),
            Some(("ec", curve)) => ("EC", format!("ec_paramgen_curve:{curve}")),
            _ => panic!("key kind {kind}"),
        };
        self.openssl(&[
            "genpkey",
            "-algorithm",
            algorithm,
            "-pkeyopt",
            &option,
            "-out",
            &file,
        ]);
        file
    }

    /// A self-signed v3 certificate (`req -x509`: basic constraints, key identifiers).
    fn self_signed(&self, name: &str, key: &str) -> String {
        let file = format!("{name}.pem");
        self.openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            key,
            "-subj",
            "/CN=mx.example.test",
            "-days",
            "30",
            "-out",
            &file,
        ]);
        file
    }

    /// A certificate for `key` signed by `issuer_key`/`issuer_cert` (self-signed when both are
    /// `None`), with the extensions of section `ext` in `extfile`, or none at all: then
    /// `x509 -req` makes a version-1 certificate.
    fn signed(
        &self,
        name: &str,
        key: &str,
        subject: &str,
        issuer: Option<(&str, &str)>,
        extensions: Option<&str>,
    ) -> String {
        let csr = format!("{name}.csr");
        let file = format!("{name}.pem");
        self.openssl(&["req", "-new", "-key", key, "-subj", subject, "-out", &csr]);
        let mut args = vec!["x509", "-req", "-in", &csr, "-days", "30", "-out", &file];
        match issuer {
            Some((ca_cert, ca_key)) => {
                args.extend(["-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial"]);
            }
            None => args.extend(["-signkey", key]),
        }
        let extfile = format!("{name}.ext");
        if let Some(section) = extensions {
            std::fs::write(self.path(&extfile), format!("[ext]\n{section}\n")).expect("ext");
            args.extend(["-extfile", &extfile, "-extensions", "ext"]);
        }
        self.openssl(&args);
        file
    }

    /// DER of the certificates in a PEM file, in file order.
    fn der(&self, pem_file: &str) -> Vec<Vec<u8>> {
        let pem = std::fs::read_to_string(self.path(pem_file)).expect("read PEM");
        let mut out = Vec::new();
        for block in pem.split("-----BEGIN CERTIFICATE-----").skip(1) {
            let block = format!("-----BEGIN CERTIFICATE-----{block}");
            let output = Command::new("openssl")
                .args(["x509", "-outform", "DER"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write;
                    child
                        .stdin
                        .take()
                        .expect("stdin")
                        .write_all(block.as_bytes())?;
                    child.wait_with_output()
                })
                .expect("openssl x509 -outform DER");
            assert!(output.status.success());
            out.push(output.stdout);
        }
        out
    }

    /// The SHA-256 fingerprint of a certificate, as posttls-finger takes it.
    fn fingerprint(&self, pem_file: &str) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(self.path(pem_file))
            .output()
            .expect("openssl x509 -fingerprint");
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .split_once('=')
            .expect("fingerprint line")
            .1
            .to_string()
    }
}

fn run_openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl (tests/stack/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// openssl s_server
// ---------------------------------------------------------------------------------------------

/// A running `openssl s_server`; killed (by its PID, via the child handle) on drop.
struct SServer {
    child: Child,
    // Held open: s_server ends at EOF on standard input.
    _stdin: ChildStdin,
    addr: SocketAddr,
    output: Arc<Mutex<String>>,
}

impl SServer {
    /// Starts `openssl s_server -accept 127.0.0.1:0 ARGS` in `dir` and waits for its ACCEPT
    /// line.
    fn start(dir: &Path, args: &[&str]) -> SServer {
        let mut child = Command::new("openssl")
            .arg("s_server")
            .args(["-accept", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running openssl s_server (tests/stack/install-deps.sh installs it)");
        let stdin = child.stdin.take().expect("stdin");
        let output = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let output = Arc::clone(&output);
            let port_tx = port_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = line.strip_prefix("ACCEPT ") {
                        let _ = port_tx.send(addr.trim().to_string());
                    }
                    let mut all = output.lock().expect("output lock");
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        let started = Instant::now();
        let addr = loop {
            match port_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => break addr.parse().expect("ACCEPT address"),
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        std::thread::sleep(Duration::from_millis(50));
                        panic!(
                            "s_server {args:?} exited ({status}): {}",
                            output.lock().expect("output lock")
                        );
                    }
                    assert!(
                        started.elapsed() < Duration::from_secs(10),
                        "s_server {args:?} printed no ACCEPT line"
                    );
                }
            }
        };
        SServer {
            child,
            _stdin: stdin,
            addr,
            output,
        }
    }

    fn output(&self) -> String {
        self.output.lock().expect("output lock").clone()
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The three clients
// ---------------------------------------------------------------------------------------------

async fn openssl_engine(addr: SocketAddr) -> Result<LegacyFacts, LegacyTlsError> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut done = legacy_tls::handshake(tcp, SNI, LIMIT).await?;
    let _ = done.stream.shutdown().await;
    Ok(done.facts)
}

/// What posttls-finger said.
#[derive(Debug, PartialEq, Eq)]
enum Postfix {
    /// "Verified"/"Untrusted" TLS connection established, version (OpenSSL's name), cipher
    /// (OpenSSL's name).
    Established {
        trust: String,
        version: String,
        cipher: String,
    },
    /// The handshake failed; OpenSSL's reason as logged.
    Failed { reason: String },
}

/// posttls-finger in wrapper mode (`-w`, implicit TLS: no SMTP needed in front of s_server) at
/// the `fingerprint` level, which is, like `dane`, an authenticating level (`TLS_MUST_MATCH`:
/// security level 1, same protocols and ciphers) that matches through OpenSSL's DANE code with
/// DANE-EE records made from the fingerprint, and needs no DNS.
fn posttls_finger(certs: &Certs, addr: SocketAddr, leaf_pem: &str) -> Postfix {
    let config = certs.path("postfix");
    std::fs::create_dir_all(&config).expect("postfix config dir");
    let main_cf = config.join("main.cf");
    std::fs::write(&main_cf, "").expect("main.cf");
    // Postfix pauses up to five times 300 ms "to let main.cf cool down" when it was modified
    // within the last second (util/dict.c): an old one is read at once.
    std::fs::File::options()
        .write(true)
        .open(&main_cf)
        .and_then(|file| {
            file.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        })
        .expect("main.cf mtime");
    let mut child = Command::new("posttls-finger")
        .env("MAIL_CONFIG", &config)
        .args([
            "-w",
            "-c",
            "-t",
            "5",
            "-T",
            "5",
            "-l",
            "fingerprint",
            "-d",
            "sha256",
            "-s",
            SNI,
        ])
        .arg(format!("[{}]:{}", addr.ip(), addr.port()))
        .arg(certs.fingerprint(leaf_pem))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running posttls-finger (tests/stack/install-deps.sh installs postfix)");
    let (line_tx, lines) = mpsc::channel();
    for pipe in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let line_tx = line_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(line_tx);
    // After the handshake posttls-finger waits for an SMTP greeting s_server never sends: the
    // verdict is known by then, so it is stopped (by its PID, through the child handle).
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut text = String::new();
    let mut verdict = None;
    while verdict.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            break;
        };
        verdict = posttls_finger_verdict(&line);
        text.push_str(&line);
        text.push('\n');
    }
    let _ = child.kill();
    let _ = child.wait();
    verdict
        .unwrap_or_else(|| panic!("posttls-finger said neither success nor a TLS problem:\n{text}"))
}

/// One line of posttls-finger's log, if it says how the handshake ended.
fn posttls_finger_verdict(line: &str) -> Option<Postfix> {
    let line = line.split_once("posttls-finger: ").map_or(line, |(_, l)| l);
    if let Some((trust, rest)) = line.split_once(" TLS connection established to ") {
        // "...:PORT: TLSv1.2 with cipher ECDHE-RSA-AES128-SHA (128/128 bits)..."
        let after = rest.rsplit_once("]:")?.1;
        let after = after.split_once(": ")?.1;
        let (version, after) = after.split_once(" with cipher ")?;
        let cipher = after.split_whitespace().next()?;
        return Some(Postfix::Established {
            trust: trust.to_string(),
            version: version.to_string(),
            cipher: cipher.to_string(),
        });
    }
    // "...warning: TLS library problem: error:0A00014D:SSL routines::REASON:FILE:LINE:DATA"
    let (_, problem) = line.split_once("TLS library problem: ")?;
    let reason = problem.split(':').nth(4).unwrap_or(problem);
    Some(Postfix::Failed {
        reason: reason.to_string(),
    })
}

/// The rustls path: `probe_starttls` through an SMTP front that answers greeting, EHLO and
/// STARTTLS and then relays the bytes to `tls_server`.
async fn rustls_path(tls_server: SocketAddr) -> Result<TlsSession, SmtpError> {
    let front = TcpListener::bind("127.0.0.1:0").await.expect("bind front");
    let port = front.local_addr().expect("front addr").port();
    let relay = tokio::spawn(async move {
        let (client, _) = front.accept().await.expect("accept");
        let mut client = tokio::io::BufReader::new(client);
        client.write_all(b"220 front ESMTP\r\n").await?;
        let mut line = String::new();
        client.read_line(&mut line).await?; // EHLO
        client.write_all(b"250-front\r\n250 STARTTLS\r\n").await?;
        line.clear();
        client.read_line(&mut line).await?; // STARTTLS
        client.write_all(b"220 go ahead\r\n").await?;
        let mut client = client.into_inner();
        let mut server = TcpStream::connect(tls_server).await?;
        tokio::io::copy_bidirectional(&mut client, &mut server)
            .await
            .map(|_| ())
    });
    // rustls alone: what it makes of each shape, before the dialogue would fall back.
    let settings = SmtpSettings {
        port,
        step_timeout: LIMIT,
        reply_timeout: LIMIT,
        tls_fallback: false,
        ..SmtpSettings::default()
    };
    let result = probe_starttls(SocketAddr::from(([127, 0, 0, 1], port)), SNI, &settings).await;
    relay.abort();
    result
}

/// OpenSSL's cipher name for an IANA one, from `openssl ciphers -stdname` (the table of the
/// library posttls-finger uses, not ours).
fn openssl_cipher_name(iana: &str) -> String {
    let out = Command::new("openssl")
        .args(["ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"])
        .output()
        .expect("openssl ciphers");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            let standard = words.next()?;
            let _dash = words.next()?;
            let name = words.next()?;
            (standard == iana).then(|| name.to_string())
        })
        .unwrap_or_else(|| panic!("{iana} not in openssl ciphers -stdname"))
}

// ---------------------------------------------------------------------------------------------
// The shapes
// ---------------------------------------------------------------------------------------------

/// What the OpenSSL engine (and posttls-finger) must do with a shape.
#[derive(Debug)]
enum Expect {
    /// Handshake succeeds with this version, IANA suite and key exchange group.
    Ok {
        version: &'static str,
        suite: &'static str,
        group: Option<&'static str>,
    },
    /// Handshake fails with this OpenSSL reason.
    Fail { reason: &'static str },
}

/// Whether the rustls path must fail on the shape (every legacy shape) or succeed (modern ones).
#[derive(Debug, PartialEq)]
enum Rustls {
    Fails,
    Works,
}

/// The leaf of a shape: its certificate and key files in `certs`.
struct Leaf {
    cert: String,
    key: String,
}

fn rsa2048(certs: &Certs) -> Leaf {
    let key = certs.key("rsa2048", "rsa:2048");
    Leaf {
        cert: certs.self_signed("rsa2048", &key),
        key,
    }
}

fn p521(certs: &Certs) -> Leaf {
    let key = certs.key("p521", "ec:P-521");
    Leaf {
        cert: certs.self_signed("p521", &key),
        key,
    }
}

fn rsa_bits(certs: &Certs, bits: u32) -> Leaf {
    let name = format!("rsa{bits}");
    let key = certs.key(&name, &format!("rsa:{bits}"));
    Leaf {
        cert: certs.self_signed(&name, &key),
        key,
    }
}

fn rsa_pss(certs: &Certs) -> Leaf {
    let key = certs.key("pss", "rsa-pss:2048");
    Leaf {
        cert: certs.self_signed("pss", &key),
        key,
    }
}

fn version1(certs: &Certs) -> Leaf {
    let key = certs.key("v1", "rsa:2048");
    let cert = certs.signed("v1", &key, "/CN=mx.example.test", None, None);
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(certs.path(&cert))
        .output()
        .expect("openssl x509 -text");
    assert!(String::from_utf8_lossy(&text.stdout).contains("Version: 1 (0x0)"));
    Leaf { cert, key }
}

fn critical_extension(certs: &Certs) -> Leaf {
    let key = certs.key("crit", "rsa:2048");
    let cert = certs.signed(
        "crit",
        &key,
        "/CN=mx.example.test",
        None,
        Some("subjectAltName=DNS:mx.example.test\n1.3.6.1.4.1.99999.1=critical,ASN1:UTF8String:unknown"),
    );
    Leaf { cert, key }
}

/// Runs one shape: s_server with `leaf` and `server_args`; the OpenSSL engine must do what
/// `expect` says and what posttls-finger does against the same server; the rustls path must
/// fail or work as `rustls` says. Returns the engine's facts for further checks.
async fn shape(
    name: &str,
    make_leaf: fn(&Certs) -> Leaf,
    server_args: &[&str],
    expect: Expect,
    rustls: Rustls,
) -> (Certs, Option<LegacyFacts>) {
    let certs = Certs::new();
    let leaf = make_leaf(&certs);
    let mut args = vec!["-cert", leaf.cert.as_str(), "-key", leaf.key.as_str()];
    args.extend_from_slice(server_args);
    let server = SServer::start(certs.dir.path(), &args);
    let ours = openssl_engine(server.addr).await;
    let postfix = posttls_finger(&certs, server.addr, &leaf.cert);
    let theirs = rustls_path(server.addr).await;
    println!("{name}:");
    match &ours {
        Ok(facts) => println!(
            "  openssl engine: ok {} {} group {:?}, {} certificate(s), leaf key {:?} bits",
            facts.version,
            facts.cipher_suite,
            facts.key_exchange_group,
            facts.chain.len(),
            facts.leaf_key_security_bits
        ),
        Err(error) => println!("  openssl engine: {error:?}"),
    }
    println!("  posttls-finger: {postfix:?}");
    match &theirs {
        Ok(session) => println!(
            "  rustls path:    ok {} {}",
            session.version, session.cipher_suite
        ),
        Err(error) => println!("  rustls path:    {error}"),
    }

    match (&expect, &ours) {
        (
            Expect::Ok {
                version,
                suite,
                group,
            },
            Ok(facts),
        ) => {
            assert_eq!(facts.version, *version, "{name}: version");
            assert_eq!(facts.cipher_suite, *suite, "{name}: suite");
            assert_eq!(facts.key_exchange_group.as_deref(), *group, "{name}: group");
            assert_eq!(facts.chain, certs.der(&leaf.cert), "{name}: chain");
        }
        (Expect::Fail { reason }, Err(LegacyTlsError::Handshake { detail })) => {
            assert!(
                detail.contains(reason),
                "{name}: {detail:?} lacks {reason:?}"
            );
            assert!(
                !detail.contains(".c:") && !detail.contains("error:"),
                "{name}: unreadable {detail:?}"
            );
        }
        _ => panic!("{name}: expected {expect:?}, got {ours:?}"),
    }

    // Parity: what Postfix does with the same server.
    match (&ours, &postfix) {
        (
            Ok(facts),
            Postfix::Established {
                version, cipher, ..
            },
        ) => {
            let postfix_version = if version == "TLSv1" {
                "TLSv1.0"
            } else {
                version
            };
            assert_eq!(facts.version, postfix_version, "{name}: version vs Postfix");
            assert_eq!(
                openssl_cipher_name(&facts.cipher_suite),
                *cipher,
                "{name}: cipher vs Postfix"
            );
        }
        (Err(LegacyTlsError::Handshake { detail }), Postfix::Failed { reason }) => {
            assert!(
                detail.contains(reason.as_str()),
                "{name}: {detail:?} vs Postfix's {reason:?}"
            );
        }
        _ => panic!("{name}: engine {ours:?} but posttls-finger {postfix:?}"),
    }

    match rustls {
        Rustls::Fails => assert!(
            matches!(theirs, Err(SmtpError::Handshake { .. })),
            "{name}: rustls path was expected to fail the handshake: {theirs:?}"
        ),
        Rustls::Works => assert!(theirs.is_ok(), "{name}: rustls path failed: {theirs:?}"),
    }
    drop(server);
    let facts = ours.ok();
    (certs, facts)
}

fn ok(version: &'static str, suite: &'static str, group: Option<&'static str>) -> Expect {
    Expect::Ok {
        version,
        suite,
        group,
    }
}

const TLS13: &str = "TLSv1.3";
const TLS12: &str = "TLSv1.2";

#[tokio::test]
async fn tls12_cbc_only() {
    shape(
        "tls12_cbc_only",
        rsa2048,
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"],
        ok(TLS12, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Some("x25519")),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn rsa_key_exchange_only() {
    shape(
        "rsa_key_exchange_only",
        rsa2048,
        &["-tls1_2", "-cipher", "AES128-GCM-SHA256"],
        ok(TLS12, "TLS_RSA_WITH_AES_128_GCM_SHA256", None),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn rsa_key_exchange_cbc() {
    shape(
        "rsa_key_exchange_cbc",
        rsa2048,
        &["-tls1_2", "-cipher", "AES256-SHA"],
        ok(TLS12, "TLS_RSA_WITH_AES_256_CBC_SHA", None),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn dhe_only() {
    shape(
        "dhe_only",
        rsa2048,
        &["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"],
        ok(
            TLS12,
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
            Some("dh-2048"),
        ),
        Rustls::Fails,
    )
    .await;
}

/// A 1024-bit DH group passes at security level 1 (it would fail at Debian's default 2 with
/// "dh key too small"): Postfix's level, not the library default.
#[tokio::test]
async fn dhe_1024_bit_group() {
    fn leaf(certs: &Certs) -> Leaf {
        certs.openssl(&["dhparam", "-out", "dh1024.pem", "1024"]);
        rsa2048(certs)
    }
    shape(
        "dhe_1024_bit_group",
        leaf,
        &[
            "-tls1_2",
            "-cipher",
            "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0",
            "-dhparam",
            "dh1024.pem",
        ],
        ok(
            TLS12,
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
            Some("dh-1024"),
        ),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn p521_leaf_tls13() {
    shape(
        "p521_leaf_tls13",
        p521,
        &[],
        ok(TLS13, "TLS_AES_256_GCM_SHA384", Some("x25519")),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn p521_leaf_tls12() {
    shape(
        "p521_leaf_tls12",
        p521,
        &["-tls1_2"],
        ok(
            TLS12,
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            Some("x25519"),
        ),
        Rustls::Fails,
    )
    .await;
}

/// A server that only does P-521 key exchange: in Postfix's group list, not in rustls/ring's.
#[tokio::test]
async fn p521_key_exchange_only() {
    shape(
        "p521_key_exchange_only",
        rsa2048,
        &["-groups", "P-521"],
        ok(TLS13, "TLS_AES_256_GCM_SHA384", Some("secp521r1")),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn version1_leaf_tls13() {
    shape(
        "version1_leaf_tls13",
        version1,
        &[],
        ok(TLS13, "TLS_AES_256_GCM_SHA384", Some("x25519")),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn version1_leaf_tls12() {
    shape(
        "version1_leaf_tls12",
        version1,
        &["-tls1_2"],
        ok(
            TLS12,
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            Some("x25519"),
        ),
        Rustls::Fails,
    )
    .await;
}

/// The DANE outcome of `chain` against a `3 1 1` record of its own leaf key.
fn dane_ee_outcome(chain: &[Vec<u8>]) -> dane_exporter::core::EndpointOutcome {
    let leaf = dane_exporter::dane::describe_certificate(&chain[0]).expect("leaf parses");
    let tlsa: Vec<dane_exporter::core::TlsaRecord> = vec![format!("3 1 1 {}", leaf.spki_sha256)
        .parse()
        .expect("record")];
    let input = dane_exporter::dane::EndpointInput {
        tlsa: &tlsa,
        chain,
        reference_names: &[],
        tlsa_signature_expiration: None,
        now: 1_800_000_000,
    };
    dane_exporter::dane::evaluate_endpoint(&input).outcome
}

#[tokio::test]
async fn rsa1024_leaf_tls13() {
    let (_, facts) = shape(
        "rsa1024_leaf_tls13",
        |c| rsa_bits(c, 1024),
        &["-cipher", "DEFAULT:@SECLEVEL=0"],
        ok(TLS13, "TLS_AES_256_GCM_SHA384", Some("x25519")),
        Rustls::Fails,
    )
    .await;
    let facts = facts.expect("facts");
    assert_eq!(facts.leaf_key_security_bits, Some(80));
    // Postfix says "Verified": so does the DANE-EE match.
    assert!(
        matches!(
            dane_ee_outcome(&facts.chain),
            dane_exporter::core::EndpointOutcome::Authenticated { .. }
        ),
        "{:?}",
        dane_ee_outcome(&facts.chain)
    );
}

#[tokio::test]
async fn rsa1024_leaf_tls12() {
    shape(
        "rsa1024_leaf_tls12",
        |c| rsa_bits(c, 1024),
        &["-tls1_2", "-cipher", "DEFAULT:@SECLEVEL=0"],
        ok(
            TLS12,
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            Some("x25519"),
        ),
        Rustls::Fails,
    )
    .await;
}

/// RSA-768: the handshake works for both (level 1 judges no peer key size in the handshake), but
/// OpenSSL's verifier calls the leaf too weak, so Postfix says "Untrusted" even though its
/// fingerprint matches; the DANE rules refuse the match too (`certificate_key_too_small`).
#[tokio::test]
async fn rsa768_leaf_is_untrusted_for_postfix() {
    let certs = Certs::new();
    let leaf = rsa_bits(&certs, 768);
    let server = SServer::start(
        certs.dir.path(),
        &[
            "-cert",
            &leaf.cert,
            "-key",
            &leaf.key,
            "-tls1_2",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ],
    );
    let facts = openssl_engine(server.addr).await.expect("handshake");
    assert_eq!(facts.chain, certs.der(&leaf.cert));
    assert!(
        facts.leaf_key_security_bits.expect("bits") < 80,
        "{facts:?}"
    );
    match posttls_finger(&certs, server.addr, &leaf.cert) {
        Postfix::Established { trust, .. } => assert_eq!(trust, "Untrusted"),
        other => panic!("posttls-finger: {other:?}"),
    }
    assert_eq!(
        dane_ee_outcome(&facts.chain),
        dane_exporter::core::EndpointOutcome::Failed(
            dane_exporter::core::MatchFailure::KeyTooSmall { bits: 768 }
        )
    );
}

#[tokio::test]
async fn critical_extension_leaf_tls13() {
    shape(
        "critical_extension_leaf_tls13",
        critical_extension,
        &[],
        ok(TLS13, "TLS_AES_256_GCM_SHA384", Some("x25519")),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn critical_extension_leaf_tls12() {
    shape(
        "critical_extension_leaf_tls12",
        critical_extension,
        &["-tls1_2"],
        ok(
            TLS12,
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            Some("x25519"),
        ),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn rsa_pss_key_leaf_tls13() {
    shape(
        "rsa_pss_key_leaf_tls13",
        rsa_pss,
        &[],
        ok(TLS13, "TLS_AES_256_GCM_SHA384", Some("x25519")),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn rsa_pss_key_leaf_tls12() {
    shape(
        "rsa_pss_key_leaf_tls12",
        rsa_pss,
        &["-tls1_2"],
        ok(
            TLS12,
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            Some("x25519"),
        ),
        Rustls::Fails,
    )
    .await;
}

/// The modern control: both engines work.
#[tokio::test]
async fn tls13_modern() {
    shape(
        "tls13_modern",
        rsa2048,
        &[],
        ok(TLS13, "TLS_AES_256_GCM_SHA384", Some("x25519")),
        Rustls::Works,
    )
    .await;
}

/// TLS 1.0 with ECDHE: OpenSSL 3.0 at level 1 refuses the MD5+SHA-1 ServerKeyExchange
/// signature, and so does Postfix.
#[tokio::test]
async fn tls10_only_ecdhe_fails_like_postfix() {
    shape(
        "tls10_only_ecdhe",
        rsa2048,
        &["-tls1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"],
        Expect::Fail {
            reason: "legacy sigalg disallowed or unsupported",
        },
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn tls11_only_ecdhe_fails_like_postfix() {
    shape(
        "tls11_only_ecdhe",
        rsa2048,
        &["-tls1_1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"],
        Expect::Fail {
            reason: "legacy sigalg disallowed or unsupported",
        },
        Rustls::Fails,
    )
    .await;
}

/// TLS 1.0 with RSA key exchange has no signature to refuse: Postfix delivers, and so must we.
#[tokio::test]
async fn tls10_only_rsa_key_exchange_works_like_postfix() {
    shape(
        "tls10_only_rsa_key_exchange",
        rsa2048,
        &["-tls1", "-cipher", "AES128-SHA:@SECLEVEL=0"],
        ok("TLSv1.0", "TLS_RSA_WITH_AES_128_CBC_SHA", None),
        Rustls::Fails,
    )
    .await;
}

#[tokio::test]
async fn tls11_only_rsa_key_exchange_works_like_postfix() {
    shape(
        "tls11_only_rsa_key_exchange",
        rsa2048,
        &["-tls1_1", "-cipher", "AES128-SHA:@SECLEVEL=0"],
        ok("TLSv1.1", "TLS_RSA_WITH_AES_128_CBC_SHA", None),
        Rustls::Fails,
    )
    .await;
}

/// A TLS 1.2 server that signs only with SHA-1: level 1 offers no SHA-1 signature algorithm, the
/// server has nothing to sign with and says handshake_failure, to Postfix too.
#[tokio::test]
async fn sha1_signatures_only_fails_like_postfix() {
    shape(
        "sha1_signatures_only",
        rsa2048,
        &[
            "-tls1_2",
            "-cipher",
            "ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
            "-sigalgs",
            "RSA+SHA1",
        ],
        Expect::Fail {
            reason: "sslv3 alert handshake failure (SSL alert number 40)",
        },
        Rustls::Fails,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Chain capture and bounds
// ---------------------------------------------------------------------------------------------

/// A CA, an intermediate and a leaf; the server sends leaf, root, intermediate (a wrong order
/// some servers really use). The engine hands over exactly that, in that order.
#[tokio::test]
async fn chain_is_returned_exactly_as_sent() {
    let certs = Certs::new();
    let ca_ext = "basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign";
    let root_key = certs.key("root", "ec:P-256");
    let root = certs.signed("root", &root_key, "/CN=Test Root", None, Some(ca_ext));
    let inter_key = certs.key("inter", "ec:P-384");
    let inter = certs.signed(
        "inter",
        &inter_key,
        "/CN=Test Intermediate",
        Some((&root, &root_key)),
        Some(ca_ext),
    );
    let leaf_key = certs.key("leaf", "rsa:2048");
    let leaf = certs.signed(
        "leaf",
        &leaf_key,
        "/CN=mx.example.test",
        Some((&inter, &inter_key)),
        Some("subjectAltName=DNS:mx.example.test"),
    );
    let extra = format!(
        "{}{}",
        std::fs::read_to_string(certs.path(&root)).expect("root"),
        std::fs::read_to_string(certs.path(&inter)).expect("inter")
    );
    std::fs::write(certs.path("extra.pem"), extra).expect("extra");
    let server = SServer::start(
        certs.dir.path(),
        &[
            "-cert",
            &leaf,
            "-key",
            &leaf_key,
            "-cert_chain",
            "extra.pem",
            "-tls1_2",
            "-cipher",
            "ECDHE-RSA-AES128-SHA",
        ],
    );
    let facts = openssl_engine(server.addr).await.expect("handshake");
    let mut expected = certs.der(&leaf);
    expected.extend(certs.der("extra.pem"));
    assert_eq!(expected.len(), 3);
    assert_eq!(facts.chain, expected);
    assert_eq!(facts.cipher_suite, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
}

/// `extra` more certificates after the leaf (copies of one CA certificate: what is counted is
/// what was sent).
async fn chain_of(extra: usize) -> Result<LegacyFacts, LegacyTlsError> {
    let certs = Certs::new();
    let leaf = rsa2048(&certs);
    let ca_key = certs.key("ca", "ec:P-256");
    let ca = certs.self_signed("ca", &ca_key);
    let ca_pem = std::fs::read_to_string(certs.path(&ca)).expect("ca");
    std::fs::write(certs.path("extra.pem"), ca_pem.repeat(extra)).expect("extra");
    let server = SServer::start(
        certs.dir.path(),
        &[
            "-cert",
            &leaf.cert,
            "-key",
            &leaf.key,
            "-cert_chain",
            "extra.pem",
        ],
    );
    let result = openssl_engine(server.addr).await;
    if let Ok(facts) = &result {
        assert_eq!(facts.chain.len(), extra + 1);
        assert_eq!(facts.chain[0], certs.der(&leaf.cert)[0]);
    }
    result
}

#[tokio::test]
async fn chain_of_twenty_is_accepted() {
    let facts = chain_of(MAX_CHAIN_CERTS - 1)
        .await
        .expect("20 certificates");
    assert_eq!(facts.chain.len(), MAX_CHAIN_CERTS);
}

#[tokio::test]
async fn chain_of_twenty_one_is_refused() {
    match chain_of(MAX_CHAIN_CERTS).await {
        Err(LegacyTlsError::ChainTooLong { count }) => assert_eq!(count, MAX_CHAIN_CERTS + 1),
        other => panic!("expected ChainTooLong, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The server must hold the leaf's key
// ---------------------------------------------------------------------------------------------

/// A rustls server that presents certificate A and signs with key B (s_server refuses such a
/// pair at startup, rustls' `CertifiedKey::new` does not check it).
async fn mismatched_key_server(
    tls13: bool,
    mismatched: bool,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::server::{ClientHello, ResolvesServerCert};
    use rustls::sign::CertifiedKey;

    #[derive(Debug)]
    struct Fixed(Arc<CertifiedKey>);
    impl ResolvesServerCert for Fixed {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(Arc::clone(&self.0))
        }
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let a = rcgen::generate_simple_self_signed(vec![SNI.to_string()]).expect("cert A");
    let b = rcgen::KeyPair::generate().expect("key B");
    let key_der = if mismatched {
        b.serialize_der()
    } else {
        a.signing_key.serialize_der()
    };
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)))
        .expect("load key");
    let certified = CertifiedKey::new(vec![CertificateDer::from(a.cert.der().to_vec())], key);
    let versions: &[&'static rustls::SupportedProtocolVersion] = if tls13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS12]
    };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(Arc::new(certified))));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        if let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    (addr, task)
}

async fn key_possession(tls13: bool) {
    // Control: the same server with the matching key works, so the failure below is the key.
    let (addr, task) = mismatched_key_server(tls13, false).await;
    let facts = openssl_engine(addr).await.expect("matching key");
    assert_eq!(facts.version, if tls13 { TLS13 } else { TLS12 });
    task.abort();

    let (addr, task) = mismatched_key_server(tls13, true).await;
    match openssl_engine(addr).await {
        Err(LegacyTlsError::Handshake { detail }) => {
            assert!(detail.contains("bad signature"), "{detail}");
            println!("tls13={tls13} certificate A, key B: {detail}");
        }
        other => panic!("a server without the leaf's key must fail, got {other:?}"),
    }
    task.abort();
}

/// TLS 1.2: the ServerKeyExchange signature is checked against the leaf's key.
#[tokio::test]
async fn tls12_server_must_hold_the_leaf_key() {
    key_possession(false).await;
}

/// TLS 1.3: the CertificateVerify signature is checked against the leaf's key.
#[tokio::test]
async fn tls13_server_must_hold_the_leaf_key() {
    key_possession(true).await;
}

// ---------------------------------------------------------------------------------------------
// Timeouts, broken connections
// ---------------------------------------------------------------------------------------------

/// The legacy handshake against a one-connection TCP peer that behaves as `serve` says.
async fn against_peer<F, Fut>(limit: Duration, serve: F) -> Result<LegacyFacts, LegacyTlsError>
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        serve(tcp).await;
    });
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let result = legacy_tls::handshake(tcp, SNI, limit).await;
    peer.abort();
    result.map(|done| done.facts)
}

#[tokio::test]
async fn silent_server_times_out() {
    let started = Instant::now();
    let result = against_peer(Duration::from_millis(300), |tcp| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(tcp);
    })
    .await;
    assert!(matches!(result, Err(LegacyTlsError::Timeout)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// The server reads the start of the ClientHello and closes.
#[tokio::test]
async fn server_closing_is_an_io_error() {
    let result = against_peer(LIMIT, |mut tcp| async move {
        let mut hello = [0u8; 5];
        let _ = tokio::io::AsyncReadExt::read(&mut tcp, &mut hello).await;
    })
    .await;
    match &result {
        Err(LegacyTlsError::Io { detail }) => println!("closed: {detail}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

/// The server ends its side (FIN) and reads on: the ClientHello is answered by end of file.
#[tokio::test]
async fn server_hanging_up_is_an_io_error() {
    let result = against_peer(LIMIT, |mut tcp| async move {
        let _ = tcp.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut sink).await;
    })
    .await;
    match &result {
        Err(LegacyTlsError::Io { detail }) => println!("hung up: {detail}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[tokio::test]
async fn plaintext_answer_is_a_readable_handshake_error() {
    let result = against_peer(LIMIT, |mut tcp| async move {
        let _ = tcp.write_all(b"500 what is this?\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    match result {
        Err(LegacyTlsError::Handshake { detail }) => {
            assert_eq!(detail, "wrong version number");
        }
        other => panic!("expected a handshake error, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_sni_sends_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tcp = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let result = legacy_tls::handshake(tcp, "192.0.2.1", LIMIT).await;
    assert!(
        matches!(result, Err(LegacyTlsError::InvalidSni { .. })),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The ClientHello itself
// ---------------------------------------------------------------------------------------------

/// The ClientHello messages in an `s_server -trace` log, with the random parts (random, session
/// id, key shares) blanked.
fn client_hellos(trace: &str) -> Vec<String> {
    let mut hellos = Vec::new();
    let mut current: Option<String> = None;
    for line in trace.lines() {
        if line.trim_start().starts_with("ClientHello, Length=") {
            current = Some(String::new());
        } else if current.is_some() && !line.starts_with(' ') {
            hellos.extend(current.take());
            continue;
        }
        if let Some(hello) = current.as_mut() {
            let trimmed = line.trim_start();
            let line = if trimmed.starts_with("gmt_unix_time=")
                || trimmed.starts_with("random_bytes")
                || trimmed.starts_with("session_id")
                || trimmed.starts_with("key_exchange:")
            {
                let cut = line.find([':', '=']).unwrap_or(line.len());
                format!("{} <random>", &line[..cut])
            } else {
                line.to_string()
            };
            hello.push_str(&line);
            hello.push('\n');
        }
    }
    hellos.extend(current);
    hellos
}

/// The ClientHellos `server` has traced once it has printed `want` of them (or after 10 s):
/// s_server prints the trace as it goes, so the last lines may lag the handshake, more so on a
/// loaded machine.
async fn hellos_seen(server: &SServer, want: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let hellos = client_hellos(&server.output());
        if hellos.len() >= want || started.elapsed() > Duration::from_secs(10) {
            return hellos;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Byte for byte (but the random parts) the ClientHello of posttls-finger: cipher list and order,
/// groups, signature algorithms, versions, extensions. Two handshakes in a row send the same full
/// ClientHello (no session offered, no PSK).
#[tokio::test]
async fn client_hello_is_postfix_s() {
    let certs = Certs::new();
    let leaf = rsa2048(&certs);
    let args = [
        "-cert",
        leaf.cert.as_str(),
        "-key",
        leaf.key.as_str(),
        "-trace",
    ];

    let postfix_server = SServer::start(certs.dir.path(), &args);
    match posttls_finger(&certs, postfix_server.addr, &leaf.cert) {
        Postfix::Established { trust, .. } => assert_eq!(trust, "Verified"),
        other => panic!("posttls-finger: {other:?}"),
    }
    let postfix = hellos_seen(&postfix_server, 1).await;
    drop(postfix_server);

    let our_server = SServer::start(certs.dir.path(), &args);
    for _ in 0..2 {
        openssl_engine(our_server.addr).await.expect("handshake");
    }
    let ours = hellos_seen(&our_server, 2).await;

    assert_eq!(postfix.len(), 1, "{postfix:?}");
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(postfix[0].contains("TLS_RSA_WITH_AES_128_CBC_SHA"));
    assert!(postfix[0].contains("secp521r1 (P-521)"));
    for hello in &ours {
        for (line, (a, b)) in hello.lines().zip(postfix[0].lines()).enumerate() {
            assert_eq!(a, b, "ClientHello line {line}: ours vs posttls-finger's");
        }
        assert_eq!(*hello, postfix[0]);
        assert!(!hello.contains("pre_shared_key"));
    }
}
