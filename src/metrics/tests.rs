//! Unit tests of the encoder against the families and of the table against the docs.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    exposition, probe_families, ExpositionChunks, LabelledReport, TargetSeries, PROBE_METRICS,
};
use crate::core::{Direction, Finding, Reason};
use crate::report::DomainReport;

/// Two findings with the same reason, MX host and address (two unusable TLSA records of one
/// host) must not repeat a series: Prometheus rejects a scrape with a duplicate series.
#[test]
fn findings_sharing_their_labels_are_one_series() {
    let mut report =
        DomainReport::unfinished("example.org", 0, 0.0, Reason::ProbeTimeout, String::new());
    report.failures.clear();
    let unusable = |message: &str| Finding {
        reason: Reason::TlsaRecordUnusable,
        mx: Some("mx.example.org".to_string()),
        address: None,
        message: message.to_string(),
    };
    report.warnings = vec![unusable("first record"), unusable("second record")];
    report.warnings.push(Finding {
        mx: Some("mx2.example.org".to_string()),
        ..unusable("another host")
    });
    let labels = BTreeMap::new();
    let families = probe_families(&[LabelledReport {
        direction: Direction::Inbound,
        extra_labels: &labels,
        report: &report,
    }]);
    let warnings = families
        .iter()
        .find(|f| f.name() == "dane_probe_warning_info")
        .map(|f| f.get_metric().len());
    assert_eq!(warnings, Some(2));
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn series_of(report: &DomainReport, extra: &BTreeMap<String, String>) -> TargetSeries {
    TargetSeries::of(&LabelledReport {
        direction: Direction::Outbound,
        extra_labels: extra,
        report,
    })
}

/// A reload that changes a target's extra labels relabels its stored series: the result must
/// be what rendering the report with the new labels gives.
#[test]
fn relabelled_series_equal_a_fresh_render() {
    let report = DomainReport::unfinished("example.org", 7, 0.5, Reason::ProbeTimeout, "t".into());
    let old = series_of(&report, &labels(&[("team", "a")]));
    let new_labels = labels(&[("team", "b \"x\""), ("site", "")]);
    let relabelled = old.relabelled("example.org", Direction::Outbound, &new_labels);
    let fresh = series_of(&report, &new_labels);
    assert_eq!(
        exposition(Vec::new(), &[&relabelled]),
        exposition(Vec::new(), &[&fresh])
    );
    assert!(exposition(Vec::new(), &[&relabelled]).contains(r#"team="b \"x\"""#));
}

/// The exporter's own families sort in among the probe families by name, and within a
/// family the targets keep their order.
#[test]
fn exposition_merges_families_by_name_and_keeps_target_order() {
    let none = BTreeMap::new();
    let a = series_of(
        &DomainReport::unfinished("a.example", 1, 0.1, Reason::ProbeTimeout, String::new()),
        &none,
    );
    let b = series_of(
        &DomainReport::unfinished("b.example", 2, 0.2, Reason::ProbePanicked, String::new()),
        &none,
    );
    let own = vec![
        ("zz_last".to_string(), "# zz\n".to_string()),
        ("aa_first".to_string(), "# aa\n".to_string()),
        ("dane_probe_t".to_string(), "# between\n".to_string()),
    ];
    let text = exposition(own, &[&a, &b]);
    let position = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing from {text}"))
    };
    assert_eq!(position("# aa\n"), 0);
    assert!(text.ends_with("# zz\n"), "{text}");
    assert!(position("# HELP dane_probe_success ") < position("# between\n"));
    assert!(position("# between\n") < position("# HELP dane_probe_timestamp_seconds "));
    let ts = |domain: &str| {
        position(&format!(
            "dane_probe_timestamp_seconds{{domain=\"{domain}\",direction=\"outbound\"}} "
        ))
    };
    assert!(ts("a.example") < ts("b.example"));
    // Every line is a comment or `name{labels} value`: nothing left over from the spans.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.contains("{domain=\""), "{line}");
    }
}

/// Written in chunks, the exposition is the same text cut at line ends: every chunk but the
/// last holds at least the chunk size, and the last is not empty.
#[test]
fn chunks_cut_the_same_exposition_at_line_ends() {
    let none = BTreeMap::new();
    let targets: Vec<Arc<TargetSeries>> = (0..40)
        .map(|i| {
            let domain = format!("d{i}.example");
            let report =
                DomainReport::unfinished(&domain, 1, 0.1, Reason::ProbeTimeout, String::new());
            Arc::new(series_of(&report, &none))
        })
        .collect();
    let own = || vec![("zz_own".to_string(), "# zz\nzz_own 1\n".to_string())];
    let whole = exposition(
        own(),
        &targets.iter().map(|t| t.as_ref()).collect::<Vec<_>>(),
    );
    for chunk_bytes in [1, 100, 1000, 4096, whole.len(), whole.len() + 1] {
        let chunks: Vec<String> =
            ExpositionChunks::new(own(), targets.clone(), chunk_bytes).collect();
        assert_eq!(chunks.concat(), whole, "chunk size {chunk_bytes}");
        let (last, full) = chunks.split_last().expect("at least one chunk");
        assert!(!last.is_empty() && last.ends_with('\n'));
        for chunk in full {
            assert!(chunk.len() >= chunk_bytes, "{chunk_bytes}: {}", chunk.len());
            assert!(chunk.ends_with('\n'));
        }
    }
    assert!(ExpositionChunks::new(own(), targets.clone(), 1000).count() > 2);
    // Nothing at all: no chunk, not an empty one.
    let empty: Vec<Arc<TargetSeries>> = Vec::new();
    assert_eq!(ExpositionChunks::new(Vec::new(), empty, 10).count(), 0);
}

/// Enumerations are one series for the current state, with value 1.
#[test]
fn enumerations_are_one_series_for_the_current_state() {
    let report =
        DomainReport::unfinished("example.org", 0, 0.0, Reason::ProbeTimeout, String::new());
    let text = exposition(Vec::new(), &[&series_of(&report, &BTreeMap::new())]);
    let verdicts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("dane_probe_verdict{"))
        .collect();
    assert_eq!(
        verdicts,
        ["dane_probe_verdict{domain=\"example.org\",direction=\"outbound\",verdict=\"fail\"} 1"]
    );
    let statuses: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("dane_dnssec_status{"))
        .collect();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert!(statuses[0].ends_with(r#"status="indeterminate"} 1"#));
}

#[test]
fn a_series_without_base_labels_stays_well_formed() {
    let mut out = String::new();
    super::encoder::push_series(&mut out, "m", "", "} 1\n");
    super::encoder::push_series(&mut out, "m", "", ",a=\"b\"} 2\n");
    super::encoder::push_series(&mut out, "m", "d=\"e\"", ",a=\"b\"} 3\n");
    assert_eq!(out, "m 1\nm{a=\"b\"} 2\nm{d=\"e\",a=\"b\"} 3\n");
}

/// docs/metrics.md's metric table is the documentation users read: it must list every family.
#[test]
fn readme_documents_every_metric() {
    let readme = include_str!("../../docs/metrics.md");
    let tlsrpt = super::TLSRPT_METRICS.iter().map(|(name, _, _)| name);
    let probe = PROBE_METRICS.iter().chain(super::AGGREGATE_METRICS);
    for name in probe.map(|(name, _)| name).chain(tlsrpt) {
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "docs/metrics.md's metric table lacks {name}"
        );
    }
}

