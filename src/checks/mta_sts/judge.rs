//! From gathered MTA-STS / TLS-RPT facts to the report sections and their findings; and the rule
//! comparing two rounds. No I/O: the certificate checks are computation over chains the STARTTLS
//! probe already captured.
//!
//! Input: [`Gathered`] from `super::run` and the MX hosts of the DANE probe. Output: the report's
//! `mta_sts` / `tls_rpt` sections. Findings here never touch the DANE verdict.

use std::net::IpAddr;

use super::fetch::{FetchError, Fetched, POLICY_PATH};
use super::policy::{parse_policy, Mode, Policy, PolicyError};
use super::record::{select_sts_record, RecordError};
use super::report::{Carried, MtaStsEndpoint, MtaStsHost, MtaStsReport, StaleId, TlsRptReport};
use super::run::{policy_host, Gathered};
use super::tls_rpt::select_tls_rpt_record;
use super::webpki::WebPki;
use crate::core::{
    Answer, EndpointSession, Finding, MxHostReport, MxReport, Reason, RrsetReport, UnixSeconds,
};

fn finding(reason: Reason, mx: Option<&str>, address: Option<IpAddr>, message: String) -> Finding {
    Finding {
        reason,
        mx: mx.map(str::to_string),
        address,
        message,
    }
}

/// The MTA-STS and TLS-RPT sections of one probe.
#[derive(Clone, Debug, Default)]
pub struct TransportSecurity {
    /// The MTA-STS section, when MTA-STS is checked.
    pub mta_sts: Option<MtaStsReport>,
    /// The TLS-RPT section, when TLS-RPT is checked.
    pub tls_rpt: Option<TlsRptReport>,
}

/// Judges `gathered` against the MX hosts of `mx`; `previous` is the MTA-STS section of the
/// round before (see [`carry_over`]).
pub fn judge(gathered: &Gathered, mx: &MxReport, previous: Option<&Carried>) -> TransportSecurity {
    let now = u64::try_from(mx.checked_at).unwrap_or(0);
    let mta_sts = gathered.sts_txt.as_ref().map(|txt| {
        let current = evaluate_sts(
            &gathered.domain,
            txt,
            gathered.fetch.as_ref(),
            gathered.trust.as_ref(),
            &mx.hosts,
            now,
        );
        match previous {
            Some(previous) => carry_over(previous, current, mx.checked_at),
            None => current,
        }
    });
    let tls_rpt = gathered
        .rpt_txt
        .as_ref()
        .map(|txt| evaluate_rpt(&gathered.domain, txt));
    TransportSecurity { mta_sts, tls_rpt }
}

