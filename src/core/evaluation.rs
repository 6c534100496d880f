//! What the DANE rules conclude about one presented chain: a state per TLSA record, the endpoint's
//! outcome, and the deadlines behind "days to divergence" and rollover readiness.
//!
//! `crate::dane` (pure rules) produces an [`EndpointEvaluation`]; the checks carry it in their
//! reports, the metrics and the human report read it.

use serde::Serialize;

use super::certificate::CertificateInfo;
use super::finding::Reason;
use super::time::UnixSeconds;
use super::tlsa::TlsaRecord;

/// Why a TLSA record cannot be used at all (RFC 7672 3.1.3, RFC 7671 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnusableReason {
    /// Usage 0 (PKIX-TA) or 1 (PKIX-EE): not for SMTP.
    PkixUsage,
    /// Usage value not defined.
    UnknownUsage,
    /// Selector value not defined.
    UnknownSelector,
    /// Matching type value not defined.
    UnknownMatchingType,
    /// SHA-256 data not 32 bytes, or SHA-512 data not 64 bytes.
    BadDigestLength,
    /// Digest agility: a stronger matching type exists for the same usage and selector.
    WeakerDigest,
    /// Matching type 0 (exact) whose data is not a DER certificate (selector 0) or
    /// SubjectPublicKeyInfo (selector 1): OpenSSL's `dane_tlsa_add` refuses such a record, so
    /// Postfix does not use it.
    MalformedData,
}

impl UnusableReason {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            UnusableReason::PkixUsage => "pkix_usage",
            UnusableReason::UnknownUsage => "unknown_usage",
            UnusableReason::UnknownSelector => "unknown_selector",
            UnusableReason::UnknownMatchingType => "unknown_matching_type",
            UnusableReason::BadDigestLength => "bad_digest_length",
            UnusableReason::WeakerDigest => "weaker_digest",
            UnusableReason::MalformedData => "malformed_data",
        }
    }
}

/// Why an endpoint with usable TLSA records did not authenticate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum MatchFailure {
    /// The server presented no certificate.
    NoCertificate,
    /// The leaf (or a chain certificate a record would need) is not a parsable X.509 certificate.
    BadCertificate(String),
    /// No usable record matches the presented chain.
    NoMatch,
    /// A DANE-TA record matched a chain certificate, but the leaf's names do not include any
    /// reference identifier.
    NameMismatch,
    /// A DANE-TA record matched, but the chain from it down to the leaf does not verify (signature,
    /// validity period, basic constraints).
    ChainInvalid(String),
    /// A PKIX-TA or PKIX-EE record matched, but the presented chain does not validate to a trusted
    /// root (service profile only; RFC 6698 2.1.1).
    PkixInvalid(String),
    /// A PKIX record matched a validated chain, but the leaf does not name the service host or
    /// TLSA base domain (service profile only; RFC 7671 5.4, 5.5).
    PkixNameMismatch,
    /// A record matched, but the leaf's RSA key is below what Postfix's OpenSSL accepts from a
    /// peer it must authenticate (security level 1: 80 bits, an RSA modulus of 1024 bits).
    KeyTooSmall {
        /// The modulus size.
        bits: usize,
    },
}

impl MatchFailure {
    /// The stable reason of this failure.
    pub fn reason(&self) -> Reason {
        match self {
            MatchFailure::NoCertificate => Reason::NoCertificate,
            MatchFailure::BadCertificate(_) => Reason::BadCertificate,
            MatchFailure::NoMatch => Reason::TlsaMismatch,
            MatchFailure::NameMismatch => Reason::DaneTaNameMismatch,
            MatchFailure::ChainInvalid(_) => Reason::DaneTaChainInvalid,
            MatchFailure::PkixInvalid(_) => Reason::PkixChainInvalid,
            MatchFailure::PkixNameMismatch => Reason::PkixNameMismatch,
            MatchFailure::KeyTooSmall { .. } => Reason::CertificateKeyTooSmall,
        }
    }
}

/// The verdict on one TLSA record against one presented chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum RecordState {
    /// The record authenticated the chain; `depth` is the matching certificate (0 = leaf).
    Matched {
        /// Chain position of the matching certificate. For a DANE-TA trust anchor the server did
        /// not send (a `2 1 0` key or `2 0 0` certificate that signed a presented certificate),
        /// the depth the anchor would have had: one above the top of the verified path, which
        /// can equal the chain length.
        depth: usize,
    },
    /// The record matched a chain certificate, but the chain or name check then failed (DANE-TA).
    MatchedButRejected {
        /// Chain position of the matching certificate (for an unsent anchor, one above the
        /// certificate its key signed).
        depth: usize,
        /// Why the chain was not accepted: `ChainInvalid`, `NameMismatch`, or `BadCertificate`
        /// when the leaf itself does not parse.
        failure: MatchFailure,
    },
    /// Usable, but matches nothing presented: a stale record, or one for a next key.
    NoMatch,
    /// Never usable for SMTP.
    Unusable {
        /// Why.
        reason: UnusableReason,
    },
}

impl RecordState {
    /// `matched`, `no_match` or `unusable`: the label value for per-record metrics.
    pub fn label(&self) -> &'static str {
        match self {
            RecordState::Matched { .. } => "matched",
            RecordState::MatchedButRejected { .. } | RecordState::NoMatch => "no_match",
            RecordState::Unusable { .. } => "unusable",
        }
    }
}

/// One TLSA record and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordResult {
    /// The record.
    pub record: TlsaRecord,
    /// Its verdict against the presented chain.
    pub state: RecordState,
}

/// How the endpoint fared overall.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum EndpointOutcome {
    /// A usable record authenticated the chain.
    Authenticated {
        /// Index into the TLSA RRset of the record that did.
        record: usize,
        /// Its usage.
        usage: u8,
    },
    /// The RRset holds no usable record: TLS is mandatory, but nothing is authenticated (RFC 7672
    /// 2.2). A DANE sender still delivers over TLS.
    NoUsableRecords,
    /// A DANE sender would defer: the chain does not authenticate.
    Failed(MatchFailure),
}

/// What bounds the time until the published TLSA RRset and the presented chain stop matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DivergenceCause {
    /// The matched leaf certificate's notAfter: renewal day, maybe with a new key (DANE-EE).
    CertificateExpiry,
    /// A notAfter on the path from the DANE-TA trust anchor to the leaf.
    ChainExpiry,
    /// The TLSA RRset's RRSIG expiration: after it the records turn bogus.
    SignatureExpiry,
}

/// Everything the DANE rules concluded about one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointEvaluation {
    /// One entry per input TLSA record, in input order.
    pub records: Vec<RecordResult>,
    /// Authenticated, no usable records, or failed and why.
    pub outcome: EndpointOutcome,
    /// The presented leaf, when it parsed.
    pub leaf: Option<CertificateInfo>,
    /// Earliest moment the binding is expected to break if nobody acts; `None` when not
    /// authenticated (it is broken now) or nothing bounds it.
    pub divergence: Option<UnixSeconds>,
    /// What sets `divergence`.
    pub divergence_cause: Option<DivergenceCause>,
    /// RFC 7671 section 8: besides the matching record(s) the RRset holds a usable record for
    /// another key, or the match is through a DANE-TA record (leaf keys can change freely).
    pub rollover_ready: bool,
}

impl EndpointEvaluation {
    /// True when a DANE sender would deliver to this endpoint.
    pub fn passes(&self) -> bool {
        !matches!(self.outcome, EndpointOutcome::Failed(_))
    }
}
