//! Reports in the shapes senders send (fixtures written from RFC 8460's field list, under
//! tests/fixtures/tlsrpt/), validation errors, the counters and the senders' view.

use serde_json::{json, Value};

use super::*;

const STS: &str = include_str!("../../tests/fixtures/tlsrpt/sts.json");
const TLSA: &str = include_str!("../../tests/fixtures/tlsrpt/tlsa.json");
const SUMMARY_ONLY: &str = include_str!("../../tests/fixtures/tlsrpt/summary-only.json");
/// 2026-12-01T12:00:00Z: after every fixture's period.
const NOW: i64 = 1_796_126_400;

fn parse(text: &str) -> Result<Report, ReportError> {
    parse_report(text.as_bytes(), &Limits::default(), NOW)
}

fn edited(text: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(text).unwrap();
    edit(&mut value);
    value.to_string()
}

#[test]
fn the_fixtures_parse_with_every_field() {
    let sts = parse(STS).unwrap();
    assert_eq!(sts.organization, "Sender One");
    assert_eq!(sts.start, parse_rfc3339("2026-11-30T00:00:00Z").unwrap());
    assert_eq!(sts.end - sts.start, 86_399);
    let policy = &sts.policies[0];
    assert_eq!(policy.policy_type, PolicyType::Sts);
    assert_eq!(policy.mx_hosts, vec!["*.example.org"]);
    assert_eq!(
        (policy.successful_sessions, policy.failed_sessions),
        (5326, 303)
    );
    assert_eq!(policy.failures.len(), 3);
    assert_eq!(
        policy.failures[1].result_type,
        ResultType::StarttlsNotSupported
    );
    assert_eq!(
        policy.failures[1].receiving_ip,
        Some("203.0.113.56".parse().unwrap())
    );
    assert_eq!(
        policy.failures[2].failure_reason_code.as_deref(),
        Some("X509_V_ERR_PROOF_OF_POSSESSION")
    );

    // Offsets and fractions, mx-host as one string, a policy without details.
    let tlsa = parse(TLSA).unwrap();
    assert_eq!(tlsa.end - tlsa.start, 86_400);
    assert_eq!(tlsa.policies[0].mx_hosts, vec!["mx1.example.org"]);
    assert_eq!(tlsa.policies[1].policy_type, PolicyType::NoPolicyFound);
    assert!(tlsa.policies[1].failures.is_empty());
    assert!(parse(SUMMARY_ONLY).is_ok());
}

