//! Table-driven tests of the DANE rules against certificates made at test time with rcgen.

use ring::digest;

use super::*;
use crate::dane::{evaluate_endpoint, EndpointInput};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};

/// (name, leaf SANs, leaf CN, reference names, name check passes)
type NameCase = (
    &'static str,
    &'static [&'static str],
    &'static str,
    Vec<String>,
    bool,
);
/// (name, RRset, outcome, record states, rollover ready)
type OutcomeCase = (
    &'static str,
    Vec<TlsaRecord>,
    EndpointOutcome,
    Vec<RecordState>,
    bool,
);
/// (name, RRset, chain, RRSIG expiration, expected divergence and cause)
type DivergenceCase = (
    &'static str,
    Vec<TlsaRecord>,
    Vec<Vec<u8>>,
    Option<UnixSeconds>,
    Option<(UnixSeconds, DivergenceCause)>,
);

/// 2026-06-01T00:00:00Z, the "now" of most tests.
const NOW: UnixSeconds = 1_780_272_000;

fn ts(y: i32, m: u8, d: u8) -> UnixSeconds {
    rcgen::date_time_ymd(y, m, d).unix_timestamp()
}

/// Validity period as (notBefore, notAfter) dates.
type Period = ((i32, u8, u8), (i32, u8, u8));
const VALID: Period = ((2025, 1, 1), (2030, 1, 1));

fn params(cn: &str, sans: &[&str], ca: bool, period: Period) -> CertificateParams {
    let mut p =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let ((y1, m1, d1), (y2, m2, d2)) = period;
    p.not_before = rcgen::date_time_ymd(y1, m1, d1);
    p.not_after = rcgen::date_time_ymd(y2, m2, d2);
    p
}

/// A root -> intermediate -> leaf hierarchy, plus a self-signed server certificate.
struct Pki {
    root: Vec<u8>,
    int: Vec<u8>,
    leaf: Vec<u8>,
    selfsigned: Vec<u8>,
    /// Keys and parameters kept to issue more certificates in individual tests.
    root_key: KeyPair,
    root_params: CertificateParams,
    int_key: KeyPair,
    int_params: CertificateParams,
}

struct Periods {
    root: Period,
    int: Period,
    leaf: Period,
}

const LEAF_PERIOD: Period = ((2026, 1, 1), (2027, 1, 1));
const PERIODS: Periods = Periods {
    root: ((2020, 1, 1), (2040, 1, 1)),
    int: VALID,
    leaf: LEAF_PERIOD,
};

impl Pki {
    fn new() -> Self {
        Self::with(PERIODS, &["mx.example.com"], "mx.example.com")
    }

    fn with(periods: Periods, leaf_sans: &[&str], leaf_cn: &str) -> Self {
        let root_key = KeyPair::generate().unwrap();
        let root_params = params("Test Root", &[], true, periods.root);
        let root = root_params.self_signed(&root_key).unwrap().der().to_vec();
        let int_key = KeyPair::generate().unwrap();
        let int_params = params("Test Intermediate", &[], true, periods.int);
        let int = int_params
            .signed_by(&int_key, &Issuer::from_params(&root_params, &root_key))
            .unwrap()
            .der()
            .to_vec();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = params(leaf_cn, leaf_sans, false, periods.leaf)
            .signed_by(&leaf_key, &Issuer::from_params(&int_params, &int_key))
            .unwrap()
            .der()
            .to_vec();
        let ss_key = KeyPair::generate().unwrap();
        let selfsigned = params("mx.example.com", &["mx.example.com"], false, LEAF_PERIOD)
            .self_signed(&ss_key)
            .unwrap()
            .der()
            .to_vec();
        Pki {
            root,
            int,
            leaf,
            selfsigned,
            root_key,
            root_params,
            int_key,
            int_params,
        }
    }

    /// Leaf, intermediate, root: the full chain as sent by a server that includes its root.
    fn chain(&self) -> Vec<Vec<u8>> {
        vec![self.leaf.clone(), self.int.clone(), self.root.clone()]
    }

    /// Another leaf under the intermediate.
    fn leaf_with(&self, sans: &[&str], cn: &str, period: Period) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        params(cn, sans, false, period)
            .signed_by(&key, &Issuer::from_params(&self.int_params, &self.int_key))
            .unwrap()
            .der()
            .to_vec()
    }
}

