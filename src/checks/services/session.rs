//! One TLS session with one address of a service: implicit TLS, or a plaintext STARTTLS dialogue
//! (SMTP submission, IMAP, POP3) followed by the handshake.
//!
//! `super::run` calls [`run`] per address; the chain that comes back goes to the DANE
//! rules. SMTP reuses `crate::smtp` (the MX probe's bounded dialogue) with the service's port;
//! IMAP and POP3 are in `imap.rs` and `pop3.rs`. Every step runs under the step timeout, the TLS
//! configuration is the MX probe's (any chain accepted here, handshake signatures checked,
//! resumption off), and the goodbye after the handshake is best effort under a short timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::dialogue::within;
use super::report::{ServiceError, ServiceStage, ServiceTls};
use super::spec::{ServiceProtocol, ServiceSpec, TlsMode};
use super::{imap, pop3};
use crate::core::{SmtpError, SmtpStage};
use crate::smtp::SmtpSettings;

/// Upper bound for the goodbye after the handshake: the verdict is already known.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a finished session gives: its facts and the presented chain.
pub(super) struct Session {
    pub(super) tls: ServiceTls,
    pub(super) chain: Vec<Vec<u8>>,
}

/// Connects to `address` on the spec's port and completes the TLS handshake with SNI `sni`.
pub(super) async fn run(
    address: IpAddr,
    spec: &ServiceSpec,
    sni: &str,
    step: Duration,
    reply: Duration,
    ehlo_name: &str,
) -> Result<Session, ServiceError> {
    let socket = SocketAddr::new(address, spec.port);
    if spec.tls == TlsMode::Starttls && spec.protocol == ServiceProtocol::Smtp {
        // Submission with STARTTLS is the MX dialogue on another port: one implementation.
        let settings = SmtpSettings {
            port: spec.port,
            ehlo_name: ehlo_name.to_string(),
            step_timeout: step,
            reply_timeout: reply,
            tls_fallback: true,
        };
        let session = crate::smtp::probe_starttls(socket, sni, &settings)
            .await
            .map_err(from_smtp)?;
        return Ok(Session {
            tls: ServiceTls {
                version: session.version,
                cipher_suite: session.cipher_suite,
            },
            chain: session.chain,
        });
    }

    let server_name =
        crate::tls::server_name(sni).map_err(|detail| ServiceError::Handshake { detail })?;
    let config = crate::tls::client_config().map_err(|e| ServiceError::Handshake {
        detail: format!("TLS client configuration: {e}"),
    })?;
    let mut tcp = within(step, ServiceStage::Connect, async {
        TcpStream::connect(socket)
            .await
            .map_err(|e| ServiceError::Connect {
                detail: e.to_string(),
            })
    })
    .await?;
    // Whole commands and TLS flights, flushed at once: see the SMTP session for why Nagle only hurts.
    let _ = tcp.set_nodelay(true);
    if spec.tls == TlsMode::Starttls {
        match spec.protocol {
            ServiceProtocol::Imap => imap::starttls(&mut tcp, reply).await?,
            ServiceProtocol::Pop3 => pop3::starttls(&mut tcp, reply).await?,
            // Refused by the configuration reader; kept total.
            ServiceProtocol::Smtp | ServiceProtocol::Https => {
                return Err(ServiceError::Protocol {
                    stage: ServiceStage::Starttls,
                    detail: format!("no STARTTLS dialogue for {}", spec.protocol.as_str()),
                })
            }
        }
    }
    let mut tls = within(step, ServiceStage::TlsHandshake, async {
        crate::tls::handshake(config, server_name, tcp)
            .await
            .map_err(|e| ServiceError::Handshake {
                detail: crate::tls::handshake_error_detail(&e),
            })
    })
    .await?;
    let facts =
        crate::tls::session_facts(&tls).map_err(|detail| ServiceError::Handshake { detail })?;
    let _ = tokio::time::timeout(step.min(GOODBYE_TIMEOUT), async {
        let goodbye: &[u8] = match (spec.tls, spec.protocol) {
            (TlsMode::Starttls, ServiceProtocol::Imap) => b"c LOGOUT\r\n",
            (TlsMode::Starttls, ServiceProtocol::Pop3) => b"QUIT\r\n",
            _ => b"",
        };
        if !goodbye.is_empty() {
            let _ = tls.write_all(goodbye).await;
        }
        let _ = tls.shutdown().await;
    })
    .await;
    Ok(Session {
        tls: ServiceTls {
            version: facts.version,
            cipher_suite: facts.cipher_suite,
        },
        chain: facts.chain,
    })
}

/// The SMTP probe's errors in service terms (same reasons where the meaning is the same).
fn from_smtp(error: SmtpError) -> ServiceError {
    let stage = |s: SmtpStage| match s {
        SmtpStage::Connect => ServiceStage::Connect,
        SmtpStage::Banner => ServiceStage::Greeting,
        SmtpStage::Ehlo => ServiceStage::Capabilities,
        SmtpStage::Starttls => ServiceStage::Starttls,
        SmtpStage::TlsHandshake => ServiceStage::TlsHandshake,
    };
    match error {
        SmtpError::Connect { detail } | SmtpError::NoRoute { detail } => {
            ServiceError::Connect { detail }
        }
        SmtpError::Timeout { stage: s } => ServiceError::Timeout { stage: stage(s) },
        SmtpError::Io { stage: s, detail } => ServiceError::Io {
            stage: stage(s),
            detail,
        },
        SmtpError::Greeting { reply } => ServiceError::Greeting { reply },
        SmtpError::EhloRejected { reply } => ServiceError::CommandRejected { reply },
        SmtpError::StarttlsNotOffered => ServiceError::StarttlsNotOffered,
        SmtpError::StarttlsRejected { reply } => ServiceError::StarttlsRejected { reply },
        SmtpError::Protocol { stage: s, detail } => ServiceError::Protocol {
            stage: stage(s),
            detail,
        },
        SmtpError::Handshake { detail } => ServiceError::Handshake { detail },
    }
}
