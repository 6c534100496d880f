//! What the exporter learns across probe rounds, per target: since when each TLSA record has
//! matched nothing (the `tlsa_record_stale` clock), since when each record has been published (the
//! "safe to deploy" clock of local certificates), what the previous round's MTA-STS section was
//! (a policy that changed while its id did not), and since when the verdict has been what it is;
//! beside them, per inbound domain, what senders' latest TLS-RPT reports saw.
//!
//! A single probe cannot tell a stale record from a moment's mismatch, nor how long a record has
//! been out; only rounds can. The probe (`crate::probe`) reads and updates a [`History`] while it
//! assembles a report and calls [`History::end_round`] once it is judged; the rules themselves
//! stay pure in the checks (`crate::checks::authoritative::stale_findings`,
//! `crate::checks::local_certs::judge`, `crate::checks::mta_sts::carry_over`,
//! `crate::tlsrpt::correlate`).
//!
//! The history lives in memory, so a probe and a scrape never wait for a disk. What must outlive
//! the process goes through one narrow door, the [`Journal`]: the exporter's is the database
//! (`crate::database`), which gets each target's [`TargetState`] at the end of its round and hands
//! every state back at the next start ([`History::restore`]). `dane_exporter check` reads the
//! exporter's states too, and journals nothing; `/probe` starts from an empty history.

mod state;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

pub use state::{Publication, TargetState, VerdictChange, VerdictState};

use crate::checks::authoritative::{stale_findings, unmatched_everywhere, HygieneLimits};
use crate::checks::local_certs::Seen;
use crate::checks::mta_sts::{Carried, MtaStsReport};
use crate::core::{
    Finding, HostDane, MxReport, Reason, RrsetOutcome, TargetKey, UnixSeconds, Verdict,
};
use crate::tlsrpt::SendersView;

/// Where a history's changes go to outlive the process. Calls must return at once (the
/// database queues them for its own thread).
pub trait Journal: Send + Sync {
    /// `key`'s state after a round; `change` when the round changed its verdict or reasons.
    fn round(&self, key: &TargetKey, state: &TargetState, change: Option<&VerdictChange>);
    /// `key` is no longer configured: its state can go.
    fn forget(&self, key: &TargetKey);
}

/// The history of every target.
#[derive(Default)]
pub struct History {
    targets: Mutex<HashMap<TargetKey, Entry>>,
    /// Per inbound domain: the senders' latest reports (replaced whole when reports arrive).
    senders: RwLock<HashMap<String, Arc<SendersView>>>,
    journal: OnceLock<Arc<dyn Journal>>,
}

/// One target's state and what its current round changed.
#[derive(Default)]
struct Entry {
    state: TargetState,
    change: Option<VerdictChange>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("targets", &self.lock().len())
            .field("journal", &self.journal.get().is_some())
            .finish()
    }
}

impl History {
    /// An empty history that journals nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A history holding `states` (as the database hands them back).
    pub fn restore(states: impl IntoIterator<Item = (TargetKey, TargetState)>) -> Self {
        let history = Self::new();
        history
            .lock()
            .extend(states.into_iter().map(|(key, state)| {
                (
                    key,
                    Entry {
                        state,
                        change: None,
                    },
                )
            }));
        history
    }

    /// Sends every round's state to `journal` from now on (the first journal set stays).
    pub fn set_journal(&self, journal: Arc<dyn Journal>) {
        let _ = self.journal.set(journal);
    }

    /// Number of targets with a state.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no target has a state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TargetKey, Entry>> {
        // A panic elsewhere while holding the lock leaves whole entries only.
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<T>(&self, key: &TargetKey, f: impl FnOnce(&mut Entry) -> T) -> T {
        f(self.lock().entry(key.clone()).or_default())
    }

    /// Forgets every target `keep` refuses (after a reload), in the journal too.
    pub fn retain(&self, keep: impl Fn(&TargetKey) -> bool) {
        let mut gone = Vec::new();
        self.lock().retain(|key, _| {
            let kept = keep(key);
            if !kept {
                gone.push(key.clone());
            }
            kept
        });
        if let Some(journal) = self.journal.get() {
            gone.iter().for_each(|key| journal.forget(key));
        }
    }

    /// A copy of `key`'s state (tests and `check` read it).
    pub fn state(&self, key: &TargetKey) -> Option<TargetState> {
        self.lock().get(key).map(|e| e.state.clone())
    }

    /// Hands `key`'s state after this round to the journal, with the verdict change the round
    /// made, if any. The probe calls it once per round, after judging.
    pub fn end_round(&self, key: &TargetKey) {
        let Some(journal) = self.journal.get() else {
            self.with(key, |e| e.change = None);
            return;
        };
        let (state, change) = self.with(key, |e| (e.state.clone(), e.change.take()));
        journal.round(key, &state, change.as_ref());
    }

    /// The MTA-STS section of the target's previous round, as the next round compares it.
    pub fn previous_mta_sts(&self, key: &TargetKey) -> Option<Carried> {
        self.lock().get(key)?.state.mta_sts.clone()
    }

    /// Keeps this round's MTA-STS section for the next round.
    pub fn remember_mta_sts(&self, key: &TargetKey, report: &MtaStsReport) {
        self.with(key, |e| e.state.mta_sts = Some(report.carried()));
    }

