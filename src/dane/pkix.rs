//! The PKIX usages of TLSA: PKIX-TA(0) and PKIX-EE(1) (RFC 6698 2.1.1, RFC 7671 5.4 and 5.5).
//!
//! SMTP never uses them (RFC 7672 3.1.3), so only the service profile (`DaneProfile::Service`,
//! used by `crate::checks::services` for submission, IMAP, POP3 and HTTPS) reaches this module. Both usages
//! are *constraints on top of* ordinary WebPKI validation:
//!
//! - the presented chain must validate to a root of the [`PkixTrust`] store (Mozilla's roots from
//!   `webpki-roots`, plus the CAs the configuration adds): signatures, validity periods, basic
//!   constraints and the serverAuth extended key usage, by rustls-webpki;
//! - PKIX-EE: the record must match the leaf;
//! - PKIX-TA: the record must match a CA certificate on the validated path, the trust anchor
//!   included (RFC 6698 2.1.1: "a CA certificate that matches the TLSA record MUST be included as
//!   part of a valid certification path"). A root the server does not send is taken from the
//!   store: a configured CA as its full certificate, a built-in root by its public key only (the
//!   store keeps no certificate for those, so `0 0 x` records for unsent built-in roots cannot
//!   match);
//! - the leaf must name a reference identifier (RFC 7671 5.4/5.5 and section 7: the service host
//!   name as configured, and the TLSA base domain when CNAMEs led elsewhere), with the same rules
//!   as the DANE-TA check (`names.rs`).
//!
//! Pure: no I/O, the time of the check comes in.

use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

use super::{cert, names};
use crate::core::{
    CertUsage, DivergenceCause, MatchFailure, RecordState, Selector, TlsaRecord, UnixSeconds,
};

/// DER tag of a SEQUENCE.
const SEQUENCE: u8 = 0x30;

/// The roots PKIX usages validate against.
#[derive(Clone, Debug)]
pub struct PkixTrust {
    /// Trust anchors for webpki.
    anchors: Vec<TrustAnchor<'static>>,
    /// Full certificates of the configured CAs, to match `0 0 x` records for roots not sent.
    extra_certificates: Vec<Vec<u8>>,
}

/// Why a CA bundle cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PkixTrustError {
    /// The PEM text is malformed.
    #[error("not a PEM certificate bundle: {0}")]
    Pem(String),
    /// The bundle holds no CERTIFICATE block.
    #[error("no certificate in the bundle")]
    Empty,
    /// A certificate cannot serve as a trust anchor.
    #[error("certificate {index} of the bundle cannot be a trust anchor: {detail}")]
    BadCertificate {
        /// 1-based position in the bundle.
        index: usize,
        /// What webpki said.
        detail: String,
    },
}

impl PkixTrust {
    /// Mozilla's root store as compiled into `webpki-roots`.
    pub fn public_roots() -> Self {
        Self {
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            extra_certificates: Vec::new(),
        }
    }

    /// No roots at all: every PKIX record fails validation. For tests and for setups that must
    /// not trust the public roots.
    pub fn empty() -> Self {
        Self {
            anchors: Vec::new(),
            extra_certificates: Vec::new(),
        }
    }

    /// Adds the CA certificates of a PEM bundle (e.g. a private CA) as trust anchors.
    pub fn with_pem_bundle(mut self, pem: &[u8]) -> Result<Self, PkixTrustError> {
        let mut added = 0;
        for (i, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let der = item.map_err(|e| PkixTrustError::Pem(e.to_string()))?;
            let anchor = webpki::anchor_from_trusted_cert(&der)
                .map_err(|e| PkixTrustError::BadCertificate {
                    index: i + 1,
                    detail: e.to_string(),
                })?
                .to_owned();
            self.anchors.push(anchor);
            self.extra_certificates.push(der.as_ref().to_vec());
            added += 1;
        }
        if added == 0 {
            return Err(PkixTrustError::Empty);
        }
        Ok(self)
    }

