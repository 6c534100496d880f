//! The domain verdict: from per-host and per-endpoint facts to pass / fail / not applicable, the
//! "fully protected" flag, and findings with stable reasons. Pure: no I/O.
//!
//! Input is a [`DomainReport`] whose facts `crate::probe` has filled in; [`judge`] fills in its
//! judgement fields. The rule is the sender's: a domain fails when a DANE-enforcing sender would
//! defer mail to at least one endpoint it could pick (RFC 7672 2.1, 2.2, 3).

use crate::dane::{EndpointOutcome, RecordState};
use crate::dns::DnssecStatus;
use crate::report::{DomainReport, Finding, HostDane, MxHostReport, Verdict};

/// Fills in `verdict`, `protected`, `failures`, `warnings` and `divergence` of `report`.
pub fn judge(report: &mut DomainReport) {
    let mut failures = Vec::new();
    let mut warnings = Vec::new();

    if let Some(error) = &report.mx_lookup.error {
        failures.push(Finding {
            reason: "mx_lookup_failed".into(),
            mx: None,
            address: None,
            message: format!(
                "the MX lookup for {} failed ({error}); DANE senders defer all mail",
                report.domain
            ),
        });
    }
    if report.mx_lookup.outcome == "nx_domain" {
        warnings.push(Finding {
            reason: "domain_not_found".into(),
            mx: None,
            address: None,
            message: format!("{} does not exist (NXDOMAIN)", report.domain),
        });
    }
    if report.mx_lookup.outcome == "records" && report.hosts.is_empty() {
        warnings.push(Finding {
            reason: "null_mx".into(),
            mx: None,
            address: None,
            message: format!(
                "{} publishes a null MX (RFC 7505): it accepts no mail",
                report.domain
            ),
        });
    }

    let any_dane = report.hosts.iter().any(|h| h.dane == HostDane::Applies);
    let mx_secure = report.mx_lookup.dnssec == DnssecStatus::Secure;
    if any_dane && !mx_secure && report.mx_lookup.error.is_none() {
        warnings.push(Finding {
            reason: "mx_insecure".into(),
            mx: None,
            address: None,
            message: format!(
                "the MX RRset of {} is not DNSSEC-signed: senders still enforce the MX hosts' TLSA records, but an attacker can forge the MX hosts themselves",
                report.domain
            ),
        });
    }
    for host in &report.hosts {
        judge_host(host, any_dane, &mut failures, &mut warnings);
    }

    let dane_endpoints = report
        .hosts
        .iter()
        .filter(|h| h.dane == HostDane::Applies)
        .flat_map(|h| h.endpoints.iter())
        .count();
    report.verdict = if !failures.is_empty() {
        Verdict::Fail
    } else if dane_endpoints > 0 {
        Verdict::Pass
    } else {
        Verdict::NotApplicable
    };
    report.protected = !report.hosts.is_empty()
        && mx_secure
        && report.verdict == Verdict::Pass
        && report
            .hosts
            .iter()
            .all(|h| h.dane == HostDane::Applies && !h.endpoints.is_empty());
    report.divergence = report
        .hosts
        .iter()
        .flat_map(|h| h.endpoints.iter())
        .filter_map(|e| e.evaluation.as_ref()?.divergence)
        .min();
    report.failures = failures;
    report.warnings = warnings;
}