/// A report of `domain` with `verdict`, MX hosts `hosts` and failures (reason, MX host).
fn report_with(
    domain: &str,
    verdict: crate::core::Verdict,
    hosts: &[&str],
    failures: &[(Reason, Option<&str>)],
) -> DomainReport {
    use crate::core::{HostDane, MxHostReport};
    let mut report = DomainReport::unfinished(domain, 9, 0.1, Reason::ProbeTimeout, String::new());
    report.verdict = verdict;
    report.mx.hosts = hosts
        .iter()
        .map(|name| MxHostReport {
            name: name.to_string(),
            preference: 10,
            dane: HostDane::Applies,
            tlsa_base_domain: None,
            tlsa_lookups: Vec::new(),
            tlsa_records: Vec::new(),
            address_lookups: Vec::new(),
            endpoints: Vec::new(),
            rollover_ready: None,
        })
        .collect();
    report.failures = failures
        .iter()
        .map(|(reason, mx)| Finding {
            reason: *reason,
            mx: mx.map(str::to_string),
            address: None,
            message: String::new(),
        })
        .collect();
    report
}

/// The summary shape keeps success, verdict, probe time and the failure reasons, nothing else.
#[test]
fn summary_shape_is_a_few_series() {
    use crate::core::Verdict;
    use crate::target::MetricsShape;
    let failing = report_with(
        "bad.example",
        Verdict::Fail,
        &["mx1.provider.example", "mx2.provider.example"],
        &[
            (Reason::TlsaMismatch, Some("mx1.provider.example")),
            (Reason::TlsaMismatch, Some("mx1.provider.example")),
        ],
    );
    let none = BTreeMap::new();
    let item = LabelledReport {
        direction: Direction::Outbound,
        extra_labels: &none,
        report: &failing,
    };
    let summary = exposition(
        Vec::new(),
        &[&TargetSeries::of_shape(&item, MetricsShape::Summary)],
    );
    let series: Vec<&str> = summary.lines().filter(|l| !l.starts_with('#')).collect();
    let names: std::collections::BTreeSet<&str> = series
        .iter()
        .map(|l| l.split('{').next().unwrap())
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec![
            "dane_probe_failure_info",
            "dane_probe_success",
            "dane_probe_timestamp_seconds",
            "dane_probe_verdict"
        ]
    );
    assert_eq!(series.len(), 4, "{summary}");
    let full = exposition(Vec::new(), &[&TargetSeries::of(&item)]);
    assert!(full.lines().filter(|l| !l.starts_with('#')).count() > series.len());
}

