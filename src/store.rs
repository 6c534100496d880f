//! The latest report of every configured target: written by the scheduler, read at scrape time.
//!
//! `crate::scheduler` puts a [`DomainReport`] here after each probe; `/metrics` renders what is
//! here through `crate::metrics` and never probes. The set of configured targets is replaced on
//! reload, and results of targets no longer configured are dropped at once, so their series
//! vanish from the next scrape, and a late result of a removed target is not let back in.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use prometheus::proto::MetricFamily;

use crate::config::Target;
use crate::metrics::{exposition, probe_families, LabelledReport, TargetSeries};
use crate::report::{Direction, DomainReport};

/// Identifies a target: one domain in one direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey {
    /// Inbound or outbound.
    pub direction: Direction,
    /// The domain, normalised.
    pub domain: String,
}

impl TargetKey {
    /// The key of `target`.
    pub fn of(target: &Target) -> Self {
        Self {
            direction: target.direction,
            domain: target.domain.clone(),
        }
    }
}

/// One stored result.
#[derive(Clone, Debug)]
struct Stored {
    labels: BTreeMap<String, String>,
    report: Arc<DomainReport>,
    /// The report's series, rendered when it was stored (a scrape copies them).
    series: Arc<TargetSeries>,
}

#[derive(Default)]
struct Inner {
    configured: HashSet<TargetKey>,
    results: BTreeMap<TargetKey, Stored>,
    /// Since when TLSA records matched nothing (`tlsa_record_stale`).
    stale: crate::stale::StaleTracker,
}

/// Latest results, shared between the scheduler and the HTTP side.
#[derive(Default)]
pub struct Store {
    inner: RwLock<Inner>,
}

impl Store {
    /// An empty store with no configured targets.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A writer that panicked left whole entries only: the data is still consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `targets` the configured set and drops results of every other target.
    pub fn set_targets(&self, targets: &[Target]) {
        let mut inner = self.write();
        inner.configured = targets.iter().map(TargetKey::of).collect();
        let Inner {
            configured,
            results,
            stale,
        } = &mut *inner;
        results.retain(|key, _| configured.contains(key));
        stale.retain(|key| configured.contains(key));
        // Labels may have changed on reload: the stored series carry the new ones at once.
        for target in targets {
            if let Some(stored) = results.get_mut(&TargetKey::of(target)) {
                if stored.labels != target.labels {
                    stored.labels = target.labels.clone();
                    stored.series = Arc::new(stored.series.relabelled(
                        &target.domain,
                        target.direction,
                        &target.labels,
                    ));
                }
            }
        }
    }

    /// Stores the latest report of `target`, unless the target is no longer configured. Adds its
    /// `tlsa_record_stale` warnings and its MTA-STS round comparison first (see `crate::stale`,
    /// `crate::mta_sts::judge::carry_over`).
    pub fn put(&self, target: &Target, mut report: DomainReport) {
        let key = TargetKey::of(target);
        let mut inner = self.write();
        if !inner.configured.contains(&key) {
            return;
        }
        // MTA-STS needs the previous round to see a policy change without an id change.
        let previous = inner
            .results
            .get(&key)
            .and_then(|stored| stored.report.mta_sts.as_ref());
        if let (Some(previous), Some(current)) = (previous, report.mta_sts.as_mut()) {
            crate::mta_sts::judge::carry_over(previous, current, report.checked_at);
        }
        inner
            .stale
            .observe(&key, &mut report, &target.operations.hygiene);
        let series = TargetSeries::of(&LabelledReport {
            direction: key.direction,
            extra_labels: &target.labels,
            report: &report,
        });
        inner.results.insert(
            key,
            Stored {
                labels: target.labels.clone(),
                report: Arc::new(report),
                series: Arc::new(series),
            },
        );
    }

    /// The latest report of one target.
    pub fn get(&self, key: &TargetKey) -> Option<Arc<DomainReport>> {
        self.read().results.get(key).map(|s| Arc::clone(&s.report))
    }

    /// True once every configured target has been probed at least once.
    pub fn complete(&self) -> bool {
        let inner = self.read();
        inner
            .configured
            .iter()
            .all(|key| inner.results.contains_key(key))
    }

    /// Number of stored results.
    pub fn len(&self) -> usize {
        self.read().results.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The probe metric families of every stored result.
    pub fn families(&self) -> Vec<MetricFamily> {
        probe_families(&self.read().labelled())
    }

    /// The text exposition of every stored result's series with the exporter's own families
    /// (`own`: name and text), as [`exposition`] writes it. The lock is held only to take the
    /// series, not while writing megabytes of text.
    pub fn exposition(&self, own: Vec<(String, String)>) -> String {
        let series: Vec<Arc<TargetSeries>> = self
            .read()
            .results
            .values()
            .map(|stored| Arc::clone(&stored.series))
            .collect();
        exposition(own, &series.iter().map(|s| s.as_ref()).collect::<Vec<_>>())
    }
}

impl Inner {
    fn labelled(&self) -> Vec<LabelledReport<'_>> {
        self.results
            .iter()
            .map(|(key, stored)| LabelledReport {
                direction: key.direction,
                extra_labels: &stored.labels,
                report: &stored.report,
            })
            .collect()
    }
}
