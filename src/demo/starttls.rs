//! A STARTTLS mail server on loopback, speaking just enough SMTP for a DANE prober (greeting,
//! EHLO, STARTTLS, QUIT, NOOP, RSET, HELO), then TLS with rustls: the demo's MX hosts, and the
//! tests' STARTTLS fixture (`tests/integration/support/smtp_server.rs`).
//!
//! [`ListenerConfig`] says how it behaves (STARTTLS offered, not offered or refused, TLS
//! versions, a handshake signed with the wrong key, a second certificate of another key
//! algorithm, a pause before the greeting); [`StartTlsServer::start`] binds and serves until the
//! server is dropped. [`StartTlsServer::set_identity`] changes the certificate it presents while
//! it runs (a renewal deployed). With [`ListenerConfig::log_sessions`] it records what each
//! client did (commands, SNI, TLS version), for tests.
//!
//! Clients are bounded like a real server bounds them: 4 KiB per command line, a time limit for
//! each command and for the handshake, and at most [`MAX_CONNECTIONS`] at once.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use super::certs::Identity;

/// Most connections served at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 256;
/// Time a client has for each command line, and for the TLS handshake.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// How STARTTLS is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Starttls {
    /// Listed in EHLO, answered 220, then TLS.
    Offer,
    /// Not listed in EHLO; the command gets 502.
    NotOffered,
    /// Listed in EHLO but answered `454 4.7.0 TLS not available`.
    Reject,
}

/// Which TLS versions are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersions {
    /// TLS 1.2 and 1.3 (1.3 gets negotiated).
    Both,
    /// TLS 1.2 only.
    Tls12Only,
}

/// What the server listens on and how it behaves. [`ListenerConfig::new`] gives a well-behaved
/// server on 127.0.0.1 with a free port; change fields for the case at hand.
#[derive(Clone, Debug)]
pub struct ListenerConfig {
    /// Listening address: any loopback address (127.0.0.5, ::1), port 0 for a free one.
    pub bind: SocketAddr,
    /// The chain and key presented in TLS.
    pub cert: Identity,
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
    /// `smtpd_tls_chain_files`: the server presents the first of `cert`, `second_cert` whose key
    /// can sign with a scheme the client offers, and fails the handshake when neither can.
    pub second_cert: Option<Identity>,
    /// Pause between accepting the connection and greeting (postscreen's greet wait, Exim's
    /// `delay`, sendmail's `greet_pause`).
    pub greeting_delay: Duration,
    /// Keep a [`SessionLog`] per connection ([`StartTlsServer::sessions`]); off for a
    /// long-running server, whose log would only grow.
    pub log_sessions: bool,
}

impl ListenerConfig {
    /// A well-behaved STARTTLS server presenting `cert`, logging sessions.
    pub fn new(cert: Identity) -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            cert,
            greeting: vec!["fixture.test ESMTP dane_exporter test fixture".to_string()],
            starttls: Starttls::Offer,
            tls_versions: TlsVersions::Both,
            wrong_key: false,
            second_cert: None,
            greeting_delay: Duration::ZERO,
            log_sessions: true,
        }
    }
}

/// What one client connection did, as the server saw it.
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

/// Why a server could not start or take a certificate.
#[derive(Debug, thiserror::Error)]
pub enum StartTlsError {
    /// The address could not be bound.
    #[error("binding {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// rustls refused the key or the configuration.
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    /// A replacement key could not be made (for `wrong_key`).
    #[error(transparent)]
    Cert(#[from] super::certs::CertError),
}

/// A running server. Stops (listener and all connections) when dropped.
pub struct StartTlsServer {
    addr: SocketAddr,
    sessions: Arc<Mutex<Vec<SessionLog>>>,
    keys: Arc<RwLock<Vec<Arc<CertifiedKey>>>>,
    config: ListenerConfig,
    task: JoinHandle<()>,
}

impl StartTlsServer {
    /// Binds `config.bind` and starts serving.
    pub async fn start(config: ListenerConfig) -> Result<StartTlsServer, StartTlsError> {
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|error| StartTlsError::Bind {
                    addr: config.bind,
                    error,
                })?;
        let addr = listener.local_addr().map_err(|error| StartTlsError::Bind {
            addr: config.bind,
            error,
        })?;
        let keys = Arc::new(RwLock::new(certified_keys(&config, &config.cert)?));
        let shared = Arc::new(Shared {
            acceptor: TlsAcceptor::from(Arc::new(server_config(&config, Arc::clone(&keys))?)),
            config: config.clone(),
        });
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&sessions);
        let task = tokio::spawn(async move {
            // Connection tasks live in the JoinSet, so aborting this task aborts them too.
            let mut connections = JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // Reap finished connections so the set does not grow without bound.
                while connections.try_join_next().is_some() {}
                if connections.len() >= MAX_CONNECTIONS {
                    continue;
                }
                let recorder = Recorder::new(&shared.config, &log);
                let shared = Arc::clone(&shared);
                connections.spawn(async move { serve(tcp, &shared, &recorder).await });
            }
        });
        Ok(StartTlsServer {
            addr,
            sessions,
            keys,
            config,
            task,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What each connection so far did, in accept order (empty without
    /// [`ListenerConfig::log_sessions`]).
    pub fn sessions(&self) -> Vec<SessionLog> {
        self.sessions.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Presents `cert` from the next handshake on, as a server reloaded with a renewed
    /// certificate does.
    pub fn set_identity(&self, cert: &Identity) -> Result<(), StartTlsError> {
        let keys = certified_keys(&self.config, cert)?;
        if let Ok(mut current) = self.keys.write() {
            *current = keys;
        }
        Ok(())
    }
}

impl Drop for StartTlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    config: ListenerConfig,
    acceptor: TlsAcceptor,
}

/// Writes into one connection's [`SessionLog`], when sessions are logged.
struct Recorder {
    log: Arc<Mutex<Vec<SessionLog>>>,
    index: Option<usize>,
}

impl Recorder {
    fn new(config: &ListenerConfig, log: &Arc<Mutex<Vec<SessionLog>>>) -> Self {
        let index = config
            .log_sessions
            .then(|| {
                let mut log = log.lock().ok()?;
                log.push(SessionLog::default());
                Some(log.len() - 1)
            })
            .flatten();
        Self {
            log: Arc::clone(log),
            index,
        }
    }

    fn update(&self, change: impl FnOnce(&mut SessionLog)) {
        let Some(index) = self.index else { return };
        if let Ok(mut log) = self.log.lock() {
            if let Some(entry) = log.get_mut(index) {
                change(entry);
            }
        }
    }
}

/// The keys presented for `cert` (and `config.second_cert`), in preference order.
fn certified_keys(
    config: &ListenerConfig,
    cert: &Identity,
) -> Result<Vec<Arc<CertifiedKey>>, StartTlsError> {
    let provider = rustls::crypto::ring::default_provider();
    let certified = |cert: &Identity, key_der: Vec<u8>| -> Result<_, StartTlsError> {
        let key = provider
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)))?;
        let chain = cert
            .chain
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        // CertifiedKey::new does not check that key and leaf match, which `wrong_key` relies on.
        Ok(Arc::new(CertifiedKey::new(chain, key)))
    };
    let key_der = if config.wrong_key {
        super::certs::self_signed(&["wrong-key.invalid"])?.key_pkcs8
    } else {
        cert.key_pkcs8.clone()
    };
    let mut keys = vec![certified(cert, key_der)?];
    if let Some(second) = &config.second_cert {
        keys.push(certified(second, second.key_pkcs8.clone())?);
    }
    Ok(keys)
}

