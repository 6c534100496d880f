//! The DANE rules for SMTP, as pure functions: no I/O, no clock, no randomness.
//!
//! Input comes from the probe (`crate::probe`): the secure TLSA RRset of an MX host, the chain one
//! of its addresses presented after STARTTLS (`crate::smtp`), the reference identifiers (RFC 7672
//! 3.2.2) and the current time. Output is an [`EndpointEvaluation`]: a [`RecordState`] per TLSA
//! record (so stale records show), whether and how the endpoint authenticates, and the deadlines
//! that feed "days to divergence" and rollover readiness. The verdict for a whole domain is built
//! from these in `crate::verdict`.
//!
//! - `tlsa.rs`: the record type and its presentation form.
//! - `cert.rs`: what we read from a DER certificate (names, validity, SPKI).
//! - `matching.rs`: usage/selector/matching-type rules, digest agility (RFC 6698 2.1, RFC 7671 9).
//! - `names.rs`: the reference-identifier check (RFC 7672 3.2.2, RFC 6125 wildcards).
//! - `chain.rs`: DANE-TA chain verification (RFC 7672 3.1.2).
//! - `pkix.rs`: the PKIX usages 0 and 1, which only the [`DaneProfile::Service`] profile uses
//!   (TLSA for IMAP, POP3, submission, HTTPS; RFC 6698 2.1.1, RFC 7671 5.4 and 5.5): WebPKI
//!   path validation to a trusted root, then the record's constraint on that path.
//!
//! SMTP to an MX host (RFC 7672) and every other TLS service differ only in which usages count:
//! [`evaluate_endpoint`] is the SMTP profile, [`evaluate_endpoint_with`] takes the profile
//! explicitly. The rest (digest agility, DANE-EE, DANE-TA, name checks) is shared.

mod cert;
mod chain;
mod matching;
mod names;
mod pkix;
pub mod tlsa;

use serde::Serialize;

use crate::dns::UnixSeconds;

pub use cert::{describe_certificate, CertificateError, CertificateInfo};
pub use names::name_matches;
pub use pkix::{PkixTrust, PkixTrustError};
pub use tlsa::{CertUsage, MatchingType, Selector, TlsaParseError, TlsaRecord};

/// What the DANE rules need to judge one endpoint (one address of one MX host).
#[derive(Clone, Copy, Debug)]
pub struct EndpointInput<'a> {
    /// The secure TLSA RRset of the host, as published.
    pub tlsa: &'a [TlsaRecord],
    /// The certificate chain as presented, DER, leaf first.
    pub chain: &'a [Vec<u8>],
    /// Reference identifiers, normalised: the TLSA base domain, and the MX host name when the MX
    /// RRset was secure (RFC 7672 3.2.2).
    pub reference_names: &'a [String],
    /// Earliest RRSIG expiration of the TLSA RRset (and its CNAMEs), when known.
    pub tlsa_signature_expiration: Option<UnixSeconds>,
    /// The moment of the check.
    pub now: UnixSeconds,
}

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
}

impl MatchFailure {
    /// Stable snake_case `reason` label value.
    pub fn reason(&self) -> &'static str {
        match self {
            MatchFailure::NoCertificate => "no_certificate",
            MatchFailure::BadCertificate(_) => "bad_certificate",
            MatchFailure::NoMatch => "tlsa_mismatch",
            MatchFailure::NameMismatch => "dane_ta_name_mismatch",
            MatchFailure::ChainInvalid(_) => "dane_ta_chain_invalid",
            MatchFailure::PkixInvalid(_) => "pkix_chain_invalid",
            MatchFailure::PkixNameMismatch => "pkix_name_mismatch",
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

/// Which rules of RFC 6698/7671 apply: SMTP's restricted set, or the full set of other services.
#[derive(Clone, Copy, Debug)]
pub enum DaneProfile<'a> {
    /// SMTP to MX hosts (RFC 7672): usages 0 and 1 are unusable (3.1.3).
    Smtp,
    /// Any other TLS service (submission, IMAP, POP3, HTTPS): all four usages, the PKIX ones
    /// validated against `pkix` (RFC 6698 2.1.1, RFC 7671 5).
    Service {
        /// Roots for PKIX path validation.
        pkix: &'a PkixTrust,
    },
}

/// Judges one presented chain against a TLSA RRset, following RFC 7672 section 3 and RFC 7671.
pub fn evaluate_endpoint(input: &EndpointInput<'_>) -> EndpointEvaluation {
    matching::evaluate(input, DaneProfile::Smtp)
}

/// [`evaluate_endpoint`] under an explicit profile: [`DaneProfile::Smtp`] gives the same result,
/// [`DaneProfile::Service`] makes the PKIX usages usable.
pub fn evaluate_endpoint_with(
    input: &EndpointInput<'_>,
    profile: DaneProfile<'_>,
) -> EndpointEvaluation {
    matching::evaluate(input, profile)
}
