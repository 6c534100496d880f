//! Accepting and driving connections: optional TLS handshake (bounded in time), HTTP/1.1 with a
//! header read timeout, or HTTP/2 when TLS ALPN chose it, an idle watchdog per connection, a cap
//! on open connections, and graceful shutdown. Requests go to [`Routes`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::auth::BasicAuth;
use super::body::Body;
use super::routes::Routes;
use super::{BoxFuture, Exporter, ServeOptions, WebConfig};

/// Largest HTTP/1.1 request head (request line and headers), and read buffer.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// HTTP/2 limits: header block size and parallel requests on one connection.
const H2_MAX_HEADER_LIST: u32 = 64 * 1024;
const H2_MAX_STREAMS: u32 = 64;
/// Upper bound for [`ServeOptions::max_connections`] (the semaphore counts in u32 when waiting
/// for all permits back).
const MAX_CONNECTIONS_CAP: usize = 1 << 20;
/// After the grace period, how long cut connections get to finish dropping.
const ABORT_WAIT: Duration = Duration::from_secs(1);

/// What connections are told about shutdown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Running,
    /// Finish in-flight requests, accept no new ones on this connection.
    Draining,
    /// Grace is over: close now.
    Abort,
}

/// [`serve_with`] with [`ServeOptions::default`].
pub async fn serve(
    listener: TcpListener,
    web_config: Option<WebConfig>,
    exporter: Arc<dyn Exporter>,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(
        listener,
        web_config,
        exporter,
        ServeOptions::default(),
        shutdown,
    )
    .await;
}

/// [`serve_with`] on each of `listeners` (one per `--web.listen-address`), every one stopping
/// when `shutdown` resolves; returns when all have.
pub async fn serve_all(
    listeners: Vec<TcpListener>,
    web_config: Option<WebConfig>,
    exporter: Arc<dyn Exporter>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopped) = watch::channel(false);
    let servers = futures_util::future::join_all(listeners.into_iter().map(|listener| {
        let mut stopped = stopped.clone();
        serve_with(
            listener,
            web_config.clone(),
            Arc::clone(&exporter),
            options.clone(),
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        )
    }));
    let stopper = async {
        shutdown.await;
        let _ = stop.send(true);
    };
    tokio::join!(servers, stopper);
}

/// Serves HTTP (or HTTPS, when `web_config` has TLS) on `listener` until `shutdown` resolves;
/// then closes the listener (new connections are refused), lets in-flight requests finish for up
/// to [`ServeOptions::shutdown_grace`], cuts what is left, and returns.
///
/// Accept errors (such as running out of file descriptors) are logged and retried after a short
/// pause rather than ending the server, so this has no error to return.
pub async fn serve_with(
    listener: TcpListener,
    web_config: Option<WebConfig>,
    exporter: Arc<dyn Exporter>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let web_config = web_config.unwrap_or_default();
    let routes = Arc::new(Routes {
        exporter,
        auth: BasicAuth::new(&web_config.users),
        headers: web_config.headers.clone(),
        telemetry_path: options.telemetry_path.clone(),
        max_body: options.max_body,
        body_timeout: options.body_read_timeout,
        timeout_offset: options.timeout_offset,
    });
    serve_handler(listener, &web_config, routes, options, shutdown).await;
}

/// What answers the requests of one server: the exporter's [`Routes`], or the TLS-RPT
/// listener's (`super::tlsrpt`).
pub(crate) trait Handler: Send + Sync + 'static {
    /// Answers `req`; never fails (errors become status codes).
    fn handle(&self, req: Request<Incoming>) -> BoxFuture<'_, Response<Body>>;
}

impl Handler for Routes {
    fn handle(&self, req: Request<Incoming>) -> BoxFuture<'_, Response<Body>> {
        Box::pin(Routes::handle(self, req))
    }
}

