//! The SMTP dialogue of one probe: connect, greeting, EHLO, STARTTLS, handshake, QUIT.
//!
//! Called by [`super::probe_starttls`]; reads replies through [`super::reply`] and hands the TCP
//! stream to `crate::tls` after the 220 to STARTTLS. Each step (write the command, read the whole
//! reply) runs under its timeout (`step_timeout` for the connect and the handshake,
//! `reply_timeout` for each reply), so a slow-dripping server fails the step on time. The polite
//! QUIT at the end or after a refusal is best effort under a short timeout of its own and never
//! changes the outcome.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::reply::{Reply, ReplyError, ReplyReader};
use super::settings::SmtpSettings;
use crate::core::{KeyAlgorithm, SmtpError, SmtpStage, TlsEngine, TlsSession, PROGRESS};
use crate::tls::legacy::LegacyTlsError;

/// Longest banner kept, in characters.
const BANNER_CHARS: usize = 200;
/// Upper bound for the goodbye (QUIT, 221, close_notify): the verdict is already known, so a slow
/// server must not hold the probe up.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a session failed, and whether the failure was the server refusing a handshake restricted
/// to one key algorithm (it has no key of that kind: "not offered", not a fault).
#[derive(Debug)]
pub(crate) struct Failure {
    /// The failure as every other probe reports it.
    pub(crate) error: SmtpError,
    /// Only with a restriction: the server answered the ClientHello with a handshake_failure
    /// alert, which is how OpenSSL (and rustls) say "no certificate for what you offered".
    pub(crate) no_such_key: bool,
}

impl From<SmtpError> for Failure {
    fn from(error: SmtpError) -> Self {
        Failure {
            error,
            no_such_key: false,
        }
    }
}

pub(crate) async fn run(
    addr: SocketAddr,
    sni: &str,
    settings: &SmtpSettings,
) -> Result<TlsSession, SmtpError> {
    run_restricted(addr, sni, settings, None)
        .await
        .map_err(|failure| failure.error)
}

/// [`run`], with the ClientHello restricted to server keys of the algorithm `only` when given.
///
/// Without a restriction, a rustls handshake that fails is tried once more with the OpenSSL
/// engine (`crate::tls::legacy`), on a fresh connection and dialogue, when the settings allow it:
/// rustls cannot speak to servers Postfix delivers to (CBC suites, RSA or DHE key exchange,
/// P-521, leaves it refuses), and OpenSSL's answer is then Postfix's. A restricted session never
/// falls back: there a handshake failure means "no key of that kind".
pub(crate) async fn run_restricted(
    addr: SocketAddr,
    sni: &str,
    settings: &SmtpSettings,
    only: Option<KeyAlgorithm>,
) -> Result<TlsSession, Failure> {
    // Checked before connecting: a bad name or config would fail the handshake anyway, and the
    // server should not see a connection we already know is useless.
    let server_name =
        crate::tls::server_name(sni).map_err(|detail| SmtpError::Handshake { detail })?;
    let config = match only {
        None => crate::tls::client_config(),
        Some(algorithm) => crate::tls::restricted_client_config(algorithm),
    }
    .map_err(|e| SmtpError::Handshake {
        detail: format!("TLS client configuration: {e}"),
    })?;
    let step = settings.step_timeout;
    // The port is the one in the settings (the TLSA name `_PORT._tcp` follows it too).
    let addr = SocketAddr::new(addr.ip(), settings.port);

    let Plaintext { tcp, banner } = plaintext(addr, settings).await?;
    tracing::debug!(target: PROGRESS, "TLS handshake with {addr}");
    let failure =
        match tokio::time::timeout(step, crate::tls::handshake(config, server_name, tcp)).await {
            Ok(Ok(mut tls)) => {
                let facts = crate::tls::session_facts(&tls)
                    .map_err(|detail| SmtpError::Handshake { detail })?;
                goodbye_tls(&mut tls, step).await;
                return Ok(TlsSession {
                    version: facts.version,
                    cipher_suite: facts.cipher_suite,
                    engine: TlsEngine::Rustls,
                    chain: facts.chain,
                    banner,
                });
            }
            Ok(Err(e)) => Failure {
                no_such_key: only.is_some() && crate::tls::is_handshake_failure_alert(&e),
                error: SmtpError::Handshake {
                    detail: crate::tls::handshake_error_detail(&e),
                },
            },
            Err(_) => {
                return Err(SmtpError::Timeout {
                    stage: SmtpStage::TlsHandshake,
                }
                .into())
            }
        };
    if only.is_some() || !settings.tls_fallback {
        return Err(failure);
    }
    // What the first connection learned stands if the second one does not get as far: the
    // server was reached and refused rustls's handshake.
    let Ok(Plaintext { tcp, banner }) = plaintext(addr, settings).await else {
        return Err(failure);
    };
    tracing::debug!(target: PROGRESS, "TLS handshake with {addr} (OpenSSL)");
    match crate::tls::legacy::handshake(tcp, sni, step).await {
        Ok(mut handshake) => {
            goodbye_tls(&mut handshake.stream, step).await;
            let facts = handshake.facts;
            Ok(TlsSession {
                version: facts.version,
                cipher_suite: facts.cipher_suite,
                engine: TlsEngine::Openssl,
                chain: facts.chain,
                banner,
            })
        }
        Err(LegacyTlsError::Timeout) => Err(SmtpError::Timeout {
            stage: SmtpStage::TlsHandshake,
        }
        .into()),
        // OpenSSL's reason is what Postfix reports for the same server.
        Err(error) => Err(SmtpError::Handshake {
            detail: error.to_string(),
        }
        .into()),
    }
}