    /// Number of trust anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// True when there is no trust anchor.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// A chain that validated to a trusted root.
pub(super) struct ValidPath {
    /// The validated path above the leaf, in order (depth 1, 2, ...), as DER.
    cas: Vec<Vec<u8>>,
    /// The trust anchor: its certificate when one is known (sent by the server, or configured),
    /// and its SubjectPublicKeyInfo DER.
    anchor_certificate: Option<Vec<u8>>,
    anchor_spki: Vec<u8>,
    /// Earliest notAfter on the path (the anchor's when its certificate is known).
    min_not_after: UnixSeconds,
    /// Whether the leaf names a reference identifier.
    name_ok: bool,
}

/// Validates `chain` (leaf first) against `trust` at `now`; `Err` says why not.
pub(super) fn validate(
    trust: &PkixTrust,
    chain: &[Vec<u8>],
    reference_names: &[String],
    now: UnixSeconds,
) -> Result<ValidPath, String> {
    let Some((leaf_der, rest)) = chain.split_first() else {
        return Err("no certificate presented".into());
    };
    let leaf = cert::parse(leaf_der).map_err(|e| format!("leaf: {}", e.0))?;
    let leaf_cert = CertificateDer::from(leaf_der.as_slice());
    let end_entity = EndEntityCert::try_from(&leaf_cert)
        .map_err(|e| format!("leaf: {}", super::webpki_error(&e)))?;
    let intermediates: Vec<CertificateDer<'_>> = rest
        .iter()
        .filter(|der| cert::parse(der).is_ok())
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    let path = end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &trust.anchors,
            &intermediates,
            time,
            KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| super::webpki_error(&e))?;

    let mut min_not_after = leaf.validity().not_after.timestamp();
    let mut cas = Vec::new();
    for intermediate in path.intermediate_certificates() {
        let der = intermediate.der().as_ref().to_vec();
        if let Ok(c) = cert::parse(&der) {
            min_not_after = min_not_after.min(c.validity().not_after.timestamp());
        }
        cas.push(der);
    }
    let anchor = path.anchor();
    let anchor_spki = wrap_sequence(anchor.subject_public_key_info.as_ref());
    // The anchor's certificate: one the server sent, or a configured CA, with the same key.
    let anchor_certificate = chain
        .iter()
        .skip(1)
        .chain(&trust.extra_certificates)
        .find(|der| cert::parse(der).is_ok_and(|c| cert::spki_der(&c) == anchor_spki.as_slice()))
        .cloned();
    if let Some(c) = anchor_certificate
        .as_deref()
        .and_then(|der| cert::parse(der).ok())
    {
        min_not_after = min_not_after.min(c.validity().not_after.timestamp());
    }
    Ok(ValidPath {
        cas,
        anchor_certificate,
        anchor_spki,
        min_not_after,
        name_ok: names::parsed_name_matches(&leaf, reference_names),
    })
}

/// The state of one PKIX-TA or PKIX-EE record, given the validation result of the chain.
pub(super) fn judge(
    record: &TlsaRecord,
    chain: &[Vec<u8>],
    path: &Result<ValidPath, String>,
) -> (RecordState, Option<(UnixSeconds, DivergenceCause)>) {
    let matches =
        |der: &[u8]| cert::parse(der).is_ok_and(|c| cert::record_matches_cert(record, der, &c));
    // Where the record matches: chain position (0 = leaf), or None.
    let depth = match (record.usage, path) {
        (CertUsage::PkixEe, _) => chain.first().filter(|der| matches(der)).map(|_| 0),
        (CertUsage::PkixTa, Ok(valid)) => valid
            .cas
            .iter()
            .position(|der| matches(der))
            .map(|i| i + 1)
            .or_else(|| anchor_matches(record, valid).then_some(valid.cas.len() + 1)),
        // Without a valid path, a presented CA that matches still shows which record was meant.
        (CertUsage::PkixTa, Err(_)) => chain
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, der)| matches(der))
            .map(|(i, _)| i),
        _ => None,
    };
    let Some(depth) = depth else {
        return (RecordState::NoMatch, None);
    };
    match path {
        Err(detail) => (
            RecordState::MatchedButRejected {
                depth,
                failure: MatchFailure::PkixInvalid(detail.clone()),
            },
            None,
        ),
        Ok(valid) if !valid.name_ok => (
            RecordState::MatchedButRejected {
                depth,
                failure: MatchFailure::PkixNameMismatch,
            },
            None,
        ),
        Ok(valid) => (
            RecordState::Matched { depth },
            Some((valid.min_not_after, DivergenceCause::ChainExpiry)),
        ),
    }
}

/// Whether a PKIX-TA record designates the trust anchor of the validated path.
fn anchor_matches(record: &TlsaRecord, valid: &ValidPath) -> bool {
    if let Some(der) = &valid.anchor_certificate {
        if let Ok(c) = cert::parse(der) {
            return cert::record_matches_cert(record, der, &c);
        }
    }
    // Only the key is known: selector 1 can still be compared.
    record.selector == Selector::SubjectPublicKeyInfo
        && cert::association_value(record.matching, &valid.anchor_spki)
            .is_some_and(|value| value.as_ref() == record.data.as_slice())
}

/// `contents` as a DER SEQUENCE (tag, definite length, contents).
fn wrap_sequence(contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![SEQUENCE];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

#[cfg(test)]
#[path = "pkix_tests.rs"]
mod tests;
