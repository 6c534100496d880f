//! Bounded reading of CRLF-terminated lines from a hostile IMAP or POP3 server.
//!
//! `imap.rs` and `pop3.rs` read their plaintext dialogue (greeting, capabilities, the answer to
//! STARTTLS/STLS) through a [`LineReader`]. Every line is capped at [`MAX_LINE`] bytes, so a
//! server that never sends a newline cannot make us buffer without bound; the callers cap the
//! number of lines per response. The reader keeps what it read past the current line, so the
//! caller can tell that a server sent plaintext after agreeing to start TLS (the STARTTLS command
//! injection family, CVE-2011-0411 and RFC 7457 2.2).

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest line accepted, terminator included. IMAP capability lines of real servers are a few
/// hundred bytes; 8 KiB is tolerant and still bounds memory.
pub(super) const MAX_LINE: usize = 8192;
/// Most lines in one response (an untagged CAPABILITY plus a few others, or a POP3 CAPA list).
pub(super) const MAX_LINES: usize = 100;
/// Bytes asked for per read.
const READ_CHUNK: usize = 4096;

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum LineError {
    /// A line reached [`MAX_LINE`] bytes without a newline.
    #[error("line longer than {MAX_LINE} bytes")]
    TooLong,
    /// The peer closed the connection.
    #[error("connection closed by server")]
    Closed,
    /// The read failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl LineError {
    /// True for a broken connection, false for a protocol violation.
    pub(super) fn is_transport(&self) -> bool {
        !matches!(self, LineError::TooLong)
    }
}

/// Reads lines, keeping what follows the last one.
#[derive(Default)]
pub(super) struct LineReader {
    buffer: Vec<u8>,
}

impl LineReader {
    /// Bytes read but not yet returned as a line.
    pub(super) fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next line without its CR LF (a bare LF is accepted as servers send it).
    pub(super) async fn read_line<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> Result<Vec<u8>, LineError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                if end + 1 > MAX_LINE {
                    return Err(LineError::TooLong);
                }
                let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buffer.len() >= MAX_LINE {
                return Err(LineError::TooLong);
            }
            let mut chunk = [0u8; READ_CHUNK];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(LineError::Closed);
            }
            self.buffer
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }
}

/// Printable ASCII of `line`, at most 200 characters, for reports and logs (the SMTP reply
/// reader's rule).
pub(super) fn printable(line: &[u8]) -> String {
    crate::smtp::reply::printable(line, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_and_the_rest_kept() {
        let mut reader = LineReader::default();
        let mut input: &[u8] = b"* OK ready\r\na OK done\nrest";
        assert_eq!(reader.read_line(&mut input).await.unwrap(), b"* OK ready");
        assert_eq!(reader.read_line(&mut input).await.unwrap(), b"a OK done");
        assert_eq!(reader.buffered(), 4);
        assert!(matches!(
            reader.read_line(&mut input).await,
            Err(LineError::Closed)
        ));
    }

    #[tokio::test]
    async fn endless_lines_are_refused() {
        let mut reader = LineReader::default();
        let long = vec![b'a'; MAX_LINE * 3];
        let mut input: &[u8] = &long;
        assert!(matches!(
            reader.read_line(&mut input).await,
            Err(LineError::TooLong)
        ));
        assert!(reader.buffered() < MAX_LINE + READ_CHUNK);
    }

    #[test]
    fn printable_replaces_controls() {
        assert_eq!(printable(b"a\x1bb\xffc"), "a?b?c");
    }
}
