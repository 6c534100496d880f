//! What reports add up to, pure: the session counts each report contributes to the counters
//! ([`contributions`]), and the senders' recent view of one domain, per receiving MX host
//! ([`SendersView`]), which `check`, the probe's correlation and the metrics read.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::model::{PolicyType, Report, ResultType};
use crate::core::UnixSeconds;

/// How long after a report's period ends it still counts as "the latest reports": senders
/// report each UTC day within hours of its end, so two days hold the last one or two.
pub const RECENT_SECONDS: UnixSeconds = 2 * 86_400;

/// What a counted session ended as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionResult {
    /// `total-successful-session-count`.
    Successful,
    /// A failure detail's `result-type`.
    Failed(ResultType),
    /// Failures the summary counts beyond what its failure details explain.
    FailedUnspecified,
}

impl SessionResult {
    /// Stable text (the database's, and the `result_type` label of failures).
    pub fn as_str(self) -> &'static str {
        match self {
            SessionResult::Successful => "successful",
            SessionResult::Failed(t) => t.as_str(),
            SessionResult::FailedUnspecified => "unspecified",
        }
    }

    /// The result `text` names ([`SessionResult::as_str`]'s inverse; unknown is `other`).
    pub fn parse(text: &str) -> Self {
        match text {
            "successful" => SessionResult::Successful,
            "unspecified" => SessionResult::FailedUnspecified,
            other => SessionResult::Failed(ResultType::parse(other)),
        }
    }
}

/// Sessions one report adds for one policy domain, type and result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// The policy domain.
    pub domain: String,
    /// The policy type.
    pub policy_type: PolicyType,
    /// What the sessions ended as.
    pub result: SessionResult,
    /// How many.
    pub sessions: u64,
}

/// The sessions `report` adds, merged per domain, policy type and result; zero counts left out.
pub fn contributions(report: &Report) -> Vec<Contribution> {
    let mut sums: BTreeMap<(String, PolicyType, SessionResult), u64> = BTreeMap::new();
    let mut add = |domain: &str, policy_type, result, n: u64| {
        if n > 0 {
            let slot = sums
                .entry((domain.to_string(), policy_type, result))
                .or_default();
            *slot = slot.saturating_add(n);
        }
    };
    for policy in &report.policies {
        let (domain, kind) = (policy.policy_domain.as_str(), policy.policy_type);
        add(
            domain,
            kind,
            SessionResult::Successful,
            policy.successful_sessions,
        );
        let mut detailed = 0u64;
        for failure in &policy.failures {
            detailed = detailed.saturating_add(failure.failed_sessions);
            add(
                domain,
                kind,
                SessionResult::Failed(failure.result_type),
                failure.failed_sessions,
            );
        }
        add(
            domain,
            kind,
            SessionResult::FailedUnspecified,
            policy.failed_sessions.saturating_sub(detailed),
        );
    }
    sums.into_iter()
        .map(|((domain, policy_type, result), sessions)| Contribution {
            domain,
            policy_type,
            result,
            sessions,
        })
        .collect()
}

/// The policy domains `report` is about, each once.
pub fn report_domains(report: &Report) -> BTreeSet<String> {
    report
        .policies
        .iter()
        .map(|p| p.policy_domain.clone())
        .collect()
}

/// The senders' recent view of one domain: the latest reports added up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SendersView {
    /// Reports counted.
    pub reports: usize,
    /// The organisations that sent them, sorted.
    pub organizations: Vec<String>,
    /// Start of the earliest period counted.
    pub period_start: UnixSeconds,
    /// End of the latest period counted.
    pub period_end: UnixSeconds,
    /// Successful sessions under a `tlsa` policy (DANE authenticated by the sender).
    pub dane_successful_sessions: u64,
    /// Successful sessions under any policy.
    pub successful_sessions: u64,
    /// Failed sessions under any policy (the summaries').
    pub failed_sessions: u64,
    /// MX hosts `tlsa` policies named (`mx-host`), lower case.
    pub dane_mx_hosts: Vec<String>,
    /// Failures per receiving MX host (those without a host name under `""`), sorted by host.
    pub hosts: Vec<HostFailures>,
}

/// The failures senders reported on one receiving MX host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostFailures {
    /// `receiving-mx-hostname`, normalised; empty when the senders named none.
    pub mx: String,
    /// Per policy and result type, sorted.
    pub failures: Vec<FailureCount>,
}

