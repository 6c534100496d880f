//! The TLS-RPT listener (`--tlsrpt.listen-address`): `POST /tlsrpt` with an
//! `application/tlsrpt+gzip` or `application/tlsrpt+json` body (RFC 8460 section 3), and nothing
//! else. Its own listener because senders post without credentials: it takes the web config's
//! TLS (a sender must be able to validate the certificate, RFC 8460 3) but never its basic auth,
//! and it serves neither `/metrics` nor any other route of the exporter's.
//!
//! Every answer is plain text a sender's operator can read: 200 stored; 400 an invalid report
//! (what is wrong, by field); 403 a report about no domain we monitor; 409 a duplicate; 413 too
//! large; 415 another media type or a content coding; 503 busy (with `Retry-After`). The body is
//! bounded in size and time like every request; decompression and validation are
//! `crate::tlsrpt`'s, storing is the [`ReportSink`]'s (the exporter's database writer).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use super::body::Body;
use super::server::{serve_handler, Handler};
use super::{BoxFuture, ServeOptions, WebConfig};
use crate::database::{Refused, Stored, SubmitError};
use crate::tlsrpt::{Limits, MediaType};

/// The one path reports are posted to (the `rua=https://HOST:PORT/tlsrpt` of the record).
pub const TLSRPT_PATH: &str = "/tlsrpt";
/// A body declared up to this many times the bound is read (and dropped) before the 413.
const DRAIN_FACTOR: usize = 4;
/// `Retry-After` of a 503, in seconds.
const RETRY_AFTER_SECS: &str = "60";

/// Where posted reports go.
pub trait ReportSink: Send + Sync + 'static {
    /// Validates and stores one report body of `media` type.
    fn submit(&self, body: Vec<u8>, media: MediaType)
        -> BoxFuture<'_, Result<Stored, SubmitError>>;
}

struct TlsRptRoutes {
    sink: Arc<dyn ReportSink>,
    headers: Vec<(HeaderName, HeaderValue)>,
    max_body: usize,
    body_timeout: Duration,
}

/// Serves the TLS-RPT listener on `listener` until `shutdown` resolves (like
/// [`super::serve_with`]: TLS from `web_config`, bounded connections, graceful shutdown), with
/// request bodies up to the largest compressed report `crate::tlsrpt::Limits` accepts.
pub async fn serve_tlsrpt(
    listener: TcpListener,
    web_config: Option<WebConfig>,
    sink: Arc<dyn ReportSink>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let web_config = web_config.unwrap_or_default();
    let routes = Arc::new(TlsRptRoutes {
        sink,
        headers: web_config.headers.clone(),
        max_body: Limits::default().max_compressed_bytes,
        body_timeout: options.body_read_timeout,
    });
    serve_handler(listener, &web_config, routes, options, shutdown).await;
}

impl Handler for TlsRptRoutes {
    fn handle(&self, req: Request<Incoming>) -> BoxFuture<'_, Response<Body>> {
        Box::pin(async move {
            let mut response = self.route(req).await;
            for (name, value) in &self.headers {
                response.headers_mut().insert(name.clone(), value.clone());
            }
            response
        })
    }
}

impl TlsRptRoutes {
    async fn route(&self, req: Request<Incoming>) -> Response<Body> {
        if req.uri().path() != TLSRPT_PATH {
            return text(
                StatusCode::NOT_FOUND,
                "404 page not found: reports go to POST /tlsrpt\n",
            );
        }
        if req.method() != Method::POST {
            let mut r = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: POST a report\n",
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return r;
        }
        let (parts, body) = req.into_parts();
        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let declared = header(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return self.too_large(body, declared).await;
        }
        // The body is read before anything else is refused: an HTTP/2 client still sending when
        // the answer comes has its stream reset and may never see the answer.
        let body = match tokio::time::timeout(
            self.body_timeout,
            Limited::new(body, self.max_body).collect(),
        )
        .await
        {
            Ok(Ok(collected)) => collected.to_bytes().to_vec(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return self.too_large_now()
            }
            Ok(Err(_)) => return text(StatusCode::BAD_REQUEST, "cannot read the request body\n"),
            Err(_) => return text(StatusCode::REQUEST_TIMEOUT, "request body timed out\n"),
        };
        let Some(media) = header(header::CONTENT_TYPE).and_then(MediaType::from_content_type)
        else {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported media type: send application/tlsrpt+gzip or application/tlsrpt+json (RFC 8460 section 3)\n",
            );
        };
        let coded = header(header::CONTENT_ENCODING)
            .is_some_and(|v| !v.trim().eq_ignore_ascii_case("identity"));
        if coded {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported Content-Encoding: compress with application/tlsrpt+gzip instead\n",
            );
        }
        match self.sink.submit(body, media).await {
            Ok(stored) => text(
                StatusCode::OK,
                &format!(
                    "stored: {} report-id {} for {}\n",
                    stored.organization,
                    stored.report_id,
                    stored.domains.join(", ")
                ),
            ),
            Err(SubmitError::Refused(refused)) => {
                let status = match &refused {
                    Refused::Report(_) => StatusCode::BAD_REQUEST,
                    Refused::Duplicate { .. } => StatusCode::CONFLICT,
                    Refused::NotWatched(_) => StatusCode::FORBIDDEN,
                };
                text(status, &format!("refused, nothing stored: {refused}\n"))
            }
            Err(error) => {
                // A full quota is a flood (or a burst) of reports, not a fault to log each time:
                // `dane_exporter_tlsrpt_submissions_total{outcome="unavailable"}` counts them.
                if !matches!(error, SubmitError::Quota { .. }) {
                    tracing::warn!(%error, "tlsrpt: a report could not be stored");
                }
                let mut r = text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("not stored, retry later: {error}\n"),
                );
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
                r
            }
        }
    }

    /// 413 after reading what is left of a body a little too large (up to [`DRAIN_FACTOR`]
    /// times the bound, within the body timeout): an HTTP/2 client that is still sending when the
    /// answer comes gets its stream reset, and curl, for one, then reports a framing error
    /// instead of the 413.
    async fn too_large(&self, body: Incoming, declared: Option<u64>) -> Response<Body> {
        let drain = self.max_body.saturating_mul(DRAIN_FACTOR);
        if declared.is_some_and(|n| n <= drain as u64) {
            let _ =
                tokio::time::timeout(self.body_timeout, Limited::new(body, drain).collect()).await;
        }
        self.too_large_now()
    }

    fn too_large_now(&self) -> Response<Body> {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "report too large: at most {} bytes are accepted\n",
                self.max_body
            ),
        )
    }
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Body::whole(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
