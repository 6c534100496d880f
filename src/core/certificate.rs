//! What a report shows of one certificate, read by `crate::dane` from the DER a server presented
//! or a local file holds.

use serde::Serialize;

use super::time::UnixSeconds;

/// What a report shows of one certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// Subject DN, RFC 4514 text.
    pub subject: String,
    /// Issuer DN, RFC 4514 text.
    pub issuer: String,
    /// DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// notBefore.
    pub not_before: UnixSeconds,
    /// notAfter.
    pub not_after: UnixSeconds,
    /// SHA-256 of the SubjectPublicKeyInfo, hex: the data of a `3 1 1` record for this key.
    pub spki_sha256: String,
}
