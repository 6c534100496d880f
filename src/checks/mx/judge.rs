//! The MX check's judgement: from per-host and per-endpoint facts to pass / fail / not
//! applicable, the "fully protected" flag, the earliest divergence, and findings with stable
//! reasons. Pure: no I/O.
//!
//! The rule is the sender's: a domain fails when a DANE-enforcing sender would defer mail to at
//! least one endpoint it could pick (RFC 7672 2.1, 2.2, 3).

use crate::core::{
    DnssecStatus, EndpointOutcome, EndpointReport, Finding, HostDane, MatchFailure, MxHostReport,
    MxReport, Reason, RecordState, RrsetOutcome, UnixSeconds, Verdict,
};

/// What the MX check concludes about a domain.
#[derive(Clone, Debug, PartialEq)]
pub struct MxJudgement {
    /// Pass, fail or not applicable.
    pub verdict: Verdict,
    /// Every MX host has DANE and every one of its endpoints authenticates.
    pub protected: bool,
    /// Why the verdict is `fail` (empty otherwise).
    pub failures: Vec<Finding>,
    /// Things that do not defer mail today but need attention.
    pub warnings: Vec<Finding>,
    /// Earliest divergence over all endpoints (see `EndpointEvaluation::divergence`).
    pub divergence: Option<UnixSeconds>,
}

/// Warnings another check finds for one endpoint, placed among the endpoint's own (the
/// key-algorithm check's, `crate::checks::key_algorithms::judge_endpoint`).
pub type EndpointJudge<'a> = dyn Fn(&MxHostReport, &EndpointReport) -> Vec<Finding> + 'a;

/// Judges the facts of `report`; `endpoint_judge` adds another check's warnings per endpoint.
pub fn judge(report: &MxReport, endpoint_judge: &EndpointJudge<'_>) -> MxJudgement {
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let domain = &report.domain;

    if let Some(error) = &report.mx_lookup.error {
        failures.push(Finding::new(
            Reason::MxLookupFailed,
            format!("the MX lookup for {domain} failed ({error}); DANE senders defer all mail"),
        ));
    }
    if report.mx_lookup.outcome == RrsetOutcome::NxDomain {
        warnings.push(Finding::new(
            Reason::DomainNotFound,
            format!("{domain} does not exist (NXDOMAIN)"),
        ));
    }
    if report.mx_lookup.outcome == RrsetOutcome::Records && report.hosts.is_empty() {
        warnings.push(Finding::new(
            Reason::NullMx,
            format!("{domain} publishes a null MX (RFC 7505): it accepts no mail"),
        ));
    }

    let any_dane = report.hosts.iter().any(|h| h.dane == HostDane::Applies);
    let mx_secure = report.mx_lookup.dnssec == DnssecStatus::Secure;
    if any_dane && !mx_secure && report.mx_lookup.error.is_none() {
        warnings.push(Finding::new(
            Reason::MxInsecure,
            format!(
                "the MX RRset of {domain} is not DNSSEC-signed: senders still enforce the MX hosts' TLSA records, but an attacker can forge the MX hosts themselves"
            ),
        ));
    }
    for host in &report.hosts {
        judge_host(host, any_dane, endpoint_judge, &mut failures, &mut warnings);
    }

    let dane_endpoints = report
        .hosts
        .iter()
        .filter(|h| h.dane == HostDane::Applies)
        .flat_map(|h| h.endpoints.iter())
        .count();
    let verdict = if !failures.is_empty() {
        Verdict::Fail
    } else if dane_endpoints > 0 {
        Verdict::Pass
    } else {
        Verdict::NotApplicable
    };
    let protected = !report.hosts.is_empty()
        && mx_secure
        && verdict == Verdict::Pass
        && report
            .hosts
            .iter()
            .all(|h| h.dane == HostDane::Applies && !h.endpoints.is_empty());
    let divergence = report
        .hosts
        .iter()
        .flat_map(|h| h.endpoints.iter())
        .filter_map(|e| e.evaluation.as_ref()?.divergence)
        .min();
    MxJudgement {
        verdict,
        protected,
        failures,
        warnings,
        divergence,
    }
}

