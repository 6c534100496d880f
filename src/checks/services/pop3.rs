//! The POP3 STLS dialogue (RFC 2595 4, RFC 2449 for CAPA), up to the point where the TLS
//! handshake starts.
//!
//! Called by `session.rs` on a fresh TCP connection: read the `+OK` greeting, ask `CAPA` and look
//! for `STLS` in the multi-line answer, send `STLS` and wait for `+OK`. A server without CAPA
//! (`-ERR`) is still asked STLS, as clients do; its `-ERR` then means STLS is not offered.
//! Bounds as in `imap.rs`; plaintext after the `+OK` to STLS is refused.

use std::time::Duration;

use tokio::net::TcpStream;

use super::dialogue::{
    goodbye, nothing_after_go_ahead, read, send, starts_with_ignore_case, within,
};
use super::lines::{printable, LineReader, MAX_LINES};
use super::report::{ServiceError, ServiceStage};

/// Leaves `tcp` right after the server's `+OK` to STLS.
pub(super) async fn starttls(tcp: &mut TcpStream, step: Duration) -> Result<(), ServiceError> {
    let mut reader = LineReader::default();
    let greeting = within(step, ServiceStage::Greeting, async {
        read(&mut reader, tcp, ServiceStage::Greeting).await
    })
    .await?;
    if !starts_with_ignore_case(&greeting, b"+OK") {
        return Err(ServiceError::Greeting {
            reply: printable(&greeting),
        });
    }

    let capa = within(step, ServiceStage::Capabilities, async {
        send(tcp, b"CAPA\r\n", ServiceStage::Capabilities).await?;
        let status = read(&mut reader, tcp, ServiceStage::Capabilities).await?;
        if !starts_with_ignore_case(&status, b"+OK") {
            return Ok(None);
        }
        // Multi-line answer up to a line holding only ".".
        let mut lines = Vec::new();
        loop {
            let line = read(&mut reader, tcp, ServiceStage::Capabilities).await?;
            if line == b"." {
                return Ok(Some(lines));
            }
            if lines.len() >= MAX_LINES {
                return Err(ServiceError::Protocol {
                    stage: ServiceStage::Capabilities,
                    detail: format!("CAPA answer longer than {MAX_LINES} lines"),
                });
            }
            lines.push(line);
        }
    })
    .await?;
    if let Some(lines) = &capa {
        let offered = lines.iter().any(|line| {
            line.split(|&b| b == b' ')
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case(b"STLS"))
        });
        if !offered {
            goodbye(tcp, step, b"QUIT\r\n").await;
            return Err(ServiceError::StarttlsNotOffered);
        }
    }

    let status = within(step, ServiceStage::Starttls, async {
        send(tcp, b"STLS\r\n", ServiceStage::Starttls).await?;
        read(&mut reader, tcp, ServiceStage::Starttls).await
    })
    .await?;
    if !starts_with_ignore_case(&status, b"+OK") {
        goodbye(tcp, step, b"QUIT\r\n").await;
        return Err(match capa {
            None => ServiceError::StarttlsNotOffered,
            Some(_) => ServiceError::StarttlsRejected {
                reply: printable(&status),
            },
        });
    }
    nothing_after_go_ahead(&reader, "the +OK to STLS")
}
