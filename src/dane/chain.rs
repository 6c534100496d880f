//! DANE-TA chain verification (RFC 7672 section 3.1.2, RFC 7671 section 5.2).
//!
//! Once a DANE-TA(2) record has picked a trust anchor, the chain from it down to the leaf must
//! verify like a PKIX chain, with that anchor as the only trust anchor: signatures, validity
//! periods at the time of the check, basic constraints and path length on issuers, the anchor's
//! name constraints, and the leaf's extended key usage (serverAuth, as OpenSSL checks the SSL
//! server purpose under Postfix). rustls-webpki does that part. Two things webpki leaves out are
//! done here, as OpenSSL does them for DANE-TA:
//!
//! - The anchor *certificate* itself: OpenSSL checks the validity period of the top certificate
//!   of the chain (the matched TA included) and that an issuer is a CA. webpki treats anchors as
//!   bare (subject, key) pairs and checks neither.
//! - The reference-identifier check (RFC 7672 3.2.2), done by `names.rs` since webpki has no CN
//!   fallback.
//!
//! The anchor is either a presented certificate that matched the record (depth >= 1), or a bare
//! public key from a `2 1 0` record (RFC 7672 3.1.2: "servers ... MAY omit the trust anchor
//! certificate" when the TLSA record publishes the full key). For the bare key, the anchor's
//! subject is taken to be the issuer name of whichever presented certificate it signed, like
//! OpenSSL's `check_dane_pkeys`, which simply verifies the top certificate's signature with the
//! published key.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, Der, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::X509Version;

use super::{cert, names};
use crate::core::{MatchFailure, UnixSeconds};

/// DER tag of a SEQUENCE.
const SEQUENCE: u8 = 0x30;

/// Where trust starts for a DANE-TA record.
#[derive(Clone, Copy, Debug)]
pub(super) enum Anchor<'a> {
    /// A certificate (DER) that matched the record: presented at depth >= 1, or carried whole by
    /// a `2 0 0` record when the server did not send it.
    Certificate(&'a [u8]),
    /// A SubjectPublicKeyInfo (DER) published in a `2 1 0` record.
    PublicKey(&'a [u8]),
}

/// A chain that verified from the anchor down to the leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct VerifiedChain {
    /// Certificates on the verified path below the anchor, leaf included. For a bare-key anchor
    /// this is the depth the anchor would have had if it had been sent as a certificate.
    pub certificates_below_anchor: usize,
    /// The earliest notAfter on the path: leaf, intermediates, and the anchor certificate (a bare
    /// key has none).
    pub min_not_after: UnixSeconds,
}

