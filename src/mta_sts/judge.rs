//! From gathered MTA-STS / TLS-RPT facts to the report sections and their findings; and the rule
//! comparing two rounds. No I/O: the certificate checks are computation over chains the STARTTLS
//! probe already captured.
//!
//! Input: [`Gathered`] from `crate::mta_sts::gather` and the MX hosts of the DANE probe. Output:
//! `DomainReport::mta_sts` / `tls_rpt`. Findings here never touch the DANE verdict.

use std::net::IpAddr;

use crate::dns::UnixSeconds;
use crate::report::{DomainReport, Finding, MxHostReport, RrsetReport};
use crate::tls_rpt::select_tls_rpt_record;

use super::policy::{parse_policy, Mode, Policy};
use super::record::{select_sts_record, RecordError};
use super::{fetch::POLICY_PATH, policy_host, Gathered, MtaStsEndpoint, MtaStsHost};
use super::{MtaStsReport, StaleId, TlsRptReport, WebPki};

fn finding(reason: &str, mx: Option<&str>, address: Option<IpAddr>, message: String) -> Finding {
    Finding {
        reason: reason.to_string(),
        mx: mx.map(str::to_string),
        address,
        message,
    }
}

/// Fills `report.mta_sts` and `report.tls_rpt` from `gathered` (each only when it was checked).
pub fn evaluate(report: &mut DomainReport, gathered: Gathered) {
    let now = u64::try_from(report.checked_at).unwrap_or(0);
    if let Some(txt) = &gathered.sts_txt {
        let trust = gathered.trust.as_ref();
        report.mta_sts = Some(evaluate_sts(
            &gathered.domain,
            txt,
            gathered.fetch.as_ref(),
            trust,
            &report.hosts,
            now,
        ));
    }
    if let Some(txt) = &gathered.rpt_txt {
        report.tls_rpt = Some(evaluate_rpt(&gathered.domain, txt));
    }
}

fn evaluate_sts(
    domain: &str,
    txt: &crate::dns::Answer<String>,
    fetch: Option<&(Result<super::Fetched, super::FetchError>, f64)>,
    trust: Option<&Result<std::sync::Arc<WebPki>, String>>,
    hosts: &[MxHostReport],
    now: u64,
) -> MtaStsReport {
    let mut findings = Vec::new();
    let txt_name = format!("_mta-sts.{domain}");
    let (record, record_error) = match &txt.result {
        Err(error) => {
            findings.push(finding(
                "mta_sts_record_lookup_failed",
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
                    RecordError::Missing { .. } => "mta_sts_missing",
                    RecordError::Multiple { .. } => "mta_sts_record_multiple",
                    RecordError::Syntax { .. } => "mta_sts_record_invalid",
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
            "mta_sts_setup_failed",
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
                            super::PolicyError::TooLarge { .. } => "mta_sts_policy_too_large",
                            _ => "mta_sts_policy_invalid",
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
                "mta_sts_mx_not_covered",
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
            let checked = match (&endpoint.tls, trust) {
                (Some(session), Some(trust)) => {
                    trust.check_mx_certificate(&session.chain, &host.name, now)
                }
                (None, _) => Err(match &endpoint.smtp_error {
                    Some(error) => format!("no TLS session: {error}"),
                    None => "no TLS session".to_string(),
                }),
                (Some(_), None) => Err("no trust store".to_string()),
            };
            if let (Some(p), Err(error)) = (in_force, &checked) {
                findings.push(finding(
                    "mta_sts_cert_invalid",
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

fn evaluate_rpt(domain: &str, txt: &crate::dns::Answer<String>) -> TlsRptReport {
    let name = format!("_smtp._tls.{domain}");
    let mut findings = Vec::new();
    let (record, record_error) = match &txt.result {
        Err(error) => {
            findings.push(finding(
                "tls_rpt_lookup_failed",
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
                    RecordError::Missing { .. } => "tls_rpt_missing",
                    RecordError::Multiple { .. } => "tls_rpt_record_multiple",
                    RecordError::Syntax { .. } => "tls_rpt_record_invalid",
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
pub fn carry_over(previous: &MtaStsReport, current: &mut MtaStsReport, now: UnixSeconds) {
    let (Some(old), Some(new)) = (&previous.record, &current.record) else {
        return;
    };
    if old.id != new.id {
        return;
    }
    let changed = matches!(
        (&previous.policy_fingerprint, &current.policy_fingerprint),
        (Some(a), Some(b)) if a != b
    );
    let stale = if changed {
        let max_age = previous.policy.as_ref().map_or(0, |p| p.max_age);
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
            "mta_sts_policy_id_unchanged",
            None,
            None,
            format!(
                "the policy changed but the _mta-sts id stayed {}: senders holding the old policy keep it (up to its max_age); change the id",
                stale.id
            ),
        ));
        current.stale_id = Some(stale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mta_sts::{MxPattern, StsRecord};

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
                rtype: crate::dns::RecordType::Txt,
                dnssec: crate::dns::DnssecStatus::Insecure,
                outcome: "records",
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
        let mut second = report("1", 100, "b.example");
        carry_over(&first, &mut second, 1000);
        assert_eq!(reasons(&second), ["mta_sts_policy_id_unchanged"]);
        assert_eq!(second.stale_id.as_ref().unwrap().until, 1100);
        // Same policy in the next round: still flagged while old copies may live.
        let mut third = report("1", 100, "b.example");
        carry_over(&second, &mut third, 1099);
        assert_eq!(reasons(&third), ["mta_sts_policy_id_unchanged"]);
        let mut fourth = report("1", 100, "b.example");
        carry_over(&third, &mut fourth, 1100);
        assert!(fourth.findings.is_empty());
    }

    #[test]
    fn id_change_or_same_policy_is_fine() {
        let first = report("1", 100, "a.example");
        let mut changed_with_id = report("2", 100, "b.example");
        carry_over(&first, &mut changed_with_id, 1000);
        assert!(changed_with_id.findings.is_empty());
        let mut same = report("1", 100, "a.example");
        carry_over(&first, &mut same, 1000);
        assert!(same.findings.is_empty());
        // A failed fetch this round is no evidence of a change.
        let mut failed = report("1", 100, "a.example");
        failed.policy_fingerprint = None;
        carry_over(&first, &mut failed, 1000);
        assert!(failed.findings.is_empty());
    }
}
