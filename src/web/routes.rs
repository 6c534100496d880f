//! One request in, one response out: auth, body limit, then the exporter's routes. Connection
//! handling (TLS, timeouts, shutdown) is in `server`; what the routes return comes from the
//! [`Exporter`].

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::auth::BasicAuth;
use super::body::Body;
use super::status;
use super::{Exporter, ExtraRequest, ProbeOptions, ProbeRequestError};
use crate::store::StatusEntry;

/// The Prometheus text exposition format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
/// `Retry-After` of a 429 from `/probe` ([`ProbeRequestError::Busy`]), in seconds: about the time
/// a typical probe takes to finish and free its slot.
const PROBE_RETRY_AFTER_SECS: &str = "5";

/// The header Prometheus sends with each scrape: how long it waits for the answer, in seconds.
const SCRAPE_TIMEOUT: &str = "x-prometheus-scrape-timeout-seconds";

/// The time a probe may take: the scraper's timeout less `offset`, as blackbox_exporter does.
/// No header: `None` (the module's own timeout).
fn probe_deadline(
    header: Option<&HeaderValue>,
    offset: Duration,
) -> Result<Option<Duration>, ProbeRequestError> {
    let Some(header) = header else {
        return Ok(None);
    };
    let text = header.to_str().unwrap_or("").trim();
    let seconds = text
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| ProbeRequestError::BadScrapeTimeout(format!("{text:?} is not seconds")))?;
    // Beyond a day is no deadline worth keeping apart from the module's own timeout.
    let scrape = Duration::from_secs_f64(seconds.min(86_400.0));
    match scrape.checked_sub(offset).filter(|d| !d.is_zero()) {
        Some(deadline) => Ok(Some(deadline)),
        None => Err(ProbeRequestError::BadScrapeTimeout(format!(
            "{seconds} s leaves nothing after the {} offset",
            humantime::format_duration(offset)
        ))),
    }
}

/// What every request of one server shares.
pub(crate) struct Routes {
    pub(crate) exporter: Arc<dyn Exporter>,
    pub(crate) auth: Option<Arc<BasicAuth>>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) telemetry_path: String,
    pub(crate) max_body: usize,
    pub(crate) body_timeout: Duration,
    pub(crate) timeout_offset: Duration,
}

