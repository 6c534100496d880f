//! The text exposition: each target's series rendered once when its report is stored
//! ([`TargetSeries`]), and a scrape written in chunks from them ([`ExpositionChunks`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::report::{add_report, add_summary, base_labels, LabelledReport};
use super::table::{index_of, metrics_by_name, COUNTDOWNS, PROBE_METRICS};
use crate::core::{Direction, Sink};
use crate::target::MetricsShape;

/// The probe series of one target as exposition text, written once when its report arrives
/// (`crate::store`), so that a scrape only copies bytes. At 10,000 domains rendering every series
/// at every scrape took most of a scrape's time and held the store's lock meanwhile
/// (docs/performance.md); now a scrape costs a copy of the text and the probe pays the formatting,
/// once per report instead of once per scrape.
///
/// The target's base labels (domain, direction, extra labels) are kept apart from the rest of
/// each series, so they are stored once, not once per series, and a reload that changes the
/// extra labels relabels the stored series without the report.
#[derive(Clone, Debug, Default)]
pub struct TargetSeries {
    /// `domain="…",direction="…"` and the extra labels, escaped; empty values left out.
    base: String,
    /// Every series' text after the base labels, `,mx="…"} 1\n` or `} 1\n`, grouped by metric
    /// in the exposition's order (metric names sorted).
    text: String,
    /// The metrics with series, in that order.
    spans: Vec<Span>,
}

#[derive(Clone, Copy, Debug)]
struct Span {
    /// Index in [`PROBE_METRICS`].
    metric: u16,
    /// Bytes of `text` this metric's series take.
    len: u32,
}

/// Collects one target's series text per metric; the base labels are the first `base_len`
/// labels of every series and are left out.
struct SeriesWriter {
    base_len: usize,
    /// Per metric of [`PROBE_METRICS`]: the text of its series.
    texts: Vec<String>,
}

impl Sink for SeriesWriter {
    fn gauge(&mut self, name: &'static str, labels: &[(&str, &str)], value: f64) {
        let Some(index) = index_of(name) else {
            debug_assert!(false, "{name} is not in PROBE_METRICS");
            return;
        };
        let Some(out) = self.texts.get_mut(index) else {
            return;
        };
        let own = labels.get(self.base_len..).unwrap_or_default();
        for (key, val) in own.iter().filter(|(_, v)| !v.is_empty()) {
            out.push(',');
            out.push_str(key);
            out.push_str("=\"");
            push_escaped(out, val, true);
            out.push('"');
        }
        // f64's Display, as the prometheus crate's TextEncoder writes values.
        let _ = writeln!(out, "}} {value}");
    }

    /// Stored with the deadline as its value (0 for none); [`ExpositionChunks`] writes the
    /// seconds left at each scrape.
    fn countdown(&mut self, name: &'static str, labels: &[(&str, &str)], until: Option<i64>) {
        debug_assert!(COUNTDOWNS.contains(&name), "{name} is not in COUNTDOWNS");
        self.gauge(name, labels, until.map_or(0.0, |t| t as f64));
    }
}

/// Seconds from `now` until `until`, never below 0 (and 0 for no deadline).
pub(super) fn seconds_left(until: Option<i64>, now: i64) -> f64 {
    until.map_or(0.0, |t| (t.saturating_sub(now)).max(0) as f64)
}

/// A countdown series as stored (`,mx="…"} DEADLINE\n`) with the seconds left at `now` instead.
fn counted_down(suffix: &str, now: i64) -> Option<String> {
    let (head, value) = suffix.trim_end_matches('\n').rsplit_once("} ")?;
    let until = value
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0)
        .map(|v| v as i64);
    Some(format!("{head}}} {}\n", seconds_left(until, now)))
}

impl TargetSeries {
    /// Renders the series of one report.
    pub fn of(item: &LabelledReport<'_>) -> Self {
        Self::of_shape(item, MetricsShape::Full)
    }

    /// Renders the series of one report in `shape`.
    pub fn of_shape(item: &LabelledReport<'_>, shape: MetricsShape) -> Self {
        let base = base_labels(item.report.domain(), item.direction, item.extra_labels);
        let mut writer = SeriesWriter {
            base_len: base.len(),
            texts: vec![String::new(); PROBE_METRICS.len()],
        };
        match shape {
            MetricsShape::Full => add_report(&mut writer, item),
            MetricsShape::Summary => add_summary(&mut writer, item),
        }
        let mut series = Self {
            base: base_text(&base),
            text: String::with_capacity(writer.texts.iter().map(String::len).sum()),
            spans: Vec::new(),
        };
        for &index in metrics_by_name() {
            let Some(text) = writer.texts.get(index).filter(|t| !t.is_empty()) else {
                continue;
            };
            // A metric's text of one target is kilobytes; a span that cannot say its length is
            // left out rather than misplacing every series after it.
            let (Ok(metric), Ok(len)) = (u16::try_from(index), u32::try_from(text.len())) else {
                continue;
            };
            series.text.push_str(text);
            series.spans.push(Span { metric, len });
        }
        series
    }

