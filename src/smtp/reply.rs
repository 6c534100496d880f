//! Reading SMTP replies (RFC 5321 section 4.2) from a hostile server, with hard bounds.
//!
//! `super::session` feeds this module the raw bytes of the TCP stream (before STARTTLS) or of the
//! TLS stream (for the final QUIT) and gets back whole [`Reply`] values. Parsing is split into pure
//! steps (cut a line off the buffer, parse a line, assemble lines into a reply) so each bound can be
//! unit-tested without sockets; [`ReplyReader`] only adds the reads. The reader keeps the bytes it
//! read past the end of a reply, so the caller can tell when a server pipelined data after a reply
//! (the STARTTLS injection check).

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest reply line we accept, terminator included. RFC 5321 4.5.3.1.5 caps a reply line at 512
/// octets and 4.5.3.1.6 any text line at 1000; real servers stay far below, so 4 KiB is tolerant
/// while still bounding memory against a server that never sends a newline.
pub(crate) const MAX_LINE: usize = 4096;
/// Most lines in one reply. A large EHLO reply has about 20; a hundred leaves room for chatty
/// banners and stops a server that streams continuation lines forever.
pub(crate) const MAX_LINES: usize = 100;
/// Most bytes in one reply, terminators included.
pub(crate) const MAX_REPLY_BYTES: usize = 64 * 1024;
/// Bytes asked for per read. Together with [`MAX_LINE`] this bounds the buffer: it never holds more
/// than `MAX_LINE + READ_CHUNK` bytes.
const READ_CHUNK: usize = 4096;

/// A complete SMTP reply: one code and the text of each line, terminators and codes removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The three-digit reply code, shared by all lines.
    pub(crate) code: u16,
    /// The text of each line after the code and its separator; may be empty.
    pub(crate) lines: Vec<Vec<u8>>,
}

impl Reply {
    /// 2yz: positive completion.
    pub(crate) fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// Text of the first line, printable ASCII only, at most `max_chars` characters. Used for the
    /// banner label, which ends up in metrics and logs.
    pub(crate) fn first_line_text(&self, max_chars: usize) -> String {
        self.lines
            .first()
            .map(|line| printable(line, max_chars))
            .unwrap_or_default()
    }

    /// Whether an EHLO reply lists `keyword` (case-insensitive) as an extension.
    ///
    /// The first line of an EHLO reply is the server's domain and greeting, not an extension
    /// (RFC 5321 4.1.1.1, `ehlo-ok-rsp`), so it is skipped, as Postfix does. Each further line is
    /// `ehlo-keyword *(SP ehlo-param)`: the keyword is the first space-separated word.
    pub(crate) fn has_extension(&self, keyword: &str) -> bool {
        self.lines.iter().skip(1).any(|line| {
            line.split(|&b| b == b' ')
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case(keyword.as_bytes()))
        })
    }

    /// The reply as one printable line for error messages: `554 text / more text`, at most 200
    /// characters.
    pub(crate) fn summary(&self) -> String {
        let mut joined = self.code.to_string().into_bytes();
        for (i, line) in self.lines.iter().enumerate() {
            joined.extend_from_slice(if i == 0 { b" " } else { b" / " });
            joined.extend_from_slice(line);
            if joined.len() > SUMMARY_CHARS {
                break;
            }
        }
        printable(&joined, SUMMARY_CHARS).trim_end().to_string()
    }
}

/// Longest reply summary kept in an error.
const SUMMARY_CHARS: usize = 200;

