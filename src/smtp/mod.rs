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
//! - `stats`: the sessions made, by result (`dane_exporter_smtp_sessions_total`).
//! - `egress`: whether this host can open SMTP connections at all (pure, from sessions' results).
//! - `crate::tls`: the shared rustls configuration, the verifier and the handshake.
//!
//! [`probe_starttls_restricted`] runs the same dialogue with a ClientHello limited to one server
//! key algorithm (`crate::checks::key_algorithms`), telling "the server has no such key" apart from other
//! failures.

use std::net::SocketAddr;

use crate::core::{KeyAlgorithm, RestrictedError, SmtpError, TlsSession};

mod cache;
pub mod egress;
#[doc(hidden)]
pub mod fuzzing;
mod limit;
pub(crate) mod reply;
mod session;
mod settings;
mod stats;

pub use cache::{SessionCache, SessionOutcome};
pub use limit::{HostLimits, HostPermit, DEFAULT_HOST_CONCURRENCY};
pub use settings::{SmtpSettings, DEFAULT_REPLY_TIMEOUT};
pub use stats::{session_counts, SESSION_RESULTS};

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
    let result = session::run(addr, sni, settings).await;
    stats::record(&result);
    result
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
    let result = session::run_restricted(addr, sni, settings, Some(algorithm))
        .await
        .map_err(|failure| {
            if failure.no_such_key {
                RestrictedError::NotOffered {
                    detail: failure.error.to_string(),
                }
            } else {
                RestrictedError::Smtp(failure.error)
            }
        });
    stats::record_restricted(&result);
    result
}