/// The accept loop of [`serve_with`], for any [`Handler`]: TLS and HTTP/2 from `web_config`.
pub(crate) async fn serve_handler(
    listener: TcpListener,
    web_config: &WebConfig,
    routes: Arc<dyn Handler>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let tls = web_config.tls.clone().map(TlsAcceptor::from);
    let options = Arc::new(options);
    // Each connection holds a permit; with all permits back, every connection has ended.
    let max =
        u32::try_from(options.max_connections.clamp(1, MAX_CONNECTIONS_CAP)).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(max as usize));
    let (phase_tx, phase_rx) = watch::channel(Phase::Running);

    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // never closed
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "web: accept failed; retrying");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    }
                }
            },
        };
        tracing::trace!(%peer, "web: connection accepted");
        let conn = Connection {
            routes: routes.clone(),
            options: options.clone(),
            phase: phase_rx.clone(),
            http2: web_config.http2,
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            conn.run(stream, tls).await;
            drop(permit);
        });
    }

    drop(listener);
    let _ = phase_tx.send(Phase::Draining);
    if tokio::time::timeout(options.shutdown_grace, slots.acquire_many(max))
        .await
        .is_err()
    {
        tracing::warn!("web: shutdown grace period over; closing remaining connections");
        let _ = phase_tx.send(Phase::Abort);
        let _ = tokio::time::timeout(ABORT_WAIT, slots.acquire_many(max)).await;
    }
}

/// One accepted connection and what it needs.
struct Connection {
    routes: Arc<dyn Handler>,
    options: Arc<ServeOptions>,
    phase: watch::Receiver<Phase>,
    http2: bool,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        // Small responses: send them now rather than waiting for more data (Nagle).
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = tls else {
            return self.http(stream, false).await;
        };
        let handshake =
            tokio::time::timeout(self.options.tls_handshake_timeout, acceptor.accept(stream));
        let tls_stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "web: TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("web: TLS handshake timed out");
                    return;
                }
            },
            _ = self.phase.wait_for(|p| *p != Phase::Running) => return,
        };
        let h2 = self.http2 && tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
        self.http(tls_stream, h2).await;
    }

    async fn http<S>(self, stream: S, h2: bool)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let routes = self.routes.clone();
        let tracker = activity.clone();
        let service = service_fn(move |req| {
            let routes = routes.clone();
            let busy = Busy::start(tracker.clone());
            async move {
                let response = routes.handle(req).await;
                drop(busy);
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let io = TokioIo::new(stream);
        if h2 {
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_header_list_size(H2_MAX_HEADER_LIST)
                .max_concurrent_streams(H2_MAX_STREAMS)
                .serve_connection(io, service);
            drive(conn, self.phase, activity, self.options.idle_timeout).await;
        } else {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(self.options.header_read_timeout)
                .max_header_size(MAX_HEAD_BYTES)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(io, service);
            drive(conn, self.phase, activity, self.options.idle_timeout).await;
        }
    }
}

/// hyper's HTTP/1 and HTTP/2 connections, which share this method but no trait.
trait GracefulShutdown {
    fn start_graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S> GracefulShutdown for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: hyper::body::Body + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn start_graceful_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, E> GracefulShutdown for hyper::server::conn::http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: hyper::body::Body + Send + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    <S::ResBody as hyper::body::Body>::Data: Send + 'static,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn start_graceful_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs `conn` to its end, or until it has been idle too long, or until shutdown says so.
async fn drive<C>(
    conn: C,
    mut phase: watch::Receiver<Phase>,
    activity: Arc<Activity>,
    idle_timeout: Duration,
) where
    C: Future<Output = hyper::Result<()>> + GracefulShutdown,
{
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let now = *phase.borrow_and_update();
        match now {
            Phase::Abort => return,
            Phase::Draining if !draining => {
                conn.as_mut().start_graceful_shutdown();
                draining = true;
            }
            _ => {}
        }
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "web: connection ended with an error");
                }
                return;
            }
            changed = phase.changed() => {
                if changed.is_err() {
                    // serve_with has returned: nothing waits for this connection any more.
                    return;
                }
            }
            () = activity.idle_expired(idle_timeout) => {
                tracing::debug!("web: closing idle connection");
                return;
            }
        }
    }
}

/// Requests in progress on one connection, and since when it has had none.
struct Activity {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
        }
    }

    fn idle_since(&self) -> Instant {
        self.idle_since
            .lock()
            .map_or_else(|poisoned| *poisoned.into_inner(), |t| *t)
    }

    /// Resolves once no request has been in progress for `limit`.
    async fn idle_expired(&self, limit: Duration) {
        loop {
            let deadline = if self.in_flight.load(Ordering::Acquire) > 0 {
                Instant::now() + limit
            } else {
                self.idle_since() + limit
            };
            tokio::time::sleep_until(deadline).await;
            if self.in_flight.load(Ordering::Acquire) == 0 && self.idle_since().elapsed() >= limit {
                return;
            }
        }
    }
}

/// Marks one request in progress until dropped.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut t) = self.0.idle_since.lock() {
            *t = Instant::now();
        }
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
