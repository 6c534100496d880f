//! The exporter's HTTP side: a hyper server with the usual Prometheus exporter routes, TLS and
//! basic auth set up from an exporter-toolkit style web config file ([`WebConfig`]).
//!
//! Data comes from an [`Exporter`] (the rest of the program: latest metrics, on-demand probes,
//! readiness, config reload) and goes to HTTP clients, normally Prometheus:
//!
//! - `GET /metrics` (the telemetry path, see [`ServeOptions::telemetry_path`]): all metrics.
//! - `GET /probe?target=DOMAIN&module=inbound|outbound`: probe now, that probe's metrics only;
//!   400 or 403 with a plain-text reason when the exporter refuses, 429 with `Retry-After` when
//!   it already runs as many `/probe` probes as it allows at once.
//! - `GET /`: the status page: every configured target with its latest verdict, reasons, last
//!   probe and days to divergence, worst first (`status`).
//! - `GET /status/<direction>/<domain>`: the latest probe's human report as HTML (what
//!   `dane_exporter check` prints); `?format=json` the JSON.
//! - `GET /-/healthy`: always 200 while the server runs; `GET /-/ready`: 200, or 503 saying why.
//! - `POST /-/reload`: re-read the config; 200, or 500 with the error ([`reload_on_sighup`] does
//!   the same on SIGHUP).
//!
//! Other paths are 404, other methods 405. With basic auth configured every route needs it.
//!
//! [`serve_tlsrpt`] is a second server on its own listener with one route, `POST /tlsrpt`, for
//! TLS-RPT reports (RFC 8460 section 3): the same TLS, no basic auth, no other route.
//!
//! Every read is bounded: request headers (size, and [`ServeOptions::header_read_timeout`] against
//! slowloris clients), bodies (none is needed; more than [`ServeOptions::max_body`] is 413), TLS
//! handshakes, idle connections, and the number of connections. [`serve`] runs until its shutdown
//! future resolves, then stops accepting and gives in-flight requests a bounded grace period.

mod auth;
mod body;
mod config;
mod config_problem;
mod routes;
mod server;
mod status;
mod tls_config;
mod tlsrpt;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use config::WebConfig;
pub use config_problem::{WebConfigError, WebProblem};
pub use server::{serve, serve_all, serve_with};
pub use tlsrpt::{serve_tlsrpt, ReportSink, TLSRPT_PATH};

/// A boxed future, so that [`Exporter`] stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The `/metrics` text, a chunk at a time; pulled while the response is sent (so each chunk
/// should be quick to make: tens of KB, not MB).
pub type MetricsChunks = Box<dyn Iterator<Item = bytes::Bytes> + Send>;

/// What the HTTP side needs from the exporter.
pub trait Exporter: Send + Sync + 'static {
    /// Full text exposition for the telemetry path, already encoded in the Prometheus text format
    /// (`text/plain; version=0.0.4`), as chunks the response body sends as they come: an
    /// exporter can write tens of MB a chunk at a time instead of building them whole.
    fn metrics(&self) -> MetricsChunks;

    /// `/probe`: probes `target` now with `module` (`None` when the request has no `module`
    /// parameter: the exporter picks its default or refuses) and returns that probe's metrics
    /// only, in the text format, or with [`ProbeOptions::debug`] a plain-text account of the
    /// probe. A missing or empty `target` is refused before this is called.
    fn probe<'a>(
        &'a self,
        target: &'a str,
        module: Option<&'a str>,
        options: ProbeOptions,
    ) -> BoxFuture<'a, Result<String, ProbeRequestError>>;

    /// `/-/ready`: true once the config is loaded and the first probe round has finished.
    fn ready(&self) -> bool;

    /// Why `/-/ready` answers 503: a sentence for its body after "not ready: ", `None` when
    /// ready. The default gives no reason (the body is "not ready").
    fn not_ready(&self) -> Option<String> {
        (!self.ready()).then(String::new)
    }

    /// One request was answered: `handler` is the route (the telemetry path, `/`, `/probe`,
    /// `/status`, `/-/healthy`, `/-/ready`, `/-/reload`, or `other`), `code` the status. The
    /// default counts nothing.
    fn observe_request(&self, _handler: &str, _code: u16) {}

    /// `POST /-/reload` (and, wired by the binary, SIGHUP): re-reads the config. `Err` carries a
    /// message for the HTTP response and means the old config stays in force.
    fn reload(&self) -> BoxFuture<'_, Result<(), String>>;

    /// The status page: every configured target, probed or pending.
    fn status(&self) -> Vec<crate::store::StatusEntry>;

    /// The latest probe of one target in full; `None` when it is not configured or not probed.
    fn status_detail(&self, key: &crate::core::TargetKey) -> Option<crate::store::StatusDetail>;

    /// Routes this exporter adds beside the standard ones (`dane_exporter demo`'s `/demo`
    /// controls): `Some` when it answers the request, with a plain-text response. The request's
    /// query is already decoded; bodies are not passed on. Default: none.
    fn extra_route<'a>(&'a self, _request: ExtraRequest<'a>) -> Option<BoxFuture<'a, Plain>> {
        None
    }

    /// Links the status page (`/`) lists after the standard ones: (path, text). Default: none.
    fn landing_links(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// A request for [`Exporter::extra_route`].
#[derive(Clone, Copy, Debug)]
pub struct ExtraRequest<'a> {
    /// `POST` (changes something) rather than `GET`/`HEAD`.
    pub post: bool,
    /// Any other method: the route answers 405.
    pub other_method: bool,
    /// The path.
    pub path: &'a str,
    /// The query parameters, decoded, in order.
    pub params: &'a [(String, String)],
}