fn judge_host(
    host: &MxHostReport,
    domain_has_dane: bool,
    endpoint_judge: &EndpointJudge<'_>,
    failures: &mut Vec<Finding>,
    warnings: &mut Vec<Finding>,
) {
    let name = host.name.as_str();
    let finding = |reason: Reason, message: String| Finding::new(reason, message).at_mx(name);
    match host.dane {
        HostDane::Applies => {}
        HostDane::TlsaLookupFailed => {
            let detail = host
                .tlsa_lookups
                .iter()
                .find_map(|l| l.error.as_ref().map(|e| format!("{} TLSA: {e}", l.name)))
                .unwrap_or_default();
            failures.push(finding(
                Reason::TlsaLookupFailed,
                format!(
                    "the TLSA lookup for MX host {name} failed ({detail}); DANE senders defer mail to it"
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
                Reason::AddressLookupFailed,
                format!(
                    "the address lookup for MX host {name} failed ({detail}); senders defer mail to it"
                ),
            ));
            return;
        }
        HostDane::NoTlsa | HostDane::TlsaInsecure | HostDane::AddressesInsecure => {
            if domain_has_dane {
                warnings.push(finding(
                    Reason::MxHostWithoutDane,
                    format!(
                        "MX host {name} has no DANE ({}) while other MX hosts of the domain do",
                        host.dane.text()
                    ),
                ));
            }
            return;
        }
    }

    // DANE applies: every endpoint must authenticate.
    let no_address = host.address_lookups.iter().all(|l| l.outcome.is_denial());
    if host.endpoints.is_empty() && no_address {
        warnings.push(finding(
            Reason::MxHostWithoutAddress,
            format!("MX host {name} has no A or AAAA record"),
        ));
    }
    for endpoint in &host.endpoints {
        let address = endpoint.address;
        let located =
            |reason: Reason, message: String| finding(reason, message).at_address(address);
        if let Some(error) = endpoint.session.error() {
            failures.push(located(
                error.reason(),
                format!(
                    "{name} [{address}]: {error}; DANE requires authenticated TLS to this host"
                ),
            ));
            continue;
        }
        warnings.extend(endpoint_judge(host, endpoint));
        let Some(evaluation) = &endpoint.evaluation else {
            continue;
        };
        match &evaluation.outcome {
            EndpointOutcome::Authenticated { .. } => {}
            EndpointOutcome::NoUsableRecords => warnings.push(located(
                Reason::NoUsableTlsa,
                format!(
                    "{name} has TLSA records but none usable for SMTP: TLS is required, nothing is authenticated"
                ),
            )),
            EndpointOutcome::Failed(failure) => failures.push(located(
                failure.reason(),
                format!(
                    "{name} [{address}] presents a certificate no usable TLSA record authenticates: {}",
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
                Reason::TlsaRecordUnusable,
                format!(
                    "TLSA record {record} of {name} is unusable for SMTP ({})",
                    reason.as_str()
                ),
            ));
        }
    }
    if host.rollover_ready == Some(false) && !host.endpoints.is_empty() {
        warnings.push(finding(
            Reason::RolloverNotReady,
            format!(
                "{name}: no TLSA record for a next key and no DANE-TA record; a key change will break delivery (RFC 7671 8)"
            ),
        ));
    }
}

fn failure_text(failure: &MatchFailure) -> String {
    use MatchFailure::*;
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

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::core::{
        EndpointEvaluation, EndpointSession, RecordResult, RecordType, RrsetReport, SmtpError,
        TlsSession, TlsaRecord,
    };

    fn rrset(outcome: RrsetOutcome) -> RrsetReport {
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
            session: EndpointSession::Tls(TlsSession {
                version: "TLSv1.3".into(),
                cipher_suite: "TLS_AES_128_GCM_SHA256".into(),
                chain: vec![],
                banner: String::new(),
            }),
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
            address_lookups: vec![rrset(RrsetOutcome::Records), rrset(RrsetOutcome::NoData)],
            endpoints,
            rollover_ready: Some(true),
        }
    }

    fn facts(hosts: Vec<MxHostReport>) -> MxReport {
        MxReport {
            domain: "example.test".into(),
            checked_at: 0,
            mx_lookup: rrset(RrsetOutcome::Records),
            mx_records: vec![],
            implicit_mx: false,
            hosts,
        }
    }

    fn report(hosts: Vec<MxHostReport>) -> MxJudgement {
        judge(&facts(hosts), &|_, _| Vec::new())
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
        broken.session = EndpointSession::Failed(SmtpError::StarttlsNotOffered);
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
        let mut mx = facts(vec![host(
            "a",
            HostDane::Applies,
            vec![endpoint(1, authenticated(50))],
        )]);
        mx.mx_lookup.dnssec = DnssecStatus::Insecure;
        let judged = judge(&mx, &|_, _| Vec::new());
        assert_eq!(judged.verdict, Verdict::Pass);
        assert!(!judged.protected);
        assert_eq!(reasons(&judged.warnings), vec!["mx_insecure"]);

        mx.hosts[0].endpoints[0].evaluation = Some(evaluation(
            EndpointOutcome::Failed(MatchFailure::NoMatch),
            None,
        ));
        assert_eq!(judge(&mx, &|_, _| Vec::new()).verdict, Verdict::Fail);
    }

    #[test]
    fn mx_lookup_failure_fails_the_domain() {
        let mut mx = facts(vec![]);
        mx.mx_lookup.outcome = RrsetOutcome::Failed;
        mx.mx_lookup.error = Some(crate::core::LookupError::ServFail { ede: None });
        let judged = judge(&mx, &|_, _| Vec::new());
        assert_eq!(judged.verdict, Verdict::Fail);
        assert_eq!(reasons(&judged.failures), vec!["mx_lookup_failed"]);
    }
}
