//! The series of one report: the report's own (verdict, success, findings, duration, time),
//! then each check's, in one pass; or, in the summary shape (`crate::target::MetricsShape`),
//! only what says whether mail to the domain would be deferred and why.

use std::collections::BTreeMap;

use crate::checks::{authoritative, key_algorithms, local_certs, mta_sts, mx, services};
use crate::core::sink::{finding_info, flag, join};
use crate::core::{Direction, Finding, Sink, Verdict};
use crate::report::DomainReport;

/// The latest report of one target, with the labels its series carry.
#[derive(Clone, Copy, Debug)]
pub struct LabelledReport<'a> {
    /// Inbound or outbound.
    pub direction: Direction,
    /// Extra labels from the configuration.
    pub extra_labels: &'a BTreeMap<String, String>,
    /// The report.
    pub report: &'a DomainReport,
}

/// The labels every series of a target starts with: domain, direction, then the extra labels.
pub(super) fn base_labels<'a>(
    domain: &'a str,
    direction: Direction,
    extra_labels: &'a BTreeMap<String, String>,
) -> Vec<(&'a str, &'a str)> {
    let mut base = vec![("domain", domain), ("direction", direction.as_str())];
    base.extend(extra_labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    base
}

/// Every series of one report: its own, then each check's.
pub(super) fn add_report(f: &mut dyn Sink, item: &LabelledReport<'_>) {
    let report = item.report;
    let base = base_labels(report.domain(), item.direction, item.extra_labels);

    let seen = add_verdict(f, &base, report);
    f.gauge(
        "dane_probe_duration_seconds",
        &base,
        report.duration_seconds,
    );
    if !seen {
        return;
    }
    f.gauge("dane_domain_protected", &base, flag(report.protected));
    if let Some(since) = &report.verdict_since {
        f.gauge(
            "dane_probe_verdict_since_timestamp_seconds",
            &base,
            since.since as f64,
        );
    }
    add_findings(f, &base, "dane_probe_warning_info", &report.warnings);

    mx::add_series(f, &base, &report.mx);
    key_algorithms::add_series(f, &base, &report.mx);
    services::add_series(f, &base, &report.services);
    mta_sts::add_series(f, &base, report.mta_sts.as_ref(), report.tls_rpt.as_ref());
    local_certs::add_series(f, &base, &report.local_certificates);
    authoritative::add_series(f, &base, &report.zones);
}

/// The series of a target in the summary shape: success, verdict, probe time and one series per
/// failure reason (and MX host and address): at most a few per domain, so that lists of
/// thousands of recipient domains stay small; the aggregates (`aggregate.rs`) sum them up.
pub(super) fn add_summary(f: &mut dyn Sink, item: &LabelledReport<'_>) {
    let report = item.report;
    let base = base_labels(report.domain(), item.direction, item.extra_labels);
    add_verdict(f, &base, report);
}

/// What both shapes write: verdict and probe time, then success and failures; false when the
/// verdict is unknown, which writes only its reasons instead.
fn add_verdict(f: &mut dyn Sink, base: &[(&str, &str)], report: &DomainReport) -> bool {
    // Enumerations are one series for the current state, not a state set (module doc).
    f.gauge(
        "dane_probe_verdict",
        &join(base, &[("verdict", report.verdict.as_str())]),
        1.0,
    );
    f.gauge(
        "dane_probe_timestamp_seconds",
        base,
        report.checked_at() as f64,
    );
    if report.verdict == Verdict::Unknown {
        // The exporter could not see: no success, no findings, no facts, so that no alert on the
        // domain fires (or stays firing) on what its own resolver said. The reason is here; the
        // exporter's resolver gauges say the rest.
        let mut seen = std::collections::BTreeSet::new();
        for finding in &report.unknown {
            if seen.insert(finding.reason.as_str()) {
                f.gauge(
                    "dane_probe_unknown_info",
                    &join(base, &[("reason", finding.reason.as_str())]),
                    1.0,
                );
            }
        }
        return false;
    }
    f.gauge(
        "dane_probe_success",
        base,
        flag(report.verdict != Verdict::Fail),
    );
    add_findings(f, base, "dane_probe_failure_info", &report.failures);
    true
}

/// One series of `name` per reason, MX host and address of `findings`; a warning with a gauge of
/// its own (`Reason::has_own_gauge`) is left to that gauge.
fn add_findings(f: &mut dyn Sink, base: &[(&str, &str)], name: &'static str, findings: &[Finding]) {
    // Several findings may share a reason, MX host and address (one per unusable TLSA record,
    // say): they are one series, or the exposition would repeat a series and Prometheus would
    // reject the whole scrape.
    let mut seen = std::collections::BTreeSet::new();
    for finding in findings {
        if finding.reason.has_own_gauge() {
            continue;
        }
        if !seen.insert((
            finding.reason.as_str(),
            finding.mx.as_deref(),
            finding.address,
        )) {
            continue;
        }
        finding_info(f, name, base, finding);
    }
}
