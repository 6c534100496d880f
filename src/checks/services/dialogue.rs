//! What the IMAP and POP3 STARTTLS dialogues (`imap.rs`, `pop3.rs`) share: a line read from the
//! server as a [`ServiceError`] of the current stage, a command sent, the check that nothing was
//! sent between the server's go-ahead and our ClientHello, and the best-effort plaintext goodbye
//! after a refusal; and one step run under the step timeout.

use std::future::Future;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::lines::{LineError, LineReader};
use super::report::{ServiceError, ServiceStage};

/// One line from the server (bounded by [`LineReader`]).
pub(super) async fn read(
    reader: &mut LineReader,
    tcp: &mut TcpStream,
    stage: ServiceStage,
) -> Result<Vec<u8>, ServiceError> {
    reader
        .read_line(tcp)
        .await
        .map_err(|e| line_error(e, stage))
}

/// Sends `line` (CRLF included).
pub(super) async fn send(
    tcp: &mut TcpStream,
    line: &[u8],
    stage: ServiceStage,
) -> Result<(), ServiceError> {
    let io = |e: std::io::Error| ServiceError::Io {
        stage,
        detail: e.to_string(),
    };
    tcp.write_all(line).await.map_err(io)?;
    tcp.flush().await.map_err(io)
}

/// Plaintext the server sent after agreeing to start TLS (`go_ahead` names that reply in the
/// message) would be read as if it came over TLS: the STARTTLS injection family.
pub(super) fn nothing_after_go_ahead(
    reader: &LineReader,
    go_ahead: &str,
) -> Result<(), ServiceError> {
    match reader.buffered() {
        0 => Ok(()),
        n => Err(ServiceError::Protocol {
            stage: ServiceStage::Starttls,
            detail: format!("{n} bytes of plaintext sent after {go_ahead}"),
        }),
    }
}

/// Best-effort `line` (LOGOUT, QUIT) in plaintext after a refusal, under at most a second.
pub(super) async fn goodbye(tcp: &mut TcpStream, step: Duration, line: &[u8]) {
    let _ = tokio::time::timeout(step.min(Duration::from_secs(1)), async {
        let _ = tcp.write_all(line).await;
    })
    .await;
}

fn line_error(error: LineError, stage: ServiceStage) -> ServiceError {
    if error.is_transport() {
        ServiceError::Io {
            stage,
            detail: error.to_string(),
        }
    } else {
        ServiceError::Protocol {
            stage,
            detail: error.to_string(),
        }
    }
}

pub(super) fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Runs one step under the step timeout.
pub(super) async fn within<T>(
    limit: Duration,
    stage: ServiceStage,
    step: impl Future<Output = Result<T, ServiceError>>,
) -> Result<T, ServiceError> {
    tokio::time::timeout(limit, step)
        .await
        .unwrap_or(Err(ServiceError::Timeout { stage }))
}
