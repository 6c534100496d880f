//! The TLS-RPT series: the counters of every report received (`crate::tlsrpt::Totals`, as the
//! database last read them back) as text exposition families, for the inbound domains this
//! exporter watches only, each series with the domain's base labels (domain, direction, the
//! target's extra labels) so that alerts route like the probe's.
//!
//! Cardinality is bounded: organisations are ranked by their first report, the first
//! `max_organizations` keep their name and the rest fold into `organization="other"` (sums add,
//! the latest period wins), so a flood of made-up senders adds at most one label value. Policy
//! and result types are closed sets (`crate::tlsrpt::PolicyType`, `ResultType`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::encoder::base_text;
use super::report::base_labels;
use super::table::TLSRPT_METRICS;
use crate::core::{Direction, UnixSeconds};
use crate::tlsrpt::{SessionResult, Totals};

/// The organisation label of senders past the limit.
pub const OTHER_ORGANIZATION: &str = "other";

/// Sums of one (domain, organisation) after folding.
#[derive(Default)]
struct Source {
    reports: u64,
    last_start: UnixSeconds,
    last_end: UnixSeconds,
}

/// The TLS-RPT families as (name, text with HELP and TYPE) chunks, for the exposition to sort
/// in. `labels` gives the extra labels of each watched inbound domain; other domains are left out.
pub fn tlsrpt_families(
    totals: &Totals,
    labels: &HashMap<String, BTreeMap<String, String>>,
    max_organizations: usize,
) -> Vec<(String, String)> {
    let mut first: BTreeMap<&str, UnixSeconds> = BTreeMap::new();
    for source in &totals.sources {
        let slot = first
            .entry(&source.organization)
            .or_insert(source.first_seen);
        *slot = (*slot).min(source.first_seen);
    }
    let mut ranked: Vec<(&str, UnixSeconds)> = first.into_iter().collect();
    ranked.sort_by_key(|&(name, at)| (at, name));
    let kept: Vec<&str> = ranked
        .iter()
        .take(max_organizations)
        .map(|(n, _)| *n)
        .collect();
    let fold = |org: &str| -> String {
        if kept.contains(&org) {
            org.to_string()
        } else {
            OTHER_ORGANIZATION.to_string()
        }
    };

    let mut sources: BTreeMap<(&str, String), Source> = BTreeMap::new();
    for s in totals
        .sources
        .iter()
        .filter(|s| labels.contains_key(&s.domain))
    {
        let slot = sources
            .entry((&s.domain, fold(&s.organization)))
            .or_default();
        slot.reports += s.reports;
        if s.last_end > slot.last_end {
            slot.last_end = s.last_end;
            slot.last_start = s.last_start;
        }
    }
    type SessionKey<'a> = (&'a str, String, &'static str, SessionResult);
    let mut sessions: BTreeMap<SessionKey, u64> = BTreeMap::new();
    for s in totals
        .sessions
        .iter()
        .filter(|s| labels.contains_key(&s.domain))
    {
        let key = (
            s.domain.as_str(),
            fold(&s.organization),
            s.policy_type.as_str(),
            s.result,
        );
        let slot = sessions.entry(key).or_default();
        *slot = slot.saturating_add(s.sessions);
    }

    let base = |domain: &str| -> String {
        let extra = labels.get(domain).cloned().unwrap_or_default();
        base_text(&base_labels(domain, Direction::Inbound, &extra))
    };
    let mut texts: BTreeMap<&str, String> = BTreeMap::new();
    let mut line = |name: &'static str, base: &str, own: &[(&str, &str)], value: String| {
        let out = texts.entry(name).or_default();
        let _ = write!(out, "{name}{{{base}");
        for (key, val) in own {
            let _ = write!(out, ",{key}=\"{}\"", escape(val));
        }
        let _ = writeln!(out, "}} {value}");
    };
    for ((domain, org), source) in &sources {
        let base = base(domain);
        let own = [("organization", org.as_str())];
        line(
            "dane_tlsrpt_reports_total",
            &base,
            &own,
            source.reports.to_string(),
        );
        line(
            "dane_tlsrpt_last_report_start_timestamp_seconds",
            &base,
            &own,
            source.last_start.to_string(),
        );
        line(
            "dane_tlsrpt_last_report_end_timestamp_seconds",
            &base,
            &own,
            source.last_end.to_string(),
        );
    }
    for ((domain, org, policy, result), count) in &sessions {
        let base = base(domain);
        match result {
            SessionResult::Successful => line(
                "dane_tlsrpt_successful_sessions_total",
                &base,
                &[("organization", org), ("policy_type", policy)],
                count.to_string(),
            ),
            failed => line(
                "dane_tlsrpt_failed_sessions_total",
                &base,
                &[
                    ("organization", org),
                    ("policy_type", policy),
                    ("result_type", failed.as_str()),
                ],
                count.to_string(),
            ),
        }
    }
    TLSRPT_METRICS
        .iter()
        .filter_map(|(name, kind, help)| {
            let series = texts.remove(name)?;
            Some((
                name.to_string(),
                format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{series}"),
            ))
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlsrpt::{PolicyType, ResultType, SessionTotal, SourceTotal};

    fn source(org: &str, first_seen: i64, end: i64) -> SourceTotal {
        SourceTotal {
            domain: "example.org".into(),
            organization: org.into(),
            reports: 1,
            first_seen,
            last_start: end - 86_400,
            last_end: end,
            last_received: end + 3600,
        }
    }

    #[test]
    fn organisations_past_the_limit_fold_into_other() {
        let totals = Totals {
            sessions: vec![
                SessionTotal {
                    domain: "example.org".into(),
                    organization: "B \"quoted\"".into(),
                    policy_type: PolicyType::Tlsa,
                    result: SessionResult::Failed(ResultType::TlsaInvalid),
                    sessions: 4,
                },
                SessionTotal {
                    domain: "example.org".into(),
                    organization: "C".into(),
                    policy_type: PolicyType::Tlsa,
                    result: SessionResult::Failed(ResultType::TlsaInvalid),
                    sessions: 3,
                },
                SessionTotal {
                    domain: "unwatched.example".into(),
                    organization: "A".into(),
                    policy_type: PolicyType::Sts,
                    result: SessionResult::Successful,
                    sessions: 9,
                },
            ],
            sources: vec![
                source("A", 1, 500),
                source("B \"quoted\"", 2, 300),
                source("C", 3, 400),
            ],
        };
        let labels = HashMap::from([(
            "example.org".to_string(),
            BTreeMap::from([("team".to_string(), "mail".to_string())]),
        )]);
        let families = tlsrpt_families(&totals, &labels, 1);
        let text: String = families.iter().map(|(_, t)| t.as_str()).collect();
        // A came first and keeps its name; B and C are "other", their failures summed, the
        // latest end (C's 400) kept.
        assert!(text.contains(
            "dane_tlsrpt_failed_sessions_total{domain=\"example.org\",direction=\"inbound\",team=\"mail\",organization=\"other\",policy_type=\"tlsa\",result_type=\"tlsa-invalid\"} 7\n"
        ), "{text}");
        assert!(text.contains("dane_tlsrpt_reports_total{domain=\"example.org\",direction=\"inbound\",team=\"mail\",organization=\"other\"} 2\n"));
        assert!(text.contains("organization=\"other\"} 400\n"));
        assert!(text.contains("organization=\"A\"} 1\n"));
        assert!(!text.contains("unwatched"));
        assert!(!text.contains("quoted"));
        assert!(text.contains("# TYPE dane_tlsrpt_reports_total counter\n"));
        let names: Vec<&str> = families.iter().map(|(n, _)| n.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        // Unlimited: B keeps its name, escaped.
        let text: String = tlsrpt_families(&totals, &labels, 10)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert!(text.contains("organization=\"B \\\"quoted\\\"\""));
    }
}
