//! The senders' view as lines of `check`'s human report, beside the probe's view of each MX host.

use std::fmt::Write as _;

use super::correlate::side_by_side;
use super::view::SendersView;
use crate::core::time::format_time;
use crate::core::MxReport;

/// Appends the "what senders saw" section for `view` of the domain whose MX facts are `mx`.
pub fn render(out: &mut String, mx: &MxReport, view: &SendersView) {
    let _ = writeln!(
        out,
        "\n  what senders saw (TLS-RPT: {} report{} from {}, {} .. {}):",
        view.reports,
        if view.reports == 1 { "" } else { "s" },
        view.organizations.join(", "),
        format_time(view.period_start),
        format_time(view.period_end),
    );
    let _ = writeln!(
        out,
        "    sessions: {} successful ({} DANE-authenticated), {} failed",
        view.successful_sessions, view.dane_successful_sessions, view.failed_sessions
    );
    for row in side_by_side(mx, view) {
        let host = if row.mx.is_empty() {
            "(no MX host named)"
        } else {
            &row.mx
        };
        let probe = match row.probe {
            Some(view) => format!("this probe: {}", view.as_str()),
            None => "not an MX host of the domain now".to_string(),
        };
        let failures: Vec<String> = row.failures.iter().map(ToString::to_string).collect();
        let failures = if failures.is_empty() {
            "no failure reported".to_string()
        } else {
            failures.join("; ")
        };
        let _ = writeln!(out, "    {host} ({probe}): {failures}");
    }
}
