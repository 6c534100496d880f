//! Table tests of the hygiene rules: one row per situation, each naming the reasons it must give.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::core::{
    DnssecStatus, EndpointEvaluation, EndpointOutcome, EndpointReport, EndpointSession,
    RecordResult, RecordType, RrsetReport, TlsEngine, TlsSession,
};

const KEY_A: &str = "3 1 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const KEY_B: &str = "3 1 1 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn record(text: &str) -> TlsaRecord {
    text.parse().expect("test record")
}

fn lookup(ttl: u32) -> RrsetReport {
    RrsetReport {
        name: "_25._tcp.mx.example.test".into(),
        rtype: RecordType::Tlsa,
        dnssec: DnssecStatus::Secure,
        outcome: RrsetOutcome::Records,
        cname_chain: vec![],
        signature_expiration: None,
        ttl: Some(ttl),
        error: None,
    }
}

/// One endpoint presenting `sent` certificates whose evaluation gave `states` (one per record).
fn endpoint(records: &[TlsaRecord], states: &[RecordState], sent: usize) -> EndpointReport {
    EndpointReport {
        address: IpAddr::from([127, 0, 0, 1]),
        dane: true,
        session: EndpointSession::Tls(TlsSession {
            version: "TLSv1.3".into(),
            cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
            engine: TlsEngine::Rustls,
            chain: vec![vec![0u8]; sent],
            banner: String::new(),
        }),
        chain: vec![],
        evaluation: Some(EndpointEvaluation {
            records: records
                .iter()
                .zip(states)
                .map(|(record, state)| RecordResult {
                    record: record.clone(),
                    state: state.clone(),
                })
                .collect(),
            outcome: EndpointOutcome::Authenticated {
                record: 0,
                usage: 3,
            },
            leaf: None,
            divergence: None,
            divergence_cause: None,
            rollover_ready: false,
        }),
        duration_seconds: 0.0,
        key_algorithms: Vec::new(),
    }
}

fn host(texts: &[&str], states: &[RecordState], ttl: u32, sent: usize) -> MxHostReport {
    let records: Vec<TlsaRecord> = texts.iter().map(|t| record(t)).collect();
    MxHostReport {
        name: "mx.example.test".into(),
        preference: 10,
        dane: HostDane::Applies,
        tlsa_base_domain: Some("mx.example.test".into()),
        tlsa_lookups: vec![lookup(ttl)],
        endpoints: vec![endpoint(&records, states, sent)],
        tlsa_records: records,
        address_lookups: vec![],
        rollover_ready: Some(false),
    }
}

fn reasons(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f.reason.as_str().to_string())
        .collect()
}

/// name, records, per-record states, TTL, certificates sent, expected reasons.
type TlsaCase<'a> = (
    &'a str,
    Vec<&'a str>,
    Vec<RecordState>,
    u32,
    usize,
    Vec<&'a str>,
);
/// name, DNSKEYs, DS (None: lookup failed), expected reasons.
type DnssecCase = (
    &'static str,
    Vec<KeyFact>,
    Option<Vec<DsFact>>,
    Vec<&'static str>,
);

const M0: RecordState = RecordState::Matched { depth: 0 };
const NO: RecordState = RecordState::NoMatch;

