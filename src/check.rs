//! The human report of `dane_exporter check`: a [`DomainReport`] as text a postmaster can act on.
//!
//! Input is the report `crate::probe` produced; output is plain text, per MX host and address,
//! naming each TLSA record's state, each RRset's DNSSEC state and the days left before the next
//! deadline. `--json` bypasses this module and prints the report itself.

use std::fmt::Write as _;

use crate::dane::{CertificateInfo, EndpointOutcome, RecordState};
use crate::dns::UnixSeconds;
use crate::report::{DomainReport, EndpointReport, MxHostReport, RrsetReport};
use crate::verdict::host_dane_text;

/// Renders `report` for a terminal.
pub fn render(report: &DomainReport) -> String {
    let mut out = String::new();
    let now = report.checked_at;
    let _ = writeln!(
        out,
        "{}: {}{}",
        report.domain,
        report.verdict.as_str().to_uppercase(),
        if report.protected {
            " (fully protected: every MX host has DANE)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "  MX      {}", rrset_line(&report.mx_lookup, now));
    if report.implicit_mx {
        let _ = writeln!(
            out,
            "          no MX records: the domain itself is the mail host"
        );
    }
    for host in &report.hosts {
        render_host(&mut out, host, now);
    }
    if !report.local_certificates.is_empty() {
        let _ = writeln!(out, "\n  local certificate files:");
        for line in crate::local_certs::render_lines(&report.local_certificates) {
            let _ = writeln!(out, "    {line}");
        }
    }
    render_zones(&mut out, report);
    if let Some(divergence) = report.divergence {
        let _ = writeln!(
            out,
            "\n  earliest divergence: {} ({})",
            format_time(divergence),
            days_from(now, divergence)
        );
    }
    if !report.failures.is_empty() {
        let _ = writeln!(out, "\n  FAILURES (a DANE sender defers mail):");
        for finding in &report.failures {
            let _ = writeln!(out, "  - [{}] {}", finding.reason, finding.message);
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\n  warnings:");
        for finding in &report.warnings {
            let _ = writeln!(out, "  - [{}] {}", finding.reason, finding.message);
        }
    }
    crate::service::check::render(&mut out, &report.services, now);
    render_transport_security(&mut out, report);
    let _ = writeln!(out, "\n  checked in {:.2}s", report.duration_seconds);
    out
}

fn render_host(out: &mut String, host: &MxHostReport, now: UnixSeconds) {
    let _ = writeln!(
        out,
        "\n  MX {} {}: {}",
        host.preference,
        host.name,
        host_dane_text(host.dane)
    );
    for lookup in &host.address_lookups {
        let _ = writeln!(
            out,
            "    {:<6}{}",
            lookup.rtype.as_str(),
            rrset_line(lookup, now)
        );
    }
    for lookup in &host.tlsa_lookups {
        let _ = writeln!(out, "    TLSA  {}", rrset_line(lookup, now));
    }
    if let Some(base) = &host.tlsa_base_domain {
        if base != &host.name {
            let _ = writeln!(out, "    TLSA base domain: {base} (CNAME-expanded)");
        }
    }
    if let Some(ready) = host.rollover_ready {
        let _ = writeln!(
            out,
            "    rollover ready: {}",
            if ready { "yes" } else { "no" }
        );
    }
    for endpoint in &host.endpoints {
        render_endpoint(out, host, endpoint, now);
    }
}

fn render_endpoint(
    out: &mut String,
    host: &MxHostReport,
    endpoint: &EndpointReport,
    now: UnixSeconds,
) {
    let _ = write!(out, "    [{}] ", endpoint.address);
    match (&endpoint.tls, &endpoint.smtp_error) {
        (Some(tls), _) => {
            let _ = writeln!(out, "STARTTLS ok, {} {}", tls.version, tls.cipher_suite);
        }
        (None, Some(error)) => {
            let _ = writeln!(out, "{} ({})", error, error.reason());
        }
        (None, None) => {
            let _ = writeln!(out, "not probed");
        }
    }
    if let Some(leaf) = endpoint.chain.first() {
        leaf_line(out, leaf, now);
        let _ = writeln!(out, "      key: 3 1 1 {}", leaf.spki_sha256);
    }
    let Some(evaluation) = &endpoint.evaluation else {
        return;
    };
    for (record, result) in host.tlsa_records.iter().zip(&evaluation.records) {
        let _ = writeln!(
            out,
            "      TLSA {record}: {}",
            record_state_text(&result.state)
        );
    }
    let outcome = match &evaluation.outcome {
        EndpointOutcome::Authenticated { usage, .. } => {
            format!("authenticated by a usage-{usage} record")
        }
        EndpointOutcome::NoUsableRecords => {
            "no usable TLSA record: encrypted, not authenticated".to_string()
        }
        EndpointOutcome::Failed(failure) => format!("FAILED: {}", failure.reason()),
    };
    let _ = writeln!(out, "      => {outcome}");
    for line in crate::key_algorithms::render_lines(&endpoint.key_algorithms) {
        let _ = writeln!(out, "      {line}");
    }
    if let Some(divergence) = evaluation.divergence {
        let _ = writeln!(
            out,
            "      divergence: {} ({}, {})",
            format_time(divergence),
            days_from(now, divergence),
            evaluation
                .divergence_cause
                .map(|c| match c {
                    crate::dane::DivergenceCause::CertificateExpiry => "certificate expiry",
                    crate::dane::DivergenceCause::ChainExpiry => "trust-anchor chain expiry",
                    crate::dane::DivergenceCause::SignatureExpiry => "TLSA signature expiry",
                })
                .unwrap_or("unknown")
        );
    }
}

/// The authoritative nameservers of each zone, one line per address (`crate::consistency`).
fn render_zones(out: &mut String, report: &DomainReport) {
    for zone in &report.zones {
        let state = if zone.consistent {
            "all nameservers agree".to_string()
        } else if let Some(error) = &zone.error {
            format!("not checked: {error}")
        } else {
            "NAMESERVERS NOT CONSISTENT".to_string()
        };
        let _ = writeln!(out, "\n  zone {}: {state}", zone.zone);
        for n in &zone.nameservers {
            let serial = n
                .serial
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into());
            let verdict = if let Some(skipped) = &n.skipped {
                format!("not asked: {skipped}")
            } else if n.consistent {
                "ok".to_string()
            } else {
                crate::consistency::why_inconsistent(n)
            };
            let _ = writeln!(
                out,
                "    {} [{}] serial {serial}: {verdict}",
                n.nameserver, n.address
            );
        }
        let keys: Vec<String> = zone
            .dnskeys
            .iter()
            .map(|k| {
                format!(
                    "{} {}{}",
                    k.key_tag,
                    crate::hygiene::algorithm_name(k.algorithm),
                    if k.sep { " (SEP)" } else { "" }
                )
            })
            .collect();
        if !keys.is_empty() {
            let _ = writeln!(out, "    DNSKEY {}", keys.join(", "));
        }
        if let Some(ds) = &zone.ds {
            let list: Vec<String> = ds
                .iter()
                .map(|d| {
                    format!(
                        "{} digest {}{}",
                        d.key_tag,
                        d.digest_type,
                        if d.matches.is_some() {
                            ""
                        } else {
                            " (matches no DNSKEY)"
                        }
                    )
                })
                .collect();
            if !list.is_empty() {
                let _ = writeln!(out, "    DS     {}", list.join(", "));
            }
        }
    }
}

/// A TLSA record's state against one chain, for the human report (MX endpoints and services).
/// The presented leaf: subject, issuer and when it expires.
pub(crate) fn leaf_line(out: &mut String, leaf: &CertificateInfo, now: UnixSeconds) {
    let _ = writeln!(
        out,
        "      certificate: {} (issuer {}), expires {} ({})",
        leaf.subject,
        leaf.issuer,
        format_time(leaf.not_after),
        days_from(now, leaf.not_after)
    );
}

pub(crate) fn record_state_text(state: &RecordState) -> String {
    match state {
        RecordState::Matched { depth } => format!("MATCHED (certificate at depth {depth})"),
        RecordState::MatchedButRejected { depth, failure } => format!(
            "NO MATCH: matches depth {depth} but rejected: {}",
            failure.reason()
        ),
        RecordState::NoMatch => "NO MATCH (stale, or a next-key record)".to_string(),
        RecordState::Unusable { reason } => format!("UNUSABLE ({})", reason.as_str()),
    }
}

pub(crate) fn rrset_line(rrset: &RrsetReport, now: UnixSeconds) -> String {
    let mut line = format!("{} {}", rrset.name, rrset.dnssec.as_str());
    match &rrset.error {
        Some(error) => {
            let _ = write!(line, ", lookup failed: {error}");
        }
        None => {
            let _ = write!(line, ", {}", rrset.outcome.replace('_', " "));
        }
    }
    if !rrset.cname_chain.is_empty() {
        let _ = write!(line, ", via CNAME {}", rrset.cname_chain.join(" -> "));
    }
    if let Some(expiration) = rrset.signature_expiration {
        let _ = write!(line, ", signatures expire {}", days_from(now, expiration));
    }
    if let Some(ttl) = rrset.ttl {
        let _ = write!(line, ", TTL {ttl} s");
    }
    line
}

/// "in 12.3 days" or "3.0 days ago".
pub(crate) fn days_from(now: UnixSeconds, then: UnixSeconds) -> String {
    let days = (then - now) as f64 / 86_400.0;
    if days >= 0.0 {
        format!("in {days:.1} days")
    } else {
        format!("{:.1} days ago", -days)
    }
}

pub(crate) fn format_time(t: UnixSeconds) -> String {
    let Ok(secs) = u64::try_from(t) else {
        return t.to_string();
    };
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

/// The MTA-STS and TLS-RPT sections, when they were checked. They never change the verdict above.
fn render_transport_security(out: &mut String, report: &DomainReport) {
    if let Some(sts) = &report.mta_sts {
        let state = match (&sts.policy, sts.valid) {
            (Some(policy), true) => format!(
                "{} (max_age {}s, id {})",
                policy.mode.as_str(),
                policy.max_age,
                sts.record.as_ref().map_or("?", |r| r.id.as_str())
            ),
            _ => "no valid policy".to_string(),
        };
        let _ = writeln!(out, "\n  MTA-STS: {state}");
        let _ = writeln!(out, "    policy  {}", sts.policy_url);
        for host in &sts.hosts {
            let covered = match (&sts.policy, &host.covered_by) {
                (None, _) => String::new(),
                (Some(_), Some(pattern)) => format!(" covered by {pattern}"),
                (Some(_), None) => " NOT COVERED by the policy".to_string(),
            };
            let _ = writeln!(out, "    MX {}{covered}", host.name);
            for endpoint in &host.endpoints {
                let cert = match &endpoint.error {
                    None => "certificate valid (WebPKI)".to_string(),
                    Some(error) => format!("certificate NOT valid: {error}"),
                };
                let _ = writeln!(out, "      {}  {cert}", endpoint.address);
            }
        }
        for finding in &sts.findings {
            let _ = writeln!(out, "    - [{}] {}", finding.reason, finding.message);
        }
    }
    if let Some(rpt) = &report.tls_rpt {
        match &rpt.record {
            Some(record) => {
                let _ = writeln!(out, "\n  TLS-RPT: reports to {}", record.rua.join(", "));
            }
            None => {
                let _ = writeln!(out, "\n  TLS-RPT: no valid record");
            }
        }
        for finding in &rpt.findings {
            let _ = writeln!(out, "    - [{}] {}", finding.reason, finding.message);
        }
    }
}
