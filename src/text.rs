//! The human report of `dane_exporter check`: a [`DomainReport`] as text a postmaster can act on.
//!
//! The verdict line, then each check's part in turn (`crate::checks::*`: the MX hosts with the
//! key algorithms under each endpoint, the local certificate files, the zones' nameservers), the
//! earliest divergence, the failures and warnings, the other services, MTA-STS and TLS-RPT.
//! `--json` bypasses this module and prints the report itself.

use std::fmt::Write as _;

use crate::checks::{authoritative, key_algorithms, local_certs, mta_sts, mx, services};
use crate::core::time::{days_from, format_time};
use crate::core::Verdict;
use crate::report::DomainReport;

/// Renders `report` for a terminal.
pub fn render(report: &DomainReport) -> String {
    let mut out = String::new();
    let now = report.checked_at();
    let _ = writeln!(
        out,
        "{}: {}{}",
        report.domain(),
        report.verdict.as_str().to_uppercase(),
        if report.protected {
            " (fully protected: every MX host has DANE)"
        } else if report.verdict == Verdict::EncryptOnly {
            " (TLS required, nothing authenticated: no usable TLSA record)"
        } else {
            ""
        }
    );
    mx::mx_lines(&mut out, &report.mx);
    mx::host_lines(&mut out, &report.mx, &|endpoint| {
        key_algorithms::lines(&endpoint.key_algorithms)
    });
    if !report.local_certificates.is_empty() {
        let _ = writeln!(out, "\n  local certificate files:");
        for line in local_certs::lines(&report.local_certificates) {
            let _ = writeln!(out, "    {line}");
        }
    }
    authoritative::render(&mut out, &report.zones);
    if let Some(divergence) = report.divergence {
        let _ = writeln!(
            out,
            "\n  earliest divergence: {} ({})",
            format_time(divergence),
            days_from(now, divergence)
        );
    }
    if !report.unknown.is_empty() {
        let _ = writeln!(
            out,
            "\n  UNKNOWN (this host cannot see; says nothing about the domain):"
        );
        for finding in &report.unknown {
            let _ = writeln!(out, "  - [{}] {}", finding.reason, finding.message);
        }
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
    services::render(&mut out, &report.services, now);
    mta_sts::render(&mut out, report.mta_sts.as_ref(), report.tls_rpt.as_ref());
    let _ = writeln!(out, "\n  checked in {:.2}s", report.duration_seconds);
    out
}
