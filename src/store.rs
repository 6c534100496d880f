//! The latest results of every configured target: written by the scheduler, read at scrape time.
//!
//! `crate::scheduler` puts a judged [`DomainReport`] here after each probe; it is turned into its
//! series at once (`crate::metrics::TargetSeries`, in the target's shape) and into what it adds
//! to the aggregates (`crate::metrics::DomainSummary`), and `/metrics` copies those and never
//! probes.
//! The report itself is not kept (what the next round compares with is `crate::history`'s): at
//! 10,000 domains the reports were the largest thing the exporter held (docs/performance.md).
//! What the status page needs is: a small [`StatusRow`] per target, and the human report and JSON
//! of the latest probe, rendered once when stored and kept gzip-compressed ([`StatusDetail`]).
//! The set of configured targets is replaced on reload, and results of targets no longer
//! configured are dropped at once, so their series vanish from the next scrape, and a late result
//! of a removed target is not let back in.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::core::{Direction, TargetKey, UnixSeconds, Verdict};
use crate::metrics::{
    aggregate_families, Aggregated, DomainSummary, ExpositionChunks, LabelledReport, TargetSeries,
};
use crate::report::DomainReport;
use crate::target::{MetricsShape, Target};

/// One stored result.
#[derive(Clone, Debug)]
struct Stored {
    labels: Arc<BTreeMap<String, String>>,
    /// The report's series, rendered when it was stored (a scrape copies them).
    series: Arc<TargetSeries>,
    /// What the report adds to the aggregates (`crate::metrics::aggregate_families`).
    summary: DomainSummary,
    /// What the status page lists.
    row: Arc<StatusRow>,
    /// The human report and the JSON, gzip-compressed (a few KB per target); not kept for a
    /// passing target of the summary shape ([`keeps_detail`]).
    detail: Option<Arc<Compressed>>,
}

/// The latest result of one target, as the status page lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusRow {
    /// Inbound or outbound.
    pub direction: Direction,
    /// The domain, normalised.
    pub domain: String,
    /// The verdict of the latest probe.
    pub verdict: Verdict,
    /// Every MX host has DANE and authenticates.
    pub protected: bool,
    /// The failure reasons, each once, in report order.
    pub failures: Vec<&'static str>,
    /// The warning reasons, each once, in report order.
    pub warnings: Vec<&'static str>,
    /// When the probe started.
    pub checked_at: UnixSeconds,
    /// The earliest divergence, when known.
    pub divergence: Option<UnixSeconds>,
    /// Seconds the probe took.
    pub duration_seconds: f64,
    /// Since when the verdict has held (the history's clock, kept across restarts).
    pub since: Option<UnixSeconds>,
    /// Failed sessions senders' latest TLS-RPT reports counted for the domain (inbound, when
    /// reports arrived).
    pub senders_failed: Option<u64>,
}

impl StatusRow {
    fn of(report: &DomainReport, direction: Direction) -> Self {
        fn reasons(findings: &[crate::core::Finding]) -> Vec<&'static str> {
            let mut out: Vec<&'static str> = Vec::new();
            for f in findings {
                if !out.contains(&f.reason.as_str()) {
                    out.push(f.reason.as_str());
                }
            }
            out
        }
        StatusRow {
            direction,
            domain: report.domain().to_string(),
            verdict: report.verdict,
            protected: report.protected,
            // An unknown verdict's reasons (the exporter could not see) stand where the
            // failures would.
            failures: reasons(if report.unknown.is_empty() {
                &report.failures
            } else {
                &report.unknown
            }),
            warnings: reasons(&report.warnings),
            checked_at: report.checked_at(),
            divergence: report.divergence,
            duration_seconds: report.duration_seconds,
            since: report.verdict_since.as_ref().map(|v| v.since),
            senders_failed: report.senders.as_ref().map(|v| v.failed_sessions),
        }
    }
}

/// A configured target on the status page: probed (its latest row) or not yet.
#[derive(Clone, Debug)]
pub enum StatusEntry {
    /// Configured, no probe finished yet.
    Pending(TargetKey),
    /// The latest result.
    Probed(Arc<StatusRow>),
}

