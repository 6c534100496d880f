//! In-process IMAP, POP3 and implicit-TLS listeners for the `services` tests, with the rcgen
//! certificates of `smtp_server`.
//!
//! Each speaks just enough of its protocol to reach a TLS handshake (greeting, CAPABILITY or CAPA,
//! STARTTLS or STLS), can misbehave on request (no STARTTLS, plaintext injected after the OK,
//! silence, an endless line), and records the SNI of every handshake.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::smtp_server::TestCert;

/// What the listener does with a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// TLS from the first byte.
    Implicit,
    /// IMAP with STARTTLS in CAPABILITY.
    Imap,
    /// IMAP without STARTTLS.
    ImapNoStarttls,
    /// IMAP that sends an untagged line in the same packet as its OK to STARTTLS.
    ImapInjects,
    /// POP3 with STLS in CAPA.
    Pop3,
    /// POP3 without STLS.
    Pop3NoStls,
    /// Accepts and never says anything.
    Silent,
    /// Sends 1 MiB without a newline as its greeting.
    EndlessLine,
}

/// A running listener.
pub struct ServiceFixture {
    addr: SocketAddr,
    snis: Arc<Mutex<Vec<Option<String>>>>,
    task: JoinHandle<()>,
}

impl ServiceFixture {
    /// Listens on `bind` (port 0 for a free one) presenting `cert`.
    pub async fn start(bind: SocketAddr, cert: &TestCert, script: Script) -> ServiceFixture {
        let listener = TcpListener::bind(bind).await.expect("bind service fixture");
        let addr = listener.local_addr().unwrap();
        let chain: Vec<CertificateDer<'static>> = cert
            .chain
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pkcs8.clone()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let snis = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&snis);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    serve(tcp, script, acceptor, recorded).await;
                });
            }
        });
        ServiceFixture { addr, snis, task }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// SNI of every completed handshake, in order.
    pub fn snis(&self) -> Vec<Option<String>> {
        self.snis.lock().unwrap().clone()
    }

    /// [`ServiceFixture::snis`] once `count` handshakes are recorded (the server finishes its
    /// side of a handshake a moment after the client), or after 2 s.
    pub async fn snis_after(&self, count: usize) -> Vec<Option<String>> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.snis.lock().unwrap().len() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.snis()
    }
}

impl Drop for ServiceFixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    tcp: TcpStream,
    script: Script,
    acceptor: TlsAcceptor,
    snis: Arc<Mutex<Vec<Option<String>>>>,
) {
    let mut plain = BufReader::new(tcp);
    let start_tls = match script {
        Script::Implicit => true,
        Script::Silent => {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            false
        }
        Script::EndlessLine => {
            let _ = plain.get_mut().write_all(&vec![b'*'; 1 << 20]).await;
            false
        }
        Script::Imap | Script::ImapNoStarttls | Script::ImapInjects => {
            imap(&mut plain, script).await
        }
        Script::Pop3 | Script::Pop3NoStls => pop3(&mut plain, script).await,
    };
    if !start_tls {
        return;
    }
    let Ok(mut tls) = acceptor.accept(plain.into_inner()).await else {
        return;
    };
    snis.lock()
        .unwrap()
        .push(tls.get_ref().1.server_name().map(str::to_string));
    // Read what the client says (LOGOUT, QUIT or close_notify), bounded, then close.
    let mut sink = vec![0u8; 4096];
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), tls.read(&mut sink)).await;
    let _ = tls.shutdown().await;
}

/// Reads one command line, bounded.
async fn line(stream: &mut BufReader<TcpStream>) -> Option<String> {
    let mut buf = Vec::new();
    match (&mut *stream).take(4096).read_until(b'\n', &mut buf).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(String::from_utf8_lossy(&buf).trim_end().to_string()),
    }
}

/// The IMAP dialogue; true when TLS should start.
async fn imap(stream: &mut BufReader<TcpStream>, script: Script) -> bool {
    let offer = script != Script::ImapNoStarttls;
    if stream
        .get_mut()
        .write_all(b"* OK [CAPABILITY IMAP4rev1] fixture ready\r\n")
        .await
        .is_err()
    {
        return false;
    }
    while let Some(command) = line(stream).await {
        let (tag, verb) = command.split_once(' ').unwrap_or((&command, ""));
        let verb = verb.to_ascii_uppercase();
        let (reply, start) = match verb.as_str() {
            "CAPABILITY" => (
                format!(
                    "* CAPABILITY IMAP4rev1 {}LOGINDISABLED\r\n{tag} OK done\r\n",
                    if offer { "STARTTLS " } else { "" }
                ),
                false,
            ),
            "STARTTLS" if offer && script == Script::ImapInjects => {
                (format!("{tag} OK Begin TLS\r\n* OK injected\r\n"), false)
            }
            "STARTTLS" if offer => (format!("{tag} OK Begin TLS negotiation now\r\n"), true),
            "LOGOUT" => {
                let _ = stream
                    .get_mut()
                    .write_all(format!("* BYE\r\n{tag} OK done\r\n").as_bytes())
                    .await;
                return false;
            }
            _ => (format!("{tag} BAD unknown command\r\n"), false),
        };
        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return false;
        }
        if start {
            return true;
        }
    }
    false
}

/// The POP3 dialogue; true when TLS should start.
async fn pop3(stream: &mut BufReader<TcpStream>, script: Script) -> bool {
    let offer = script == Script::Pop3;
    if stream
        .get_mut()
        .write_all(b"+OK fixture POP3 ready\r\n")
        .await
        .is_err()
    {
        return false;
    }
    while let Some(command) = line(stream).await {
        let (reply, start) = match command.to_ascii_uppercase().as_str() {
            "CAPA" => (
                format!(
                    "+OK capabilities\r\nUSER\r\n{}PIPELINING\r\n.\r\n",
                    if offer { "STLS\r\n" } else { "" }
                ),
                false,
            ),
            "STLS" if offer => ("+OK Begin TLS\r\n".to_string(), true),
            "QUIT" => {
                let _ = stream.get_mut().write_all(b"+OK bye\r\n").await;
                return false;
            }
            _ => ("-ERR unknown command\r\n".to_string(), false),
        };
        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return false;
        }
        if start {
            return true;
        }
    }
    false
}
