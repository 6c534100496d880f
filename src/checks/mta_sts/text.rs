//! The MTA-STS and TLS-RPT sections of `dane_exporter check`, when they were checked. They never
//! change the verdict above them.

use std::fmt::Write as _;

use super::report::{MtaStsReport, TlsRptReport};

/// The MTA-STS and TLS-RPT sections, when they were checked. They never change the verdict above.
pub fn render(out: &mut String, mta_sts: Option<&MtaStsReport>, tls_rpt: Option<&TlsRptReport>) {
    if let Some(sts) = mta_sts {
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
    if let Some(rpt) = tls_rpt {
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