/// Domains by verdict (every verdict, zeros included), by failure reason, and per MX host with
/// the failing ones, grouped by direction and extra labels.
#[test]
fn aggregates_count_domains() {
    use super::{aggregate_families, Aggregated, DomainSummary};
    use crate::core::Verdict;
    let list = labels(&[("list", "recipients")]);
    let none = BTreeMap::new();
    let shared = "mx.provider.example";
    let reports = [
        report_with("a.example", Verdict::Pass, &[shared], &[]),
        report_with("b.example", Verdict::Pass, &[shared, "mx.b.example"], &[]),
        report_with(
            "c.example",
            Verdict::Fail,
            &[shared],
            &[
                (Reason::TlsaMismatch, Some(shared)),
                (Reason::TlsaLookupFailed, Some(shared)),
            ],
        ),
        report_with(
            "d.example",
            Verdict::Fail,
            &[],
            &[(Reason::MxLookupFailed, None)],
        ),
    ];
    let summaries: Vec<DomainSummary> = reports.iter().map(DomainSummary::of).collect();
    let mut items: Vec<Aggregated<'_>> = summaries
        .iter()
        .map(|summary| Aggregated {
            direction: Direction::Outbound,
            labels: &list,
            summary,
        })
        .collect();
    let inbound = DomainSummary::of(&report_with("ours.example", Verdict::Pass, &[shared], &[]));
    items.push(Aggregated {
        direction: Direction::Inbound,
        labels: &none,
        summary: &inbound,
    });
    let families = aggregate_families(items);
    let text: String = families.iter().map(|(_, t)| t.as_str()).collect();
    let out = r#"direction="outbound",list="recipients""#;
    for expected in [
        format!(r#"dane_domains{{{out},verdict="pass"}} 2"#),
        format!(r#"dane_domains{{{out},verdict="fail"}} 2"#),
        format!(r#"dane_domains{{{out},verdict="encrypt_only"}} 0"#),
        r#"dane_domains{direction="inbound",verdict="pass"} 1"#.to_string(),
        format!(r#"dane_domains_failing{{{out},reason="tlsa_mismatch"}} 1"#),
        format!(r#"dane_domains_failing{{{out},reason="mx_lookup_failed"}} 1"#),
        format!(r#"dane_mx_host_domains{{{out},mx="mx.provider.example"}} 3"#),
        format!(r#"dane_mx_host_domains{{{out},mx="mx.b.example"}} 1"#),
        format!(r#"dane_mx_host_failing_domains{{{out},mx="mx.provider.example"}} 1"#),
        format!(r#"dane_mx_host_failing_domains{{{out},mx="mx.b.example"}} 0"#),
        r#"dane_mx_host_domains{direction="inbound",mx="mx.provider.example"} 1"#.to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "missing {expected} in\n{text}"
        );
    }
    // Each family once, with HELP and TYPE, names as in the table.
    let names: Vec<&str> = families.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "dane_domains",
            "dane_domains_failing",
            "dane_mx_host_domains",
            "dane_mx_host_failing_domains"
        ]
    );
    assert!(aggregate_families(Vec::new()).is_empty());
}
