//! Probe results as Prometheus metrics: every metric name, help text and label in one place.
//!
//! Input is a [`DomainReport`](crate::report::DomainReport) (when the store takes it, or one
//! fresh report for `/probe`); each check writes its own series (`crate::checks::*::add_series`)
//! through the `crate::core::Sink` trait, and this module holds the table every series' name and
//! help text come from (`table`), the report's own series (`report`), the text encoder
//! (`encoder`: [`TargetSeries`], [`ExpositionChunks`]), the aggregates over every stored
//! result computed at scrape time (`aggregate`: domains by verdict and reason, per MX host), the
//! protobuf families tests compare it with (`families`), and the TLS-RPT report counters
//! (`tlsrpt`, from the database's totals, not from a probe). Nothing is ever probed on scrape.
//! Series carry `domain` and `direction`,
//! then the target's extra labels, then their own.
//!
//! Times are Unix timestamps in seconds (`_timestamp_seconds`), or durations in seconds: base units,
//! as `promtool check metrics` demands. "Days to divergence", which postmasters think in, is
//! `(dane_divergence_timestamp_seconds - time()) / 86400` in PromQL (always current), or
//! `dane_divergence_remaining_seconds / 86400`, counted when the scrape begins (0 when broken now).
//!
//! Enumerations (verdicts, DNSSEC status per RRset, DANE state per MX host, state per TLSA record,
//! MTA-STS mode) are one series for the current state, value 1, not an OpenMetrics state set with
//! a 0 for every other state. The state sets were 21 of the 53 series of a typical domain: at
//! 10,000 domains 210,000 constant zeros held by every Prometheus scraping us, and most of the
//! exporter's render time (docs/performance.md). `{status="bogus"} == 1` selects the same series
//! either way; a state that does not hold has no series rather than a 0, and a state change
//! ends one series (Prometheus marks it stale at the next scrape) and starts another.

mod aggregate;
mod encoder;
mod families;
mod report;
mod table;
#[cfg(test)]
mod tests;
mod tlsrpt;

pub use aggregate::{aggregate_families, Aggregated, DomainSummary, MAX_MX_HOSTS};
pub use encoder::{exposition, probe_exposition, ExpositionChunks, TargetSeries};
pub use families::probe_families;
pub use report::LabelledReport;
pub use table::{AGGREGATE_METRICS, PROBE_METRICS, TLSRPT_METRICS};
pub use tlsrpt::{tlsrpt_families, OTHER_ORGANIZATION};
