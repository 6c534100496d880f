//! The SMTP side of a probe: connect, banner, EHLO, STARTTLS, TLS handshake, QUIT.
//!
//! The probe (`crate::probe`) calls [`probe_starttls`] once per address of every MX host that has
//! DANE. What comes back is the chain the server presented (for `crate::dane`) and the facts of the
//! session (STARTTLS offered, TLS version), or an [`SmtpError`] saying at which step and why it
//! failed. The server is hostile until proven otherwise: every read is bounded in length, every step
//! runs under `SmtpSettings::step_timeout`, and we never send MAIL FROM.
//!
//! - `reply`: bounded reading and parsing of SMTP replies (pure parts unit-tested).
//! - `session`: the dialogue itself, step by step, with the timeouts and the STARTTLS injection
//!   check.
//! - `crate::tls`: the shared rustls configuration, the verifier and the handshake.
//!
//! [`probe_starttls_restricted`] runs the same dialogue with a ClientHello limited to one server
//! key algorithm (`crate::key_algorithms`), telling "the server has no such key" apart from other
//! failures.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod reply;
mod session;

/// How to talk SMTP.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// TCP port; 25 in production. Tests use another, and the TLSA name follows it.
    pub port: u16,
    /// Our name in EHLO.
    pub ehlo_name: String,
    /// Time allowed for each step (connect, banner, EHLO, STARTTLS, handshake).
    pub step_timeout: Duration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            port: 25,
            ehlo_name: "dane-exporter.invalid".to_string(),
            step_timeout: Duration::from_secs(10),
        }
    }
}

/// The dialogue step where a probe stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpStage {
    /// TCP connect.
    Connect,
    /// Waiting for the 220 greeting.
    Banner,
    /// EHLO and its reply.
    Ehlo,
    /// STARTTLS and its 220 reply.
    Starttls,
    /// The TLS handshake.
    TlsHandshake,
}

/// A successful STARTTLS session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsSession {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    /// Negotiated cipher suite, IANA name.
    pub cipher_suite: String,
    /// The presented chain, DER, leaf first, exactly as sent.
    #[serde(skip)]
    pub chain: Vec<Vec<u8>>,
    /// First line of the 220 greeting, trimmed to at most 200 characters.
    pub banner: String,
}

/// Why a STARTTLS probe failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SmtpError {
    /// The TCP connection failed.
    #[error("connect failed: {detail}")]
    Connect {
        /// The I/O error.
        detail: String,
    },
    /// A step took longer than its timeout.
    #[error("timed out during {stage:?}")]
    Timeout {
        /// Which step.
        stage: SmtpStage,
    },
    /// The connection closed or failed mid-dialogue.
    #[error("connection lost during {stage:?}: {detail}")]
    Io {
        /// Which step.
        stage: SmtpStage,
        /// The I/O error or "closed".
        detail: String,
    },
    /// The greeting was not 220.
    #[error("server greeting was not 220: {reply}")]
    Greeting {
        /// The reply, trimmed.
        reply: String,
    },
    /// EHLO was refused.
    #[error("EHLO refused: {reply}")]
    EhloRejected {
        /// The reply, trimmed.
        reply: String,
    },
    /// The EHLO reply does not list STARTTLS.
    #[error("STARTTLS not offered")]
    StarttlsNotOffered,
    /// STARTTLS was answered with something else than 220.
    #[error("STARTTLS refused: {reply}")]
    StarttlsRejected {
        /// The reply, trimmed.
        reply: String,
    },
    /// A reply broke the protocol: too long, too many lines, not a reply at all.
    #[error("protocol violation during {stage:?}: {detail}")]
    Protocol {
        /// Which step.
        stage: SmtpStage,
        /// What was wrong.
        detail: String,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {detail}")]
    Handshake {
        /// The TLS error.
        detail: String,
    },
}

impl SmtpError {
    /// Stable snake_case `reason` label value.
    pub fn reason(&self) -> &'static str {
        match self {
            SmtpError::Connect { .. } => "smtp_connect_failed",
            SmtpError::Timeout { .. } => "smtp_timeout",
            SmtpError::Io { .. } => "smtp_connection_lost",
            SmtpError::Greeting { .. } => "smtp_greeting_rejected",
            SmtpError::EhloRejected { .. } => "smtp_ehlo_rejected",
            SmtpError::StarttlsNotOffered => "starttls_not_offered",
            SmtpError::StarttlsRejected { .. } => "starttls_rejected",
            SmtpError::Protocol { .. } => "smtp_protocol_error",
            SmtpError::Handshake { .. } => "tls_handshake_failed",
        }
    }

    /// Whether the server got as far as offering STARTTLS: `Some(false)` when it did not,
    /// `None` when the dialogue ended before EHLO was answered.
    pub fn starttls_offered(&self) -> Option<bool> {
        match self {
            SmtpError::StarttlsNotOffered => Some(false),
            SmtpError::StarttlsRejected { .. } | SmtpError::Handshake { .. } => Some(true),
            SmtpError::Timeout { stage }
            | SmtpError::Io { stage, .. }
            | SmtpError::Protocol { stage, .. } => match stage {
                SmtpStage::Starttls | SmtpStage::TlsHandshake => Some(true),
                _ => None,
            },
            SmtpError::Connect { .. }
            | SmtpError::Greeting { .. }
            | SmtpError::EhloRejected { .. } => None,
        }
    }
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
    session::run(addr, sni, settings).await
}

/// Why a STARTTLS probe restricted to one key algorithm got no chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RestrictedError {
    /// The server refused the handshake (handshake_failure alert): it has no certificate for that
    /// key algorithm. Not a fault.
    #[error("no certificate for this key algorithm: {detail}")]
    NotOffered {
        /// The TLS error as received.
        detail: String,
    },
    /// Any other failure, exactly as [`probe_starttls`] reports it.
    #[error("{0}")]
    Smtp(SmtpError),
}

/// [`probe_starttls`] with a ClientHello restricted to one server key algorithm: only its
/// signature schemes in `signature_algorithms`, and for TLS 1.2 only the ECDHE suites that
/// authenticate with it. Same steps, same timeouts, same bounds.
pub async fn probe_starttls_restricted(
    addr: SocketAddr,
    sni: &str,
    settings: &SmtpSettings,
    algorithm: crate::tls::KeyAlgorithm,
) -> Result<TlsSession, RestrictedError> {
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
