//! What probing a service finds and what its judgement adds: the service's own report, which
//! never changes the domain's mail verdict.

use std::net::IpAddr;

use serde::ser::SerializeMap;
use serde::Serialize;

use super::spec::{ServiceProtocol, TlsMode};
use crate::core::{
    CertificateInfo, EndpointEvaluation, Finding, HostDane, Reason, RrsetReport, TlsaRecord,
    Verdict,
};

/// The dialogue step where a service session stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStage {
    /// TCP connect.
    Connect,
    /// The server's greeting.
    Greeting,
    /// EHLO, CAPABILITY or CAPA.
    Capabilities,
    /// STARTTLS / STLS and its answer.
    Starttls,
    /// The TLS handshake.
    TlsHandshake,
}

/// Why a service session failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ServiceError {
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
        stage: ServiceStage,
    },
    /// The connection closed or failed mid-dialogue.
    #[error("connection lost during {stage:?}: {detail}")]
    Io {
        /// Which step.
        stage: ServiceStage,
        /// The I/O error or "closed".
        detail: String,
    },
    /// The greeting was a refusal (or IMAP PREAUTH, after which STARTTLS is not allowed).
    #[error("greeting refused: {reply}")]
    Greeting {
        /// The reply, trimmed.
        reply: String,
    },
    /// EHLO or CAPABILITY was refused.
    #[error("capability request refused: {reply}")]
    CommandRejected {
        /// The reply, trimmed.
        reply: String,
    },
    /// The server does not offer STARTTLS (STLS).
    #[error("STARTTLS not offered")]
    StarttlsNotOffered,
    /// STARTTLS was refused.
    #[error("STARTTLS refused: {reply}")]
    StarttlsRejected {
        /// The reply, trimmed.
        reply: String,
    },
    /// The server broke the protocol (over-long lines, endless responses, plaintext after the
    /// STARTTLS answer).
    #[error("protocol violation during {stage:?}: {detail}")]
    Protocol {
        /// Which step.
        stage: ServiceStage,
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

impl ServiceError {
    /// The stable reason of this failure.
    pub fn reason(&self) -> Reason {
        match self {
            ServiceError::Connect { .. } => Reason::ServiceConnectFailed,
            ServiceError::Timeout { .. } => Reason::ServiceTimeout,
            ServiceError::Io { .. } => Reason::ServiceConnectionLost,
            ServiceError::Greeting { .. } => Reason::ServiceGreetingRejected,
            ServiceError::CommandRejected { .. } => Reason::ServiceCommandRejected,
            ServiceError::StarttlsNotOffered => Reason::StarttlsNotOffered,
            ServiceError::StarttlsRejected { .. } => Reason::StarttlsRejected,
            ServiceError::Protocol { .. } => Reason::ServiceProtocolError,
            ServiceError::Handshake { .. } => Reason::TlsHandshakeFailed,
        }
    }

    /// `Some(false)` when STARTTLS was not offered, `Some(true)` when the dialogue got past it.
    pub fn starttls_offered(&self) -> Option<bool> {
        match self {
            ServiceError::StarttlsNotOffered => Some(false),
            ServiceError::StarttlsRejected { .. } | ServiceError::Handshake { .. } => Some(true),
            ServiceError::Timeout { stage }
            | ServiceError::Io { stage, .. }
            | ServiceError::Protocol { stage, .. } => match stage {
                ServiceStage::Starttls | ServiceStage::TlsHandshake => Some(true),
                _ => None,
            },
            _ => None,
        }
    }
}

/// What a completed handshake established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceTls {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    /// Negotiated cipher suite, IANA name.
    pub cipher_suite: String,
}

/// How the session with one service address ended.
#[derive(Clone, Debug)]
pub enum ServiceSession {
    /// The handshake completed.
    Tls {
        /// What it established.
        tls: ServiceTls,
        /// True when TLS started after STARTTLS (STLS): the server offered it.
        after_starttls: bool,
    },
    /// The dialogue or the handshake failed.
    Failed(ServiceError),
}

impl ServiceSession {
    /// The TLS session, when the handshake completed.
    pub fn tls(&self) -> Option<&ServiceTls> {
        match self {
            ServiceSession::Tls { tls, .. } => Some(tls),
            ServiceSession::Failed(_) => None,
        }
    }

    /// The failure, when the session did not complete.
    pub fn error(&self) -> Option<&ServiceError> {
        match self {
            ServiceSession::Tls { .. } => None,
            ServiceSession::Failed(error) => Some(error),
        }
    }

    /// STARTTLS mode: whether it was offered, when the dialogue got that far.
    pub fn starttls_offered(&self) -> Option<bool> {
        match self {
            ServiceSession::Tls { after_starttls, .. } => after_starttls.then_some(true),
            ServiceSession::Failed(error) => error.starttls_offered(),
        }
    }
}

/// The JSON keeps the three fields it always had: `starttls_offered`, `tls`, `error`.
impl Serialize for ServiceSession {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("starttls_offered", &self.starttls_offered())?;
        map.serialize_entry("tls", &self.tls())?;
        map.serialize_entry("error", &self.error())?;
        map.end()
    }
}

/// One address of a service.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceEndpointReport {
    /// The address probed.
    pub address: IpAddr,
    /// DANE applies to this address (the service's TLSA RRset and the address's own RRset are
    /// secure).
    pub dane: bool,
    /// The session, or why there is none.
    #[serde(flatten)]
    pub session: ServiceSession,
    /// Every presented certificate, leaf first (unparsable ones left out).
    pub chain: Vec<CertificateInfo>,
    /// The DANE evaluation (service profile), when a chain was obtained and DANE applies.
    pub evaluation: Option<EndpointEvaluation>,
    /// Seconds the dialogue and handshake took.
    pub duration_seconds: f64,
}

/// What probing one service found, before any judgement.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceFacts {
    /// Host name as configured.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Protocol.
    pub protocol: ServiceProtocol,
    /// Implicit TLS or STARTTLS.
    pub tls_mode: TlsMode,
    /// Whether DANE applies to the service, and if not why.
    pub dane: HostDane,
    /// Where the TLSA RRset was found, when DANE applies.
    pub tlsa_base_domain: Option<String>,
    /// TLSA lookups made, in order.
    pub tlsa_lookups: Vec<RrsetReport>,
    /// The TLSA records in force.
    pub tlsa_records: Vec<TlsaRecord>,
    /// A and AAAA lookups.
    pub address_lookups: Vec<RrsetReport>,
    /// One entry per address.
    pub endpoints: Vec<ServiceEndpointReport>,
    /// Seconds the whole service probe took.
    pub duration_seconds: f64,
}

/// Everything about one configured service: the facts and their judgement.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceReport {
    /// What the probe found.
    #[serde(flatten)]
    pub facts: ServiceFacts,
    /// Pass (every endpoint authenticates), fail, or not applicable (no secure TLSA).
    pub verdict: Verdict,
    /// Why the verdict is `fail`.
    pub failures: Vec<Finding>,
    /// Things to look at that do not fail the service.
    pub warnings: Vec<Finding>,
}