    /// Records this round's verdict and failure reasons at `now` and returns since when the
    /// verdict (and, separately, the reasons) have held. A change is kept for [`Self::end_round`].
    pub fn verdict(
        &self,
        key: &TargetKey,
        verdict: Verdict,
        failures: &[Finding],
        now: UnixSeconds,
    ) -> VerdictState {
        let mut reasons: Vec<Reason> = failures.iter().map(|f| f.reason).collect();
        reasons.sort();
        reasons.dedup();
        self.with(key, |entry| {
            let (next, change) =
                state::next_verdict(entry.state.verdict.as_ref(), verdict, reasons, now);
            entry.state.verdict = Some(next.clone());
            if change.is_some() {
                entry.change = change;
            }
            next
        })
    }

    /// Updates the first-unmatched times from `mx` and returns its `tlsa_record_stale` warnings.
    /// A record that matched (or disappeared) starts over; a host without evaluated endpoints
    /// (the SMTP side failed) keeps its times untouched, since it said nothing new.
    pub fn stale_findings(
        &self,
        key: &TargetKey,
        mx: &MxReport,
        limits: &HygieneLimits,
    ) -> Vec<Finding> {
        self.with(key, |entry| {
            let hosts = &mut entry.state.unmatched;
            // Only an MX answer says a host is gone: a failed or unfinished lookup has no hosts,
            // and forgetting them then would restart every clock after each DNS failure.
            if mx_answered(mx) {
                hosts.retain(|name, _| mx.hosts.iter().any(|h| &h.name == name));
            }
            let mut findings = Vec::new();
            for host in &mx.hosts {
                if !host.endpoints.iter().any(|e| e.evaluation.is_some()) {
                    continue;
                }
                let unmatched: Vec<String> = unmatched_everywhere(host)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let times = hosts.entry(host.name.clone()).or_default();
                times.retain(|record, _| unmatched.contains(record));
                for record in unmatched {
                    times.entry(record).or_insert(mx.checked_at);
                }
                findings.extend(stale_findings(host, times, mx.checked_at, limits));
            }
            // No clock running is the same as no entry: at 100,000 targets, empty maps kept for
            // every host that matches would be much of what the history holds.
            hosts.retain(|_, times| !times.is_empty());
            findings
        })
    }

    /// Records which TLSA records `mx` saw published. `zone_consistent` says, by TLSA owner name,
    /// whether the zone's nameservers agree (`None` when they were not asked).
    ///
    /// Hosts whose TLSA lookup did not give a secure RRset this round keep their history (a
    /// transient failure must not restart the clock); records gone from a secure RRset are
    /// forgotten (withdrawn, so their clock restarts if they come back); MX hosts gone from a
    /// successful MX lookup are forgotten. "First seen" is when a probe first got the record in a
    /// secure TLSA answer while every authoritative nameserver of its zone agreed: never earlier
    /// than its publication everywhere, so the wait it gives is on the safe side. The TTL is the
    /// largest one answered since the round before the record appeared (a caching resolver
    /// answers with a TTL counting down, and the RRset cached before the change is what has to
    /// expire).
    pub fn observe_publications(
        &self,
        key: &TargetKey,
        mx: &MxReport,
        zone_consistent: &dyn Fn(&str) -> Option<bool>,
    ) {
        self.with(key, |entry| {
            let hosts = &mut entry.state.published;
            if mx_answered(mx) {
                hosts.retain(|name, _| mx.hosts.iter().any(|h| &h.name == name));
            }
            for host in &mx.hosts {
                if host.dane != HostDane::Applies {
                    continue;
                }
                let in_force = host.tlsa_lookup_in_force();
                let ttl = in_force.and_then(|l| l.ttl);
                // While the TLSA zone's nameservers disagree, a resolver may still get the old
                // RRset: a record that appears now is not published everywhere, so its clock does
                // not start.
                let lagging = in_force.and_then(|l| zone_consistent(&l.name)) == Some(false);
                let state = hosts.entry(host.name.clone()).or_default();
                state.observe(host, ttl, lagging, mx.checked_at);
            }
        })
    }

    /// When `record` (presentation text) was first seen published at MX host `mx`.
    pub fn published(&self, key: &TargetKey, mx: &str, record: &str) -> Option<Seen> {
        self.lock()
            .get(key)?
            .state
            .published
            .get(mx)?
            .records
            .get(record)
            .copied()
    }

    /// Replaces the senders' views of every domain (the database recomputes them when reports
    /// arrive).
    pub fn set_senders(&self, views: HashMap<String, Arc<SendersView>>) {
        *self.senders.write().unwrap_or_else(|e| e.into_inner()) = views;
    }

    /// What senders' latest TLS-RPT reports saw of `domain`, if any arrived.
    pub fn senders(&self, domain: &str) -> Option<Arc<SendersView>> {
        self.senders
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(domain)
            .cloned()
    }
}

/// True when the MX lookup got an answer (records, no data, or no such name): only then does a
/// host missing from `mx` mean it left the MX RRset.
fn mx_answered(mx: &MxReport) -> bool {
    mx.mx_lookup.error.is_none()
        && !matches!(
            mx.mx_lookup.outcome,
            RrsetOutcome::Failed | RrsetOutcome::Unfinished
        )
}
