//! The latest results of every configured target: written by the scheduler, read at scrape time.
//!
//! `crate::scheduler` puts a judged [`DomainReport`] here after each probe; it is turned into its
//! series at once (`crate::metrics::TargetSeries`), and `/metrics` copies those and never probes.
//! The report itself is not kept (what the next round compares with is `crate::history`'s): at
//! 10,000 domains the reports were the largest thing the exporter held (docs/performance.md).
//! The set of configured targets is replaced on reload, and results of targets no longer
//! configured are dropped at once, so their series vanish from the next scrape, and a late result
//! of a removed target is not let back in.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::core::TargetKey;
use crate::metrics::{ExpositionChunks, LabelledReport, TargetSeries};
use crate::report::DomainReport;
use crate::target::Target;

/// One stored result.
#[derive(Clone, Debug)]
struct Stored {
    labels: BTreeMap<String, String>,
    /// The report's series, rendered when it was stored (a scrape copies them).
    series: Arc<TargetSeries>,
}

#[derive(Default)]
struct Inner {
    configured: HashSet<TargetKey>,
    results: BTreeMap<TargetKey, Stored>,
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
        inner.configured = targets.iter().map(Target::key).collect();
        let Inner {
            configured,
            results,
        } = &mut *inner;
        results.retain(|key, _| configured.contains(key));
        // Labels may have changed on reload: the stored series carry the new ones at once.
        for target in targets {
            if let Some(stored) = results.get_mut(&target.key()) {
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

    /// Stores the latest report of `target` as its series, unless the target is no longer
    /// configured.
    pub fn put(&self, target: &Target, report: &DomainReport) {
        let key = target.key();
        let series = TargetSeries::of(&LabelledReport {
            direction: key.direction,
            extra_labels: &target.labels,
            report,
        });
        let mut inner = self.write();
        if !inner.configured.contains(&key) {
            return;
        }
        inner.results.insert(
            key,
            Stored {
                labels: target.labels.clone(),
                series: Arc::new(series),
            },
        );
    }

    /// True when a result of `key` is stored.
    pub fn has_result(&self, key: &TargetKey) -> bool {
        self.read().results.contains_key(key)
    }

    /// True once every configured target has been probed at least once.
    pub fn complete(&self) -> bool {
        let inner = self.read();
        inner
            .configured
            .iter()
            .all(|key| inner.results.contains_key(key))
    }

    /// Targets with a result, and targets configured.
    pub fn progress(&self) -> (usize, usize) {
        let inner = self.read();
        let probed = inner
            .configured
            .iter()
            .filter(|key| inner.results.contains_key(key))
            .count();
        (probed, inner.configured.len())
    }

    /// Number of stored results.
    pub fn len(&self) -> usize {
        self.read().results.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text exposition of every stored result's series with the exporter's own families
    /// (`own`: name and text), in chunks of about `chunk_bytes` ([`ExpositionChunks`]). The lock
    /// is held only to take the series, not while writing megabytes of text.
    pub fn exposition(
        &self,
        own: Vec<(String, String)>,
        chunk_bytes: usize,
    ) -> ExpositionChunks<Arc<TargetSeries>> {
        let series: Vec<Arc<TargetSeries>> = self
            .read()
            .results
            .values()
            .map(|stored| Arc::clone(&stored.series))
            .collect();
        ExpositionChunks::new(own, series, chunk_bytes)
    }
}