fn judge_host(
    host: &MxHostReport,
    domain_has_dane: bool,
    failures: &mut Vec<Finding>,
    warnings: &mut Vec<Finding>,
) {
    let finding = |reason: &str, message: String| Finding {
        reason: reason.to_string(),
        mx: Some(host.name.clone()),
        address: None,
        message,
    };
    match host.dane {
        HostDane::Applies => {}
        HostDane::TlsaLookupFailed => {
            let detail = host
                .tlsa_lookups
                .iter()
                .find_map(|l| l.error.as_ref().map(|e| format!("{} TLSA: {e}", l.name)))
                .unwrap_or_default();
            failures.push(finding(
                "tlsa_lookup_failed",
                format!(
                    "the TLSA lookup for MX host {} failed ({detail}); DANE senders defer mail to it",
                    host.name
                ),
            ));
            return;
        }
        HostDane::AddressLookupFailed => {
            let detail = host
                .address_lookups
                .iter()
                .find_map(|l| {
                    l.error
                        .as_ref()
                        .map(|e| format!("{} {}: {e}", l.name, l.rtype.as_str()))
                })
                .unwrap_or_default();
            failures.push(finding(
                "address_lookup_failed",
                format!(
                    "the address lookup for MX host {} failed ({detail}); senders defer mail to it",
                    host.name
                ),
            ));
            return;
        }
        HostDane::NoTlsa | HostDane::TlsaInsecure | HostDane::AddressesInsecure => {
            if domain_has_dane {
                warnings.push(finding(
                    "mx_host_without_dane",
                    format!(
                        "MX host {} has no DANE ({}) while other MX hosts of the domain do",
                        host.name,
                        host_dane_text(host.dane)
                    ),
                ));
            }
            return;
        }
    }

    // DANE applies: every endpoint must authenticate.
    let no_address = host
        .address_lookups
        .iter()
        .all(|l| matches!(l.outcome, "nx_domain" | "no_data"));
    if host.endpoints.is_empty() && no_address {
        warnings.push(finding(
            "mx_host_without_address",
            format!("MX host {} has no A or AAAA record", host.name),
        ));
    }
    for endpoint in &host.endpoints {
        let located = |reason: &str, message: String| Finding {
            reason: reason.to_string(),
            mx: Some(host.name.clone()),
            address: Some(endpoint.address),
            message,
        };
        if let Some(error) = &endpoint.smtp_error {
            failures.push(located(
                error.reason(),
                format!(
                    "{} [{}]: {error}; DANE requires authenticated TLS to this host",
                    host.name, endpoint.address
                ),
            ));
            continue;
        }
        crate::key_algorithms::judge_endpoint(host, endpoint, warnings);
        let Some(evaluation) = &endpoint.evaluation else {
            continue;
        };
        match &evaluation.outcome {
            EndpointOutcome::Authenticated { .. } => {}
            EndpointOutcome::NoUsableRecords => warnings.push(located(
                "no_usable_tlsa",
                format!(
                    "{} has TLSA records but none usable for SMTP: TLS is required, nothing is authenticated",
                    host.name
                ),
            )),
            EndpointOutcome::Failed(failure) => failures.push(located(
                failure.reason(),
                format!(
                    "{} [{}] presents a certificate no usable TLSA record authenticates: {}",
                    host.name,
                    endpoint.address,
                    failure_text(failure)
                ),
            )),
        }
    }

    for (index, record) in host.tlsa_records.iter().enumerate() {
        let unusable = host
            .endpoints
            .iter()
            .filter_map(|e| e.evaluation.as_ref()?.records.get(index))
            .find_map(|r| match r.state {
                RecordState::Unusable { reason } => Some(reason),
                _ => None,
            });
        if let Some(reason) = unusable {
            warnings.push(finding(
                "tlsa_record_unusable",
                format!(
                    "TLSA record {record} of {} is unusable for SMTP ({})",
                    host.name,
                    reason.as_str()
                ),
            ));
        }
    }
    if host.rollover_ready == Some(false) && !host.endpoints.is_empty() {
        warnings.push(finding(
            "rollover_not_ready",
            format!(
                "{}: no TLSA record for a next key and no DANE-TA record; a key change will break delivery (RFC 7671 8)",
                host.name
            ),
        ));
    }
}

fn failure_text(failure: &crate::dane::MatchFailure) -> String {
    use crate::dane::MatchFailure::*;
    match failure {
        NoCertificate => "no certificate presented".into(),
        BadCertificate(detail) => format!("the certificate does not parse ({detail})"),
        NoMatch => "no TLSA record matches it".into(),
        NameMismatch => "a DANE-TA record matches its issuer, but the certificate does not name the MX host or TLSA base domain".into(),
        ChainInvalid(detail) => format!("a DANE-TA record matches, but the chain does not verify ({detail})"),
        PkixInvalid(detail) => format!("a PKIX record matches, but the chain does not validate to a trusted root ({detail})"),
        PkixNameMismatch => "a PKIX record matches, but the certificate does not name the host or TLSA base domain".into(),
    }
}