/// A connection on which the server has just accepted STARTTLS.
struct Plaintext {
    tcp: TcpStream,
    /// First line of the 220 greeting.
    banner: String,
}

/// Connect, greeting, EHLO, STARTTLS: the plaintext part of the dialogue. The connect runs under
/// the step timeout, each reply under the reply timeout (greet-pausing servers are normal).
async fn plaintext(addr: SocketAddr, settings: &SmtpSettings) -> Result<Plaintext, SmtpError> {
    let step = settings.step_timeout;
    let wait = settings.reply_timeout;
    tracing::debug!(target: PROGRESS, "connecting to {addr}");
    let mut tcp = within(step, SmtpStage::Connect, async {
        TcpStream::connect(addr).await.map_err(|e| match e.kind() {
            // A reset means the TCP handshake completed and the server then hung up: the same
            // fault as a reset while waiting for the banner, so it gets the same reason whichever
            // side of `connect` returning it lands on.
            std::io::ErrorKind::ConnectionReset => SmtpError::Io {
                stage: SmtpStage::Banner,
                detail: e.to_string(),
            },
            // No route from this host (no such network, or the address family is not configured
            // here): the monitoring host's limit, not the server's.
            std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::AddrNotAvailable => {
                SmtpError::NoRoute {
                    detail: e.to_string(),
                }
            }
            _ => SmtpError::Connect {
                detail: e.to_string(),
            },
        })
    })
    .await?;
    // Every write is a whole command or TLS flight, flushed at once: Nagle's algorithm would only
    // hold the client's last handshake flight and the QUIT behind it until the server's delayed
    // ACK (40 ms on Linux), which made a loopback probe wait and kept the sessions in flight
    // (docs/performance.md). A failure to set it costs latency, not correctness.
    let _ = tcp.set_nodelay(true);
    let mut reader = ReplyReader::new();

    tracing::debug!(target: PROGRESS, "waiting for the greeting of {addr}");
    let greeting = within(
        wait,
        SmtpStage::Banner,
        read(&mut reader, &mut tcp, SmtpStage::Banner),
    )
    .await?;
    if greeting.code != 220 {
        // RFC 5321 3.1: after a 554 greeting the client should still send QUIT.
        goodbye_plain(&mut reader, &mut tcp, step).await;
        return Err(SmtpError::Greeting {
            reply: greeting.summary(),
        });
    }
    let banner = greeting.first_line_text(BANNER_CHARS);

    let ehlo = ehlo_command(&settings.ehlo_name);
    tracing::debug!(target: PROGRESS, "EHLO to {addr}");
    let ehlo_reply = within(
        wait,
        SmtpStage::Ehlo,
        command(&mut reader, &mut tcp, &ehlo, SmtpStage::Ehlo),
    )
    .await?;
    if !ehlo_reply.is_positive() {
        goodbye_plain(&mut reader, &mut tcp, step).await;
        return Err(SmtpError::EhloRejected {
            reply: ehlo_reply.summary(),
        });
    }
    if !ehlo_reply.has_extension("STARTTLS") {
        goodbye_plain(&mut reader, &mut tcp, step).await;
        return Err(SmtpError::StarttlsNotOffered);
    }

    tracing::debug!(target: PROGRESS, "STARTTLS with {addr}");
    let starttls_reply = within(
        wait,
        SmtpStage::Starttls,
        command(&mut reader, &mut tcp, b"STARTTLS\r\n", SmtpStage::Starttls),
    )
    .await?;
    if starttls_reply.code != 220 {
        goodbye_plain(&mut reader, &mut tcp, step).await;
        return Err(SmtpError::StarttlsRejected {
            reply: starttls_reply.summary(),
        });
    }
    // Anything already buffered was sent in plaintext after the 220 and would otherwise be taken
    // for a reply inside TLS (the CVE-2011-0411 injection family). A correct server sends nothing
    // until our ClientHello.
    if reader.buffered() > 0 {
        return Err(SmtpError::Protocol {
            stage: SmtpStage::Starttls,
            detail: format!(
                "{} bytes of plaintext sent after the 220 reply to STARTTLS",
                reader.buffered()
            ),
        });
    }
    Ok(Plaintext { tcp, banner })
}

