//! The PKIX usages of TLSA: PKIX-TA(0) and PKIX-EE(1) (RFC 6698 2.1.1, RFC 7671 5.4 and 5.5).
//!
//! SMTP never uses them (RFC 7672 3.1.3), so only the service profile (`DaneProfile::Service`,
//! used by `crate::service` for submission, IMAP, POP3 and HTTPS) reaches this module. Both usages
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

use super::tlsa::{CertUsage, Selector, TlsaRecord};
use super::{cert, names, DivergenceCause, MatchFailure, RecordState};
use crate::dns::UnixSeconds;

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
    let end_entity = EndEntityCert::try_from(&leaf_cert).map_err(|e| format!("leaf: {e}"))?;
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
        .map_err(|e| e.to_string())?;

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
mod tests {
    use super::*;

    #[test]
    fn sequence_wrapping_matches_der_lengths() {
        assert_eq!(wrap_sequence(&[1, 2]), vec![0x30, 2, 1, 2]);
        let long = vec![0u8; 300];
        let wrapped = wrap_sequence(&long);
        assert_eq!(&wrapped[..4], &[0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(wrapped.len(), 304);
    }

    use crate::dane::{
        evaluate_endpoint, evaluate_endpoint_with, DaneProfile, EndpointInput, EndpointOutcome,
        UnusableReason,
    };
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PublicKeyData,
    };
    use ring::digest;

    /// 2026-06-01T00:00:00Z.
    const NOW: UnixSeconds = 1_780_272_000;

    /// A private root CA (PEM for the trust store, DER, SPKI) and a leaf it issued.
    struct Pki {
        ca_pem: String,
        ca_der: Vec<u8>,
        ca_spki: Vec<u8>,
        leaf_der: Vec<u8>,
        leaf_spki: Vec<u8>,
    }

    fn pki(leaf_name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Service Test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(vec![leaf_name.to_string()]).unwrap();
        leaf_params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        leaf_params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let leaf = leaf_params
            .signed_by(&leaf_key, &Issuer::from_params(&ca_params, &ca_key))
            .unwrap();
        Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().to_vec(),
            ca_spki: ca_key.subject_public_key_info(),
            leaf_der: leaf.der().to_vec(),
            leaf_spki: leaf_key.subject_public_key_info(),
        }
    }

    fn sha256(usage: u8, selector: u8, data: &[u8]) -> TlsaRecord {
        TlsaRecord::new(
            usage,
            selector,
            1,
            digest::digest(&digest::SHA256, data).as_ref().to_vec(),
        )
    }

    fn run(
        tlsa: &[TlsaRecord],
        chain: &[Vec<u8>],
        trust: &PkixTrust,
        names: &[&str],
    ) -> crate::dane::EndpointEvaluation {
        let reference_names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        evaluate_endpoint_with(
            &EndpointInput {
                tlsa,
                chain,
                reference_names: &reference_names,
                tlsa_signature_expiration: None,
                now: NOW,
            },
            DaneProfile::Service { pkix: trust },
        )
    }

