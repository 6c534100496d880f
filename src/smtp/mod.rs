//! The SMTP side of a probe: connect, banner, EHLO, STARTTLS, TLS handshake, QUIT.
//!
//! The MX check (`crate::checks::mx`) calls [`probe_starttls`] once per address of every MX host. What comes back is the chain the server presented (for `crate::dane`) and the facts of the
//! session (STARTTLS offered, TLS version), or an [`SmtpError`] saying at which step and why it
//! failed. The server is hostile until proven otherwise: every read is bounded in length, every step
//! runs under `SmtpSettings::step_timeout`, and we never send MAIL FROM.
//!
//! - `reply`: bounded reading and parsing of SMTP replies (pure parts unit-tested).
//! - `session`: the dialogue itself, step by step, with the timeouts and the STARTTLS injection
//!   check.
//! - `cache`: STARTTLS sessions shared between domains whose MX hosts coincide.
//! - `limit`: a cap on the connections open at once to one server address.
//! - `settings`: port, EHLO name, step timeout.
//! - `crate::tls`: the shared rustls configuration, the verifier and the handshake.
//!
//! [`probe_starttls_restricted`] runs the same dialogue with a ClientHello limited to one server
//! key algorithm (`crate::checks::key_algorithms`), telling "the server has no such key" apart from other
//! failures.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::core::{KeyAlgorithm, RestrictedError, SmtpError, TlsSession};

mod cache;
#[doc(hidden)]
pub mod fuzzing;
mod limit;
pub(crate) mod reply;
mod session;
mod settings;

pub use cache::{SessionCache, SessionOutcome};
pub use limit::{HostLimits, HostPermit, DEFAULT_HOST_CONCURRENCY};
pub use settings::{SmtpSettings, DEFAULT_REPLY_TIMEOUT};

/// SMTP sessions started (a connection attempted) since the process started.
static SESSIONS: AtomicU64 = AtomicU64::new(0);

/// How many SMTP sessions this process has started (the `dane_exporter_smtp_sessions_total`
/// counter): sessions shared through a [`SessionCache`] count once.
pub fn session_count() -> u64 {
    SESSIONS.load(Ordering::Relaxed)
}

/// Runs the SMTP dialogue with `addr` (port from `settings`) and returns the TLS session.
///
/// The port of `addr` is ignored: the connection goes to `addr.ip()` on `settings.port`.
/// `sni` is the TLSA base domain (RFC 7672 3.3); a name that is not a valid DNS name fails with
/// [`SmtpError::Handshake`] before any connection is made. The handshake accepts any chain, since
/// DANE and not WebPKI decides, but still checks the handshake signature, so the server proves it
/// holds the key of the leaf it presented. Session resumption is off so every probe sees a full
/// handshake. Chains longer than 20 certificates are refused during the handshake.
pub async fn probe_starttls(
    addr: SocketAddr,
    sni: &str,
    settings: &SmtpSettings,
) -> Result<TlsSession, SmtpError> {
    SESSIONS.fetch_add(1, Ordering::Relaxed);
    session::run(addr, sni, settings).await
}

/// [`probe_starttls`] with a ClientHello restricted to one server key algorithm: only its
/// signature schemes in `signature_algorithms`, and for TLS 1.2 only the ECDHE suites that
/// authenticate with it. Same steps, same timeouts, same bounds.
pub async fn probe_starttls_restricted(
    addr: SocketAddr,
    sni: &str,
    settings: &SmtpSettings,
    algorithm: KeyAlgorithm,
) -> Result<TlsSession, RestrictedError> {
    SESSIONS.fetch_add(1, Ordering::Relaxed);
    session::run_restricted(addr, sni, settings, Some(algorithm))
        .await
        .map_err(|failure| {
            if failure.no_such_key {
                RestrictedError::NotOffered {
                    detail: failure.error.to_string(),
                }
            } else {
                RestrictedError::Smtp(failure.error)
            }
        })
}