fn server_config(
    config: &ListenerConfig,
    keys: Arc<RwLock<Vec<Arc<CertifiedKey>>>>,
) -> Result<ServerConfig, StartTlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match config.tls_versions {
        TlsVersions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
    };
    Ok(ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Keys(keys))))
}

/// The certificates, in preference order; the first one the client can verify wins (the only
/// one when there is one: a client that offers nothing it can sign with then fails the
/// handshake anyway).
#[derive(Debug)]
struct Keys(Arc<RwLock<Vec<Arc<CertifiedKey>>>>);

impl ResolvesServerCert for Keys {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let keys = self.0.read().ok()?;
        if keys.len() == 1 {
            return keys.first().cloned();
        }
        let offered = client_hello.signature_schemes();
        keys.iter()
            .find(|key| key.key.choose_scheme(offered).is_some())
            .cloned()
    }
}

/// Where a command loop ended.
enum Next {
    /// Client quit, went away or was too slow.
    Done,
    /// 220 to STARTTLS was sent: start TLS.
    StartTls,
}

async fn serve(tcp: TcpStream, shared: &Shared, recorder: &Recorder) {
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
    let tls = match timeout(CLIENT_TIMEOUT, shared.acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            recorder.update(|log| log.handshake_error = Some(e.to_string()));
            return;
        }
        Err(_) => {
            recorder.update(|log| log.handshake_error = Some("handshake timed out".into()));
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
    let _ = timeout(CLIENT_TIMEOUT, tls.get_mut().shutdown()).await;
}

/// Answers commands until QUIT, EOF, a slow client, or (before TLS) a successful STARTTLS.
async fn commands<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    config: &ListenerConfig,
    recorder: &Recorder,
    in_tls: bool,
) -> Next {
    loop {
        let mut line = Vec::new();
        // Bounded like any server should be: 4 KiB per command line.
        let mut bounded = (&mut *stream).take(4096);
        match timeout(CLIENT_TIMEOUT, bounded.read_until(b'\n', &mut line)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Next::Done,
            Ok(Ok(_)) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        recorder.update(|log| {
            if in_tls {
                log.tls_commands.push(text.clone());
            } else {
                log.plaintext_commands.push(text.clone());
            }
        });
        let (reply, next) = reply(&text, config, in_tls);
        let written = async {
            stream.get_mut().write_all(reply.as_bytes()).await?;
            stream.get_mut().flush().await
        };
        if !matches!(timeout(CLIENT_TIMEOUT, written).await, Ok(Ok(()))) {
            return Next::Done;
        }
        if let Some(next) = next {
            return next;
        }
    }
}

/// The reply to one command line, and whether the loop ends after it.
fn reply(text: &str, config: &ListenerConfig, in_tls: bool) -> (String, Option<Next>) {
    let verb = text
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let offer = !in_tls && config.starttls != Starttls::NotOffered;
    let line = |text: &str| (format!("{text}\r\n"), None);
    match verb.as_str() {
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
        "HELO" | "NOOP" | "RSET" => line("250 2.0.0 Ok"),
        "STARTTLS" if in_tls => line("554 5.5.1 Error: TLS already active"),
        "STARTTLS" => match config.starttls {
            Starttls::Offer => (
                "220 2.0.0 Ready to start TLS\r\n".to_string(),
                Some(Next::StartTls),
            ),
            Starttls::NotOffered => line("502 5.5.1 Error: command not implemented"),
            Starttls::Reject => line("454 4.7.0 TLS not available due to local problem"),
        },
        "QUIT" => ("221 2.0.0 Bye\r\n".to_string(), Some(Next::Done)),
        _ => line("502 5.5.2 Error: command not recognized"),
    }
}