/// Human text of a host's DANE state, for reports.
pub fn host_dane_text(dane: HostDane) -> &'static str {
    match dane {
        HostDane::Applies => "DANE applies",
        HostDane::AddressesInsecure => "its address records are not DNSSEC-signed",
        HostDane::NoTlsa => "no TLSA records",
        HostDane::TlsaInsecure => "its TLSA records are not DNSSEC-signed",
        HostDane::TlsaLookupFailed => "the TLSA lookup failed",
        HostDane::AddressLookupFailed => "the address lookup failed",
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::dane::{EndpointEvaluation, MatchFailure, RecordResult, TlsaRecord};
    use crate::dns::RecordType;
    use crate::report::{EndpointReport, RrsetReport};
    use crate::smtp::SmtpError;

    fn rrset(outcome: &'static str) -> RrsetReport {
        RrsetReport {
            name: "x".into(),
            rtype: RecordType::A,
            dnssec: DnssecStatus::Secure,
            outcome,
            cname_chain: vec![],
            signature_expiration: None,
            ttl: None,
            error: None,
        }
    }

    fn evaluation(outcome: EndpointOutcome, divergence: Option<i64>) -> EndpointEvaluation {
        EndpointEvaluation {
            records: vec![RecordResult {
                record: "3 1 1 00".parse::<TlsaRecord>().expect("record"),
                state: RecordState::Matched { depth: 0 },
            }],
            outcome,
            leaf: None,
            divergence,
            divergence_cause: None,
            rollover_ready: true,
        }
    }

    fn endpoint(last_octet: u8, evaluation: Option<EndpointEvaluation>) -> EndpointReport {
        EndpointReport {
            address: IpAddr::from([127, 0, 0, last_octet]),
            starttls_offered: Some(true),
            tls: None,
            smtp_error: None,
            chain: vec![],
            evaluation,
            duration_seconds: 0.0,
            key_algorithms: Vec::new(),
        }
    }

    fn host(name: &str, dane: HostDane, endpoints: Vec<EndpointReport>) -> MxHostReport {
        MxHostReport {
            name: name.into(),
            preference: 10,
            dane,
            tlsa_base_domain: Some(name.into()),
            tlsa_lookups: vec![],
            tlsa_records: vec!["3 1 1 00".parse().expect("record")],
            address_lookups: vec![rrset("records"), rrset("no_data")],
            endpoints,
            rollover_ready: Some(true),
        }
    }

    fn report(hosts: Vec<MxHostReport>) -> DomainReport {
        let mut report = DomainReport {
            domain: "example.test".into(),
            checked_at: 0,
            duration_seconds: 0.0,
            mx_lookup: rrset("records"),
            mx_records: vec![],
            implicit_mx: false,
            hosts,
            verdict: Verdict::NotApplicable,
            protected: false,
            failures: vec![],
            warnings: vec![],
            divergence: None,
            services: Vec::new(),
            mta_sts: None,
            tls_rpt: None,
            local_certificates: vec![],
            zones: Vec::new(),
        };
        judge(&mut report);
        report
    }

    fn authenticated(divergence: i64) -> Option<EndpointEvaluation> {
        Some(evaluation(
            EndpointOutcome::Authenticated {
                record: 0,
                usage: 3,
            },
            Some(divergence),
        ))
    }

    fn reasons(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.reason.as_str()).collect()
    }

    /// name, hosts, expected verdict, expected `protected`, expected failure reasons.
    type Case = (
        &'static str,
        Vec<MxHostReport>,
        Verdict,
        bool,
        Vec<&'static str>,
    );

    #[test]
    fn verdict_table() {
        let mismatch = Some(evaluation(
            EndpointOutcome::Failed(MatchFailure::NoMatch),
            None,
        ));
        let cases: Vec<Case> = vec![
            (
                "one good host",
                vec![host(
                    "a",
                    HostDane::Applies,
                    vec![endpoint(1, authenticated(50))],
                )],
                Verdict::Pass,
                true,
                vec![],
            ),
            (
                "one of two addresses mismatches",
                vec![host(
                    "a",
                    HostDane::Applies,
                    vec![
                        endpoint(1, authenticated(50)),
                        endpoint(2, mismatch.clone()),
                    ],
                )],
                Verdict::Fail,
                false,
                vec!["tlsa_mismatch"],
            ),
            (
                "second MX has no DANE",
                vec![
                    host("a", HostDane::Applies, vec![endpoint(1, authenticated(50))]),
                    host("b", HostDane::NoTlsa, vec![endpoint(2, None)]),
                ],
                Verdict::Pass,
                false,
                vec![],
            ),
            (
                "TLSA lookup failure defers",
                vec![
                    host("a", HostDane::Applies, vec![endpoint(1, authenticated(50))]),
                    host("b", HostDane::TlsaLookupFailed, vec![]),
                ],
                Verdict::Fail,
                false,
                vec!["tlsa_lookup_failed"],
            ),
            (
                "no TLSA anywhere",
                vec![host("a", HostDane::NoTlsa, vec![endpoint(1, None)])],
                Verdict::NotApplicable,
                false,
                vec![],
            ),
            (
                "only unusable records: TLS suffices",
                vec![host(
                    "a",
                    HostDane::Applies,
                    vec![endpoint(
                        1,
                        Some(evaluation(EndpointOutcome::NoUsableRecords, None)),
                    )],
                )],
                Verdict::Pass,
                true,
                vec![],
            ),
            (
                "no addresses at all",
                vec![],
                Verdict::NotApplicable,
                false,
                vec![],
            ),
        ];
        for (name, hosts, verdict, protected, failure_reasons) in cases {
            let judged = report(hosts);
            assert_eq!(judged.verdict, verdict, "{name}");
            assert_eq!(judged.protected, protected, "{name}");
            assert_eq!(reasons(&judged.failures), failure_reasons, "{name}");
        }
    }

    #[test]
    fn smtp_failure_on_a_dane_host_fails_with_its_reason_and_address() {
        let mut broken = endpoint(7, None);
        broken.smtp_error = Some(SmtpError::StarttlsNotOffered);
        broken.starttls_offered = Some(false);
        let judged = report(vec![host("a", HostDane::Applies, vec![broken])]);
        assert_eq!(judged.verdict, Verdict::Fail);
        assert_eq!(reasons(&judged.failures), vec!["starttls_not_offered"]);
        assert_eq!(judged.failures[0].mx.as_deref(), Some("a"));
        assert_eq!(
            judged.failures[0].address,
            Some(IpAddr::from([127, 0, 0, 7]))
        );
    }

    #[test]
    fn partial_dane_warns_and_divergence_is_the_earliest() {
        let judged = report(vec![
            host(
                "a",
                HostDane::Applies,
                vec![
                    endpoint(1, authenticated(900)),
                    endpoint(2, authenticated(300)),
                ],
            ),
            host("b", HostDane::AddressesInsecure, vec![endpoint(3, None)]),
        ]);
        assert_eq!(judged.divergence, Some(300));
        assert_eq!(reasons(&judged.warnings), vec!["mx_host_without_dane"]);
    }

    #[test]
    fn insecure_mx_still_enforces_tlsa_but_is_not_protected() {
        let mut judged = report(vec![host(
            "a",
            HostDane::Applies,
            vec![endpoint(1, authenticated(50))],
        )]);
        judged.mx_lookup.dnssec = DnssecStatus::Insecure;
        judge(&mut judged);
        assert_eq!(judged.verdict, Verdict::Pass);
        assert!(!judged.protected);
        assert_eq!(reasons(&judged.warnings), vec!["mx_insecure"]);

        judged.hosts[0].endpoints[0].evaluation = Some(evaluation(
            EndpointOutcome::Failed(MatchFailure::NoMatch),
            None,
        ));
        judge(&mut judged);
        assert_eq!(judged.verdict, Verdict::Fail);
    }

    #[test]
    fn mx_lookup_failure_fails_the_domain() {
        let mut judged = report(vec![]);
        judged.mx_lookup.outcome = "failed";
        judged.mx_lookup.error = Some(crate::dns::LookupError::ServFail { ede: None });
        judge(&mut judged);
        assert_eq!(judged.verdict, Verdict::Fail);
        assert_eq!(reasons(&judged.failures), vec!["mx_lookup_failed"]);
    }
}
