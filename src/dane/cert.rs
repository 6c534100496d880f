//! Placeholder, replaced by the DANE rules work.
use crate::dns::UnixSeconds;
use serde::Serialize;

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

/// A certificate that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("certificate does not parse: {0}")]
pub struct CertificateError(pub String);

/// Reads the facts a report shows from a DER certificate.
pub fn describe_certificate(_der: &[u8]) -> Result<CertificateInfo, CertificateError> {
    Err(CertificateError("not built".into()))
}