impl Routes {
    /// Answers `req`; never fails (errors become status codes).
    pub(crate) async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let handler = self.handler_of(req.uri().path());
        let mut response = self.route(req).await;
        self.exporter
            .observe_request(handler, response.status().as_u16());
        for (name, value) in &self.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        response
    }

    /// The `handler` label of a request for `path`: one of the routes (`/status` for every
    /// target's report), or "other" (a bounded set whatever clients ask for).
    fn handler_of<'a>(&'a self, path: &str) -> &'a str {
        if path == self.telemetry_path {
            return &self.telemetry_path;
        }
        match path {
            "/" => "/",
            "/probe" => "/probe",
            "/-/healthy" => "/-/healthy",
            "/-/ready" => "/-/ready",
            "/-/reload" => "/-/reload",
            _ if path.starts_with("/status/") => "/status",
            _ => "other",
        }
    }

    async fn route(&self, req: Request<Incoming>) -> Response<Body> {
        // No route takes a body; one announced too large is refused before anything else.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
        }
        if let Some(auth) = &self.auth {
            if !auth.check(req.headers().get(header::AUTHORIZATION)).await {
                let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"dane_exporter\", charset=\"UTF-8\""),
                );
                return r;
            }
        }
        let (parts, body) = req.into_parts();
        // Read (and drop) whatever body there is, bounded in size and time, so that the
        // connection can be kept alive and a slow sender cannot hold a request open.
        match tokio::time::timeout(
            self.body_timeout,
            Limited::new(body, self.max_body).collect(),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
            }
            Ok(Err(_)) => return text(StatusCode::BAD_REQUEST, "cannot read request body\n"),
            Err(_) => return text(StatusCode::REQUEST_TIMEOUT, "request body timed out\n"),
        }

        let path = parts.uri.path();
        let read = parts.method == Method::GET || parts.method == Method::HEAD;
        if path == "/-/reload" {
            if parts.method != Method::POST {
                return not_allowed("POST");
            }
            // The exporter logs the outcome and sets its reload gauge.
            return match self.exporter.reload().await {
                Ok(()) => text(StatusCode::OK, "OK\n"),
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("reload failed: {e}\n"),
                ),
            };
        }
        if let Some(response) = self.extra(&parts.method, path, parts.uri.query()).await {
            return response;
        }
        let known = path == self.telemetry_path
            || matches!(path, "/" | "/probe" | "/-/healthy" | "/-/ready")
            || path.starts_with("/status/");
        if !known {
            return text(StatusCode::NOT_FOUND, "404 page not found\n");
        }
        if !read {
            return not_allowed("GET, HEAD");
        }
        if path == self.telemetry_path {
            let chunks = self.exporter.metrics();
            if !accepts_gzip(&parts.headers) {
                return with_type(StatusCode::OK, METRICS_CONTENT_TYPE, Body::Chunks(chunks));
            }
            let mut r = with_type(StatusCode::OK, METRICS_CONTENT_TYPE, Body::gzip(chunks));
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            return r;
        }
        if path.starts_with("/status/") {
            return self.status_detail(path, parts.uri.query().unwrap_or(""));
        }
        match path {
            "/" => with_type(StatusCode::OK, HTML, Body::whole(self.status_page())),
            "/probe" => {
                let scrape_timeout = parts.headers.get(SCRAPE_TIMEOUT);
                self.probe(parts.uri.query().unwrap_or(""), scrape_timeout)
                    .await
            }
            "/-/healthy" => text(StatusCode::OK, "OK\n"),
            _ => match self.exporter.not_ready() {
                None => text(StatusCode::OK, "OK\n"),
                Some(why) if why.is_empty() => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
                Some(why) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("not ready: {why}\n"),
                ),
            },
        }
    }

    async fn probe(&self, query: &str, scrape_timeout: Option<&HeaderValue>) -> Response<Body> {
        let params = match parse_query(query) {
            Ok(p) => p,
            Err(()) => return text(StatusCode::BAD_REQUEST, "malformed query string\n"),
        };
        // First occurrence wins, as with Go's url.Values.Get.
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let debug = param("debug").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let result = match (
            param("target").filter(|t| !t.is_empty()),
            probe_deadline(scrape_timeout, self.timeout_offset),
        ) {
            (None, _) => Err(ProbeRequestError::MissingTarget),
            (_, Err(e)) => Err(e),
            (Some(target), Ok(deadline)) => {
                let options = ProbeOptions { deadline, debug };
                self.exporter.probe(target, param("module"), options).await
            }
        };
        match result {
            Ok(body) if debug => with_type(StatusCode::OK, TEXT, Body::whole(body)),
            Ok(body) => with_type(StatusCode::OK, METRICS_CONTENT_TYPE, Body::whole(body)),
            Err(e) => {
                let mut r = text(e.status(), &format!("{e}\n"));
                if e == ProbeRequestError::Busy {
                    r.headers_mut().insert(
                        header::RETRY_AFTER,
                        HeaderValue::from_static(PROBE_RETRY_AFTER_SECS),
                    );
                }
                r
            }
        }
    }

    /// The exporter's own routes ([`Exporter::extra_route`]), when it answers this path.
    async fn extra(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
    ) -> Option<Response<Body>> {
        let params = parse_query(query.unwrap_or(""));
        let request = ExtraRequest {
            post: *method == Method::POST,
            other_method: !matches!(*method, Method::POST | Method::GET | Method::HEAD),
            path,
            params: params.as_deref().unwrap_or(&[]),
        };
        let answer = self.exporter.extra_route(request)?;
        if params.is_err() {
            return Some(text(StatusCode::BAD_REQUEST, "malformed query string\n"));
        }
        let plain = answer.await;
        let status =
            StatusCode::from_u16(plain.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Some(text(status, &plain.body))
    }

    fn status_page(&self) -> String {
        let extra = self.exporter.landing_links();
        let links = status::Links {
            metrics: &self.telemetry_path,
            extra: &extra,
        };
        status::index(
            &self.exporter.status(),
            crate::core::time::unix_now(),
            &links,
        )
    }

    fn status_detail(&self, path: &str, query: &str) -> Response<Body> {
        let Some(key) = status::parse_detail_path(path) else {
            return text(StatusCode::NOT_FOUND, "404 page not found\n");
        };
        let json = parse_query(query)
            .ok()
            .and_then(|p| p.into_iter().find(|(k, _)| k == "format"))
            .is_some_and(|(_, v)| v == "json");
        match self.exporter.status_detail(&key) {
            Some(detail) if json => with_type(StatusCode::OK, JSON, Body::whole(detail.json)),
            Some(detail) => with_type(
                StatusCode::OK,
                HTML,
                Body::whole(status::detail(&detail, crate::core::time::unix_now())),
            ),
            None => {
                let entries = self.exporter.status();
                let entry = entries.iter().find(|e| match e {
                    StatusEntry::Pending(k) => *k == key,
                    StatusEntry::Probed(row) => {
                        row.direction == key.direction && row.domain == key.domain
                    }
                });
                let why = match entry {
                    Some(StatusEntry::Pending(_)) => status::Missing::Pending,
                    Some(StatusEntry::Probed(_)) => status::Missing::NotKept,
                    None => status::Missing::NotConfigured,
                };
                with_type(
                    StatusCode::NOT_FOUND,
                    HTML,
                    Body::whole(status::missing(&key, why)),
                )
            }
        }
    }
}

