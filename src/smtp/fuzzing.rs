//! Hook for the fuzz targets (`fuzz/`): drives the private reply reader over arbitrary bytes.
//! Not part of the API.
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, ReadBuf};

use super::reply::{ReplyReader, MAX_LINE, MAX_LINES, MAX_REPLY_BYTES};

/// What reading a whole server stream gave.
#[derive(Debug, Default)]
pub struct StreamOutcome {
    /// Replies read before the first error or the end of the stream.
    pub replies: usize,
    /// Most bytes the reader ever kept buffered after returning from a read.
    pub max_buffered: usize,
    /// Display of the error that ended the stream.
    pub error: Option<String>,
}

/// The reader's bound on its buffer: a line plus one read chunk.
pub const MAX_BUFFERED: usize = MAX_LINE + 4096;

/// A stream that serves `data` in reads of at most `chunk` bytes, then EOF; always ready.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.data.len().min(self.chunk).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

/// Reads replies from `data` (served `chunk` bytes per read, at least 1) until an error or EOF,
/// exercising every accessor of each reply, and panics if a reply breaks a documented cap.
pub fn read_stream(data: &[u8], chunk: usize) -> StreamOutcome {
    let mut stream = Chunked {
        data,
        chunk: chunk.max(1),
    };
    let mut reader = ReplyReader::new();
    let mut out = StreamOutcome::default();
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        let result = {
            let fut = reader.read_reply(&mut stream);
            let mut fut = std::pin::pin!(fut);
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(r) => r,
                Poll::Pending => unreachable!("the stream is always ready"),
            }
        };
        out.max_buffered = out.max_buffered.max(reader.buffered());
        match result {
            Ok(reply) => {
                out.replies += 1;
                assert!((200..=559).contains(&reply.code), "code {}", reply.code);
                assert!(!reply.lines.is_empty() && reply.lines.len() <= MAX_LINES);
                assert!(reply.lines.iter().all(|l| l.len() < MAX_LINE));
                let total: usize = reply.lines.iter().map(|l| l.len() + 4).sum();
                assert!(total <= MAX_REPLY_BYTES, "reply of {total} bytes");
                let _ = reply.is_positive();
                let _ = reply.has_extension("STARTTLS");
                assert!(reply.summary().len() <= 200);
                assert!(reply.first_line_text(80).len() <= 80);
            }
            Err(e) => {
                out.error = Some(e.to_string());
                let _ = e.is_transport();
                return out;
            }
        }
    }
}
