//! The DANE rules for SMTP, as pure functions: no I/O, no clock, no randomness.
//!
//! Input comes from the checks (`crate::checks`): the secure TLSA RRset of an MX host, the chain one
//! of its addresses presented after STARTTLS (`crate::smtp`), the reference identifiers (RFC 7672
//! 3.2.2) and the current time. Output is an [`EndpointEvaluation`]: a [`RecordState`] per TLSA
//! record (so stale records show), whether and how the endpoint authenticates, and the deadlines
//! that feed "days to divergence" and rollover readiness. The verdict for a whole domain is built
//! from these by the MX check (`crate::checks::mx`).
//!
//! - `input.rs`: what the rules take ([`EndpointInput`], [`DaneProfile`]); the record type and
//!   the result types are in `crate::core` (`tlsa`, `evaluation`).
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
mod input;
mod matching;
mod names;
mod pkix;
mod words;

use crate::core::EndpointEvaluation;

pub use cert::{
    association_data, certificate_spki, describe_certificate, leaf_key_algorithm, AssociationError,
    CertificateError, TlsaSubject,
};
pub use input::{DaneProfile, EndpointInput};
pub use names::{mx_reference_names, name_matches};
pub use pkix::{PkixTrust, PkixTrustError};
pub use words::webpki_error;

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
