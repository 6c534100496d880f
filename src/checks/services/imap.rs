//! The IMAP STARTTLS dialogue (RFC 9051 6.2.1, RFC 3501 6.2.1, RFC 2595 3.1), up to the point
//! where the TLS handshake starts.
//!
//! Called by `session.rs` on a fresh TCP connection: read the greeting (`* OK`), ask
//! `a CAPABILITY`, look for the `STARTTLS` capability in the untagged reply, send `b STARTTLS`
//! and wait for `b OK`. Every step is bounded by the step timeout, every line by
//! `lines::MAX_LINE`, every response by `lines::MAX_LINES`. Anything the server sends after its
//! `b OK` and before our ClientHello is refused (the injection check).

use std::time::Duration;

use tokio::net::TcpStream;

use super::dialogue::{
    goodbye, nothing_after_go_ahead, read, send, starts_with_ignore_case, within,
};
use super::lines::{printable, LineReader, MAX_LINES};
use super::report::{ServiceError, ServiceStage};

/// Leaves `tcp` right after the server's `b OK` to STARTTLS.
pub(super) async fn starttls(tcp: &mut TcpStream, step: Duration) -> Result<(), ServiceError> {
    let mut reader = LineReader::default();
    let greeting = within(step, ServiceStage::Greeting, async {
        read(&mut reader, tcp, ServiceStage::Greeting).await
    })
    .await?;
    // `* OK` is the only greeting after which STARTTLS may follow: `* PREAUTH` means the session
    // is already authenticated (STARTTLS is then not allowed), `* BYE` a refusal.
    if !starts_with_ignore_case(&greeting, b"* OK") {
        return Err(ServiceError::Greeting {
            reply: printable(&greeting),
        });
    }

    let (capabilities, status) = within(step, ServiceStage::Capabilities, async {
        command(
            &mut reader,
            tcp,
            b"a CAPABILITY\r\n",
            b"a ",
            ServiceStage::Capabilities,
        )
        .await
    })
    .await?;
    if !starts_with_ignore_case(&status, b"a OK") {
        goodbye(tcp, step, b"z LOGOUT\r\n").await;
        return Err(ServiceError::CommandRejected {
            reply: printable(&status),
        });
    }
    let offered = capabilities.iter().any(|line| {
        starts_with_ignore_case(line, b"* CAPABILITY ")
            && line
                .split(|&b| b == b' ')
                .any(|word| word.eq_ignore_ascii_case(b"STARTTLS"))
    });
    if !offered {
        goodbye(tcp, step, b"z LOGOUT\r\n").await;
        return Err(ServiceError::StarttlsNotOffered);
    }

    let (_, status) = within(step, ServiceStage::Starttls, async {
        command(
            &mut reader,
            tcp,
            b"b STARTTLS\r\n",
            b"b ",
            ServiceStage::Starttls,
        )
        .await
    })
    .await?;
    if !starts_with_ignore_case(&status, b"b OK") {
        goodbye(tcp, step, b"z LOGOUT\r\n").await;
        return Err(ServiceError::StarttlsRejected {
            reply: printable(&status),
        });
    }
    nothing_after_go_ahead(&reader, "the OK to STARTTLS")
}

/// Sends `line` and reads until the tagged status line starting with `tag`; returns the untagged
/// lines and the status line.
async fn command(
    reader: &mut LineReader,
    tcp: &mut TcpStream,
    line: &[u8],
    tag: &[u8],
    stage: ServiceStage,
) -> Result<(Vec<Vec<u8>>, Vec<u8>), ServiceError> {
    send(tcp, line, stage).await?;
    let mut untagged = Vec::new();
    while untagged.len() < MAX_LINES {
        let line = read(reader, tcp, stage).await?;
        if starts_with_ignore_case(&line, tag) {
            return Ok((untagged, line));
        }
        untagged.push(line);
    }
    Err(ServiceError::Protocol {
        stage,
        detail: format!("more than {MAX_LINES} lines without a tagged reply"),
    })
}
