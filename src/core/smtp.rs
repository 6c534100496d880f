//! The facts of one SMTP session as the checks see them: how far the dialogue got, what TLS
//! established and the chain the server presented, or why it stopped.
//!
//! `crate::smtp` (the dialogue) and `crate::tls` (the handshake) produce them; the checks judge
//! them and the reports carry them.

use serde::Serialize;

use super::finding::Reason;

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

impl SmtpStage {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpStage::Connect => "connect",
            SmtpStage::Banner => "banner",
            SmtpStage::Ehlo => "ehlo",
            SmtpStage::Starttls => "starttls",
            SmtpStage::TlsHandshake => "tls_handshake",
        }
    }
}

/// Which TLS implementation completed a handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsEngine {
    /// rustls: every handshake starts with it.
    Rustls,
    /// The system OpenSSL with Postfix's settings: for the servers rustls cannot speak to (CBC
    /// suites, RSA or DHE key exchange, P-521, leaves rustls refuses), as Postfix does.
    Openssl,
}

impl TlsEngine {
    /// Stable snake_case name: the `engine` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsEngine::Rustls => "rustls",
            TlsEngine::Openssl => "openssl",
        }
    }
}

/// A successful STARTTLS session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsSession {
    /// `TLSv1.3`, `TLSv1.2` (or older, with OpenSSL).
    pub version: String,
    /// Negotiated cipher suite, IANA name.
    pub cipher_suite: String,
    /// The TLS implementation that completed the handshake.
    pub engine: TlsEngine,
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
    /// The TCP connection failed (refused, reset).
    #[error("connect failed: {detail}")]
    Connect {
        /// The I/O error.
        detail: String,
    },
    /// This host has no route to the address (network or host unreachable, address family not
    /// configured): the monitoring host cannot see it, which says nothing about the server.
    #[error("no route from here: {detail}")]
    NoRoute {
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
    /// The stable reason of this failure.
    pub fn reason(&self) -> Reason {
        match self {
            SmtpError::Connect { .. } => Reason::SmtpConnectFailed,
            SmtpError::NoRoute { .. } => Reason::SmtpNoRoute,
            SmtpError::Timeout { stage } => match stage {
                SmtpStage::Connect => Reason::SmtpConnectTimeout,
                SmtpStage::Banner => Reason::SmtpBannerTimeout,
                SmtpStage::Ehlo => Reason::SmtpEhloTimeout,
                SmtpStage::Starttls => Reason::SmtpStarttlsTimeout,
                SmtpStage::TlsHandshake => Reason::TlsHandshakeTimeout,
            },
            SmtpError::Io { .. } => Reason::SmtpConnectionLost,
            SmtpError::Greeting { .. } => Reason::SmtpGreetingRejected,
            SmtpError::EhloRejected { .. } => Reason::SmtpEhloRejected,
            SmtpError::StarttlsNotOffered => Reason::StarttlsNotOffered,
            SmtpError::StarttlsRejected { .. } => Reason::StarttlsRejected,
            SmtpError::Protocol { .. } => Reason::SmtpProtocolError,
            SmtpError::Handshake { .. } => Reason::TlsHandshakeFailed,
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
            | SmtpError::NoRoute { .. }
            | SmtpError::Greeting { .. }
            | SmtpError::EhloRejected { .. } => None,
        }
    }

    /// How far the server was reached: a sender that meets any failure before a 220 greeting
    /// (refused, no answer, silence, a 4xx/5xx greeting) moves on to the next address or MX host
    /// (Postfix `smtp_connect.c`); a failure after it is the server's answer.
    pub fn reachability(&self) -> Reachability {
        match self {
            SmtpError::NoRoute { .. } => Reachability::Unroutable,
            SmtpError::Connect { .. } | SmtpError::Greeting { .. } => Reachability::Unreachable,
            SmtpError::Timeout { stage }
            | SmtpError::Io { stage, .. }
            | SmtpError::Protocol { stage, .. } => match stage {
                SmtpStage::Connect | SmtpStage::Banner => Reachability::Unreachable,
                _ => Reachability::Reached,
            },
            SmtpError::EhloRejected { .. }
            | SmtpError::StarttlsNotOffered
            | SmtpError::StarttlsRejected { .. }
            | SmtpError::Handshake { .. } => Reachability::Reached,
        }
    }
}

/// Whether the probe got through to an SMTP server at an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    /// The server greeted with 220: what it said afterwards is its own doing.
    Reached,
    /// Nothing listened, nothing greeted, or the greeting refused: a sender tries elsewhere.
    Unreachable,
    /// The monitoring host has no route to the address (its address family, typically IPv6 on a
    /// host without it): skipped, not the server's fault.
    Unroutable,
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
    /// Any other failure, exactly as `crate::smtp::probe_starttls` reports it.
    #[error("{0}")]
    Smtp(SmtpError),
}

/// A kind of server key, as far as a client can steer which one a server presents.
///
/// Ed25519 is left out on purpose: no SMTP server we know of offers it, and a sender (OpenSSL's
/// default lists) that prefers it would still fall back to ECDSA or RSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAlgorithm {
    /// ECDSA keys (P-256, P-384; P-521 is not in the ring provider).
    Ecdsa,
    /// RSA keys, with PKCS#1 v1.5 or PSS signatures.
    Rsa,
}

impl KeyAlgorithm {
    /// Every algorithm probed, in report and metric order.
    pub const ALL: [KeyAlgorithm; 2] = [KeyAlgorithm::Ecdsa, KeyAlgorithm::Rsa];

    /// Stable snake_case name: the `key_algorithm` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Ecdsa => "ecdsa",
            KeyAlgorithm::Rsa => "rsa",
        }
    }
}