fn evaluate_sts(
    domain: &str,
    txt: &Answer<String>,
    fetch: Option<&(Result<Fetched, FetchError>, f64)>,
    trust: Option<&Result<std::sync::Arc<WebPki>, String>>,
    hosts: &[MxHostReport],
    now: u64,
) -> MtaStsReport {
    let mut findings = Vec::new();
    let txt_name = format!("_mta-sts.{domain}");
    let (record, record_error) = match &txt.result {
        Err(error) => {
            findings.push(finding(
                Reason::MtaStsRecordLookupFailed,
                None,
                None,
                format!(
                    "the {txt_name} TXT lookup failed ({error}); senders cannot learn the policy"
                ),
            ));
            (None, None)
        }
        Ok(_) => match select_sts_record(txt.records()) {
            Ok(record) => (Some(record), None),
            Err(error) => {
                let reason = match error {
                    RecordError::Missing { .. } => Reason::MtaStsMissing,
                    RecordError::Multiple { .. } => Reason::MtaStsRecordMultiple,
                    RecordError::Syntax { .. } => Reason::MtaStsRecordInvalid,
                };
                findings.push(finding(
                    reason,
                    None,
                    None,
                    format!("{txt_name}: {error}; senders assume no MTA-STS policy"),
                ));
                (None, Some(error))
            }
        },
    };

    let mut policy = None;
    let mut policy_error = None;
    let mut fetch_error = None;
    let mut policy_address = None;
    let mut fetch_duration_seconds = None;
    let url = format!("https://{}{POLICY_PATH}", policy_host(domain));
    if let Some(Err(detail)) = trust {
        findings.push(finding(
            Reason::MtaStsSetupFailed,
            None,
            None,
            format!("the WebPKI trust store could not be built: {detail}"),
        ));
    }
    if let Some((result, seconds)) = fetch {
        fetch_duration_seconds = Some(*seconds);
        match result {
            Err(error) => {
                findings.push(finding(
                    error.reason(),
                    None,
                    None,
                    format!("{url}: {error}; senders without a cached policy use none"),
                ));
                fetch_error = Some(error.clone());
            }
            Ok(fetched) => {
                policy_address = Some(fetched.address);
                match parse_policy(&fetched.body) {
                    Ok(parsed) => policy = Some(parsed),
                    Err(error) => {
                        let reason = match error {
                            PolicyError::TooLarge { .. } => Reason::MtaStsPolicyTooLarge,
                            _ => Reason::MtaStsPolicyInvalid,
                        };
                        findings.push(finding(
                            reason,
                            None,
                            None,
                            format!("{url}: {error}; senders ignore the policy"),
                        ));
                        policy_error = Some(error);
                    }
                }
            }
        }
    }
    let valid = record.is_some() && policy.is_some();
    let in_force = policy.as_ref().filter(|p| p.mode != Mode::None);

    let trust = trust.and_then(|t| t.as_ref().ok());
    let mut mta_hosts = Vec::with_capacity(hosts.len());
    for host in hosts {
        let covered_by = policy
            .as_ref()
            .and_then(|p| p.covering(&host.name))
            .map(|p| p.to_string());
        if let (Some(p), None) = (in_force, &covered_by) {
            findings.push(finding(
                Reason::MtaStsMxNotCovered,
                Some(&host.name),
                None,
                format!(
                    "MX host {} matches no mx pattern of the {} policy; senders {}",
                    host.name,
                    p.mode.as_str(),
                    if p.mode == Mode::Enforce {
                        "will not deliver to it"
                    } else {
                        "report it as a failure"
                    }
                ),
            ));
        }
        let mut endpoints = Vec::with_capacity(host.endpoints.len());
        for endpoint in &host.endpoints {
            let checked = match (&endpoint.session, trust) {
                (EndpointSession::Tls(session), Some(trust)) => {
                    trust.check_mx_certificate(&session.chain, &host.name, now)
                }
                (EndpointSession::Failed(error), _) => Err(format!("no TLS session: {error}")),
                (EndpointSession::Tls(_), None) => Err("no trust store".to_string()),
            };
            if let (Some(p), Err(error)) = (in_force, &checked) {
                findings.push(finding(
                    Reason::MtaStsCertInvalid,
                    Some(&host.name),
                    Some(endpoint.address),
                    format!(
                        "{} at {}: the certificate fails MTA-STS validation ({error}); {} senders {}",
                        host.name,
                        endpoint.address,
                        p.mode.as_str(),
                        if p.mode == Mode::Enforce {
                            "will not deliver to it"
                        } else {
                            "report it as a failure"
                        }
                    ),
                ));
            }
            endpoints.push(MtaStsEndpoint {
                address: endpoint.address,
                certificate_valid: checked.is_ok(),
                error: checked.err(),
            });
        }
        mta_hosts.push(MtaStsHost {
            name: host.name.clone(),
            covered_by,
            endpoints,
        });
    }

    MtaStsReport {
        txt_lookup: RrsetReport::from_answer(txt),
        policy_fingerprint: policy.as_ref().map(fingerprint),
        record,
        record_error,
        policy_url: url,
        policy_address,
        fetch_duration_seconds,
        fetch_error,
        policy,
        policy_error,
        hosts: mta_hosts,
        stale_id: None,
        valid,
        findings,
    }
}

fn evaluate_rpt(domain: &str, txt: &Answer<String>) -> TlsRptReport {
    let name = format!("_smtp._tls.{domain}");
    let mut findings = Vec::new();
    let (record, record_error) = match &txt.result {
        Err(error) => {
            findings.push(finding(
                Reason::TlsRptLookupFailed,
                None,
                None,
                format!("the {name} TXT lookup failed ({error})"),
            ));
            (None, None)
        }
        Ok(_) => match select_tls_rpt_record(txt.records()) {
            Ok(record) => (Some(record), None),
            Err(error) => {
                let reason = match error {
                    RecordError::Missing { .. } => Reason::TlsRptMissing,
                    RecordError::Multiple { .. } => Reason::TlsRptRecordMultiple,
                    RecordError::Syntax { .. } => Reason::TlsRptRecordInvalid,
                };
                findings.push(finding(
                    reason,
                    None,
                    None,
                    format!("{name}: {error}; senders send no TLS reports"),
                ));
                (None, Some(error))
            }
        },
    };
    TlsRptReport {
        txt_lookup: RrsetReport::from_answer(txt),
        valid: record.is_some(),
        record,
        record_error,
        findings,
    }
}