/// Verifies the presented chain from `anchor` down to `leaf_der`, then checks the leaf's names.
///
/// `others` are the other presented certificates (leaf excluded), in the order sent; the path is
/// built from them as OpenSSL builds it from the untrusted certificates, so order does not matter.
/// Certificates that do not parse are left out: they cannot be on a valid path.
pub(super) fn verify(
    anchor: Anchor<'_>,
    leaf_der: &[u8],
    others: &[&[u8]],
    reference_names: &[String],
    now: UnixSeconds,
) -> Result<VerifiedChain, MatchFailure> {
    let invalid = |what: String| MatchFailure::ChainInvalid(what);
    let leaf = cert::parse(leaf_der).map_err(|e| MatchFailure::BadCertificate(e.0))?;
    if let Some(bits) = cert::rsa_key_too_small(&leaf) {
        return Err(MatchFailure::KeyTooSmall { bits });
    }

    let mut intermediates: Vec<CertificateDer<'_>> = Vec::new();
    let mut anchors: Vec<TrustAnchor<'_>> = Vec::new();
    let mut min_not_after = leaf.validity().not_after.timestamp();

    match anchor {
        Anchor::Certificate(ta_der) => {
            let ta = cert::parse(ta_der).map_err(|e| invalid(format!("trust anchor: {e}")))?;
            check_anchor_certificate(&ta, now)?;
            min_not_after = min_not_after.min(ta.validity().not_after.timestamp());
            let ta_cert = CertificateDer::from(ta_der);
            let trust_anchor = webpki::anchor_from_trusted_cert(&ta_cert)
                .map_err(|e| invalid(format!("trust anchor: {e}")))?
                .to_owned();
            anchors.push(trust_anchor);
            intermediates.extend(
                others
                    .iter()
                    .filter(|der| **der != ta_der && cert::parse(der).is_ok())
                    .map(|der| CertificateDer::from(*der)),
            );
        }
        Anchor::PublicKey(spki_der) => {
            let spki = cert::der_contents(spki_der, SEQUENCE)
                .ok_or_else(|| invalid("published key is not a DER SubjectPublicKeyInfo".into()))?;
            // One candidate anchor per distinct issuer name on the presented certificates; the
            // signature check decides which (if any) the key really issued.
            let mut subjects: Vec<&[u8]> = Vec::new();
            add_issuer(&leaf, &mut subjects);
            for der in others {
                if let Ok(c) = cert::parse(der) {
                    intermediates.push(CertificateDer::from(*der));
                    add_issuer(&c, &mut subjects);
                }
            }
            anchors.extend(subjects.into_iter().map(|subject| TrustAnchor {
                subject: Der::from(subject),
                subject_public_key_info: Der::from(spki),
                name_constraints: None,
            }));
        }
    }

    let leaf_cert = CertificateDer::from(leaf_der);
    let end_entity = EndEntityCert::try_from(&leaf_cert)
        .map_err(|e| invalid(format!("leaf: {}", super::webpki_error(&e))))?;
    let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    let path = end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            time,
            KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| invalid(super::webpki_error(&e)))?;

    let mut certificates_below_anchor = 1;
    for intermediate in path.intermediate_certificates() {
        certificates_below_anchor += 1;
        // Every intermediate came from `others` and parsed above.
        if let Ok(c) = cert::parse(intermediate.der().as_ref()) {
            min_not_after = min_not_after.min(c.validity().not_after.timestamp());
        }
    }

    if !names::parsed_name_matches(&leaf, reference_names) {
        return Err(MatchFailure::NameMismatch);
    }
    Ok(VerifiedChain {
        certificates_below_anchor,
        min_not_after,
    })
}

/// What OpenSSL checks of a trust-anchor certificate that webpki does not: it must be within its
/// validity period (OpenSSL's `check_cert_time` on the top of the chain) and, as an issuer, a CA
/// (`X509_check_ca`: basicConstraints cA, or a v1 certificate, which has no extensions).
fn check_anchor_certificate(
    ta: &X509Certificate<'_>,
    now: UnixSeconds,
) -> Result<(), MatchFailure> {
    let validity = ta.validity();
    if now < validity.not_before.timestamp() {
        return Err(MatchFailure::ChainInvalid(
            "trust anchor certificate is not yet valid".into(),
        ));
    }
    if now > validity.not_after.timestamp() {
        return Err(MatchFailure::ChainInvalid(
            "trust anchor certificate has expired".into(),
        ));
    }
    let is_ca = match ta.basic_constraints() {
        Ok(Some(bc)) => bc.value.ca,
        Ok(None) => ta.version() == X509Version::V1,
        Err(_) => false,
    };
    if !is_ca {
        return Err(MatchFailure::ChainInvalid(
            "trust anchor certificate is not a CA".into(),
        ));
    }
    Ok(())
}

/// Adds the content octets of `c`'s issuer Name to `subjects` unless already there.
fn add_issuer<'a>(c: &X509Certificate<'a>, subjects: &mut Vec<&'a [u8]>) {
    if let Some(subject) = cert::der_contents(c.tbs_certificate.issuer.as_raw(), SEQUENCE) {
        if !subjects.contains(&subject) {
            subjects.push(subject);
        }
    }
}

/// True when the published key (SPKI DER of a `2 1 0` record) verifies the signature on `c`: the
/// test OpenSSL's `check_dane_pkeys` makes (`X509_verify(top, key)`) to decide that a bare key
/// issued the chain.
pub(super) fn key_signed(spki_der: &[u8], c: &X509Certificate<'_>) -> bool {
    cert::parse_spki(spki_der).is_some_and(|spki| c.verify_signature(Some(&spki)).is_ok())
}
