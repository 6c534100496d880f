//! Chain verification errors in plain words: what a postmaster reads in a report instead of the
//! verifier's variant names (`CaUsedAsEndEntity`). Used by the DANE-TA and PKIX checks here and
//! by the TLS layer for rustls's certificate errors.

use crate::core::text::variant_words;

/// `error` as a phrase a report can print.
pub fn webpki_error(error: &webpki::Error) -> String {
    use webpki::Error::*;
    match error {
        CaUsedAsEndEntity => "the server presents a CA certificate as its own (leaf)".into(),
        EndEntityUsedAsCa => "a leaf certificate is used to sign another certificate".into(),
        CertExpired { .. } => "a certificate of the chain has expired".into(),
        CertNotValidYet { .. } => "a certificate of the chain is not valid yet".into(),
        CertNotValidForName(_) => "the certificate does not name the host".into(),
        UnknownIssuer => "the chain does not lead to a trusted issuer".into(),
        InvalidSignatureForPublicKey => {
            "a certificate's signature does not verify with its issuer's key".into()
        }
        PathLenConstraintViolated => "the chain is longer than an issuer allows".into(),
        NameConstraintViolation => "a name is outside what an issuer may certify".into(),
        RequiredEkuNotFoundContext(_) => {
            "the certificate is not for TLS servers (extended key usage)".into()
        }
        BadDer | BadDerTime | TrailingData(_) => "a certificate is not valid DER".into(),
        UnsupportedCriticalExtension => {
            "a certificate has a critical extension nobody knows".into()
        }
        MaximumPathDepthExceeded
        | MaximumPathBuildCallsExceeded
        | MaximumSignatureChecksExceeded => "the chain is too long or too tangled to verify".into(),
        other => variant_words(&format!("{other:?}")),
    }
}
