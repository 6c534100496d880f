//! What the DANE rules take: one endpoint's TLSA RRset, presented chain, reference identifiers
//! and time, and the profile (SMTP or another TLS service) that says which usages count.

use super::pkix::PkixTrust;
use crate::core::{TlsaRecord, UnixSeconds};

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