/// SHA-256 over the policy's canonical JSON: the same fields give the same fingerprint whatever
/// the line endings or white space.
fn fingerprint(policy: &Policy) -> String {
    let canonical = serde_json::to_vec(policy).unwrap_or_default();
    hex::encode(ring::digest::digest(&ring::digest::SHA256, &canonical))
}

/// Compares this round with the previous one of the same target (RFC 8461 3.1: the id "MUST" change
/// whenever the policy does, or senders holding the old policy never refetch it). When the policy
/// changed and the id did not, `current` gets a [`StaleId`] and an `mta_sts_policy_id_unchanged`
/// finding, carried on through later rounds until the id changes or the old policy's `max_age`
/// has passed since the change. Pure.
pub fn carry_over(previous: &Carried, mut current: MtaStsReport, now: UnixSeconds) -> MtaStsReport {
    let (Some(old), Some(new)) = (&previous.record_id, &current.record) else {
        return current;
    };
    if *old != new.id {
        return current;
    }
    let changed = matches!(
        (&previous.policy_fingerprint, &current.policy_fingerprint),
        (Some(a), Some(b)) if a != b
    );
    let stale = if changed {
        let max_age = previous.max_age.unwrap_or(0);
        Some(StaleId {
            id: new.id.clone(),
            since: now,
            until: now.saturating_add(i64::try_from(max_age).unwrap_or(i64::MAX)),
        })
    } else {
        previous.stale_id.clone().filter(|s| now < s.until)
    };
    if let Some(stale) = stale {
        current.findings.push(finding(
            Reason::MtaStsPolicyIdUnchanged,
            None,
            None,
            format!(
                "the policy changed but the _mta-sts id stayed {}: senders holding the old policy keep it (up to its max_age); change the id",
                stale.id
            ),
        ));
        current.stale_id = Some(stale);
    }
    current
}

#[cfg(test)]
mod tests {
    use super::super::policy::MxPattern;
    use super::super::record::StsRecord;
    use super::*;
    use crate::core::{DnssecStatus, RecordType, RrsetOutcome};

    fn report(id: &str, max_age: u64, mx: &str) -> MtaStsReport {
        let policy = Policy {
            mode: Mode::Enforce,
            max_age,
            mx: vec![MxPattern {
                wildcard: false,
                domain: mx.into(),
            }],
            extensions: Vec::new(),
        };
        MtaStsReport {
            txt_lookup: RrsetReport {
                name: "_mta-sts.example".into(),
                rtype: RecordType::Txt,
                dnssec: DnssecStatus::Insecure,
                outcome: RrsetOutcome::Records,
                cname_chain: Vec::new(),
                signature_expiration: None,
                error: None,
                ttl: None,
            },
            record: Some(StsRecord {
                id: id.into(),
                extensions: Vec::new(),
            }),
            record_error: None,
            policy_url: String::new(),
            policy_address: None,
            fetch_duration_seconds: None,
            fetch_error: None,
            policy_fingerprint: Some(fingerprint(&policy)),
            policy: Some(policy),
            policy_error: None,
            hosts: Vec::new(),
            stale_id: None,
            valid: true,
            findings: Vec::new(),
        }
    }

    fn reasons(r: &MtaStsReport) -> Vec<&str> {
        r.findings.iter().map(|f| f.reason.as_str()).collect()
    }

    #[test]
    fn policy_change_without_id_change_is_flagged_until_max_age() {
        let first = report("1", 100, "a.example");
        let second = carry_over(&first.carried(), report("1", 100, "b.example"), 1000);
        assert_eq!(reasons(&second), ["mta_sts_policy_id_unchanged"]);
        assert_eq!(second.stale_id.as_ref().unwrap().until, 1100);
        // Same policy in the next round: still flagged while old copies may live.
        let third = carry_over(&second.carried(), report("1", 100, "b.example"), 1099);
        assert_eq!(reasons(&third), ["mta_sts_policy_id_unchanged"]);
        let fourth = carry_over(&third.carried(), report("1", 100, "b.example"), 1100);
        assert!(fourth.findings.is_empty());
    }

    #[test]
    fn id_change_or_same_policy_is_fine() {
        let first = report("1", 100, "a.example");
        let changed_with_id = carry_over(&first.carried(), report("2", 100, "b.example"), 1000);
        assert!(changed_with_id.findings.is_empty());
        let same = carry_over(&first.carried(), report("1", 100, "a.example"), 1000);
        assert!(same.findings.is_empty());
        // A failed fetch this round is no evidence of a change.
        let mut failed = report("1", 100, "a.example");
        failed.policy_fingerprint = None;
        let failed = carry_over(&first.carried(), failed, 1000);
        assert!(failed.findings.is_empty());
    }
}
