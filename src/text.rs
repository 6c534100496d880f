//! The human report of `dane_exporter check`: a [`DomainReport`] as text a postmaster can act on.
//!
//! What to act on first: the verdict line, what this host cannot see (unknown), the failures,
//! the warnings and the earliest divergence; then the details, each check's part in turn (`crate::checks::*`: the MX hosts with
//! the key algorithms under each endpoint, the local certificate files, the zones'
//! nameservers), the other services, MTA-STS and TLS-RPT. The status page shows the same text;
//! `check` on a terminal adds colour ([`Style::colour`]). `--json` bypasses this module and
//! prints the report itself.

use std::fmt::Write as _;

use crate::checks::{authoritative, key_algorithms, local_certs, mta_sts, mx, services};
use crate::core::time::{days_from, format_time};
use crate::core::{UnixSeconds, Verdict};
use crate::report::DomainReport;
use crate::tlsrpt;

/// How the text is dressed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// ANSI colour for the verdict, the failures and the warnings (a terminal that wants it).
    pub colour: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Renders `report` as plain text.
pub fn render(report: &DomainReport) -> String {
    render_styled(report, Style::default())
}

/// Renders `report` in `style`.
pub fn render_styled(report: &DomainReport, style: Style) -> String {
    let mut out = String::new();
    let now = report.checked_at();
    let verdict = report.verdict.as_str().to_uppercase();
    let verdict = match report.verdict {
        Verdict::Pass => style.paint("1;32", &verdict),
        Verdict::EncryptOnly => style.paint("1;33", &verdict),
        Verdict::NotApplicable => style.paint("1", &verdict),
        Verdict::Unknown => style.paint("1;35", &verdict),
        _ => style.paint("1;31", &verdict),
    };
    let _ = writeln!(
        out,
        "{}: {verdict}{}",
        report.domain(),
        if report.protected {
            " (fully protected: every MX host has DANE)"
        } else if report.verdict == Verdict::EncryptOnly {
            " (TLS required, nothing authenticated: no usable TLSA record)"
        } else {
            ""
        }
    );
    if let Some(since) = &report.verdict_since {
        let _ = writeln!(out, "{}", since_line(since, now));
    }
    if !report.unknown.is_empty() {
        let _ = writeln!(
            out,
            "\n  {}",
            style.paint(
                "1;35",
                "UNKNOWN (this host cannot see; says nothing about the domain):"
            )
        );
        for finding in &report.unknown {
            let _ = writeln!(out, "  - [{}] {}", finding.reason, finding.message);
        }
    }
    if !report.failures.is_empty() {
        let _ = writeln!(
            out,
            "\n  {}",
            style.paint("1;31", "FAILURES (a DANE sender defers mail):")
        );
        for finding in &report.failures {
            let reason = style.paint("31", finding.reason.as_str());
            let _ = writeln!(out, "  - [{reason}] {}", finding.message);
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\n  {}", style.paint("33", "warnings:"));
        for finding in &report.warnings {
            let _ = writeln!(out, "  - [{}] {}", finding.reason, finding.message);
        }
    }
    if let Some(divergence) = report.divergence {
        let _ = writeln!(
            out,
            "\n  earliest divergence: {} ({})",
            format_time(divergence),
            days_from(now, divergence)
        );
    }
    let _ = writeln!(out, "\n  details:");
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
    services::render(&mut out, &report.services, now);
    mta_sts::render(&mut out, report.mta_sts.as_ref(), report.tls_rpt.as_ref());
    if let Some(view) = &report.senders {
        tlsrpt::render(&mut out, &report.mx, view);
    }
    let _ = writeln!(out, "\n  checked in {:.2}s", report.duration_seconds);
    out
}

/// "  failing since 2026-12-01T10:04:00Z, 3 h (was pass)": how long the verdict has held, as the
/// history of rounds knows it.
fn since_line(since: &crate::history::VerdictState, now: UnixSeconds) -> String {
    let word = match since.verdict {
        Verdict::Pass => "passing",
        Verdict::Fail => "failing",
        Verdict::EncryptOnly => "encrypt only",
        Verdict::NotApplicable => "not applicable",
        Verdict::Unknown => "unknown",
    };
    let was = since
        .previous
        .map(|v| format!(" (was {})", v.as_str()))
        .unwrap_or_default();
    if since.since >= now {
        return format!("  {word} since this check{was}");
    }
    format!(
        "  {word} since {}, {}{was}",
        format_time(since.since),
        elapsed(now - since.since)
    )
}

/// A duration as a person reads it: "45 s", "12 min", "3 h", "4 days".
fn elapsed(seconds: UnixSeconds) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}