/// Keeps printable ASCII and replaces everything else with `?`, so server text can go into labels
/// and logs without control characters or invalid UTF-8.
pub(crate) fn printable(bytes: &[u8], max_chars: usize) -> String {
    bytes
        .iter()
        .take(max_chars)
        .map(|&b| {
            if (0x20..=0x7e).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// Why a reply could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReplyError {
    /// A line reached [`MAX_LINE`] bytes without ending.
    #[error("reply line longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// The reply went on past [`MAX_LINES`] lines.
    #[error("reply has more than {MAX_LINES} lines")]
    TooManyLines,
    /// The reply went on past [`MAX_REPLY_BYTES`] bytes.
    #[error("reply longer than {MAX_REPLY_BYTES} bytes")]
    TooLarge,
    /// A line that is not `code [SP|-] text`.
    #[error("not an SMTP reply line: {0:?}")]
    Malformed(String),
    /// A continuation line changed the reply code.
    #[error("reply code changed from {expected} to {got} within one reply")]
    CodeChanged {
        /// The code of the first line.
        expected: u16,
        /// The code of the offending line.
        got: u16,
    },
    /// The peer closed the connection before the reply was complete.
    #[error("connection closed by server{}", if *.mid_reply { " in the middle of a reply" } else { "" })]
    Closed {
        /// Whether part of a reply had arrived.
        mid_reply: bool,
    },
    /// The read failed.
    #[error("{0}")]
    Io(String),
}

impl ReplyError {
    /// Whether this is a transport problem (the connection broke) rather than a protocol
    /// violation by a server that is still talking.
    pub(crate) fn is_transport(&self) -> bool {
        matches!(self, ReplyError::Closed { .. } | ReplyError::Io(_))
    }
}

/// Cuts the next complete line off the front of `buf`, without its terminator.
///
/// A line ends at LF; a CR before it is dropped too. RFC 5321 demands CRLF, but a bare LF is
/// accepted (as Postfix's client does) because rejecting it would report a working server as
/// broken without adding safety. Returns `Ok(None)` when no complete line is buffered yet.
pub(crate) fn take_line(buf: &mut Vec<u8>) -> Result<Option<(Vec<u8>, usize)>, ReplyError> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let raw_len = lf + 1;
            if raw_len > MAX_LINE {
                return Err(ReplyError::LineTooLong);
            }
            let mut line: Vec<u8> = buf.drain(..raw_len).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Ok(Some((line, raw_len)))
        }
        None if buf.len() >= MAX_LINE => Err(ReplyError::LineTooLong),
        None => Ok(None),
    }
}

/// One parsed reply line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ReplyLine<'a> {
    /// The reply code.
    pub(crate) code: u16,
    /// False for `code-text` continuation lines.
    pub(crate) last: bool,
    /// What follows the code and separator.
    pub(crate) text: &'a [u8],
}

/// Parses one line (terminator removed) per RFC 5321 4.2:
/// `Reply-code = %x32-35 %x30-35 %x30-39`, then `-` (more lines follow), SP, or the end of the line.
pub(crate) fn parse_line(line: &[u8]) -> Result<ReplyLine<'_>, ReplyError> {
    let malformed = || ReplyError::Malformed(printable(line, 40));
    let (code, rest) = match line {
        [a @ b'2'..=b'5', b @ b'0'..=b'5', c @ b'0'..=b'9', rest @ ..] => {
            let digit = |d: &u8| u16::from(d - b'0');
            (digit(a) * 100 + digit(b) * 10 + digit(c), rest)
        }
        _ => return Err(malformed()),
    };
    match rest {
        [] => Ok(ReplyLine {
            code,
            last: true,
            text: &[],
        }),
        [b' ', text @ ..] => Ok(ReplyLine {
            code,
            last: true,
            text,
        }),
        [b'-', text @ ..] => Ok(ReplyLine {
            code,
            last: false,
            text,
        }),
        _ => Err(malformed()),
    }
}

/// Collects lines into a reply and enforces the per-reply bounds.
#[derive(Debug, Default)]
pub(crate) struct ReplyAssembler {
    code: Option<u16>,
    lines: Vec<Vec<u8>>,
    bytes: usize,
}

impl ReplyAssembler {
    /// Adds one line (terminator removed; `raw_len` counts it). Returns the reply once its last
    /// line arrived.
    pub(crate) fn push(
        &mut self,
        line: &[u8],
        raw_len: usize,
    ) -> Result<Option<Reply>, ReplyError> {
        self.bytes += raw_len;
        if self.bytes > MAX_REPLY_BYTES {
            return Err(ReplyError::TooLarge);
        }
        let parsed = parse_line(line)?;
        let code = *self.code.get_or_insert(parsed.code);
        if parsed.code != code {
            return Err(ReplyError::CodeChanged {
                expected: code,
                got: parsed.code,
            });
        }
        self.lines.push(parsed.text.to_vec());
        if parsed.last {
            return Ok(Some(Reply {
                code,
                lines: std::mem::take(&mut self.lines),
            }));
        }
        if self.lines.len() >= MAX_LINES {
            return Err(ReplyError::TooManyLines);
        }
        Ok(None)
    }