/// The TLSA data of (selector, matching) for a certificate; unknown values get 32 filler bytes.
fn data_for(der: &[u8], selector: u8, matching: u8) -> Vec<u8> {
    let selected = match selector {
        0 => der.to_vec(),
        1 => cert::spki_der(&cert::parse(der).unwrap()).to_vec(),
        _ => return vec![0xab; 32],
    };
    match matching {
        0 => selected,
        1 => digest::digest(&digest::SHA256, &selected).as_ref().to_vec(),
        2 => digest::digest(&digest::SHA512, &selected).as_ref().to_vec(),
        _ => vec![0xab; 32],
    }
}

fn rec(usage: u8, selector: u8, matching: u8, der: &[u8]) -> TlsaRecord {
    TlsaRecord::new(usage, selector, matching, data_for(der, selector, matching))
}

fn refs() -> Vec<String> {
    vec!["mx.example.com".to_string(), "example.com".to_string()]
}

fn eval_at(
    tlsa: &[TlsaRecord],
    chain: &[Vec<u8>],
    names: &[String],
    now: UnixSeconds,
) -> EndpointEvaluation {
    evaluate_endpoint(&EndpointInput {
        tlsa,
        chain,
        reference_names: names,
        tlsa_signature_expiration: None,
        now,
    })
}

fn eval(tlsa: &[TlsaRecord], chain: &[Vec<u8>]) -> EndpointEvaluation {
    eval_at(tlsa, chain, &refs(), NOW)
}

fn states(e: &EndpointEvaluation) -> Vec<RecordState> {
    e.records.iter().map(|r| r.state.clone()).collect()
}

fn unusable(reason: UnusableReason) -> RecordState {
    RecordState::Unusable { reason }
}

fn rejected(depth: usize, failure: MatchFailure) -> RecordState {
    RecordState::MatchedButRejected { depth, failure }
}

fn is_chain_invalid(s: &RecordState) -> bool {
    matches!(
        s,
        RecordState::MatchedButRejected {
            failure: MatchFailure::ChainInvalid(_),
            ..
        }
    )
}

/// The state every usage x selector x matching combination gets, one record at a time.
/// `target` says which certificate the record was made from.
fn expected_single(usage: u8, selector: u8, matching: u8, target_depth: usize) -> RecordState {
    match usage {
        0 | 1 => return unusable(UnusableReason::PkixUsage),
        2 | 3 => {}
        _ => return unusable(UnusableReason::UnknownUsage),
    }
    if selector > 1 {
        return unusable(UnusableReason::UnknownSelector);
    }
    if matching > 2 {
        return unusable(UnusableReason::UnknownMatchingType);
    }
    match (usage, target_depth) {
        (3, 0) => RecordState::Matched { depth: 0 },
        (3, _) => RecordState::NoMatch,
        (2, 0) => RecordState::NoMatch,
        (2, d) => RecordState::Matched { depth: d },
        _ => RecordState::NoMatch,
    }
}