/// QUIT inside TLS and close_notify, best effort: the outcome is already known.
async fn goodbye_tls<S: AsyncRead + AsyncWrite + Unpin>(tls: &mut S, step: Duration) {
    // A fresh reader: nothing read before the handshake may be interpreted inside TLS.
    let mut reader = ReplyReader::new();
    let _ = tokio::time::timeout(goodbye_timeout(step), async {
        quit(&mut reader, tls).await;
        // Sends close_notify, so the server sees an orderly TLS close rather than a truncation.
        let _ = tls.shutdown().await;
    })
    .await;
}

/// Runs one step under the step timeout.
async fn within<T>(
    limit: Duration,
    stage: SmtpStage,
    step: impl Future<Output = Result<T, SmtpError>>,
) -> Result<T, SmtpError> {
    tokio::time::timeout(limit, step)
        .await
        .unwrap_or(Err(SmtpError::Timeout { stage }))
}

/// Sends one command line and reads its reply.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut ReplyReader,
    stream: &mut S,
    line: &[u8],
    stage: SmtpStage,
) -> Result<Reply, SmtpError> {
    let io = |e: std::io::Error| SmtpError::Io {
        stage,
        detail: e.to_string(),
    };
    stream.write_all(line).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    read(reader, stream, stage).await
}

/// Reads one reply, sorting failures into broken connections and protocol violations.
async fn read<S: AsyncRead + Unpin>(
    reader: &mut ReplyReader,
    stream: &mut S,
    stage: SmtpStage,
) -> Result<Reply, SmtpError> {
    reader
        .read_reply(stream)
        .await
        .map_err(|e| reply_error(e, stage))
}

fn reply_error(error: ReplyError, stage: SmtpStage) -> SmtpError {
    if error.is_transport() {
        SmtpError::Io {
            stage,
            detail: error.to_string(),
        }
    } else {
        SmtpError::Protocol {
            stage,
            detail: error.to_string(),
        }
    }
}

/// `EHLO name`. Characters that could end the line or smuggle a second command (CR, LF, other
/// controls, spaces) are dropped: the name comes from configuration, and a typo there must not
/// turn into a second SMTP command.
fn ehlo_command(name: &str) -> Vec<u8> {
    let mut line = b"EHLO ".to_vec();
    line.extend(name.bytes().filter(u8::is_ascii_graphic));
    line.extend_from_slice(b"\r\n");
    line
}

fn goodbye_timeout(step: Duration) -> Duration {
    step.min(GOODBYE_TIMEOUT)
}

/// QUIT in plaintext after a refusal, best effort.
async fn goodbye_plain(reader: &mut ReplyReader, tcp: &mut TcpStream, step: Duration) {
    let _ = tokio::time::timeout(goodbye_timeout(step), quit(reader, tcp)).await;
}

/// Sends QUIT and waits for the reply (normally 221), ignoring what comes back or fails.
async fn quit<S: AsyncRead + AsyncWrite + Unpin>(reader: &mut ReplyReader, stream: &mut S) {
    // The stage only labels an error, and this one is discarded.
    let _ = command(reader, stream, b"QUIT\r\n", SmtpStage::Ehlo).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehlo_name_cannot_inject_commands() {
        assert_eq!(
            ehlo_command("probe.example\r\nMAIL FROM:<x>"),
            b"EHLO probe.exampleMAILFROM:<x>\r\n".to_vec()
        );
        assert_eq!(
            ehlo_command("dane-exporter.invalid"),
            b"EHLO dane-exporter.invalid\r\n".to_vec()
        );
    }
}