    /// Whether part of a reply has been collected.
    fn is_started(&self) -> bool {
        self.code.is_some()
    }
}

/// Reads replies from a stream, keeping whatever was read past the end of a reply.
///
/// It does no timing: the caller wraps each whole step in one timeout, so a server sending a byte
/// a second still fails the step on time.
#[derive(Debug)]
pub(crate) struct ReplyReader {
    buf: Vec<u8>,
    chunk: Vec<u8>,
}

impl ReplyReader {
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::with_capacity(READ_CHUNK),
            chunk: vec![0; READ_CHUNK],
        }
    }

    /// Bytes received beyond the last reply returned.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Reads one complete reply.
    pub(crate) async fn read_reply<R: AsyncRead + Unpin>(
        &mut self,
        stream: &mut R,
    ) -> Result<Reply, ReplyError> {
        let mut assembler = ReplyAssembler::default();
        loop {
            while let Some((line, raw_len)) = take_line(&mut self.buf)? {
                if let Some(reply) = assembler.push(&line, raw_len)? {
                    return Ok(reply);
                }
            }
            let n = stream
                .read(&mut self.chunk)
                .await
                .map_err(|e| ReplyError::Io(e.to_string()))?;
            if n == 0 {
                return Err(ReplyError::Closed {
                    mid_reply: assembler.is_started() || !self.buf.is_empty(),
                });
            }
            self.buf.extend_from_slice(&self.chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_from(bytes: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let mut buf = bytes.to_vec();
        let mut assembler = ReplyAssembler::default();
        while let Some((line, raw_len)) = take_line(&mut buf)? {
            if let Some(reply) = assembler.push(&line, raw_len)? {
                return Ok(Some(reply));
            }
        }
        Ok(None)
    }

    #[test]
    fn parses_single_and_bare_code_lines() {
        assert_eq!(
            parse_line(b"220 mx.example ESMTP").unwrap(),
            ReplyLine {
                code: 220,
                last: true,
                text: b"mx.example ESMTP"
            }
        );
        assert_eq!(
            parse_line(b"250").unwrap(),
            ReplyLine {
                code: 250,
                last: true,
                text: b""
            }
        );
        assert_eq!(
            parse_line(b"250-PIPELINING").unwrap(),
            ReplyLine {
                code: 250,
                last: false,
                text: b"PIPELINING"
            }
        );
    }

    #[test]
    fn rejects_malformed_codes() {
        for bad in [
            &b"22 short"[..],
            b"2x0 letters",
            b"abc",
            b"",
            b"220x no separator",
            b"620 first digit out of range",
            b"190 first digit out of range",
            b"260 second digit out of range",
            b" 220 leading space",
        ] {
            assert!(
                matches!(parse_line(bad), Err(ReplyError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn assembles_multi_line_reply() {
        let reply = reply_from(b"220-first\r\n220-second\r\n220 third\r\nEXTRA")
            .unwrap()
            .unwrap();
        assert_eq!(reply.code, 220);
        assert_eq!(
            reply.lines,
            vec![b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
        );
        assert_eq!(reply.first_line_text(200), "first");
    }

    #[test]
    fn continuation_with_other_code_is_an_error() {
        assert_eq!(
            reply_from(b"220-first\r\n250 second\r\n"),
            Err(ReplyError::CodeChanged {
                expected: 220,
                got: 250
            })
        );
    }

    #[test]
    fn line_without_terminator_is_incomplete_until_lf() {
        let mut buf = b"220 no newline yet".to_vec();
        assert_eq!(take_line(&mut buf), Ok(None));
        assert_eq!(buf.len(), 18, "nothing consumed");
        buf.extend_from_slice(b"\r\n");
        assert_eq!(
            take_line(&mut buf),
            Ok(Some((b"220 no newline yet".to_vec(), 20)))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn bare_lf_ends_a_line() {
        let mut buf = b"220 bare\n".to_vec();
        assert_eq!(take_line(&mut buf), Ok(Some((b"220 bare".to_vec(), 9))));
    }

    #[test]
    fn overlong_line_is_refused_with_or_without_terminator() {
        let mut buf = vec![b'a'; MAX_LINE];
        assert_eq!(take_line(&mut buf), Err(ReplyError::LineTooLong));
        let mut buf = vec![b'a'; MAX_LINE];
        buf.push(b'\n');
        assert_eq!(take_line(&mut buf), Err(ReplyError::LineTooLong));
        // Just under the limit is fine.
        let mut buf = b"220 ".to_vec();
        buf.resize(MAX_LINE - 2, b'a');
        buf.extend_from_slice(b"\r\n");
        assert!(take_line(&mut buf).unwrap().is_some());
    }

    #[test]
    fn too_many_lines_is_refused() {
        let mut input = b"220-x\r\n".repeat(MAX_LINES);
        input.extend_from_slice(b"220 end\r\n");
        assert_eq!(reply_from(&input), Err(ReplyError::TooManyLines));
        // Exactly MAX_LINES lines is a valid reply.
        let mut input = b"220-x\r\n".repeat(MAX_LINES - 1);
        input.extend_from_slice(b"220 end\r\n");
        assert_eq!(reply_from(&input).unwrap().unwrap().lines.len(), MAX_LINES);
    }

    #[test]
    fn too_many_bytes_is_refused() {
        let mut line = b"220-".to_vec();
        line.resize(1998, b'a');
        line.extend_from_slice(b"\r\n");
        let input = line.repeat(MAX_REPLY_BYTES / line.len() + 1);
        assert_eq!(reply_from(&input), Err(ReplyError::TooLarge));
    }

    #[test]
    fn detects_starttls_keyword() {
        let ehlo = |text: &[u8]| reply_from(text).unwrap().unwrap();
        assert!(
            ehlo(b"250-mx.example\r\n250-STARTTLS\r\n250 SIZE 1000\r\n").has_extension("STARTTLS")
        );
        assert!(ehlo(b"250-mx.example\r\n250 STARTTLS\r\n").has_extension("STARTTLS"));
        assert!(
            ehlo(b"250-mx.example\r\n250-starttls\r\n250 8BITMIME\r\n").has_extension("STARTTLS")
        );
        assert!(ehlo(b"250-mx.example\r\n250 StartTLS param\r\n").has_extension("STARTTLS"));
        // Not an extension keyword: a different word, text inside a line, or the greeting line.
        assert!(!ehlo(b"250-mx.example\r\n250 STARTTLSX\r\n").has_extension("STARTTLS"));
        assert!(!ehlo(b"250-mx.example\r\n250 X-NO STARTTLS\r\n").has_extension("STARTTLS"));
        assert!(!ehlo(b"250 STARTTLS\r\n").has_extension("STARTTLS"));
        assert!(!ehlo(b"250-mx.example\r\n250 PIPELINING\r\n").has_extension("STARTTLS"));
    }

    #[test]
    fn text_is_made_printable_and_short() {
        let reply = reply_from(b"554-no\x1b[31m\xff\r\n554 go away\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(reply.summary(), "554 no?[31m? / go away");
        assert_eq!(reply.first_line_text(3), "no?");
        let long = Reply {
            code: 220,
            lines: vec![vec![b'a'; 500]],
        };
        assert_eq!(long.first_line_text(200).len(), 200);
        assert_eq!(long.summary().len(), 200);
    }

    #[tokio::test]
    async fn reader_keeps_bytes_after_the_reply() {
        let mut input: &[u8] = b"220 ready\r\nINJECTED\r\n";
        let mut reader = ReplyReader::new();
        let reply = reader.read_reply(&mut input).await.unwrap();
        assert_eq!(reply.code, 220);
        assert_eq!(reader.buffered(), b"INJECTED\r\n".len());
    }

    #[tokio::test]
    async fn reader_reports_close() {
        let mut reader = ReplyReader::new();
        let mut empty: &[u8] = b"";
        assert_eq!(
            reader.read_reply(&mut empty).await,
            Err(ReplyError::Closed { mid_reply: false })
        );
        let mut partial: &[u8] = b"220-one\r\n220 tw";
        assert_eq!(
            ReplyReader::new().read_reply(&mut partial).await,
            Err(ReplyError::Closed { mid_reply: true })
        );
    }
}
