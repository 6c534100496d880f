//! Aggregates over every stored result, computed at scrape time: domains by verdict, domains by
//! failure reason, and per MX host the domains it serves and those failing there. With a list of
//! 100,000 recipient domains in the summary shape, these answer "how many would fail, why, and
//! which provider is it" in a few thousand series.
//!
//! The store keeps one [`DomainSummary`] per target beside its series (made when the report
//! arrives) and hands them to [`aggregate_families`] when a scrape begins; the families come out
//! as text, named and described in `table.rs` ([`AGGREGATE_METRICS`]), sorted in among the
//! exporter's own. Every aggregate carries `direction` and the targets' extra labels (a list's
//! shared `labels:` become one group), so no label value comes from the network except the MX
//! host names, which are capped at [`MAX_MX_HOSTS`] per scrape (the hosts serving the most
//! domains).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::encoder::push_escaped;
use super::table::AGGREGATE_METRICS;
use crate::core::{Direction, Reason, Verdict};
use crate::report::DomainReport;

/// Most MX hosts with aggregate series in one scrape; beyond, the hosts serving the fewest
/// domains are left out (their domains still count everywhere else).
pub const MAX_MX_HOSTS: usize = 10_000;

/// What one result adds to the aggregates.
#[derive(Clone, Debug, Default)]
pub struct DomainSummary {
    verdict: Option<Verdict>,
    /// The failure reasons, each once.
    reasons: Box<[Reason]>,
    /// The MX hosts of the domain, each once.
    hosts: Box<[Box<str>]>,
    /// Per entry of `hosts`: whether a failure names it.
    failing_at: Box<[bool]>,
}

impl DomainSummary {
    /// The summary of `report`.
    pub fn of(report: &DomainReport) -> Self {
        let mut reasons: Vec<Reason> = report.failures.iter().map(|f| f.reason).collect();
        reasons.sort_by_key(|r| r.as_str());
        reasons.dedup();
        let mut hosts: Vec<&str> = report.mx.hosts.iter().map(|h| h.name.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        let failing_at = hosts
            .iter()
            .map(|host| {
                report
                    .failures
                    .iter()
                    .any(|f| f.mx.as_deref() == Some(host))
            })
            .collect();
        Self {
            verdict: Some(report.verdict),
            reasons: reasons.into(),
            hosts: hosts.into_iter().map(Box::from).collect(),
            failing_at,
        }
    }
}

/// One stored result, as the aggregates see it.
pub struct Aggregated<'a> {
    /// Inbound or outbound.
    pub direction: Direction,
    /// The target's extra labels.
    pub labels: &'a BTreeMap<String, String>,
    /// What its last report said.
    pub summary: &'a DomainSummary,
}

#[derive(Default)]
struct Counts<'a> {
    /// Per group (index into `groups`): `direction="…"` and the extra labels, as text.
    groups: Vec<String>,
    verdicts: BTreeMap<(usize, &'static str), u64>,
    reasons: BTreeMap<(usize, &'static str), u64>,
    hosts: HashMap<HostKey<'a>, HostCounts>,
}

/// A group (index into `Counts::groups`) and an MX host.
type HostKey<'a> = (usize, &'a str);

/// Domains naming a host, and those failing there.
type HostCounts = (u64, u64);

/// The aggregate families over `results`, as (name, text) pairs with their HELP and TYPE lines,
/// for the exposition to sort in among the exporter's own. Empty when nothing is stored.
pub fn aggregate_families<'a>(
    results: impl IntoIterator<Item = Aggregated<'a>>,
) -> Vec<(String, String)> {
    let mut counts = Counts::default();
    let mut group_of: HashMap<(Direction, &BTreeMap<String, String>), usize> = HashMap::new();
    for item in results {
        let Some(verdict) = item.summary.verdict else {
            continue;
        };
        let group = *group_of
            .entry((item.direction, item.labels))
            .or_insert_with(|| {
                counts.groups.push(group_text(item.direction, item.labels));
                let group = counts.groups.len() - 1;
                // Every verdict of a group has a series, 0 when no domain has it (unknown too:
                // the exporter could not see, `crate::probe`).
                for other in Verdict::ALL.into_iter().chain([Verdict::Unknown]) {
                    counts.verdicts.insert((group, other.as_str()), 0);
                }
                group
            });
        *counts
            .verdicts
            .entry((group, verdict.as_str()))
            .or_default() += 1;
        for reason in item.summary.reasons.iter() {
            *counts.reasons.entry((group, reason.as_str())).or_default() += 1;
        }
        for (host, failing) in item
            .summary
            .hosts
            .iter()
            .zip(item.summary.failing_at.iter())
        {
            let entry = counts.hosts.entry((group, host)).or_default();
            entry.0 += 1;
            entry.1 += u64::from(*failing);
        }
    }
    if counts.groups.is_empty() {
        return Vec::new();
    }
    render(counts)
}

fn render(counts: Counts<'_>) -> Vec<(String, String)> {
    let mut hosts: Vec<(HostKey<'_>, HostCounts)> = counts.hosts.into_iter().collect();
    if hosts.len() > MAX_MX_HOSTS {
        hosts.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
        hosts.truncate(MAX_MX_HOSTS);
    }
    hosts.sort_by(|a, b| a.0.cmp(&b.0));
    let group = |index: usize| counts.groups.get(index).map_or("", String::as_str);
    let mut families = Vec::with_capacity(AGGREGATE_METRICS.len());
    for (name, help) in AGGREGATE_METRICS {
        let mut text = String::new();
        let _ = write!(text, "# HELP {name} ");
        push_escaped(&mut text, help, false);
        let _ = writeln!(text, "\n# TYPE {name} gauge");
        let head = text.len();
        match *name {
            "dane_domains" => {
                for ((g, verdict), n) in &counts.verdicts {
                    line(&mut text, name, group(*g), "verdict", verdict, *n);
                }
            }
            "dane_domains_failing" => {
                for ((g, reason), n) in &counts.reasons {
                    line(&mut text, name, group(*g), "reason", reason, *n);
                }
            }
            "dane_mx_host_domains" => {
                for ((g, host), (n, _)) in &hosts {
                    line(&mut text, name, group(*g), "mx", host, *n);
                }
            }
            "dane_mx_host_failing_domains" => {
                for ((g, host), (_, failing)) in &hosts {
                    line(&mut text, name, group(*g), "mx", host, *failing);
                }
            }
            _ => continue,
        }
        // A family without series is left out, as the probe families are.
        if text.len() > head {
            families.push((name.to_string(), text));
        }
    }
    families
}

/// `direction="…",label="…"…` of a group.
fn group_text(direction: Direction, labels: &BTreeMap<String, String>) -> String {
    let mut text = format!("direction=\"{}\"", direction.as_str());
    for (key, value) in labels {
        let _ = write!(text, ",{key}=\"");
        push_escaped(&mut text, value, true);
        text.push('"');
    }
    text
}

fn line(out: &mut String, name: &str, group: &str, key: &str, value: &str, count: u64) {
    let _ = write!(out, "{name}{{{group},{key}=\"");
    push_escaped(out, value, true);
    let _ = writeln!(out, "\"}} {count}");
}