impl ProbeRequestError {
    fn status(&self) -> StatusCode {
        match self {
            ProbeRequestError::NotAllowed(_) => StatusCode::FORBIDDEN,
            ProbeRequestError::Busy => StatusCode::TOO_MANY_REQUESTS,
            ProbeRequestError::MissingTarget
            | ProbeRequestError::BadTarget(_)
            | ProbeRequestError::BadModule(_)
            | ProbeRequestError::BadScrapeTimeout(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Whether `Accept-Encoding` lists `gzip` (or `*`) with a non-zero weight (RFC 9110 12.5.3).
fn accepts_gzip(headers: &hyper::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn with_type(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    with_type(status, TEXT, Body::whole(body.to_string()))
}

fn not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// `application/x-www-form-urlencoded` pairs; `Err` on bad percent escapes or non-UTF-8.
pub(crate) fn parse_query(query: &str) -> Result<Vec<(String, String)>, ()> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

fn decode(s: &str) -> Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(())?;
                // from_str_radix alone would take a sign ("%+1").
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(());
                }
                let hex = std::str::from_utf8(hex).map_err(|_| ())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("target=ex%41mple.org&module=in+bound&x").unwrap(),
            vec![
                ("target".to_string(), "exAmple.org".to_string()),
                ("module".to_string(), "in bound".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
        assert!(parse_query("target=%4").is_err());
        assert!(parse_query("target=%zz").is_err());
        assert!(parse_query("target=%ff").is_err());
        assert!(parse_query("target=%+1").is_err());
        assert_eq!(parse_query("").unwrap(), vec![]);
    }
}

#[cfg(test)]
mod gzip_tests {
    use super::*;

    fn with(values: &[&str]) -> hyper::HeaderMap {
        let mut headers = hyper::HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn accept_encoding_is_read_as_rfc_9110_says() {
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (&["gzip"], true),
            (&["GZIP"], true),
            (&["deflate, gzip;q=0.5"], true),
            (&["identity"], false),
            (&["gzip;q=0"], false),
            (&["gzip; q=0.000"], false),
            (&["*"], true),
            (&["br", "gzip"], true),
            (&["x-gzip2"], false),
        ];
        for (values, expected) in cases {
            assert_eq!(accepts_gzip(&with(values)), *expected, "{values:?}");
        }
    }
}
