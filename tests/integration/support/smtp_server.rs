//! In-process STARTTLS server for the integration tests, with rcgen certificates.
//!
//! The `smtp` tests probe it directly; the `probe` tests put its address and the TLSA records of
//! its certificate into the DNS fixture. It speaks just enough SMTP for a prober (greeting, EHLO,
//! STARTTLS, QUIT, NOOP, RSET), then TLS via tokio-rustls with the ring provider, and records what
//! each client did so tests can check it (commands, SNI, TLS version).
//!
//! ```ignore
//! let cert = smtp_server::self_signed(&["mx.example.test"]);      // DANE-EE: pin cert.leaf_spki()
//! let (ca, cert) = smtp_server::ca_signed(&["mx.example.test"]);  // DANE-TA: pin ca.spki
//! let fixture = SmtpFixture::start(FixtureConfig::new(cert)).await;
//! probe_starttls(fixture.addr(), "mx.example.test", &SmtpSettings { port: fixture.port(), .. })
//! ```
//!
//! Certificates are ECDSA P-256 (rcgen with ring cannot make RSA keys), valid 1975-4096 unless a
//! test changes that with [`TestCa::issue_with`].

// A shared fixture: each test module uses a different part of it.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A certificate chain and the leaf's private key, as the server presents them.
#[derive(Clone, Debug)]
pub struct TestCert {
    /// DER certificates the server sends, leaf first. Tests may edit it (drop the CA, add junk)
    /// before starting the fixture.
    pub chain: Vec<Vec<u8>>,
    /// SubjectPublicKeyInfo DER of each certificate in `chain`, same order (for `x 1 x` TLSA
    /// records).
    pub spki: Vec<Vec<u8>>,
    /// The leaf's private key, PKCS#8 DER.
    pub key_pkcs8: Vec<u8>,
}

impl TestCert {
    /// The leaf certificate DER (for `3 0 x` records).
    pub fn leaf_der(&self) -> &[u8] {
        &self.chain[0]
    }

    /// The leaf SubjectPublicKeyInfo DER (for `3 1 x` records).
    pub fn leaf_spki(&self) -> &[u8] {
        &self.spki[0]
    }

    /// The data of a `3 1 1` record for the leaf: SHA-256 of its SPKI, hex.
    pub fn leaf_3_1_1(&self) -> String {
        hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            self.leaf_spki(),
        ))
    }
}

/// A self-signed leaf for the given DNS names (the first is also the CN): the DANE-EE case.
pub fn self_signed(names: &[&str]) -> TestCert {
    let key = KeyPair::generate().expect("generate key");
    let params = leaf_params(names);
    let cert = params.self_signed(&key).expect("self-sign");
    TestCert {
        chain: vec![cert.der().to_vec()],
        spki: vec![key.subject_public_key_info()],
        key_pkcs8: key.serialize_der(),
    }
}

/// A fresh root CA and a leaf it issued; the chain sent is `[leaf, root]`: the DANE-TA case.
pub fn ca_signed(names: &[&str]) -> (TestCa, TestCert) {
    let ca = TestCa::root("Fixture Test Root");
    let cert = ca.issue(names);
    (ca, cert)
}

/// A certificate authority that can issue leaves and intermediates.
pub struct TestCa {
    /// This CA's certificate, DER.
    pub der: Vec<u8>,
    /// This CA's SubjectPublicKeyInfo DER (for `2 1 x` records).
    pub spki: Vec<u8>,
    /// DER and SPKI of the CAs above this one, nearest first; empty for a root.
    above: Vec<(Vec<u8>, Vec<u8>)>,
    params: CertificateParams,
    key: KeyPair,
}

impl TestCa {
    /// A self-signed root CA.
    pub fn root(common_name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generate key");
        let params = ca_params(common_name);
        let cert = params.self_signed(&key).expect("self-sign CA");
        TestCa {
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
            above: Vec::new(),
            params,
            key,
        }
    }

    /// An intermediate CA signed by this one. Leaves it issues carry the whole chain up to the
    /// root.
    pub fn intermediate(&self, common_name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generate key");
        let params = ca_params(common_name);
        let cert = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .expect("sign intermediate");
        let mut above = vec![(self.der.clone(), self.spki.clone())];
        above.extend(self.above.iter().cloned());
        TestCa {
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
            above,
            params,
            key,
        }
    }

