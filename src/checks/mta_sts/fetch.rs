//! The HTTPS GET of an MTA-STS policy (RFC 8461 3.3): the only I/O of MTA-STS besides DNS.
//!
//! `super::run` resolves `mta-sts.<domain>` through the exporter's DNS client and hands
//! the addresses here. One connection (first address that accepts), TLS with WebPKI validation
//! of `mta-sts.<domain>` (`super::webpki`), HTTP/1.1 `GET /.well-known/mta-sts.txt`.
//! Like a sender: no redirects (a 3xx is a failure), only 200 with `Content-Type: text/plain`, a
//! body of at most [`MAX_POLICY_BYTES`], everything under one deadline. The body goes to
//! `super::policy` for parsing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::policy::MAX_POLICY_BYTES;
use crate::core::Reason;

/// The path of the policy (RFC 8461 3.2).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// A policy body as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The address that served it.
    pub address: IpAddr,
    /// The body, at most [`MAX_POLICY_BYTES`].
    pub body: Vec<u8>,
}

/// Why no policy body was obtained.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FetchError {
    /// `mta-sts.<domain>` has no address, or its lookup failed.
    #[error("no address for the policy host: {detail}")]
    NoAddress {
        /// The lookups' outcome.
        detail: String,
    },
    /// No address accepted a TCP connection.
    #[error("connect failed: {detail}")]
    Connect {
        /// The last error.
        detail: String,
    },
    /// The policy host's certificate failed WebPKI validation for `mta-sts.<domain>`.
    #[error("certificate of the policy host not valid: {detail}")]
    Certificate {
        /// What rustls said.
        detail: String,
    },
    /// The TLS handshake failed for another reason.
    #[error("TLS handshake failed: {detail}")]
    Tls {
        /// What rustls said.
        detail: String,
    },
    /// The HTTP exchange failed (malformed response, connection lost).
    #[error("HTTP exchange failed: {detail}")]
    Http {
        /// What hyper said.
        detail: String,
    },
    /// Not done within the deadline.
    #[error("no complete answer within {millis} ms")]
    Timeout {
        /// The deadline, in milliseconds.
        millis: u64,
    },
    /// A redirect, which senders must not follow (RFC 8461 3.3).
    #[error("HTTP {status} redirect to {location:?}: senders do not follow redirects")]
    Redirect {
        /// The status code.
        status: u16,
        /// The Location header, cut to 200 characters.
        location: String,
    },
    /// Another status than 200.
    #[error("HTTP status {status}")]
    Status {
        /// The status code.
        status: u16,
    },
    /// Served as something else than `text/plain`.
    #[error("Content-Type {content_type:?} is not text/plain")]
    ContentType {
        /// The header as sent (empty when absent), cut to 200 characters.
        content_type: String,
    },
    /// The body exceeds the limit.
    #[error("the body exceeds {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
}

impl FetchError {
    /// Stable `reason` label value of the finding.
    pub fn reason(&self) -> Reason {
        match self {
            FetchError::Certificate { .. } => Reason::MtaStsPolicyHostCertInvalid,
            FetchError::Redirect { .. } => Reason::MtaStsPolicyRedirect,
            FetchError::Status { .. } => Reason::MtaStsPolicyHttpStatus,
            FetchError::ContentType { .. } => Reason::MtaStsPolicyContentType,
            FetchError::TooLarge { .. } => Reason::MtaStsPolicyTooLarge,
            FetchError::NoAddress { .. }
            | FetchError::Connect { .. }
            | FetchError::Tls { .. }
            | FetchError::Http { .. }
            | FetchError::Timeout { .. } => Reason::MtaStsPolicyFetchFailed,
        }
    }
}

/// Fetches `https://<host>:<port>/.well-known/mta-sts.txt` from the first of `addresses` that
/// accepts a connection, all within `timeout`.
pub async fn fetch_policy(
    client: Arc<ClientConfig>,
    host: &str,
    addresses: &[IpAddr],
    port: u16,
    timeout: Duration,
) -> Result<Fetched, FetchError> {
    let deadline = Instant::now() + timeout;
    let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    match tokio::time::timeout_at(deadline, fetch_inner(client, host, addresses, port)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout { millis }),
    }
}

async fn fetch_inner(
    client: Arc<ClientConfig>,
    host: &str,
    addresses: &[IpAddr],
    port: u16,
) -> Result<Fetched, FetchError> {
    let name = crate::tls::server_name(host).map_err(|detail| FetchError::Tls { detail })?;
    let mut last_error = String::from("no address");
    let mut connected = None;
    for address in addresses {
        match TcpStream::connect(SocketAddr::new(*address, port)).await {
            Ok(stream) => {
                connected = Some((*address, stream));
                break;
            }
            Err(e) => last_error = format!("{address}: {e}"),
        }
    }
    let Some((address, tcp)) = connected else {
        return Err(FetchError::Connect { detail: last_error });
    };
    let tls = TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .map_err(|e| classify_tls_error(&e))?;

    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        // Bounds the response head; the body is bounded below.
        .max_buf_size(64 * 1024)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(tls))
        .await
        .map_err(|e| FetchError::Http {
            detail: e.to_string(),
        })?;
    // The connection task ends with the exchange; the guard ends it early when we return first
    // (an error, or the outer deadline dropping this future).
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let request = Request::get(POLICY_PATH)
        .header(HOST, host)
        .header(
            USER_AGENT,
            concat!("dane_exporter/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| FetchError::Http {
            detail: e.to_string(),
        })?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| FetchError::Http {
            detail: e.to_string(),
        })?;
    let status = response.status();
    if status.is_redirection() {
        let location = header_text(response.headers().get(LOCATION));
        return Err(FetchError::Redirect {
            status: status.as_u16(),
            location,
        });
    }
    if status != StatusCode::OK {
        return Err(FetchError::Status {
            status: status.as_u16(),
        });
    }
    let content_type = header_text(response.headers().get(CONTENT_TYPE));
    if !is_text_plain(&content_type) {
        return Err(FetchError::ContentType { content_type });
    }
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| FetchError::Http {
            detail: e.to_string(),
        })?;
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > MAX_POLICY_BYTES {
                return Err(FetchError::TooLarge {
                    limit: MAX_POLICY_BYTES,
                });
            }
            bytes.extend_from_slice(data);
        }
    }
    drop(driver);
    Ok(Fetched {
        address,
        body: bytes,
    })
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A header value as text for a message: lossy, cut to 200 characters; empty when absent.
fn header_text(value: Option<&hyper::header::HeaderValue>) -> String {
    value
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(200)
                .collect()
        })
        .unwrap_or_default()
}

/// `text/plain`, with or without parameters, in any case (RFC 8461 3.2, RFC 9110 8.3.1).
pub fn is_text_plain(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/plain"))
}

/// A certificate rejection is its own finding; any other handshake failure is a fetch failure.
fn classify_tls_error(error: &std::io::Error) -> FetchError {
    let detail = crate::tls::handshake_error_detail(error);
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(_)) => FetchError::Certificate { detail },
        _ => FetchError::Tls { detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(is_text_plain("text/plain"));
        assert!(is_text_plain("Text/Plain; charset=utf-8"));
        assert!(is_text_plain(" text/plain ;charset=us-ascii"));
        assert!(!is_text_plain("text/html"));
        assert!(!is_text_plain("text/plainx"));
        assert!(!is_text_plain(""));
        assert!(!is_text_plain("application/octet-stream"));
    }
}