/// A plain-text response of an [`Exporter::extra_route`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plain {
    /// HTTP status code.
    pub status: u16,
    /// The text.
    pub body: String,
}

/// How one `/probe` request wants its probe run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeOptions {
    /// The time the scraper waits (its `X-Prometheus-Scrape-Timeout-Seconds` less
    /// [`ServeOptions::timeout_offset`]): the probe must answer within it, so its timeout is cut
    /// to it and the metrics say what it did not finish. `None`: no header, the module's timeout.
    pub deadline: Option<Duration>,
    /// `debug=true`: the probe's log lines, the report and the metrics as plain text, instead of
    /// the metrics (blackbox_exporter's debug output).
    pub debug: bool,
}

/// Why `/probe` refused a request. The message is sent as the plain-text response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeRequestError {
    /// No `target` parameter, or an empty one: 400.
    #[error("target parameter is missing")]
    MissingTarget,
    /// `target` is not a usable domain name: 400.
    #[error("invalid target: {0}")]
    BadTarget(String),
    /// `module` is missing where required, or names no module: 400.
    #[error("invalid module: {0}")]
    BadModule(String),
    /// `target` is not in the config's `probe_allow` list, or without one not a configured
    /// target: 403.
    #[error("target not allowed: {0}")]
    NotAllowed(String),
    /// The scraper's timeout leaves no time for a probe (`X-Prometheus-Scrape-Timeout-Seconds`
    /// at most the offset, or not a number): 400.
    #[error("invalid X-Prometheus-Scrape-Timeout-Seconds: {0}")]
    BadScrapeTimeout(String),
    /// The exporter already runs as many `/probe` probes as it allows at once: 429 Too Many
    /// Requests with `Retry-After`. Refused at once, so that a flood of requests does not pile up
    /// waiting probes (and their sockets and memory) behind the limit.
    #[error("too many concurrent probes, retry later")]
    Busy,
}

/// Calls [`Exporter::reload`] on every SIGHUP, the way `POST /-/reload` does (the exporter logs
/// the outcome and sets its reload gauge). Runs until the signal stream ends (in practice: until the task is dropped); the error is
/// the OS refusing to install the handler.
#[cfg(unix)]
pub async fn reload_on_sighup(exporter: std::sync::Arc<dyn Exporter>) -> std::io::Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    while hangups.recv().await.is_some() {
        let _ = exporter.reload().await;
    }
    Ok(())
}

/// Limits and paths of the server; [`Default`] is what the exporter runs with, tests shorten the
/// timeouts.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Path of the metrics route. Default `/metrics`.
    pub telemetry_path: String,
    /// Time for a client to send a complete request head (HTTP/1.1), measured from the moment
    /// the server starts waiting for it. Default 30 s.
    pub header_read_timeout: Duration,
    /// Time for a request body to arrive. Default 10 s.
    pub body_read_timeout: Duration,
    /// Largest request body accepted (no route needs one). Default 64 KiB.
    pub max_body: usize,
    /// Time for a TLS handshake. Default 10 s.
    pub tls_handshake_timeout: Duration,
    /// A connection without a request in progress for this long is closed (idle keep-alive, and
    /// HTTP/2 clients that never complete a request). Must exceed the time Prometheus takes
    /// between scrapes on one connection to keep connections reused. Default 5 min.
    pub idle_timeout: Duration,
    /// Open connections at most; further clients wait in the listen backlog. Default 512.
    pub max_connections: usize,
    /// After shutdown, how long in-flight requests may take before their connections are cut.
    /// Default 10 s.
    pub shutdown_grace: Duration,
    /// Taken off a `/probe` request's `X-Prometheus-Scrape-Timeout-Seconds`, to leave time for
    /// the answer to travel (blackbox_exporter's `--timeout-offset`). Default 0.5 s.
    pub timeout_offset: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            telemetry_path: "/metrics".to_string(),
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(10),
            max_body: 64 * 1024,
            tls_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(10),
            timeout_offset: Duration::from_millis(500),
        }
    }
}
