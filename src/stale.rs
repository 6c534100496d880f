//! Since when each TLSA record has matched nothing: the state behind the `tlsa_record_stale`
//! warning, kept across probes.
//!
//! A single probe cannot tell a stale record from a moment's mismatch; only a record that matched
//! no endpoint for a grace period (`tlsa_stale_after`) is stale. `crate::store` owns one
//! [`StaleTracker`] and passes every new report through [`StaleTracker::observe`] before storing
//! it; the rule itself is the pure `crate::hygiene::stale_findings`. State is in memory only: a
//! restart starts the grace period again, which errs on the quiet side.

use std::collections::HashMap;

use crate::hygiene::{stale_findings, unmatched_everywhere, HygieneLimits};
use crate::report::DomainReport;
use crate::store::TargetKey;

/// Per target, per MX host: record (presentation form) -> first probe that saw it match nothing.
#[derive(Debug, Default)]
pub struct StaleTracker {
    seen: HashMap<TargetKey, HashMap<String, HashMap<String, i64>>>,
}

impl StaleTracker {
    /// Updates the first-unmatched times from `report` and adds its `tlsa_record_stale` warnings.
    /// A record that matched (or disappeared) starts over; a host without evaluated endpoints
    /// (the SMTP side failed) keeps its times untouched, since it said nothing new.
    pub fn observe(&mut self, key: &TargetKey, report: &mut DomainReport, limits: &HygieneLimits) {
        let hosts = self.seen.entry(key.clone()).or_default();
        hosts.retain(|mx, _| report.hosts.iter().any(|h| &h.name == mx));
        let mut findings = Vec::new();
        for host in &report.hosts {
            let evaluated = host.endpoints.iter().any(|e| e.evaluation.is_some());
            if !evaluated {
                continue;
            }
            let unmatched: Vec<String> = unmatched_everywhere(host)
                .iter()
                .map(ToString::to_string)
                .collect();
            let times = hosts.entry(host.name.clone()).or_default();
            times.retain(|record, _| unmatched.contains(record));
            for record in unmatched {
                times.entry(record).or_insert(report.checked_at);
            }
            findings.extend(stale_findings(host, times, report.checked_at, limits));
        }
        report.warnings.extend(findings);
    }

    /// Forgets every target not in `keep` (after a reload).
    pub fn retain(&mut self, keep: impl Fn(&TargetKey) -> bool) {
        self.seen.retain(|key, _| keep(key));
    }
}
