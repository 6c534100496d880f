//! What is expected of a target, held against its verdict. Pure.
//!
//! - Any target: a domain that does not exist (NXDOMAIN), publishes a null MX (RFC 7505), or has
//!   no MX host with an address (every A and AAAA lookup a denial; also the domain itself as
//!   implicit MX) has nowhere mail can go. The MX check reads the first two as not applicable (a
//!   domain that takes no mail) and the last as `undeliverable`; a configured domain like that
//!   fails with `domain_not_found` instead: it never reads as success.
//! - `expect: dane` (`crate::core::Expectation`; the default of inbound targets): a domain whose
//!   DNS no longer gives any MX host DANE (what reads not applicable) fails with `dane_expected`,
//!   saying what took DANE away (the MX RRset or the hosts' addresses no longer signed, the TLSA
//!   records gone or unsigned). Judged on DNS alone, so it stands beside SMTP failures.

use crate::core::{
    DnssecStatus, Expectation, Finding, HostDane, MxReport, Reason, RrsetOutcome, Verdict,
};

/// Fails `verdict` with the findings this module adds to `failures` (and drops the warning the
/// MX check gives for a missing domain, now a failure).
pub fn hold(
    expectation: Expectation,
    mx: &MxReport,
    verdict: &mut Verdict,
    failures: &mut Vec<Finding>,
    warnings: &mut Vec<Finding>,
) {
    if *verdict == Verdict::Unknown {
        return;
    }
    if let Some(finding) = nowhere_to_deliver(mx) {
        // The MX check's warning for a missing domain becomes this failure, and its
        // `undeliverable` (no usable address) is this more specific reason: DNS has nowhere.
        warnings.retain(|w| w.reason != Reason::DomainNotFound);
        failures.retain(|f| f.reason != Reason::Undeliverable);
        failures.push(finding);
        *verdict = Verdict::Fail;
        return;
    }
    if expectation == Expectation::Dane && dane_absent(mx) {
        failures.push(Finding::new(Reason::DaneExpected, dane_missing(mx)));
        *verdict = Verdict::Fail;
    }
}

/// Whether DNS says DANE is gone: the MX lookup answered, and no MX host has DANE (each has no
/// TLSA records, or unsigned ones, or unsigned addresses). Judged on DNS alone, so it holds
/// whatever the SMTP side found (a verdict that fails for an unreachable host too, or while this
/// host's egress is blocked); a failed TLSA or address lookup decides nothing.
fn dane_absent(mx: &MxReport) -> bool {
    mx.mx_lookup.error.is_none()
        && !mx.hosts.is_empty()
        && mx.hosts.iter().all(|h| {
            matches!(
                h.dane,
                HostDane::NoTlsa | HostDane::TlsaInsecure | HostDane::AddressesInsecure
            )
        })
}

/// Why mail to the domain has nowhere to go, if it has not.
fn nowhere_to_deliver(mx: &MxReport) -> Option<Finding> {
    let domain = &mx.domain;
    let message = match mx.mx_lookup.outcome {
        RrsetOutcome::NxDomain => format!("{domain} does not exist (NXDOMAIN)"),
        // RFC 7505: a null MX says "no mail", also beside other MX records (Postfix bounces).
        RrsetOutcome::Records if mx.mx_records.iter().any(|r| r.exchange.is_empty()) => {
            format!("{domain} publishes a null MX (RFC 7505): it accepts no mail")
        }
        RrsetOutcome::Records | RrsetOutcome::NoData
            if !mx.hosts.is_empty()
                && mx.hosts.iter().all(|h| {
                    h.endpoints.is_empty()
                        && !h.address_lookups.is_empty()
                        && h.address_lookups.iter().all(|l| l.outcome.is_denial())
                }) =>
        {
            let hosts: Vec<&str> = mx.hosts.iter().map(|h| h.name.as_str()).collect();
            format!(
                "no MX host of {domain} has an address ({}: no A or AAAA record): mail cannot be delivered",
                hosts.join(", ")
            )
        }
        _ => return None,
    };
    Some(Finding::new(Reason::DomainNotFound, message))
}