    /// (name, records, chain, trust, reference name, failure reason or None for success)
    type Case<'a> = (
        &'a str,
        Vec<TlsaRecord>,
        &'a Vec<Vec<u8>>,
        &'a PkixTrust,
        &'a str,
        Option<&'a str>,
    );

    fn state_labels(e: &crate::dane::EndpointEvaluation) -> Vec<&'static str> {
        e.records.iter().map(|r| r.state.label()).collect()
    }

    #[test]
    fn pkix_usages_table() {
        let p = pki("imap.svc.test");
        let other = pki("imap.svc.test");
        let trusted = PkixTrust::empty()
            .with_pem_bundle(p.ca_pem.as_bytes())
            .unwrap();
        let untrusted = PkixTrust::public_roots();
        let sent_with_ca = vec![p.leaf_der.clone(), p.ca_der.clone()];
        let leaf_only = vec![p.leaf_der.clone()];
        let cases: Vec<Case<'_>> = vec![
            (
                "PKIX-EE leaf key, trusted CA",
                vec![sha256(1, 1, &p.leaf_spki)],
                &sent_with_ca,
                &trusted,
                "imap.svc.test",
                None,
            ),
            (
                "PKIX-EE full leaf, CA not sent",
                vec![sha256(1, 0, &p.leaf_der)],
                &leaf_only,
                &trusted,
                "imap.svc.test",
                None,
            ),
            (
                "PKIX-TA CA key, CA sent",
                vec![sha256(0, 1, &p.ca_spki)],
                &sent_with_ca,
                &trusted,
                "imap.svc.test",
                None,
            ),
            (
                "PKIX-TA CA certificate, CA not sent (from the bundle)",
                vec![sha256(0, 0, &p.ca_der)],
                &leaf_only,
                &trusted,
                "imap.svc.test",
                None,
            ),
            (
                "PKIX-EE, CA not trusted",
                vec![sha256(1, 1, &p.leaf_spki)],
                &sent_with_ca,
                &untrusted,
                "imap.svc.test",
                Some("pkix_chain_invalid"),
            ),
            (
                "PKIX-TA, CA not trusted",
                vec![sha256(0, 1, &p.ca_spki)],
                &sent_with_ca,
                &untrusted,
                "imap.svc.test",
                Some("pkix_chain_invalid"),
            ),
            (
                "PKIX-EE, wrong name",
                vec![sha256(1, 1, &p.leaf_spki)],
                &sent_with_ca,
                &trusted,
                "pop.svc.test",
                Some("pkix_name_mismatch"),
            ),
            (
                "PKIX-TA of another CA",
                vec![sha256(0, 1, &other.ca_spki)],
                &sent_with_ca,
                &trusted,
                "imap.svc.test",
                Some("tlsa_mismatch"),
            ),
            (
                "PKIX-EE of another key",
                vec![sha256(1, 1, &other.leaf_spki)],
                &sent_with_ca,
                &trusted,
                "imap.svc.test",
                Some("tlsa_mismatch"),
            ),
            (
                "DANE-EE still needs no PKIX and no name",
                vec![sha256(3, 1, &p.leaf_spki)],
                &leaf_only,
                &untrusted,
                "other.test",
                None,
            ),
        ];
        for (name, records, chain, trust, reference, want) in cases {
            let e = run(&records, chain, trust, &[reference]);
            match want {
                None => assert!(
                    matches!(e.outcome, EndpointOutcome::Authenticated { record: 0, .. }),
                    "{name}: {:?}",
                    e.outcome
                ),
                Some(reason) => match &e.outcome {
                    EndpointOutcome::Failed(f) => assert_eq!(f.reason(), reason, "{name}"),
                    other => panic!("{name}: {other:?}"),
                },
            }
        }
    }

    #[test]
    fn pkix_ta_survives_a_key_change_and_pkix_ee_needs_a_next_key() {
        let p = pki("imap.svc.test");
        let trust = PkixTrust::empty()
            .with_pem_bundle(p.ca_pem.as_bytes())
            .unwrap();
        let chain = vec![p.leaf_der.clone(), p.ca_der.clone()];
        let ta = run(
            &[sha256(0, 1, &p.ca_spki)],
            &chain,
            &trust,
            &["imap.svc.test"],
        );
        assert!(ta.rollover_ready);
        assert_eq!(state_labels(&ta), vec!["matched"]);
        let ee = run(
            &[sha256(1, 1, &p.leaf_spki)],
            &chain,
            &trust,
            &["imap.svc.test"],
        );
        assert!(!ee.rollover_ready);
        assert!(ee.divergence.is_some());
    }

    #[test]
    fn the_smtp_profile_keeps_pkix_usages_unusable() {
        let p = pki("mx.svc.test");
        let trust = PkixTrust::empty()
            .with_pem_bundle(p.ca_pem.as_bytes())
            .unwrap();
        let chain = vec![p.leaf_der.clone(), p.ca_der.clone()];
        let records = [sha256(1, 1, &p.leaf_spki), sha256(0, 1, &p.ca_spki)];
        let names = vec!["mx.svc.test".to_string()];
        let input = EndpointInput {
            tlsa: &records,
            chain: &chain,
            reference_names: &names,
            tlsa_signature_expiration: None,
            now: NOW,
        };
        let smtp = evaluate_endpoint(&input);
        assert_eq!(smtp.outcome, EndpointOutcome::NoUsableRecords);
        for r in &smtp.records {
            assert_eq!(
                r.state,
                RecordState::Unusable {
                    reason: UnusableReason::PkixUsage
                }
            );
        }
        assert_eq!(evaluate_endpoint_with(&input, DaneProfile::Smtp), smtp);
        let service = evaluate_endpoint_with(&input, DaneProfile::Service { pkix: &trust });
        assert_eq!(state_labels(&service), vec!["matched", "matched"]);
    }

    #[test]
    fn bundles_must_hold_certificates() {
        assert_eq!(
            PkixTrust::empty().with_pem_bundle(b"").unwrap_err(),
            PkixTrustError::Empty
        );
        assert!(!PkixTrust::public_roots().is_empty());
    }
}