#[test]
fn every_combination_against_a_chain() {
    let pki = Pki::new();
    let chain = pki.chain();
    let mut checked = 0;
    for (depth, target) in chain.iter().enumerate() {
        for usage in 0..=4u8 {
            for selector in 0..=2u8 {
                for matching in 0..=3u8 {
                    let want = expected_single(usage, selector, matching, depth);
                    let e = eval(&[rec(usage, selector, matching, target)], &chain);
                    assert_eq!(
                        states(&e),
                        vec![want.clone()],
                        "{usage} {selector} {matching} for depth {depth}"
                    );
                    let passes = matches!(want, RecordState::Matched { .. });
                    let usable = !matches!(want, RecordState::Unusable { .. });
                    assert_eq!(
                        e.passes(),
                        passes || !usable,
                        "{usage} {selector} {matching} @{depth}"
                    );
                    if passes {
                        assert_eq!(
                            e.outcome,
                            EndpointOutcome::Authenticated { record: 0, usage }
                        );
                    } else if usable {
                        assert_eq!(e.outcome, EndpointOutcome::Failed(MatchFailure::NoMatch));
                    } else {
                        assert_eq!(e.outcome, EndpointOutcome::NoUsableRecords);
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 3 * 5 * 3 * 4);
}

#[test]
fn every_combination_against_a_self_signed_leaf() {
    let pki = Pki::new();
    let chain = vec![pki.selfsigned.clone()];
    for usage in 0..=4u8 {
        for selector in 0..=2u8 {
            for matching in 0..=3u8 {
                let mut want = expected_single(usage, selector, matching, 0);
                // A self-signed leaf's own key as a bare `2 1 0` trust anchor: OpenSSL's
                // check_dane_pkeys accepts it (the key verifies the top certificate), and so do
                // we. The TA then sits at depth 1, above the leaf.
                if (usage, selector, matching) == (2, 1, 0) {
                    want = RecordState::Matched { depth: 1 };
                }
                // Likewise `2 0 0` carrying the certificate itself; but it is not a CA
                // (rcgen's default), so the chain is refused.
                if (usage, selector, matching) == (2, 0, 0) {
                    let e = eval(&[rec(usage, selector, matching, &pki.selfsigned)], &chain);
                    assert!(is_chain_invalid(&e.records[0].state), "{:?}", e.records);
                    continue;
                }
                let e = eval(&[rec(usage, selector, matching, &pki.selfsigned)], &chain);
                assert_eq!(states(&e), vec![want], "{usage} {selector} {matching}");
                assert!(e.leaf.is_some());
            }
        }
    }
}

#[test]
fn digest_agility() {
    let pki = Pki::new();
    let chain = pki.chain();
    let leaf = &pki.leaf;
    let other = &pki.selfsigned;
    let mut short = rec(3, 1, 2, leaf);
    short.data.truncate(32);
    let cases: Vec<(&str, Vec<TlsaRecord>, Vec<RecordState>)> = vec![
        (
            "SHA-512 hides SHA-256 of the same usage and selector",
            vec![rec(3, 1, 1, leaf), rec(3, 1, 2, leaf)],
            vec![
                unusable(UnusableReason::WeakerDigest),
                RecordState::Matched { depth: 0 },
            ],
        ),
        (
            "even when only the weaker one would match",
            vec![rec(3, 1, 1, leaf), rec(3, 1, 2, other)],
            vec![unusable(UnusableReason::WeakerDigest), RecordState::NoMatch],
        ),
        (
            "exact match (type 0) is not subject to agility, as in OpenSSL",
            vec![rec(3, 1, 0, leaf), rec(3, 1, 2, other)],
            vec![RecordState::Matched { depth: 0 }, RecordState::NoMatch],
        ),
        (
            "different selectors are independent",
            vec![rec(3, 1, 1, leaf), rec(3, 0, 2, other)],
            vec![RecordState::Matched { depth: 0 }, RecordState::NoMatch],
        ),
        (
            "different usages are independent",
            vec![rec(3, 1, 1, leaf), rec(2, 1, 2, other)],
            vec![RecordState::Matched { depth: 0 }, RecordState::NoMatch],
        ),
        (
            "a malformed SHA-512 record does not hide SHA-256",
            vec![rec(3, 1, 1, leaf), short],
            vec![
                RecordState::Matched { depth: 0 },
                unusable(UnusableReason::BadDigestLength),
            ],
        ),
        (
            "PKIX SHA-512 does not hide DANE SHA-256",
            vec![rec(1, 1, 2, leaf), rec(3, 1, 1, leaf)],
            vec![
                unusable(UnusableReason::PkixUsage),
                RecordState::Matched { depth: 0 },
            ],
        ),
        (
            "several records of the strongest type all count",
            vec![
                rec(2, 1, 2, &pki.int),
                rec(2, 1, 1, &pki.root),
                rec(2, 1, 2, &pki.root),
            ],
            vec![
                RecordState::Matched { depth: 1 },
                unusable(UnusableReason::WeakerDigest),
                RecordState::Matched { depth: 2 },
            ],
        ),
    ];
    for (name, tlsa, want) in cases {
        assert_eq!(states(&eval(&tlsa, &chain)), want, "{name}");
    }
}

#[test]
fn data_length_and_form() {
    let pki = Pki::new();
    let chain = pki.chain();
    let with_data = |u, s, m, data: Vec<u8>| TlsaRecord::new(u, s, m, data);
    let mut long256 = data_for(&pki.leaf, 1, 1);
    long256.push(0);
    let cases: Vec<(&str, TlsaRecord, RecordState)> = vec![
        (
            "SHA-256 31 bytes",
            with_data(3, 1, 1, vec![1; 31]),
            unusable(UnusableReason::BadDigestLength),
        ),
        (
            "SHA-256 33 bytes",
            with_data(3, 1, 1, long256),
            unusable(UnusableReason::BadDigestLength),
        ),
        (
            "SHA-256 64 bytes",
            with_data(3, 1, 1, vec![1; 64]),
            unusable(UnusableReason::BadDigestLength),
        ),
        (
            "SHA-512 32 bytes",
            with_data(3, 1, 2, vec![1; 32]),
            unusable(UnusableReason::BadDigestLength),
        ),
        (
            "SHA-512 empty",
            with_data(2, 0, 2, vec![]),
            unusable(UnusableReason::BadDigestLength),
        ),
        (
            "SHA-256 right length, wrong value",
            with_data(3, 1, 1, vec![1; 32]),
            RecordState::NoMatch,
        ),
        (
            "full cert not DER",
            with_data(3, 0, 0, vec![1; 32]),
            unusable(UnusableReason::MalformedData),
        ),
        (
            "full SPKI not DER",
            with_data(2, 1, 0, vec![0x30, 0]),
            unusable(UnusableReason::MalformedData),
        ),
        (
            "full SPKI, other key",
            rec(3, 1, 0, &pki.selfsigned),
            RecordState::NoMatch,
        ),
        (
            "unknown usage wins over bad length",
            with_data(9, 1, 1, vec![1; 3]),
            unusable(UnusableReason::UnknownUsage),
        ),
        (
            "PKIX usage wins over unknown selector",
            with_data(0, 5, 1, vec![1; 32]),
            unusable(UnusableReason::PkixUsage),
        ),
        (
            "unknown selector wins over unknown matching",
            with_data(3, 2, 9, vec![1; 32]),
            unusable(UnusableReason::UnknownSelector),
        ),
    ];
    for (name, record, want) in cases {
        assert_eq!(states(&eval(&[record], &chain)), vec![want], "{name}");
    }
}

#[test]
fn dane_ee_ignores_expiry_names_and_chain() {
    let pki = Pki::new();
    let expired = pki.leaf_with(
        &["other.example.org"],
        "other",
        ((2020, 1, 1), (2021, 1, 1)),
    );
    let future = pki.leaf_with(
        &["other.example.org"],
        "other",
        ((2030, 1, 1), (2031, 1, 1)),
    );
    for (name, leaf) in [("expired", &expired), ("not yet valid", &future)] {
        // Sent alone, without its issuer, and with names that match no reference identifier.
        let e = eval(&[rec(3, 1, 1, leaf)], std::slice::from_ref(leaf));
        assert_eq!(
            states(&e),
            vec![RecordState::Matched { depth: 0 }],
            "{name}"
        );
        assert!(e.passes());
    }
}

#[test]
fn dane_ta_cases() {
    let pki = Pki::new();
    let full = pki.chain();
    let no_root = vec![pki.leaf.clone(), pki.int.clone()];
    let leaf_only = vec![pki.leaf.clone()];
    let swapped = vec![pki.leaf.clone(), pki.root.clone(), pki.int.clone()];
    let cases: Vec<(&str, TlsaRecord, Vec<Vec<u8>>, RecordState)> = vec![
        (
            "root, sent",
            rec(2, 1, 1, &pki.root),
            full.clone(),
            RecordState::Matched { depth: 2 },
        ),
        (
            "intermediate",
            rec(2, 0, 1, &pki.int),
            full.clone(),
            RecordState::Matched { depth: 1 },
        ),
        (
            "root cert digest, not sent",
            rec(2, 0, 1, &pki.root),
            no_root.clone(),
            RecordState::NoMatch,
        ),
        (
            "root key digest, not sent",
            rec(2, 1, 2, &pki.root),
            no_root.clone(),
            RecordState::NoMatch,
        ),
        (
            "root key 2 1 0, not sent",
            rec(2, 1, 0, &pki.root),
            no_root.clone(),
            RecordState::Matched { depth: 2 },
        ),
        (
            "root cert 2 0 0, not sent",
            rec(2, 0, 0, &pki.root),
            no_root.clone(),
            RecordState::Matched { depth: 2 },
        ),
        (
            "intermediate key 2 1 0, not sent",
            rec(2, 1, 0, &pki.int),
            leaf_only.clone(),
            RecordState::Matched { depth: 1 },
        ),
        (
            "2 1 0 of a key that signed nothing",
            rec(2, 1, 0, &pki.selfsigned),
            full.clone(),
            RecordState::NoMatch,
        ),
        (
            "intermediate not sent, root pinned",
            rec(2, 1, 1, &pki.root),
            vec![pki.leaf.clone(), pki.root.clone()],
            rejected(1, MatchFailure::ChainInvalid(String::new())),
        ),
        (
            "chain order does not matter",
            rec(2, 1, 1, &pki.root),
            swapped,
            RecordState::Matched { depth: 1 },
        ),
        (
            "leaf only, at depth 0",
            rec(2, 1, 1, &pki.leaf),
            full.clone(),
            RecordState::NoMatch,
        ),
    ];
    for (name, record, chain, want) in cases {
        let e = eval(&[record], &chain);
        let got = e.records[0].state.clone();
        if let RecordState::MatchedButRejected {
            failure: MatchFailure::ChainInvalid(_),
            depth,
        } = want
        {
            assert!(is_chain_invalid(&got), "{name}: {got:?}");
            assert!(
                matches!(got, RecordState::MatchedButRejected { depth: d, .. } if d == depth),
                "{name}"
            );
        } else {
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(
            e.passes(),
            matches!(want, RecordState::Matched { .. }),
            "{name}"
        );
    }
}

#[test]
fn dane_ta_names() {
    let pki = Pki::new();
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: Vec<NameCase> = vec![
        (
            "SAN matches",
            &["mx.example.com"],
            "x",
            names(&["mx.example.com"]),
            true,
        ),
        (
            "SAN matches second reference",
            &["example.com"],
            "x",
            names(&["mx.example.com", "example.com"]),
            true,
        ),
        (
            "SAN differs",
            &["mx.example.org"],
            "x",
            names(&["mx.example.com"]),
            false,
        ),
        (
            "wildcard, one label",
            &["*.example.com"],
            "x",
            names(&["mx.example.com"]),
            true,
        ),
        (
            "wildcard, two labels",
            &["*.example.com"],
            "x",
            names(&["a.mx.example.com"]),
            false,
        ),
        (
            "wildcard, bare parent",
            &["*.example.com"],
            "x",
            names(&["example.com"]),
            false,
        ),
        (
            "partial wildcard",
            &["m*.example.com"],
            "x",
            names(&["mx.example.com"]),
            false,
        ),
        (
            "CN used without SANs",
            &[],
            "mx.example.com",
            names(&["mx.example.com"]),
            true,
        ),
        (
            "CN ignored with SANs",
            &["other.example.com"],
            "mx.example.com",
            names(&["mx.example.com"]),
            false,
        ),
        (
            "no reference names",
            &["mx.example.com"],
            "x",
            vec![],
            false,
        ),
    ];
    for (name, sans, cn, references, ok) in cases {
        let leaf = pki.leaf_with(sans, cn, LEAF_PERIOD);
        let chain = vec![leaf, pki.int.clone(), pki.root.clone()];
        let e = eval_at(&[rec(2, 1, 1, &pki.int)], &chain, &references, NOW);
        if ok {
            assert_eq!(
                states(&e),
                vec![RecordState::Matched { depth: 1 }],
                "{name}"
            );
        } else {
            assert_eq!(
                states(&e),
                vec![rejected(1, MatchFailure::NameMismatch)],
                "{name}"
            );
            assert_eq!(
                e.outcome,
                EndpointOutcome::Failed(MatchFailure::NameMismatch),
                "{name}"
            );
        }
    }
}

#[test]
fn dane_ta_validity_and_forgery() {
    let expired_int = Pki::with(
        Periods {
            int: ((2020, 1, 1), (2021, 1, 1)),
            ..PERIODS
        },
        &["mx.example.com"],
        "mx",
    );
    let expired_root = Pki::with(
        Periods {
            root: ((2020, 1, 1), (2021, 1, 1)),
            ..PERIODS
        },
        &["mx.example.com"],
        "mx",
    );
    let future_leaf = Pki::with(
        Periods {
            leaf: ((2027, 1, 1), (2028, 1, 1)),
            ..PERIODS
        },
        &["mx.example.com"],
        "mx",
    );
    let pki = Pki::new();
    // Same issuer name as the intermediate, signed by another key.
    let forged = {
        let rogue = KeyPair::generate().unwrap();
        let key = KeyPair::generate().unwrap();
        params("mx", &["mx.example.com"], false, LEAF_PERIOD)
            .signed_by(&key, &Issuer::from_params(&pki.int_params, &rogue))
            .unwrap()
            .der()
            .to_vec()
    };
    // A leaf issued directly by a non-CA certificate.
    let (non_ca, under_non_ca) = {
        let k1 = KeyPair::generate().unwrap();
        let p1 = params("not a CA", &[], false, VALID);
        let c1 = p1
            .signed_by(&k1, &Issuer::from_params(&pki.root_params, &pki.root_key))
            .unwrap()
            .der()
            .to_vec();
        let k2 = KeyPair::generate().unwrap();
        let c2 = params("mx", &["mx.example.com"], false, LEAF_PERIOD)
            .signed_by(&k2, &Issuer::from_params(&p1, &k1))
            .unwrap()
            .der()
            .to_vec();
        (c1, c2)
    };
    let cases: Vec<(&str, TlsaRecord, Vec<Vec<u8>>, usize)> = vec![
        (
            "expired intermediate, root pinned",
            rec(2, 1, 1, &expired_int.root),
            expired_int.chain(),
            2,
        ),
        (
            "expired intermediate pinned itself",
            rec(2, 1, 1, &expired_int.int),
            expired_int.chain(),
            1,
        ),
        (
            "expired root pinned",
            rec(2, 0, 1, &expired_root.root),
            expired_root.chain(),
            2,
        ),
        (
            "leaf not yet valid",
            rec(2, 1, 1, &future_leaf.int),
            future_leaf.chain(),
            1,
        ),
        (
            "forged leaf",
            rec(2, 1, 1, &pki.int),
            vec![forged, pki.int.clone(), pki.root.clone()],
            1,
        ),
        (
            "issuer is not a CA, pinned",
            rec(2, 1, 1, &non_ca),
            vec![under_non_ca.clone(), non_ca.clone(), pki.root.clone()],
            1,
        ),
        (
            "issuer is not a CA, root pinned",
            rec(2, 1, 1, &pki.root),
            vec![under_non_ca, non_ca, pki.root.clone()],
            2,
        ),
    ];
    for (name, record, chain, depth) in cases {
        let e = eval(&[record], &chain);
        match &e.records[0].state {
            RecordState::MatchedButRejected {
                depth: d,
                failure: MatchFailure::ChainInvalid(why),
            } => {
                assert_eq!(*d, depth, "{name}");
                assert!(!why.is_empty(), "{name}");
                // Plain words for a postmaster, not the verifier's variant names.
                let camel = why.split(|c: char| !c.is_ascii_alphabetic()).any(|w| {
                    w.chars()
                        .zip(w.chars().skip(1))
                        .any(|(a, b)| a.is_ascii_lowercase() && b.is_ascii_uppercase())
                });
                assert!(!camel, "{name}: {why}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            matches!(
                e.outcome,
                EndpointOutcome::Failed(MatchFailure::ChainInvalid(_))
            ),
            "{name}"
        );
        assert_eq!(e.divergence, None, "{name}");
    }
}

#[test]
fn unparsable_input() {
    let pki = Pki::new();
    let garbage: Vec<u8> = (0..300u32).map(|i| (i * 131 % 256) as u8).collect();
    let truncated = pki.leaf[..pki.leaf.len() - 10].to_vec();
    let all_kinds = vec![
        rec(3, 1, 1, &pki.leaf),
        rec(3, 0, 2, &pki.leaf),
        rec(2, 1, 1, &pki.int),
        rec(2, 0, 0, &pki.root),
        rec(2, 1, 0, &pki.int),
    ];
    let cases: Vec<(&str, Vec<Vec<u8>>, EndpointOutcome)> = vec![
        (
            "random leaf",
            vec![garbage.clone()],
            EndpointOutcome::Failed(MatchFailure::BadCertificate(String::new())),
        ),
        (
            "truncated leaf",
            vec![truncated.clone(), pki.int.clone()],
            EndpointOutcome::Failed(MatchFailure::BadCertificate(String::new())),
        ),
        (
            "empty leaf",
            vec![vec![]],
            EndpointOutcome::Failed(MatchFailure::BadCertificate(String::new())),
        ),
        (
            "empty chain",
            vec![],
            EndpointOutcome::Failed(MatchFailure::NoCertificate),
        ),
    ];
    for (name, chain, want) in cases {
        let e = eval(&all_kinds, &chain);
        match (&e.outcome, &want) {
            (
                EndpointOutcome::Failed(MatchFailure::BadCertificate(detail)),
                EndpointOutcome::Failed(MatchFailure::BadCertificate(_)),
            ) => assert!(!detail.is_empty(), "{name}"),
            (got, want) => assert_eq!(got, want, "{name}"),
        }
        assert_eq!(e.leaf, None, "{name}");
        assert!(!e.passes(), "{name}");
        assert_eq!((e.divergence, e.rollover_ready), (None, false), "{name}");
    }
    // A garbage intermediate between a good leaf and a pinned root breaks the path.
    let e = eval(
        &[rec(2, 1, 1, &pki.root)],
        &[pki.leaf.clone(), garbage.clone(), pki.root.clone()],
    );
    assert!(is_chain_invalid(&e.records[0].state), "{:?}", e.records);
    // ... but does not stop DANE-EE.
    let e = eval(&[rec(3, 1, 1, &pki.leaf)], &[pki.leaf.clone(), garbage]);
    assert!(e.passes());
    assert_eq!(
        e.leaf.as_ref().map(|l| l.dns_names.clone()),
        Some(vec!["mx.example.com".into()])
    );
}

#[test]
fn hostile_chains_do_not_panic() {
    let pki = Pki::new();
    let records = vec![
        rec(3, 1, 1, &pki.leaf),
        rec(3, 0, 0, &pki.leaf),
        rec(2, 1, 1, &pki.int),
        rec(2, 0, 2, &pki.root),
        rec(2, 1, 0, &pki.root),
        rec(2, 0, 0, &pki.root),
    ];
    let fifty_garbage: Vec<Vec<u8>> = (0..50u8)
        .map(|i| {
            // DER-looking prefixes with nonsense lengths and bodies.
            let mut v = vec![0x30, 0x82, i, 0xff, 0x30, 0x80];
            v.extend((0..(i as usize * 7)).map(|j| (j as u8).wrapping_mul(i)));
            v
        })
        .collect();
    let mut good_leaf_then_garbage = vec![pki.leaf.clone()];
    good_leaf_then_garbage.extend(fifty_garbage.clone());
    let huge = {
        let mut v = vec![0x30, 0x83, 0x10, 0x00, 0x00];
        v.extend(std::iter::repeat_n(0x41u8, 1 << 20));
        v
    };
    let mut many_copies = vec![pki.leaf.clone()];
    for _ in 0..25 {
        many_copies.push(pki.int.clone());
        many_copies.push(pki.root.clone());
    }
    let chains: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("50 garbage certificates", fifty_garbage),
        ("good leaf, then 50 garbage", good_leaf_then_garbage),
        ("1 MB certificate", vec![huge.clone()]),
        ("good leaf, 1 MB intermediate", vec![pki.leaf.clone(), huge]),
        ("the same issuers 25 times", many_copies),
        ("leaf repeated", vec![pki.leaf.clone(); 50]),
    ];
    for (name, chain) in chains {
        let e = eval(&records, &chain);
        assert_eq!(e.records.len(), records.len(), "{name}");
        // Only chains starting with the good leaf can authenticate (via DANE-EE at least).
        assert_eq!(e.passes(), chain[0] == pki.leaf, "{name}");
    }
}

#[test]
fn only_unusable_records() {
    let pki = Pki::new();
    let tlsa = vec![
        rec(0, 1, 1, &pki.root),
        rec(1, 1, 1, &pki.leaf),
        TlsaRecord::new(3, 1, 1, vec![0; 5]),
    ];
    for chain in [pki.chain(), vec![], vec![vec![1, 2, 3]]] {
        let e = eval(&tlsa, &chain);
        assert_eq!(e.outcome, EndpointOutcome::NoUsableRecords);
        assert!(e.passes());
        assert_eq!(
            (e.divergence, e.divergence_cause, e.rollover_ready),
            (None, None, false)
        );
    }
    assert_eq!(
        eval(&[], &pki.chain()).outcome,
        EndpointOutcome::NoUsableRecords
    );
}

#[test]
fn outcome_record_and_rollover() {
    let pki = Pki::new();
    let chain = pki.chain();
    let stale = rec(3, 1, 1, &pki.selfsigned);
    let cases: Vec<OutcomeCase> = vec![
        (
            "current only",
            vec![rec(3, 1, 1, &pki.leaf)],
            EndpointOutcome::Authenticated {
                record: 0,
                usage: 3,
            },
            vec![RecordState::Matched { depth: 0 }],
            false,
        ),
        (
            "next key published before the current one",
            vec![stale.clone(), rec(3, 1, 1, &pki.leaf)],
            EndpointOutcome::Authenticated {
                record: 1,
                usage: 3,
            },
            vec![RecordState::NoMatch, RecordState::Matched { depth: 0 }],
            true,
        ),
        (
            "DANE-TA alone",
            vec![rec(2, 1, 1, &pki.int)],
            EndpointOutcome::Authenticated {
                record: 0,
                usage: 2,
            },
            vec![RecordState::Matched { depth: 1 }],
            true,
        ),
        (
            "first match in RRset order is reported",
            vec![rec(2, 1, 1, &pki.root), rec(3, 1, 1, &pki.leaf)],
            EndpointOutcome::Authenticated {
                record: 0,
                usage: 2,
            },
            vec![
                RecordState::Matched { depth: 2 },
                RecordState::Matched { depth: 0 },
            ],
            true,
        ),
        (
            "two matching DANE-EE records, no other key",
            vec![rec(3, 1, 1, &pki.leaf), rec(3, 0, 1, &pki.leaf)],
            EndpointOutcome::Authenticated {
                record: 0,
                usage: 3,
            },
            vec![
                RecordState::Matched { depth: 0 },
                RecordState::Matched { depth: 0 },
            ],
            false,
        ),
        (
            "unusable records are not a next key",
            vec![rec(3, 1, 1, &pki.leaf), rec(1, 1, 1, &pki.selfsigned)],
            EndpointOutcome::Authenticated {
                record: 0,
                usage: 3,
            },
            vec![
                RecordState::Matched { depth: 0 },
                unusable(UnusableReason::PkixUsage),
            ],
            false,
        ),
        (
            "stale only",
            vec![stale.clone()],
            EndpointOutcome::Failed(MatchFailure::NoMatch),
            vec![RecordState::NoMatch],
            false,
        ),
        (
            "name mismatch reported over plain mismatch",
            vec![stale, rec(2, 1, 1, &pki.int)],
            EndpointOutcome::Failed(MatchFailure::NameMismatch),
            vec![
                RecordState::NoMatch,
                rejected(1, MatchFailure::NameMismatch),
            ],
            false,
        ),
    ];
    for (name, tlsa, outcome, want, rollover) in cases {
        // The last case runs with reference names the leaf does not carry.
        let names = if name.starts_with("name mismatch") {
            vec!["other.example.org".to_string()]
        } else {
            refs()
        };
        let e = eval_at(&tlsa, &chain, &names, NOW);
        assert_eq!(e.outcome, outcome, "{name}");
        assert_eq!(states(&e), want, "{name}");
        assert_eq!(e.rollover_ready, rollover, "{name}");
    }
}

#[test]
fn divergence_table() {
    let pki = Pki::with(
        Periods {
            int: ((2025, 1, 1), (2026, 10, 1)),
            ..PERIODS
        },
        &["mx.example.com"],
        "mx",
    );
    let chain = pki.chain();
    let leaf_end = ts(2027, 1, 1);
    let int_end = ts(2026, 10, 1);
    let ee = rec(3, 1, 1, &pki.leaf);
    let ta = rec(2, 1, 1, &pki.root);
    let bare = rec(2, 1, 0, &pki.root);
    use DivergenceCause::*;
    let cases: Vec<DivergenceCase> = vec![
        (
            "DANE-EE, no signature time",
            vec![ee.clone()],
            chain.clone(),
            None,
            Some((leaf_end, CertificateExpiry)),
        ),
        (
            "DANE-EE, signature later",
            vec![ee.clone()],
            chain.clone(),
            Some(leaf_end + 1),
            Some((leaf_end, CertificateExpiry)),
        ),
        (
            "DANE-EE, signature earlier",
            vec![ee.clone()],
            chain.clone(),
            Some(NOW + 86_400),
            Some((NOW + 86_400, SignatureExpiry)),
        ),
        (
            "DANE-EE, tie goes to the certificate",
            vec![ee.clone()],
            chain.clone(),
            Some(leaf_end),
            Some((leaf_end, CertificateExpiry)),
        ),
        (
            "DANE-TA, intermediate ends first",
            vec![ta.clone()],
            chain.clone(),
            None,
            Some((int_end, ChainExpiry)),
        ),
        (
            "DANE-TA bare key",
            vec![bare],
            vec![pki.leaf.clone(), pki.int.clone()],
            None,
            Some((int_end, ChainExpiry)),
        ),
        (
            "DANE-TA, signature earlier",
            vec![ta.clone()],
            chain.clone(),
            Some(NOW + 60),
            Some((NOW + 60, SignatureExpiry)),
        ),
        (
            "EE and TA: the binding lasts until the last one breaks",
            vec![ta.clone(), ee.clone()],
            chain.clone(),
            None,
            Some((leaf_end, CertificateExpiry)),
        ),
        (
            "EE and TA, signature in between",
            vec![ta.clone(), ee.clone()],
            chain.clone(),
            Some(int_end + 1),
            Some((int_end + 1, SignatureExpiry)),
        ),
        (
            "not authenticated",
            vec![rec(3, 1, 1, &pki.selfsigned)],
            chain.clone(),
            Some(NOW + 60),
            None,
        ),
        (
            "no usable records",
            vec![rec(1, 1, 1, &pki.leaf)],
            chain.clone(),
            Some(NOW + 60),
            None,
        ),
    ];
    for (name, tlsa, chain, sig, want) in cases {
        let e = evaluate_endpoint(&EndpointInput {
            tlsa: &tlsa,
            chain: &chain,
            reference_names: &refs(),
            tlsa_signature_expiration: sig,
            now: NOW,
        });
        assert_eq!(e.divergence, want.map(|w| w.0), "{name}");
        assert_eq!(e.divergence_cause, want.map(|w| w.1), "{name}");
    }
}

#[test]
fn dane_ta_root_validity_checked_by_us() {
    // webpki does not look at the anchor's own dates; the chain check must.
    let pki = Pki::with(
        Periods {
            root: ((2027, 1, 1), (2040, 1, 1)),
            ..PERIODS
        },
        &["mx.example.com"],
        "mx",
    );
    let e = eval(&[rec(2, 1, 1, &pki.root)], &pki.chain());
    match &e.records[0].state {
        RecordState::MatchedButRejected {
            failure: MatchFailure::ChainInvalid(why),
            depth: 2,
        } => {
            assert!(why.contains("not yet valid"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}