    /// A leaf for `names`; chain `[leaf, this CA, CAs above...]`.
    pub fn issue(&self, names: &[&str]) -> TestCert {
        self.issue_with(names, |_| {})
    }

    /// Like [`TestCa::issue`], letting the test change the leaf's parameters first (validity
    /// period, key usages, names...).
    pub fn issue_with(
        &self,
        names: &[&str],
        customize: impl FnOnce(&mut CertificateParams),
    ) -> TestCert {
        let key = KeyPair::generate().expect("generate key");
        let mut params = leaf_params(names);
        customize(&mut params);
        let cert = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .expect("sign leaf");
        let mut chain = vec![cert.der().to_vec(), self.der.clone()];
        let mut spki = vec![key.subject_public_key_info(), self.spki.clone()];
        for (der, key_info) in &self.above {
            chain.push(der.clone());
            spki.push(key_info.clone());
        }
        TestCert {
            chain,
            spki,
            key_pkcs8: key.serialize_der(),
        }
    }
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("valid names");
    if let Some(first) = names.first() {
        params.distinguished_name.push(DnType::CommonName, *first);
    }
    params.use_authority_key_identifier_extension = true;
    params
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    params
}

/// How the fixture answers STARTTLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Starttls {
    /// Listed in EHLO, answered 220, then TLS.
    Offer,
    /// Not listed in EHLO; the command gets 502.
    NotOffered,
    /// Listed in EHLO but answered `454 4.7.0 TLS not available`.
    Reject,
}

/// Which TLS versions the fixture accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersions {
    /// TLS 1.2 and 1.3 (1.3 gets negotiated).
    Both,
    /// TLS 1.2 only.
    Tls12Only,
}

/// What the fixture listens on and how it behaves. [`FixtureConfig::new`] gives a well-behaved
/// server on 127.0.0.1 with a random port; change fields for the case at hand.
#[derive(Clone, Debug)]
pub struct FixtureConfig {
    /// Listening address: any loopback address (127.0.0.5, ::1), port 0 for a free one.
    pub bind: SocketAddr,
    /// The chain and key presented in TLS.
    pub cert: TestCert,
    /// Text of the 220 greeting lines (several make a multi-line greeting).
    pub greeting: Vec<String>,
    /// How STARTTLS is handled.
    pub starttls: Starttls,
    /// TLS versions accepted.
    pub tls_versions: TlsVersions,
    /// Sign the handshake with a fresh key that does not match the leaf: a server that presents a
    /// certificate it does not own. Clients must fail the handshake.
    pub wrong_key: bool,
    /// A second certificate (another key algorithm), as Postfix with two key+chain pairs in
    /// `smtpd_tls_chain_files`: the fixture presents the first of `cert`, `second_cert` whose key
    /// can sign with a scheme the client offers, and fails the handshake when neither can.
    pub second_cert: Option<TestCert>,
    /// Pause between accepting the connection and greeting (postscreen's greet wait, Exim's
    /// `delay`, sendmail's `greet_pause`).
    pub greeting_delay: Duration,
}

impl FixtureConfig {
    /// A well-behaved STARTTLS server presenting `cert`.
    pub fn new(cert: TestCert) -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            cert,
            greeting: vec!["fixture.test ESMTP dane_exporter test fixture".to_string()],
            starttls: Starttls::Offer,
            tls_versions: TlsVersions::Both,
            wrong_key: false,
            second_cert: None,
            greeting_delay: Duration::ZERO,
        }
    }
}

/// What one client connection did, as the fixture saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionLog {
    /// Command lines received before TLS, without CRLF.
    pub plaintext_commands: Vec<String>,
    /// Command lines received inside TLS.
    pub tls_commands: Vec<String>,
    /// SNI the client sent, if the handshake got that far.
    pub sni: Option<String>,
    /// `TLSv1.3`/`TLSv1.2` once the handshake completed.
    pub tls_version: Option<String>,
    /// Whether the handshake resumed an earlier session (the server offers resumption).
    pub resumed: bool,
    /// The server-side handshake error, if any.
    pub handshake_error: Option<String>,
}

