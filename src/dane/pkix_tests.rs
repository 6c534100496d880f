//! Unit tests of `dane/pkix.rs`.

use super::*;

#[test]
fn sequence_wrapping_matches_der_lengths() {
    assert_eq!(wrap_sequence(&[1, 2]), vec![0x30, 2, 1, 2]);
    let long = vec![0u8; 300];
    let wrapped = wrap_sequence(&long);
    assert_eq!(&wrapped[..4], &[0x30, 0x82, 0x01, 0x2c]);
    assert_eq!(wrapped.len(), 304);
}

use crate::core::{EndpointOutcome, UnusableReason};
use crate::dane::{evaluate_endpoint, evaluate_endpoint_with, DaneProfile, EndpointInput};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PublicKeyData};
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
                EndpointOutcome::Failed(f) => assert_eq!(f.reason().as_str(), reason, "{name}"),
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
