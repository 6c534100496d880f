//! The services check's judgement: a DANE client's rule for one service. Pure.

use std::net::IpAddr;

use super::report::{ServiceFacts, ServiceReport};
use crate::core::{EndpointOutcome, Finding, HostDane, Reason, Verdict};

/// What judging one service concludes.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceJudgement {
    /// Pass, fail or not applicable.
    pub verdict: Verdict,
    /// Why the verdict is `fail`.
    pub failures: Vec<Finding>,
    /// Things to look at that do not fail the service.
    pub warnings: Vec<Finding>,
}

/// The verdict, failures and warnings of one service (pure). The rule is a DANE client's: where DANE
/// applies, every address must complete TLS and authenticate; a TLSA or address lookup that fails
/// leaves the client unable to connect safely, which is a failure too.
pub fn judge(report: &ServiceFacts) -> ServiceJudgement {
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let name = format!("{}:{}", report.host, report.port);
    let finding = |reason: Reason, address: Option<IpAddr>, message: String| Finding {
        reason,
        mx: None,
        address,
        message,
    };
    match report.dane {
        HostDane::Applies => {}
        HostDane::TlsaLookupFailed => failures.push(finding(
            Reason::TlsaLookupFailed,
            None,
            format!("{name}: the TLSA lookup failed; a DANE client cannot connect safely"),
        )),
        HostDane::AddressLookupFailed => failures.push(finding(
            Reason::AddressLookupFailed,
            None,
            format!("{name}: the address lookup failed"),
        )),
        other => warnings.push(finding(
            Reason::ServiceDaneNotApplicable,
            None,
            format!("{name}: DANE does not apply ({})", other.text()),
        )),
    }
    let lookups_ok = !matches!(
        report.dane,
        HostDane::AddressLookupFailed | HostDane::TlsaLookupFailed
    );
    if lookups_ok && report.endpoints.is_empty() {
        failures.push(finding(
            Reason::ServiceNoAddresses,
            None,
            format!("{name}: the host has no A or AAAA records"),
        ));
    }
    let applies = report.dane == HostDane::Applies;
    for endpoint in &report.endpoints {
        let at = Some(endpoint.address);
        if let Some(error) = endpoint.session.error() {
            let message = format!("{name} at {}: {error}", endpoint.address);
            // Without DANE a client may still fall back; the failure is worth a warning only.
            if applies && endpoint.dane {
                failures.push(finding(error.reason(), at, message));
            } else {
                warnings.push(finding(error.reason(), at, message));
            }
            continue;
        }
        match endpoint.evaluation.as_ref().map(|e| &e.outcome) {
            Some(EndpointOutcome::Failed(failure)) => failures.push(finding(
                failure.reason(),
                at,
                format!(
                    "{name} at {}: the certificate does not authenticate ({})",
                    endpoint.address,
                    failure.reason()
                ),
            )),
            Some(EndpointOutcome::NoUsableRecords) => warnings.push(finding(
                Reason::NoUsableTlsa,
                at,
                format!("{name}: no usable TLSA record; TLS is required but not authenticated",),
            )),
            _ => {}
        }
    }
    let verdict = if !failures.is_empty() {
        Verdict::Fail
    } else if applies && !report.endpoints.is_empty() {
        Verdict::Pass
    } else {
        Verdict::NotApplicable
    };
    ServiceJudgement {
        verdict,
        failures,
        warnings,
    }
}

impl ServiceReport {
    /// The report of a service: its facts and their judgement.
    pub fn judged(facts: ServiceFacts) -> Self {
        let ServiceJudgement {
            verdict,
            failures,
            warnings,
        } = judge(&facts);
        Self {
            facts,
            verdict,
            failures,
            warnings,
        }
    }
}
