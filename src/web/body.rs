//! Response bodies. Small answers (pages, errors, `/probe`) are one buffer sent with its length;
//! `/metrics` is the exporter's [`MetricsChunks`], pulled one at a time as hyper has room to send
//! them, and gzip-compressed on the way when the client accepts it. So a scrape of 10,000 domains
//! holds a chunk, not the whole tens of MB, and a slow client slows only its own pulls.

use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::write::GzEncoder;
use hyper::body::{Frame, SizeHint};

use super::MetricsChunks;

/// Compressed bytes collected before they go out as one frame: the text compresses about 20
/// times, so this is a few chunks of text, enough to keep frames (and writes) few and the work
/// between two polls short.
const GZIP_FRAME_BYTES: usize = 8 * 1024;

/// A response body.
pub(crate) enum Body {
    /// One buffer (taken when sent), with its length known up front.
    Whole(Option<Bytes>),
    /// Chunks as they come, in chunked transfer encoding.
    Chunks(MetricsChunks),
    /// Chunks compressed with gzip; the encoder is gone once the gzip trailer is sent.
    Gzip {
        chunks: MetricsChunks,
        encoder: Option<GzEncoder<Vec<u8>>>,
    },
}

impl Body {
    pub(crate) fn whole(bytes: impl Into<Bytes>) -> Self {
        Body::Whole(Some(bytes.into()))
    }

    /// `chunks` gzip-compressed at the fastest level: a scrape must stay quick, and the text
    /// compresses about 20 times even so.
    pub(crate) fn gzip(chunks: MetricsChunks) -> Self {
        Body::Gzip {
            chunks,
            encoder: Some(GzEncoder::new(
                Vec::with_capacity(2 * GZIP_FRAME_BYTES),
                flate2::Compression::fast(),
            )),
        }
    }

    /// The next compressed frame: chunks fed to the encoder until it has a frame's worth of
    /// output, then, after the last chunk, the rest and the trailer.
    fn next_gzip(
        chunks: &mut MetricsChunks,
        slot: &mut Option<GzEncoder<Vec<u8>>>,
    ) -> Option<std::io::Result<Bytes>> {
        let encoder = slot.as_mut()?;
        for chunk in chunks.by_ref() {
            if let Err(error) = encoder.write_all(&chunk) {
                *slot = None;
                return Some(Err(error));
            }
            if encoder.get_ref().len() >= GZIP_FRAME_BYTES {
                let frame =
                    std::mem::replace(encoder.get_mut(), Vec::with_capacity(2 * GZIP_FRAME_BYTES));
                return Some(Ok(Bytes::from(frame)));
            }
        }
        let encoder = slot.take()?;
        Some(encoder.finish().map(Bytes::from))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    /// Only compression can fail (it does not, into memory); hyper then ends the connection
    /// rather than let a truncated body pass for a whole one.
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let next = match self.get_mut() {
            Body::Whole(bytes) => bytes.take().filter(|b| !b.is_empty()).map(Ok),
            Body::Chunks(chunks) => chunks.next().map(Ok),
            Body::Gzip { chunks, encoder } => Self::next_gzip(chunks, encoder),
        };
        Poll::Ready(next.map(|result| result.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Whole(bytes) if bytes.as_ref().is_none_or(Bytes::is_empty))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Whole(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use http_body_util::BodyExt as _;
    use hyper::body::Body as _;

    use super::*;

    fn chunks(parts: Vec<String>) -> MetricsChunks {
        Box::new(parts.into_iter().map(Bytes::from))
    }

    /// Many chunks, more than one frame of compressed output: the frames decompress to the
    /// chunks in order.
    #[tokio::test]
    async fn gzip_frames_decompress_to_the_chunks() {
        // Lines that differ enough not to compress to nothing: several output frames.
        let parts: Vec<String> = (0u64..20_000)
            .map(|i| {
                format!(
                    "dane_probe_success{{domain=\"d{i}.example\"}} {}\n",
                    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20
                )
            })
            .collect();
        let plain = parts.concat();
        let mut body = Body::gzip(chunks(parts));
        let mut frames = 0;
        let mut gz = Vec::new();
        while let Some(frame) = body.frame().await {
            gz.extend_from_slice(&frame.unwrap().into_data().unwrap());
            frames += 1;
        }
        assert!(frames > 1, "{frames} frame(s) for {} bytes", gz.len());
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, plain);
        assert!(body.frame().await.is_none(), "ended after the trailer");
    }

    /// No chunk at all is still a valid (empty) gzip stream.
    #[tokio::test]
    async fn gzip_of_nothing_is_a_valid_stream() {
        let gz = Body::gzip(chunks(Vec::new()))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "");
    }

    /// Plain chunks go out as they are; a whole body says its length up front.
    #[tokio::test]
    async fn plain_chunks_and_whole_bodies() {
        let body = Body::Chunks(chunks(vec!["a 1\n".into(), "b 2\n".into()]));
        assert_eq!(body.size_hint().exact(), None);
        assert_eq!(body.collect().await.unwrap().to_bytes(), "a 1\nb 2\n");
        let whole = Body::whole("OK\n");
        assert_eq!(whole.size_hint().exact(), Some(3));
        assert!(!whole.is_end_stream());
        assert!(Body::whole("").is_end_stream());
        assert_eq!(whole.collect().await.unwrap().to_bytes(), "OK\n");
    }
}
