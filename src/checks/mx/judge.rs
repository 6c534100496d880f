//! The MX check's judgement: from per-host and per-endpoint facts to pass / fail / not
//! applicable, the "fully protected" flag, the earliest divergence, and findings with stable
//! reasons. Pure: no I/O.
//!
//! The rule is the sender's: a domain fails when a DANE-enforcing sender would defer mail to at
//! least one endpoint it could pick (RFC 7672 2.1, 2.2, 3).

use crate::core::{
    DnssecStatus, EndpointOutcome, EndpointReport, Finding, HostDane, MatchFailure, MxHostReport,
    MxReport, Reachability, Reason, RecordState, RrsetOutcome, UnixSeconds, Verdict,
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

/// What one host leaves a sender: how many of its addresses it can use, and how.
#[derive(Default)]
struct HostUse {
    /// Reached addresses a sender delivers to (authenticated, encrypted only, or without DANE).
    usable: usize,
    /// Of those, DANE-authenticated ones.
    authenticated: usize,
    /// Of those, ones where only unusable TLSA records exist (TLS, nothing authenticated).
    encrypted_only: usize,
    /// Reached addresses where DANE does not apply (or the host has none).
    without_dane: usize,
}

/// Judges the facts of `report`; `endpoint_judge` adds another check's warnings per endpoint.
///
/// A sender tries the MX hosts in order and each address of a host in turn; an address that
/// refuses, has no route, stays silent or greets with 4xx/5xx only makes it move on (Postfix
/// `smtp_connect.c`). So an unreachable address is a warning, and the domain fails as
/// `undeliverable` when no address of any MX host can be used. What a reached address answers
/// (no STARTTLS, a failed handshake, a certificate no usable TLSA record authenticates) and a
/// failed TLSA lookup stay failures: DANE senders defer mail to that host.
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
        let others = if report.mx_records.len() > 1 {
            "; senders ignore the other MX records beside it"
        } else {
            ""
        };
        warnings.push(Finding::new(
            Reason::NullMx,
            format!("{domain} publishes a null MX (RFC 7505): it accepts no mail{others}"),
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
    let mut total = HostUse::default();
    for host in &report.hosts {
        let used = judge_host(host, any_dane, endpoint_judge, &mut failures, &mut warnings);
        total.usable += used.usable;
        total.authenticated += used.authenticated;
        total.encrypted_only += used.encrypted_only;
        total.without_dane += used.without_dane;
    }
    // Only when nothing else says why: every failure above already means DANE senders defer
    // mail; this names the case no other reason covers (every address unreachable, or MX hosts
    // without any address). A name with neither MX nor address records takes no mail at all:
    // nothing to judge, like a null MX.
    let has_endpoints = report.hosts.iter().any(|h| !h.endpoints.is_empty());
    let takes_mail = has_endpoints || !report.implicit_mx;
    if takes_mail && !report.hosts.is_empty() && total.usable == 0 && failures.is_empty() {
        failures.push(Finding::new(
            Reason::Undeliverable,
            format!(
                "no address of any MX host of {domain} can be used: every sender defers mail to it"
            ),
        ));
    }

    let verdict = if !failures.is_empty() {
        Verdict::Fail
    } else if total.encrypted_only > 0 {
        // Mail to that address is encrypted and unauthenticated: an active attacker can take it,
        // whatever the other hosts do.
        Verdict::EncryptOnly
    } else if total.authenticated > 0 {
        Verdict::Pass
    } else {
        Verdict::NotApplicable
    };
    let protected = mx_secure
        && verdict == Verdict::Pass
        && total.without_dane == 0
        && report.hosts.iter().all(|h| h.dane == HostDane::Applies);
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
) -> HostUse {
    let name = host.name.as_str();
    let finding = |reason: Reason, message: String| Finding::new(reason, message).at_mx(name);
    let mut used = HostUse::default();
    match host.dane {
        HostDane::Applies => {}
        HostDane::TlsaLookupFailed => {
            let detail = host
                .tlsa_lookups
                .iter()
                .find_map(|l| {
                    l.error
                        .as_ref()
                        .map(|e| format!("{} {}: {e}", l.name, l.rtype.as_str()))
                })
                .unwrap_or_default();
            failures.push(finding(
                Reason::TlsaLookupFailed,
                format!(
                    "the TLSA lookup for MX host {name} failed ({detail}); DANE senders defer mail to it"
                ),
            ));
            return used;
        }
        HostDane::AddressLookupFailed => {
            failures.push(finding(
                Reason::AddressLookupFailed,
                format!(
                    "the address lookup for MX host {name} failed ({}); senders defer mail to it",
                    failed_lookups(host)
                ),
            ));
            return used;
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
        }
    }
    // One family failed, the other answered: its addresses carry on (Postfix keeps the best
    // result per host), and the failure is worth knowing.
    if host.address_lookups.iter().any(|l| l.error.is_some()) {
        warnings.push(finding(
            Reason::AddressLookupFailed,
            format!(
                "an address lookup for MX host {name} failed ({}); senders use its other addresses",
                failed_lookups(host)
            ),
        ));
    }
    if host.dane == HostDane::Applies {
        let no_address = host.address_lookups.iter().all(|l| l.outcome.is_denial());
        if host.endpoints.is_empty() && no_address {
            warnings.push(finding(
                Reason::MxHostWithoutAddress,
                format!("MX host {name} has no A or AAAA record"),
            ));
        }
    }
    for endpoint in &host.endpoints {
        let address = endpoint.address;
        let located =
            |reason: Reason, message: String| finding(reason, message).at_address(address);
        match endpoint.session.reachability() {
            Reachability::Unroutable => {
                if let Some(error) = endpoint.session.error() {
                    warnings.push(located(
                        error.reason(),
                        format!("{name} [{address}] was skipped: {error}"),
                    ));
                }
                continue;
            }
            Reachability::Unreachable => {
                if let Some(error) = endpoint.session.error() {
                    warnings.push(located(
                        error.reason(),
                        format!(
                            "{name} [{address}] is unreachable ({error}); senders try the next address or MX host"
                        ),
                    ));
                }
                continue;
            }
            Reachability::Reached => {}
        }
        if !endpoint.dane {
            // Opportunistic TLS (or none): a sender delivers whatever the session said.
            used.usable += 1;
            used.without_dane += 1;
            continue;
        }
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
            EndpointOutcome::Authenticated { .. } => {
                used.usable += 1;
                used.authenticated += 1;
            }
            EndpointOutcome::NoUsableRecords => {
                used.usable += 1;
                used.encrypted_only += 1;
                warnings.push(located(
                    Reason::NoUsableTlsa,
                    format!(
                        "{name} has TLSA records but none usable for SMTP: TLS is required, nothing is authenticated"
                    ),
                ));
            }
            EndpointOutcome::Failed(failure) => failures.push(located(
                failure.reason(),
                format!(
                    "{name} [{address}] presents a certificate no usable TLSA record authenticates: {}",
                    failure_text(failure)
                ),
            )),
        }
    }
    if host.dane != HostDane::Applies {
        return used;
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
    used
}

/// The failed address lookups of a host, for messages: `name TYPE: error`, joined.
fn failed_lookups(host: &MxHostReport) -> String {
    host.address_lookups
        .iter()
        .filter_map(|l| {
            l.error
                .as_ref()
                .map(|e| format!("{} {}: {e}", l.name, l.rtype.as_str()))
        })
        .collect::<Vec<_>>()
        .join("; ")
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
        KeyTooSmall { bits } => format!("a TLSA record matches, but its RSA key has {bits} bits: Postfix's OpenSSL refuses keys below 1024 bits from a peer it authenticates"),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::core::{
        EndpointEvaluation, EndpointSession, RecordResult, RecordType, RrsetReport, SmtpError,
        TlsEngine, TlsSession, TlsaRecord,
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
            dane: true,
            session: EndpointSession::Tls(TlsSession {
                version: "TLSv1.3".into(),
                cipher_suite: "TLS_AES_128_GCM_SHA256".into(),
                engine: TlsEngine::Rustls,
                chain: vec![],
                banner: String::new(),
            }),
            chain: vec![],
            evaluation,
            duration_seconds: 0.0,
            key_algorithms: Vec::new(),
        }
    }

    fn host(name: &str, dane: HostDane, mut endpoints: Vec<EndpointReport>) -> MxHostReport {
        for endpoint in &mut endpoints {
            endpoint.dane = dane == HostDane::Applies;
        }
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
                "only unusable records: TLS mandatory, nothing authenticated",
                vec![host(
                    "a",
                    HostDane::Applies,
                    vec![endpoint(
                        1,
                        Some(evaluation(EndpointOutcome::NoUsableRecords, None)),
                    )],
                )],
                Verdict::EncryptOnly,
                false,
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

    fn refused(last_octet: u8) -> EndpointReport {
        let mut e = endpoint(last_octet, None);
        e.session = EndpointSession::Failed(SmtpError::Connect {
            detail: "refused".into(),
        });
        e
    }

    fn no_route(last_octet: u8) -> EndpointReport {
        let mut e = endpoint(last_octet, None);
        e.session = EndpointSession::Failed(SmtpError::NoRoute {
            detail: "network unreachable".into(),
        });
        e
    }

    #[test]
    fn reachability_decides_undeliverable_not_dane() {
        // One refusing address beside a good one: senders move on, a warning.
        let judged = report(vec![host(
            "a",
            HostDane::Applies,
            vec![refused(1), endpoint(2, authenticated(50))],
        )]);
        assert_eq!(judged.verdict, Verdict::Pass);
        assert_eq!(reasons(&judged.warnings), vec!["smtp_connect_failed"]);

        // Every address of every host unusable: undeliverable, whatever DANE says.
        for dane in [HostDane::Applies, HostDane::NoTlsa] {
            let judged = report(vec![
                host("a", dane, vec![refused(1)]),
                host("b", dane, vec![no_route(2)]),
            ]);
            assert_eq!(judged.verdict, Verdict::Fail, "{dane:?}");
            assert_eq!(reasons(&judged.failures), vec!["undeliverable"], "{dane:?}");
        }

        // A DANE failure on a reached endpoint names itself; no extra `undeliverable`.
        let judged = report(vec![
            host("a", HostDane::Applies, vec![refused(1)]),
            host(
                "b",
                HostDane::Applies,
                vec![endpoint(
                    2,
                    Some(evaluation(
                        EndpointOutcome::Failed(MatchFailure::NoMatch),
                        None,
                    )),
                )],
            ),
        ]);
        assert_eq!(reasons(&judged.failures), vec!["tlsa_mismatch"]);
    }

    #[test]
    fn names_without_addresses() {
        // Explicit MX hosts none of which has an address: mail cannot go anywhere.
        let judged = report(vec![host("a", HostDane::NoTlsa, vec![])]);
        assert_eq!(reasons(&judged.failures), vec!["undeliverable"]);
        // No MX and no address (the implicit MX is empty): the name takes no mail.
        let mut mx = facts(vec![host("example.test", HostDane::NoTlsa, vec![])]);
        mx.implicit_mx = true;
        let judged = judge(&mx, &|_, _| Vec::new());
        assert_eq!(judged.verdict, Verdict::NotApplicable);
        assert!(judged.failures.is_empty());
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