/// Failed sessions of one policy type and result type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureCount {
    /// The policy the sender applied.
    pub policy_type: PolicyType,
    /// What failed.
    pub result_type: ResultType,
    /// Failed sessions.
    pub sessions: u64,
    /// The organisations reporting them, sorted.
    pub organizations: Vec<String>,
}

impl std::fmt::Display for FailureCount {
    /// "4 tlsa-invalid under tlsa (Sender Two Corporation)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} under {} ({})",
            self.sessions,
            self.result_type.as_str(),
            self.policy_type.as_str(),
            self.organizations.join(", ")
        )
    }
}

impl SendersView {
    /// The view of `domain` from `reports` (the caller picks the recent ones).
    pub fn of<'a>(domain: &str, reports: impl IntoIterator<Item = &'a Report>) -> Self {
        let mut view = SendersView::default();
        let mut orgs = BTreeSet::new();
        let mut dane_mx = BTreeSet::new();
        type Key = (String, PolicyType, ResultType);
        let mut failures: BTreeMap<Key, (u64, BTreeSet<String>)> = BTreeMap::new();
        for report in reports {
            let policies: Vec<_> = report
                .policies
                .iter()
                .filter(|p| p.policy_domain == domain)
                .collect();
            if policies.is_empty() {
                continue;
            }
            view.period_start = match view.reports {
                0 => report.start,
                _ => view.period_start.min(report.start),
            };
            view.period_end = view.period_end.max(report.end);
            view.reports += 1;
            orgs.insert(report.organization.clone());
            for policy in policies {
                view.successful_sessions += policy.successful_sessions;
                view.failed_sessions += policy.failed_sessions;
                if policy.policy_type == PolicyType::Tlsa {
                    view.dane_successful_sessions += policy.successful_sessions;
                    dane_mx.extend(policy.mx_hosts.iter().cloned());
                }
                for failure in &policy.failures {
                    let host = failure.receiving_mx_hostname.clone().unwrap_or_default();
                    let slot = failures
                        .entry((host, policy.policy_type, failure.result_type))
                        .or_default();
                    slot.0 = slot.0.saturating_add(failure.failed_sessions);
                    slot.1.insert(report.organization.clone());
                }
            }
        }
        view.organizations = orgs.into_iter().collect();
        view.dane_mx_hosts = dane_mx.into_iter().collect();
        for ((mx, policy_type, result_type), (sessions, orgs)) in failures {
            let count = FailureCount {
                policy_type,
                result_type,
                sessions,
                organizations: orgs.into_iter().collect(),
            };
            match view.hosts.last_mut() {
                Some(last) if last.mx == mx => last.failures.push(count),
                _ => view.hosts.push(HostFailures {
                    mx,
                    failures: vec![count],
                }),
            }
        }
        view
    }

    /// The failures reported on `mx` (a normalised host name).
    pub fn failures_at(&self, mx: &str) -> &[FailureCount] {
        self.hosts
            .iter()
            .find(|h| h.mx == mx)
            .map_or(&[], |h| &h.failures)
    }
}

/// The counters of every report received so far (the database's running sums), for the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Sessions per domain, organisation, policy type and result.
    pub sessions: Vec<SessionTotal>,
    /// Reports per domain and organisation, with the latest one's period.
    pub sources: Vec<SourceTotal>,
}

/// Sessions reported for one domain, organisation, policy type and result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionTotal {
    /// Policy domain.
    pub domain: String,
    /// Reporting organisation.
    pub organization: String,
    /// Policy type.
    pub policy_type: PolicyType,
    /// What the sessions ended as.
    pub result: SessionResult,
    /// Sessions so far.
    pub sessions: u64,
}

/// One organisation's reports about one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceTotal {
    /// Policy domain.
    pub domain: String,
    /// Reporting organisation.
    pub organization: String,
    /// Reports so far.
    pub reports: u64,
    /// When its first report about any domain arrived (the order organisations keep their own
    /// label in before the rest fold into `other`).
    pub first_seen: UnixSeconds,
    /// Period of the report with the latest end.
    pub last_start: UnixSeconds,
    /// End of that period.
    pub last_end: UnixSeconds,
    /// When the latest report arrived.
    pub last_received: UnixSeconds,
}