/// A running fixture. Stops (listener and all connections) when dropped.
pub struct SmtpFixture {
    addr: SocketAddr,
    sessions: Arc<Mutex<Vec<SessionLog>>>,
    task: JoinHandle<()>,
}

impl SmtpFixture {
    /// Binds `config.bind` and starts serving. Panics when it cannot (tests only).
    pub async fn start(config: FixtureConfig) -> SmtpFixture {
        let listener = TcpListener::bind(config.bind).await.expect("bind fixture");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            acceptor: TlsAcceptor::from(Arc::new(server_config(&config))),
            config,
        });
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&sessions);
        let task = tokio::spawn(async move {
            // Connection tasks live in the JoinSet, so aborting this task aborts them too.
            let mut connections = JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let index = {
                    let mut log = log.lock().expect("log lock");
                    log.push(SessionLog::default());
                    log.len() - 1
                };
                let shared = Arc::clone(&shared);
                let log = Arc::clone(&log);
                connections.spawn(async move {
                    serve(tcp, &shared, &Recorder { log, index }).await;
                });
                // Reap finished connections so the set does not grow without bound.
                while connections.try_join_next().is_some() {}
            }
        });
        SmtpFixture {
            addr,
            sessions,
            task,
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port (put it in `SmtpSettings::port`).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What each connection so far did, in accept order.
    pub fn sessions(&self) -> Vec<SessionLog> {
        self.sessions.lock().expect("log lock").clone()
    }
}

impl Drop for SmtpFixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    config: FixtureConfig,
    acceptor: TlsAcceptor,
}

/// Writes into one connection's [`SessionLog`].
struct Recorder {
    log: Arc<Mutex<Vec<SessionLog>>>,
    index: usize,
}

impl Recorder {
    fn update(&self, change: impl FnOnce(&mut SessionLog)) {
        let mut log = self.log.lock().expect("log lock");
        change(&mut log[self.index]);
    }
}

fn server_config(config: &FixtureConfig) -> ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match config.tls_versions {
        TlsVersions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
    };
    let key_der = if config.wrong_key {
        KeyPair::generate().expect("generate key").serialize_der()
    } else {
        config.cert.key_pkcs8.clone()
    };
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)))
        .expect("load key");
    let chain = config
        .cert
        .chain
        .iter()
        .map(|der| CertificateDer::from(der.clone()))
        .collect();
    // CertifiedKey::new does not check that key and leaf match, which `wrong_key` relies on.
    let mut keys = vec![Arc::new(CertifiedKey::new(chain, key))];
    if let Some(second) = &config.second_cert {
        let key = provider
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                second.key_pkcs8.clone(),
            )))
            .expect("load second key");
        let chain = second
            .chain
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        keys.push(Arc::new(CertifiedKey::new(chain, key)));
    }
    let resolver = FixedCert(keys);
    ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver))
}

/// The certificates, in preference order; the first one the client can verify wins (the only
/// one when there is one: a client that offers nothing it can sign with then fails the
/// handshake anyway).
#[derive(Debug)]
struct FixedCert(Vec<Arc<CertifiedKey>>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if self.0.len() == 1 {
            return self.0.first().cloned();
        }
        let offered = client_hello.signature_schemes();
        self.0
            .iter()
            .find(|key| key.key.choose_scheme(offered).is_some())
            .cloned()
    }
}

/// A self-signed RSA-2048 leaf for `names` (rcgen with ring cannot generate RSA keys, so openssl
/// makes the key; rcgen signs with it).
pub fn rsa_self_signed(names: &[&str]) -> TestCert {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .expect("running openssl genpkey (tests/stack/install-deps.sh installs it)");
    assert!(out.status.success(), "openssl genpkey failed");
    let pem = String::from_utf8(out.stdout).expect("PEM");
    let key = KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let cert = leaf_params(names).self_signed(&key).expect("self-sign RSA");
    TestCert {
        chain: vec![cert.der().to_vec()],
        spki: vec![key.subject_public_key_info()],
        key_pkcs8: key.serialize_der(),
    }
}