#[test]
fn required_fields_types_and_ranges_are_enforced() {
    let cases: Vec<(String, ReportError)> = vec![
        (
            edited(STS, |v| {
                drop(v.as_object_mut().unwrap().remove("report-id"))
            }),
            ReportError::Missing("report-id".into()),
        ),
        (
            edited(STS, |v| {
                v["policies"][0]["summary"] = json!({"total-successful-session-count": 1})
            }),
            ReportError::Missing("policies[0].summary.total-failure-session-count".into()),
        ),
        (
            edited(STS, |v| {
                v["policies"][0]["summary"]["total-failure-session-count"] = json!(-3)
            }),
            ReportError::WrongType {
                field: "policies[0].summary.total-failure-session-count".into(),
                expected: "a non-negative integer",
            },
        ),
        (
            edited(STS, |v| {
                v["policies"][0]["policy"]["policy-type"] = json!("dane")
            }),
            ReportError::Invalid {
                field: "policies[0].policy.policy-type".into(),
                problem: "is not tlsa, sts or no-policy-found",
            },
        ),
        (
            edited(STS, |v| {
                v["policies"][0]["failure-details"][0]["result-type"] = json!("Tlsa Invalid")
            }),
            ReportError::Invalid {
                field: "policies[0].failure-details[0].result-type".into(),
                problem: "is not a result-type token (lower-case letters, digits, '-')",
            },
        ),
        (
            edited(STS, |v| {
                v["date-range"]["end-datetime"] = json!("2026-11-29T00:00:00Z")
            }),
            ReportError::DateRange("end-datetime is not after start-datetime"),
        ),
        (
            edited(STS, |v| {
                v["date-range"]["end-datetime"] = json!("2026-12-25T00:00:00Z")
            }),
            ReportError::DateRange("end-datetime is in the future"),
        ),
        (
            edited(STS, |v| {
                v["date-range"]["start-datetime"] = json!("30 Nov 2026")
            }),
            ReportError::Invalid {
                field: "date-range.start-datetime".into(),
                problem: "is not an RFC 3339 date-time",
            },
        ),
        (
            edited(STS, |v| v["policies"] = json!([])),
            ReportError::Invalid {
                field: "policies".into(),
                problem: "is empty",
            },
        ),
        (
            edited(STS, |v| {
                v["policies"][0]["policy"]["policy-domain"] = json!("not a domain")
            }),
            ReportError::Invalid {
                field: "policies[0].policy.policy-domain".into(),
                problem: "is not a domain name",
            },
        ),
        (
            edited(STS, |v| {
                v["policies"][0]["failure-details"][0]["sending-mta-ip"] = json!("1.2.3")
            }),
            ReportError::Invalid {
                field: "policies[0].failure-details[0].sending-mta-ip".into(),
                problem: "is not an IP address",
            },
        ),
        (
            "[1, 2]".to_string(),
            ReportError::WrongType {
                field: "report".into(),
                expected: "an object",
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(&text), Err(expected.clone()), "{expected}");
    }
    assert!(matches!(parse("{\"a\": "), Err(ReportError::Json(_))));
    // An unregistered result type is counted as `other`; unknown fields are ignored.
    let other = edited(STS, |v| {
        v["policies"][0]["failure-details"][0]["result-type"] = json!("quantum-failure");
        v["extension"] = json!({"x": 1});
    });
    assert_eq!(
        parse(&other).unwrap().policies[0].failures[0].result_type,
        ResultType::Other
    );
}

#[test]
fn lists_are_bounded() {
    let limits = Limits {
        max_failure_details: 2,
        ..Limits::default()
    };
    assert_eq!(
        parse_report(STS.as_bytes(), &limits, NOW),
        Err(ReportError::TooMany {
            what: "failure details",
            limit: 2
        })
    );
    let many = edited(STS, |v| {
        let one = v["policies"][0].clone();
        v["policies"] = Value::Array(vec![one; 101]);
    });
    assert_eq!(
        parse(&many),
        Err(ReportError::TooMany {
            what: "policies",
            limit: 100
        })
    );
}

#[test]
fn rfc3339_forms() {
    let z = parse_rfc3339("2026-12-01T10:04:00Z").unwrap();
    assert_eq!(z, 1_796_119_440);
    assert_eq!(parse_rfc3339("2026-12-01T12:04:00+02:00"), Some(z));
    assert_eq!(parse_rfc3339("2026-12-01t10:04:00.123z"), Some(z));
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
    for bad in [
        "2026-02-29T00:00:00Z",
        "2026-12-01T10:04:00",
        "2026-12-01T24:00:00Z",
        "2026-12-01T10:04:00+2:00",
        "2026-12-01T10:04:00.Z",
        "2026-1-01T10:04:00Z",
        "",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn contributions_split_sessions_by_result() {
    let report = parse(STS).unwrap();
    let sums: Vec<(SessionResult, u64)> = contributions(&report)
        .into_iter()
        .map(|c| (c.result, c.sessions))
        .collect();
    assert_eq!(
        sums,
        vec![
            (SessionResult::Successful, 5326),
            (SessionResult::Failed(ResultType::StarttlsNotSupported), 200),
            (SessionResult::Failed(ResultType::CertificateExpired), 100),
            (SessionResult::Failed(ResultType::ValidationFailure), 3),
        ]
    );
    // The summary counts 5 failures more than its one detail explains.
    let report = edited(SUMMARY_ONLY, |v| {
        v["policies"][0]["summary"]["total-failure-session-count"] = json!(5)
    });
    let sums = contributions(&parse(&report).unwrap());
    assert_eq!(sums[1].result, SessionResult::FailedUnspecified);
    assert_eq!(sums[1].sessions, 5);
    for result in [
        SessionResult::Successful,
        SessionResult::FailedUnspecified,
        SessionResult::Failed(ResultType::TlsaInvalid),
    ] {
        assert_eq!(SessionResult::parse(result.as_str()), result);
    }
}

#[test]
fn senders_view_adds_up_per_host() {
    let reports = [parse(STS).unwrap(), parse(TLSA).unwrap()];
    let view = SendersView::of("example.org", &reports);
    assert_eq!(view.reports, 2);
    assert_eq!(
        view.organizations,
        vec!["Sender One", "Sender Two Corporation"]
    );
    assert_eq!(view.dane_successful_sessions, 120);
    assert_eq!(view.dane_mx_hosts, vec!["mx1.example.org"]);
    let mx1 = view.failures_at("mx1.example.org");
    let dane: u64 = mx1
        .iter()
        .filter(|f| f.result_type.is_dane_failure(f.policy_type))
        .map(|f| f.sessions)
        .sum();
    // tlsa-invalid 4, dnssec-invalid 2, certificate-expired under tlsa 1; not the sts one.
    assert_eq!(dane, 7);
    assert_eq!(view.failures_at("mx2.example.org").len(), 1);
    assert!(view.failures_at("mx9.example.org").is_empty());
    assert_eq!(
        SendersView::of("example.net", &reports),
        SendersView::default()
    );
}

#[test]
fn result_types_round_trip_and_classify() {
    for t in ResultType::REGISTERED {
        assert_eq!(ResultType::parse(t.as_str()), *t);
    }
    assert!(ResultType::TlsaInvalid.is_dane_failure(PolicyType::Sts));
    assert!(ResultType::CertificateExpired.is_dane_failure(PolicyType::Tlsa));
    assert!(!ResultType::CertificateExpired.is_dane_failure(PolicyType::Sts));
    assert!(!ResultType::StsWebpkiInvalid.comparable_with_probe(PolicyType::Tlsa));
    assert!(ResultType::StarttlsNotSupported.comparable_with_probe(PolicyType::NoPolicyFound));
    assert_eq!(
        MediaType::from_content_type("Application/TLSRPT+gzip; charset=binary"),
        Some(MediaType::Gzip)
    );
    assert_eq!(MediaType::from_content_type("application/json"), None);
}

/// mx1.example.org with one endpoint whose DANE evaluation ended as `outcome`.
fn mx_with(outcome: crate::core::EndpointOutcome) -> crate::core::MxReport {
    use crate::core::*;
    let mut mx = MxReport::unfinished("example.org", NOW);
    mx.hosts = vec![MxHostReport {
        name: "mx1.example.org".into(),
        preference: 10,
        dane: HostDane::Applies,
        tlsa_base_domain: Some("mx1.example.org".into()),
        tlsa_lookups: vec![],
        tlsa_records: vec![],
        address_lookups: vec![],
        endpoints: vec![EndpointReport {
            address: "192.0.2.25".parse().unwrap(),
            dane: true,
            session: EndpointSession::Failed(SmtpError::Connect {
                detail: String::new(),
            }),
            chain: vec![],
            evaluation: Some(EndpointEvaluation {
                records: vec![],
                outcome,
                leaf: None,
                divergence: None,
                divergence_cause: None,
                rollover_ready: true,
            }),
            duration_seconds: 0.0,
            key_algorithms: vec![],
        }],
        rollover_ready: None,
    }];
    mx
}

#[test]
fn correlation_flags_views_that_disagree() {
    use crate::core::{EndpointOutcome, MatchFailure};
    let passing = mx_with(EndpointOutcome::Authenticated {
        record: 0,
        usage: 3,
    });
    let failing = mx_with(EndpointOutcome::Failed(MatchFailure::NoMatch));
    let with_failures = SendersView::of("example.org", &[parse(TLSA).unwrap()]);
    let reasons = |findings: Vec<crate::core::Finding>| -> Vec<(&'static str, Option<String>)> {
        findings
            .into_iter()
            .map(|f| (f.reason.as_str(), f.mx))
            .collect()
    };
    assert_eq!(ProbeView::of(&passing.hosts[0]), ProbeView::Authenticated);
    assert_eq!(
        reasons(correlate(&passing, &with_failures)),
        vec![(
            "tlsrpt_failures_probe_passes",
            Some("mx1.example.org".into())
        )]
    );
    // The probe fails too: the views agree, nothing to say.
    assert!(correlate(&failing, &with_failures).is_empty());
    // Senders authenticated mx1 with DANE and reported no failure; the probe fails there.
    let clean = edited(TLSA, |v| {
        v["policies"][0]["failure-details"] = json!([]);
        v["policies"][0]["summary"]["total-failure-session-count"] = json!(0);
    });
    let succeeded = SendersView::of("example.org", &[parse(&clean).unwrap()]);
    assert_eq!(
        reasons(correlate(&failing, &succeeded)),
        vec![("tlsrpt_success_probe_fails", Some("mx1.example.org".into()))]
    );
    assert!(correlate(&passing, &succeeded).is_empty());
    // MTA-STS-only failures are not what the DANE probe sees: no finding.
    let sts_only = SendersView::of("example.org", &[parse(STS).unwrap()]);
    assert!(correlate(&passing, &sts_only).is_empty());
    // Side by side: our host, then the hosts only senders named.
    let rows = side_by_side(&passing, &with_failures);
    assert_eq!(rows[0].mx, "mx1.example.org");
    assert_eq!(rows[0].probe, Some(ProbeView::Authenticated));
    assert_eq!(rows[0].failures.len(), 3);
}
