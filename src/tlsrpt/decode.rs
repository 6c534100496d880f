//! From the bytes a sender delivered to JSON text: gzip decompressed under a size and ratio
//! bound, then the nesting depth checked before any JSON parser builds a tree.
//!
//! A gzip bomb (a few KB that inflate to gigabytes) is stopped at the first byte past the bound;
//! a truncated or corrupt stream is an error, never a partial report.

use std::io::Read as _;

use super::{Limits, MediaType, ReportError};

/// The JSON text of a report body of `media` type, bounded by `limits`.
pub fn decode_body(body: &[u8], media: MediaType, limits: &Limits) -> Result<Vec<u8>, ReportError> {
    if body.len() > limits.max_compressed_bytes {
        return Err(ReportError::TooLarge {
            bytes: body.len(),
            limit: limits.max_compressed_bytes,
        });
    }
    let json = match media {
        MediaType::Json => {
            if body.len() > limits.max_json_bytes {
                return Err(ReportError::TooLarge {
                    bytes: body.len(),
                    limit: limits.max_json_bytes,
                });
            }
            body.to_vec()
        }
        MediaType::Gzip => gunzip(body, limits)?,
    };
    check_depth(&json, limits.max_json_depth)?;
    Ok(json)
}

/// Decompresses one gzip member, stopping as soon as the output passes the size bound or the
/// ratio bound (whichever is lower for this input).
fn gunzip(body: &[u8], limits: &Limits) -> Result<Vec<u8>, ReportError> {
    if body.len() < 2 || body[..2] != [0x1f, 0x8b] {
        return Err(ReportError::NotGzip);
    }
    let by_ratio = body
        .len()
        .saturating_mul(limits.max_ratio)
        .max(limits.ratio_floor_bytes);
    let bound = limits.max_json_bytes.min(by_ratio);
    let mut decoder = flate2::read::GzDecoder::new(body);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(bound));
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match decoder.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(ReportError::GzipTruncated)
            }
            Err(error) => return Err(ReportError::GzipCorrupt(error.to_string())),
        };
        if out.len() + n > bound {
            return Err(if bound == limits.max_json_bytes {
                ReportError::DecompressedTooLarge {
                    limit: limits.max_json_bytes,
                }
            } else {
                ReportError::RatioTooHigh {
                    limit: limits.max_ratio,
                }
            });
        }
        out.extend_from_slice(&buffer[..n]);
    }
    Ok(out)
}

/// Fails when arrays and objects nest deeper than `limit` (strings and escapes skipped). A
/// report nests five deep; a hostile one could nest thousands deep to exhaust a recursive parser.
fn check_depth(json: &[u8], limit: usize) -> Result<(), ReportError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(ReportError::TooDeep { limit });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_round_trip_and_hostile_streams() {
        let limits = Limits::default();
        let json = br#"{"a": [1, 2, {"b": "x"}]}"#;
        assert_eq!(
            decode_body(&gzip(json), MediaType::Gzip, &limits).unwrap(),
            json
        );
        assert_eq!(decode_body(json, MediaType::Json, &limits).unwrap(), json);
        // A bomb: 64 MiB of zeros compress to ~64 KB.
        let bomb = gzip(&vec![b' '; 64 << 20]);
        assert!(bomb.len() < limits.max_compressed_bytes);
        assert!(matches!(
            decode_body(&bomb, MediaType::Gzip, &limits),
            Err(ReportError::RatioTooHigh { .. } | ReportError::DecompressedTooLarge { .. })
        ));
        // Truncated: the stream ends before its trailer.
        let whole = gzip(&[b'x'; 10_000]);
        assert_eq!(
            decode_body(&whole[..whole.len() / 2], MediaType::Gzip, &limits),
            Err(ReportError::GzipTruncated)
        );
        assert_eq!(
            decode_body(b"{}", MediaType::Gzip, &limits),
            Err(ReportError::NotGzip)
        );
        let mut corrupt = gzip(json);
        let at = corrupt.len() - 6;
        corrupt[at] ^= 0xff; // the CRC
        assert!(matches!(
            decode_body(&corrupt, MediaType::Gzip, &limits),
            Err(ReportError::GzipCorrupt(_))
        ));
    }

    #[test]
    fn depth_counts_outside_strings_only() {
        let limits = Limits::default();
        let deep = "[".repeat(limits.max_json_depth + 1);
        assert_eq!(
            decode_body(deep.as_bytes(), MediaType::Json, &limits),
            Err(ReportError::TooDeep {
                limit: limits.max_json_depth
            })
        );
        let quoted = format!("{{\"a\": \"{}\\\"[[[\"}}", "[".repeat(100));
        assert!(decode_body(quoted.as_bytes(), MediaType::Json, &limits).is_ok());
        let big = vec![b' '; limits.max_json_bytes + 1];
        assert!(matches!(
            decode_body(&big, MediaType::Json, &limits),
            Err(ReportError::TooLarge { .. })
        ));
    }
}