/// Where a command loop ended.
enum Next {
    /// Client quit or went away.
    Done,
    /// 220 to STARTTLS was sent: start TLS.
    StartTls,
}

async fn serve(tcp: tokio::net::TcpStream, shared: &Shared, recorder: &Recorder) {
    let config = &shared.config;
    let mut plain = BufReader::new(tcp);
    let mut greeting = String::new();
    let count = config.greeting.len().max(1);
    for i in 0..count {
        let text = config.greeting.get(i).map(String::as_str).unwrap_or("");
        let sep = if i + 1 == count { ' ' } else { '-' };
        greeting.push_str(&format!("220{sep}{text}\r\n"));
    }
    tokio::time::sleep(config.greeting_delay).await;
    if plain
        .get_mut()
        .write_all(greeting.as_bytes())
        .await
        .is_err()
    {
        return;
    }
    if let Next::Done = commands(&mut plain, config, recorder, false).await {
        return;
    }
    // Whatever the client pipelined after STARTTLS is dropped with the BufReader, as it must be.
    let tcp = plain.into_inner();
    let tls = match shared.acceptor.accept(tcp).await {
        Ok(tls) => tls,
        Err(e) => {
            recorder.update(|log| log.handshake_error = Some(e.to_string()));
            return;
        }
    };
    let (_, conn) = tls.get_ref();
    let sni = conn.server_name().map(str::to_string);
    let version = conn.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    });
    let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    recorder.update(|log| {
        log.sni = sni;
        log.tls_version = version;
        log.resumed = resumed;
    });
    let mut tls = BufReader::new(tls);
    commands(&mut tls, config, recorder, true).await;
    let _ = tls.get_mut().shutdown().await;
}

/// Answers commands until QUIT, EOF, or (before TLS) a successful STARTTLS.
async fn commands<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    config: &FixtureConfig,
    recorder: &Recorder,
    in_tls: bool,
) -> Next {
    loop {
        let mut line = Vec::new();
        // Bounded like any server should be: 4 KiB per command line.
        match (&mut *stream).take(4096).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return Next::Done,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        recorder.update(|log| {
            if in_tls {
                log.tls_commands.push(text.clone());
            } else {
                log.plaintext_commands.push(text.clone());
            }
        });
        let verb = text
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let offer = !in_tls && config.starttls != Starttls::NotOffered;
        let (reply, next): (String, Option<Next>) = match verb.as_str() {
            "EHLO" => {
                let mut lines = vec!["fixture.test", "PIPELINING", "SIZE 10240000"];
                if offer {
                    lines.push("STARTTLS");
                }
                lines.push("8BITMIME");
                let last = lines.len() - 1;
                let reply = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
                    .collect();
                (reply, None)
            }
            "HELO" | "NOOP" | "RSET" => ("250 2.0.0 Ok\r\n".to_string(), None),
            "STARTTLS" if in_tls => ("554 5.5.1 Error: TLS already active\r\n".to_string(), None),
            "STARTTLS" => match config.starttls {
                Starttls::Offer => (
                    "220 2.0.0 Ready to start TLS\r\n".to_string(),
                    Some(Next::StartTls),
                ),
                Starttls::NotOffered => (
                    "502 5.5.1 Error: command not implemented\r\n".to_string(),
                    None,
                ),
                Starttls::Reject => (
                    "454 4.7.0 TLS not available due to local problem\r\n".to_string(),
                    None,
                ),
            },
            "QUIT" => ("221 2.0.0 Bye\r\n".to_string(), Some(Next::Done)),
            _ => (
                "502 5.5.2 Error: command not recognized\r\n".to_string(),
                None,
            ),
        };
        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return Next::Done;
        }
        let _ = stream.get_mut().flush().await;
        if let Some(next) = next {
            return next;
        }
    }
}

/// PEM text of a chain, leaf first, as `smtpd_tls_chain_files` reads it.
pub fn pem_chain(chain: &[Vec<u8>]) -> String {
    use base64::Engine;
    chain
        .iter()
        .map(|der| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            )
        })
        .collect()
}