/// The latest probe of one target in full: what `dane_exporter check` prints, and its JSON.
#[derive(Clone, Debug)]
pub struct StatusDetail {
    /// The row the status page lists.
    pub row: Arc<StatusRow>,
    /// The human report (`crate::text::render`).
    pub text: String,
    /// The report as JSON, as `check --json` prints it.
    pub json: String,
}

/// The rendered report and JSON, compressed together.
#[derive(Debug)]
struct Compressed {
    gzip: Vec<u8>,
    /// Byte length of the text part inside the decompressed data.
    text_len: usize,
}

impl Compressed {
    fn of(text: &str, json: &str) -> Self {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(text.as_bytes());
        let _ = encoder.write_all(json.as_bytes());
        Compressed {
            gzip: encoder.finish().unwrap_or_default(),
            text_len: text.len(),
        }
    }

    fn expand(&self) -> Option<(String, String)> {
        let mut all = String::new();
        GzDecoder::new(self.gzip.as_slice())
            .read_to_string(&mut all)
            .ok()?;
        let json = all.split_off(self.text_len.min(all.len()));
        Some((all, json))
    }
}

/// Whether the full report of `target`'s latest probe is kept for the status page. A list of
/// 100,000 domains in the summary shape keeps it only for the domains that do not pass: those
/// are the ones somebody opens, and a few KB each for all of them would be most of the
/// exporter's memory.
fn keeps_detail(target: &Target, report: &DomainReport) -> bool {
    target.metrics == MetricsShape::Full || report.verdict != Verdict::Pass
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
                    stored.labels = Arc::clone(&target.labels);
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
        let series = TargetSeries::of_shape(
            &LabelledReport {
                direction: key.direction,
                extra_labels: &target.labels,
                report,
            },
            target.metrics,
        );
        let summary = DomainSummary::of(report);
        let row = StatusRow::of(report, key.direction);
        let detail = keeps_detail(target, report).then(|| {
            let json = crate::report::to_json(report);
            Arc::new(Compressed::of(&crate::text::render(report), &json))
        });
        let mut inner = self.write();
        if !inner.configured.contains(&key) {
            return;
        }
        inner.results.insert(
            key,
            Stored {
                labels: Arc::clone(&target.labels),
                series: Arc::new(series),
                summary,
                row: Arc::new(row),
                detail,
            },
        );
    }

    /// Every configured target, probed or pending, by direction then domain.
    pub fn status(&self) -> Vec<StatusEntry> {
        let inner = self.read();
        let mut keys: Vec<&TargetKey> = inner.configured.iter().collect();
        keys.sort();
        keys.into_iter()
            .map(|key| match inner.results.get(key) {
                Some(stored) => StatusEntry::Probed(Arc::clone(&stored.row)),
                None => StatusEntry::Pending(key.clone()),
            })
            .collect()
    }

    /// The latest probe of `key` in full, when there is one and it was kept.
    pub fn detail(&self, key: &TargetKey) -> Option<StatusDetail> {
        let (row, detail) = {
            let inner = self.read();
            let stored = inner.results.get(key)?;
            (Arc::clone(&stored.row), Arc::clone(stored.detail.as_ref()?))
        };
        let (text, json) = detail.expand()?;
        Some(StatusDetail { row, text, json })
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
    /// (`own`: name and text) and the aggregates over the results, in chunks of about
    /// `chunk_bytes` ([`ExpositionChunks`]). The lock is held only to take the series and count
    /// the aggregates, not while writing megabytes of text.
    pub fn exposition(
        &self,
        mut own: Vec<(String, String)>,
        chunk_bytes: usize,
    ) -> ExpositionChunks<Arc<TargetSeries>> {
        let inner = self.read();
        let series: Vec<Arc<TargetSeries>> = inner
            .results
            .values()
            .map(|stored| Arc::clone(&stored.series))
            .collect();
        own.extend(aggregate_families(inner.results.iter().map(
            |(key, stored)| Aggregated {
                direction: key.direction,
                labels: &stored.labels,
                summary: &stored.summary,
            },
        )));
        drop(inner);
        ExpositionChunks::new(own, series, chunk_bytes)
    }
}