    /// The same series with the base labels of `domain`, `direction` and `extra_labels` (a reload
    /// changed the target's extra labels).
    pub fn relabelled(
        &self,
        domain: &str,
        direction: Direction,
        extra_labels: &BTreeMap<String, String>,
    ) -> Self {
        Self {
            base: base_text(&base_labels(domain, direction, extra_labels)),
            ..self.clone()
        }
    }
}

/// `label="value",…` of `labels`, escaped, empty values left out.
pub(super) fn base_text(labels: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (key, val) in labels.iter().filter(|(_, v)| !v.is_empty()) {
        if !text.is_empty() {
            text.push(',');
        }
        text.push_str(key);
        text.push_str("=\"");
        push_escaped(&mut text, val, true);
        text.push('"');
    }
    text
}

/// Appends `text` with backslash and newline (and with `quote`, the double quote) escaped, as
/// the text exposition format wants label values (and, without quotes, help texts).
pub(super) fn push_escaped(out: &mut String, text: &str, quote: bool) {
    if !text.contains(['\\', '\n', '"']) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// The text exposition of the exporter's own families (`own`: name and text, HELP and TYPE
/// included) and the probe series of `targets`, families sorted by name. Byte for byte what the
/// prometheus crate's `TextEncoder` makes of [`probe_families`] (tests/integration/probe.rs).
pub fn exposition(own: Vec<(String, String)>, targets: &[&TargetSeries]) -> String {
    ExpositionChunks::new(own, targets.to_vec(), usize::MAX).collect()
}

/// [`exposition`] written a chunk at a time, so that `/metrics` at 10,000 domains (tens of MB)
/// is sent while it is written instead of being built whole next to the stored series first
/// (the peak RSS, docs/performance.md). Each chunk holds whole series lines: at least
/// `chunk_bytes` of them unless it is the last.
///
/// The targets are taken when the scrape starts (`Arc`s of immutable series), so a scrape sees
/// one consistent set of results however long the client takes to read it.
pub struct ExpositionChunks<S> {
    own: std::iter::Peekable<std::vec::IntoIter<(String, String)>>,
    targets: Vec<S>,
    /// Per target: its next span and where that span's text starts.
    cursors: Vec<(usize, usize)>,
    /// Per metric of [`PROBE_METRICS`]: whether any target has series of it.
    present: Vec<bool>,
    /// Position in [`metrics_by_name`] of the family being written.
    family: usize,
    /// The next target to write in that family, once its HELP and TYPE lines are out.
    target: Option<usize>,
    chunk_bytes: usize,
    done: bool,
    /// When the scrape began: the time the countdowns count from.
    now: i64,
}

impl<S: std::borrow::Borrow<TargetSeries>> ExpositionChunks<S> {
    /// The exposition of `own` and `targets` in chunks of at least `chunk_bytes`.
    pub fn new(mut own: Vec<(String, String)>, targets: Vec<S>, chunk_bytes: usize) -> Self {
        own.sort_by(|a, b| a.0.cmp(&b.0));
        let mut present = vec![false; PROBE_METRICS.len()];
        for target in &targets {
            for span in &target.borrow().spans {
                if let Some(p) = present.get_mut(usize::from(span.metric)) {
                    *p = true;
                }
            }
        }
        Self {
            own: own.into_iter().peekable(),
            cursors: vec![(0, 0); targets.len()],
            targets,
            present,
            family: 0,
            target: None,
            chunk_bytes: chunk_bytes.max(1),
            done: false,
            now: crate::core::time::unix_now(),
        }
    }

    /// Writes the next family's HELP and TYPE lines (after the own families sorting before it),
    /// or the own families left at the end.
    fn open_family(&mut self, out: &mut String) {
        let Some(&index) = metrics_by_name().get(self.family) else {
            for (_, text) in self.own.by_ref() {
                out.push_str(&text);
            }
            self.done = true;
            return;
        };
        let named = PROBE_METRICS.get(index);
        let Some((name, help)) = named.filter(|_| self.present.get(index) == Some(&true)) else {
            self.family += 1;
            return;
        };
        while let Some((_, text)) = self.own.next_if(|(own_name, _)| own_name.as_str() < *name) {
            out.push_str(&text);
        }
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        push_escaped(out, help, false);
        out.push_str("\n# TYPE ");
        out.push_str(name);
        out.push_str(" gauge\n");
        self.target = Some(0);
    }

    /// Writes target `at`'s series of the family being written, if it has any.
    fn write_target(&mut self, at: usize, out: &mut String) {
        let index = metrics_by_name().get(self.family).copied();
        let (Some(target), Some(cursor)) = (self.targets.get(at), self.cursors.get_mut(at)) else {
            return;
        };
        let target = target.borrow();
        let (next, start) = cursor;
        let Some(span) = target.spans.get(*next) else {
            return;
        };
        if Some(usize::from(span.metric)) != index {
            return;
        }
        let Some((name, _)) = PROBE_METRICS.get(usize::from(span.metric)) else {
            return;
        };
        let end = *start + span.len as usize;
        let text = target.text.get(*start..end).unwrap_or_default();
        *next += 1;
        *start = end;
        let countdown = COUNTDOWNS.contains(name);
        for suffix in text.split_inclusive('\n') {
            match countdown.then(|| counted_down(suffix, self.now)).flatten() {
                Some(counted) => push_series(out, name, &target.base, &counted),
                None => push_series(out, name, &target.base, suffix),
            }
        }
    }
}

impl<S: std::borrow::Borrow<TargetSeries>> Iterator for ExpositionChunks<S> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        // A socket-sized chunk is allocated once (a line of slack past `chunk_bytes`); a whole
        // exposition (tests, `/probe`: `chunk_bytes` unbounded) starts empty and grows as usual,
        // instead of taking a 65 KiB block per `/probe` for a few KB of text.
        let capacity = if self.chunk_bytes <= 64 * 1024 {
            self.chunk_bytes + 1024
        } else {
            0
        };
        let mut out = String::with_capacity(capacity);
        while !self.done && out.len() < self.chunk_bytes {
            match self.target {
                None => self.open_family(&mut out),
                Some(at) if at < self.targets.len() => {
                    self.write_target(at, &mut out);
                    self.target = Some(at + 1);
                }
                Some(_) => {
                    self.target = None;
                    self.family += 1;
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// One series line: `name{base` and the rest of the line (`,more="…"} value\n` or `} value\n`).
/// Without base labels (never in practice: the domain is one) the braces close up or go.
pub(super) fn push_series(out: &mut String, name: &str, base: &str, suffix: &str) {
    out.push_str(name);
    if !base.is_empty() {
        out.push('{');
        out.push_str(base);
        out.push_str(suffix);
    } else if let Some(rest) = suffix.strip_prefix(',') {
        out.push('{');
        out.push_str(rest);
    } else {
        out.push_str(suffix.strip_prefix('}').unwrap_or(suffix));
    }
}

/// The probe series of `reports` alone (for `/probe`, and for tests), as [`exposition`] writes
/// them.
pub fn probe_exposition(reports: &[LabelledReport<'_>]) -> String {
    let series: Vec<TargetSeries> = reports.iter().map(TargetSeries::of).collect();
    exposition(Vec::new(), &series.iter().collect::<Vec<_>>())
}

#[cfg(test)]
mod countdown_tests {
    use super::*;

    /// A time left is stored as its deadline and counted when the exposition is written: a
    /// scrape an hour after the probe sees an hour less; past deadlines and none read 0.
    #[test]
    fn countdowns_are_counted_when_written() {
        let mut writer = SeriesWriter {
            base_len: 1,
            texts: vec![String::new(); PROBE_METRICS.len()],
        };
        let now = crate::core::time::unix_now();
        let name = "dane_divergence_remaining_seconds";
        for (address, until) in [("a", Some(now + 7_200)), ("b", Some(now - 5)), ("c", None)] {
            writer.countdown(
                name,
                &[("domain", "x.example"), ("address", address)],
                until,
            );
        }
        let index = index_of(name).unwrap();
        assert_eq!(
            writer.texts[index],
            format!(
                ",address=\"a\"}} {}\n,address=\"b\"}} {}\n,address=\"c\"}} 0\n",
                now + 7_200,
                now - 5
            ),
            "stored as deadlines"
        );
        let later = now + 3_600;
        let counted: Vec<String> = writer.texts[index]
            .split_inclusive('\n')
            .filter_map(|suffix| counted_down(suffix, later))
            .collect();
        assert_eq!(
            counted,
            [
                ",address=\"a\"} 3600\n",
                ",address=\"b\"} 0\n",
                ",address=\"c\"} 0\n"
            ]
        );
    }
}
