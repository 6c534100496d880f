//! Feeds arbitrary bytes to the TLS-RPT report path of an HTTPS POST (RFC 8460 section 4):
//! `tlsrpt::decode_body` as gzip (first byte odd) or JSON, then `tlsrpt::parse_report`, then what
//! the database and the metrics derive from a report. Checks: no panic; decoded JSON within the
//! size bound; a parsed report has a range that is one, at least one policy, normalised domains,
//! failure details within the bound, and its counters never exceed what the report counts; the
//! parsed report round-trips through the JSON the database stores.
#![no_main]
use dane_exporter::tlsrpt::{
    contributions, decode_body, parse_report, Limits, MediaType, Report, SendersView,
};
use libfuzzer_sys::fuzz_target;

/// 2026-12-01T12:00:00Z.
const NOW: i64 = 1_796_126_400;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let media = if first & 1 == 1 { MediaType::Gzip } else { MediaType::Json };
    let limits = Limits::default();
    let Ok(json) = decode_body(body, media, &limits) else {
        return;
    };
    assert!(json.len() <= limits.max_json_bytes);
    let Ok(report) = parse_report(&json, &limits, NOW) else {
        return;
    };
    assert!(report.start < report.end && report.end <= NOW + 86_400);
    assert!(!report.policies.is_empty() && report.policies.len() <= limits.max_policies);
    let details: usize = report.policies.iter().map(|p| p.failures.len()).sum();
    assert!(details <= limits.max_failure_details);
    let mut counted: u128 = 0;
    for policy in &report.policies {
        assert_eq!(policy.policy_domain, policy.policy_domain.to_ascii_lowercase());
        let failures: u128 = policy.failures.iter().map(|f| u128::from(f.failed_sessions)).sum();
        counted += u128::from(policy.successful_sessions)
            + u128::from(policy.failed_sessions).max(failures);
    }
    let added: u128 = contributions(&report).iter().map(|c| u128::from(c.sessions)).sum();
    assert!(added <= counted, "{added} > {counted}");
    let stored = serde_json::to_string(&report).expect("serialise");
    let back: Report = serde_json::from_str(&stored).expect("the stored form reads back");
    assert_eq!(back, report);
    for policy in &report.policies {
        let view = SendersView::of(&policy.policy_domain, [&report]);
        assert_eq!(view.reports, 1);
    }
});