/// What took DANE away from a domain that reads not applicable.
fn dane_missing(mx: &MxReport) -> String {
    let domain = &mx.domain;
    let mut why = Vec::new();
    if mx.mx_lookup.dnssec != DnssecStatus::Secure {
        why.push(format!(
            "its MX RRset is {} (zone unsigned, or its DS removed?)",
            mx.mx_lookup.dnssec.as_str()
        ));
    }
    for host in &mx.hosts {
        if host.dane != HostDane::Applies {
            why.push(format!("{}: {}", host.name, host.dane.text()));
        }
    }
    if why.is_empty() {
        why.push("no MX host has secure TLSA records".to_string());
    }
    format!(
        "DANE is expected for {domain} but does not apply: {}",
        why.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{MxHostReport, RecordType, RrsetReport};

    fn rrset(outcome: RrsetOutcome, dnssec: DnssecStatus) -> RrsetReport {
        RrsetReport {
            name: "x".into(),
            rtype: RecordType::A,
            dnssec,
            outcome,
            cname_chain: vec![],
            signature_expiration: None,
            ttl: None,
            error: None,
        }
    }

    fn host(dane: HostDane, addresses: RrsetOutcome) -> MxHostReport {
        MxHostReport {
            name: "mx.example.test".into(),
            preference: 10,
            dane,
            tlsa_base_domain: None,
            tlsa_lookups: vec![],
            tlsa_records: vec![],
            address_lookups: vec![
                rrset(addresses, DnssecStatus::Secure),
                rrset(RrsetOutcome::NoData, DnssecStatus::Secure),
            ],
            endpoints: vec![],
            rollover_ready: None,
        }
    }

    fn facts(outcome: RrsetOutcome, dnssec: DnssecStatus, hosts: Vec<MxHostReport>) -> MxReport {
        let mut mx = MxReport::unfinished("example.test", 0);
        mx.mx_lookup = rrset(outcome, dnssec);
        mx.hosts = hosts;
        mx
    }

    fn held(expectation: Expectation, mx: &MxReport, verdict: Verdict) -> (Verdict, Vec<Reason>) {
        let mut verdict = verdict;
        let mut failures = Vec::new();
        let mut warnings = vec![Finding::new(Reason::DomainNotFound, String::new())];
        hold(expectation, mx, &mut verdict, &mut failures, &mut warnings);
        if verdict == Verdict::Fail && failures.iter().any(|f| f.reason == Reason::DomainNotFound) {
            assert!(warnings.is_empty(), "the warning became the failure");
        }
        (verdict, failures.iter().map(|f| f.reason).collect())
    }

    #[test]
    fn a_domain_with_nowhere_to_deliver_fails_whatever_is_expected() {
        let nx = facts(RrsetOutcome::NxDomain, DnssecStatus::Secure, vec![]);
        let mut null_mx = facts(
            RrsetOutcome::Records,
            DnssecStatus::Secure,
            vec![host(HostDane::NoTlsa, RrsetOutcome::Records)],
        );
        null_mx.mx_records = vec![crate::core::MxRecord {
            preference: 0,
            exchange: String::new(),
        }];
        let no_address = facts(
            RrsetOutcome::Records,
            DnssecStatus::Secure,
            vec![host(HostDane::NoTlsa, RrsetOutcome::NxDomain)],
        );
        for mx in [&nx, &null_mx, &no_address] {
            for expectation in [Expectation::Any, Expectation::Dane] {
                assert_eq!(
                    held(expectation, mx, Verdict::NotApplicable),
                    (Verdict::Fail, vec![Reason::DomainNotFound])
                );
            }
        }
        // A host whose address lookup failed is address_lookup_failed, not "not found".
        let mut failed = host(HostDane::AddressLookupFailed, RrsetOutcome::Failed);
        failed.address_lookups[1].outcome = RrsetOutcome::Failed;
        let lookup_failed = facts(RrsetOutcome::Records, DnssecStatus::Secure, vec![failed]);
        assert_eq!(
            held(Expectation::Any, &lookup_failed, Verdict::Fail),
            (Verdict::Fail, vec![])
        );
    }

    #[test]
    fn expected_dane_that_does_not_apply_fails_and_says_why() {
        let unsigned = facts(
            RrsetOutcome::Records,
            DnssecStatus::Insecure,
            vec![host(HostDane::AddressesInsecure, RrsetOutcome::Records)],
        );
        assert_eq!(
            held(Expectation::Dane, &unsigned, Verdict::NotApplicable),
            (Verdict::Fail, vec![Reason::DaneExpected])
        );
        assert_eq!(
            held(Expectation::Any, &unsigned, Verdict::NotApplicable),
            (Verdict::NotApplicable, vec![])
        );
        let message = dane_missing(&unsigned);
        assert!(message.contains("MX RRset is insecure"), "{message}");
        assert!(message.contains("not DNSSEC-signed"), "{message}");
        // Beside an SMTP failure (every address unreachable, or this host's egress blocked) the
        // DNS still says DANE is gone.
        assert_eq!(
            held(Expectation::Dane, &unsigned, Verdict::Fail),
            (Verdict::Fail, vec![Reason::DaneExpected])
        );
        // Unknown is left alone: nothing about the domain is known.
        assert_eq!(
            held(Expectation::Dane, &unsigned, Verdict::Unknown),
            (Verdict::Unknown, vec![])
        );
        // DANE published (even if the host is unreachable): not this module's business.
        let with_dane = facts(
            RrsetOutcome::Records,
            DnssecStatus::Secure,
            vec![host(HostDane::Applies, RrsetOutcome::Records)],
        );
        for verdict in [Verdict::Pass, Verdict::NotApplicable, Verdict::Fail] {
            assert_eq!(
                held(Expectation::Dane, &with_dane, verdict),
                (verdict, vec![])
            );
        }
        // A TLSA lookup that failed decides nothing.
        let failed = facts(
            RrsetOutcome::Records,
            DnssecStatus::Secure,
            vec![host(HostDane::TlsaLookupFailed, RrsetOutcome::Records)],
        );
        assert_eq!(
            held(Expectation::Dane, &failed, Verdict::Fail),
            (Verdict::Fail, vec![])
        );
    }
}