#[test]
fn tlsa_rules_table() {
    let limits = HygieneLimits::default();
    let many: Vec<String> = (0..13).map(|i| format!("3 1 1 {:064x}", i)).collect();
    let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let twelve = &many_refs[..12];
    let cert_hex = format!("3 0 0 {}", "30".repeat(40));
    let ta_full = format!("2 1 0 {}", "30".repeat(40));
    // name, records, per-record states, TTL, certificates sent, expected reasons
    let cases: Vec<TlsaCase> = vec![
        ("clean 3 1 1", vec![KEY_A], vec![M0], 3600, 1, vec![]),
        (
            "current + next",
            vec![KEY_A, KEY_B],
            vec![M0, NO],
            3600,
            1,
            vec![],
        ),
        (
            "duplicate",
            vec![KEY_A, KEY_A],
            vec![M0, M0],
            3600,
            1,
            vec!["tlsa_duplicate_record"],
        ),
        (
            "twelve is fine",
            twelve.to_vec(),
            vec![NO; 12],
            3600,
            1,
            vec![],
        ),
        (
            "thirteen",
            many_refs.clone(),
            vec![NO; 13],
            3600,
            1,
            vec!["tlsa_too_many_records"],
        ),
        (
            "3 0 0",
            vec![&cert_hex],
            vec![M0],
            3600,
            1,
            vec!["tlsa_full_certificate"],
        ),
        (
            "PKIX usages",
            vec![
                KEY_A,
                "1 1 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "0 0 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ],
            vec![M0, NO, NO],
            3600,
            1,
            vec!["tlsa_pkix_usage"],
        ),
        ("TTL one day", vec![KEY_A], vec![M0], 86_400, 1, vec![]),
        (
            "TTL two days",
            vec![KEY_A],
            vec![M0],
            172_800,
            1,
            vec!["tlsa_ttl_too_long"],
        ),
        (
            "DANE-TA key not sent",
            vec![&ta_full],
            vec![RecordState::Matched { depth: 1 }],
            3600,
            1,
            vec!["dane_ta_not_sent"],
        ),
        (
            "DANE-TA certificate sent",
            vec!["2 1 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
            vec![RecordState::Matched { depth: 1 }],
            3600,
            2,
            vec![],
        ),
        (
            "everything at once",
            vec![KEY_A, KEY_A, &cert_hex],
            vec![M0, M0, M0],
            604_800,
            1,
            vec![
                "tlsa_duplicate_record",
                "tlsa_full_certificate",
                "tlsa_ttl_too_long",
            ],
        ),
    ];
    for (name, texts, states, ttl, sent, expected) in cases {
        let host = host(&texts, &states, ttl, sent);
        assert_eq!(reasons(&tlsa_findings(&host, &limits)), expected, "{name}");
    }
}

#[test]
fn limits_are_configurable() {
    let host = host(&[KEY_A, KEY_B], &[M0, NO], 600, 1);
    let strict = HygieneLimits {
        max_records: 1,
        max_ttl: 300,
        stale_after: Duration::ZERO,
    };
    assert_eq!(
        reasons(&tlsa_findings(&host, &strict)),
        vec!["tlsa_too_many_records", "tlsa_ttl_too_long"]
    );
}

#[test]
fn no_findings_where_dane_does_not_apply() {
    let mut host = host(&[KEY_A, KEY_A], &[M0, M0], 999_999, 1);
    host.dane = HostDane::TlsaInsecure;
    assert!(tlsa_findings(&host, &HygieneLimits::default()).is_empty());
}

#[test]
fn stale_needs_the_grace_period_on_every_endpoint() {
    let limits = HygieneLimits {
        stale_after: Duration::from_secs(100),
        ..HygieneLimits::default()
    };
    let mut host = host(&[KEY_A, KEY_B], &[M0, NO], 600, 1);
    assert_eq!(
        unmatched_everywhere(&host),
        vec![record(KEY_B)],
        "only the unmatched record is a candidate"
    );
    let mut seen = HashMap::new();
    seen.insert(KEY_B.to_string(), 1_000);
    assert!(
        stale_findings(&host, &seen, 1_099, &limits).is_empty(),
        "inside the grace period"
    );
    assert_eq!(
        reasons(&stale_findings(&host, &seen, 1_100, &limits)),
        vec!["tlsa_record_stale"]
    );
    // A second endpoint where KEY_B matches: not stale anywhere.
    let records = host.tlsa_records.clone();
    host.endpoints.push(endpoint(&records, &[NO, M0], 1));
    assert!(unmatched_everywhere(&host).is_empty());
    assert!(stale_findings(&host, &seen, 5_000, &limits).is_empty());
}

fn key(tag: u16, algorithm: u8, sep: bool) -> KeyFact {
    KeyFact {
        key_tag: tag,
        algorithm,
        sep,
    }
}

fn ds(tag: u16, digest_type: u8, matches: Option<u16>) -> DsFact {
    DsFact {
        key_tag: tag,
        algorithm: 13,
        digest_type,
        matches,
    }
}

#[test]
fn dnssec_rules_table() {
    let ksk = key(1, 13, true);
    let zsk = key(2, 13, false);
    let sha1_key = key(3, 5, true);
    // name, DNSKEYs, DS (None: lookup failed), expected reasons
    let cases: Vec<DnssecCase> = vec![
        (
            "healthy",
            vec![ksk.clone(), zsk.clone()],
            Some(vec![ds(1, 2, Some(1))]),
            vec![],
        ),
        ("unsigned", vec![], Some(vec![]), vec![]),
        (
            "RSASHA1",
            vec![sha1_key.clone()],
            Some(vec![ds(3, 2, Some(3))]),
            vec!["dnskey_algorithm_deprecated"],
        ),
        (
            "RSAMD5 and ECC-GOST",
            vec![key(4, 1, true), key(5, 12, false)],
            Some(vec![ds(4, 2, Some(4))]),
            vec!["dnskey_algorithm_deprecated"],
        ),
        (
            "RSASHA256 is fine",
            vec![key(6, 8, true)],
            Some(vec![ds(6, 2, Some(6))]),
            vec![],
        ),
        ("no DS", vec![ksk.clone()], Some(vec![]), vec!["ds_missing"]),
        ("DS lookup failed", vec![ksk.clone()], None, vec![]),
        (
            "SHA-1 only",
            vec![ksk.clone()],
            Some(vec![ds(1, 1, Some(1))]),
            vec!["ds_digest_sha1_only"],
        ),
        (
            "SHA-1 and SHA-256",
            vec![ksk.clone()],
            Some(vec![ds(1, 1, Some(1)), ds(1, 2, Some(1))]),
            vec![],
        ),
        (
            "DS for another key",
            vec![ksk.clone()],
            Some(vec![ds(9, 2, None)]),
            vec!["ds_no_matching_dnskey"],
        ),
        (
            "DS matches a non-SEP key only",
            vec![ksk.clone(), zsk.clone()],
            Some(vec![ds(2, 2, Some(2))]),
            vec!["ds_no_matching_dnskey"],
        ),
        (
            "leftover DS",
            vec![ksk.clone()],
            Some(vec![ds(1, 2, Some(1)), ds(9, 2, None)]),
            vec!["ds_unmatched"],
        ),
    ];
    for (name, keys, ds, expected) in cases {
        let findings = dnssec_findings(&ZoneKeys {
            zone: "example.test",
            dnskeys: &keys,
            ds: ds.as_deref(),
        });
        let got: Vec<&str> = findings.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(got, expected, "{name}");
    }
}
