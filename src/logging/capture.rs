//! The log of one probe, for `/probe?debug=true`: every event inside the probe's span, at every
//! level, whatever `--log.level` says, in logfmt.
//!
//! The exporter (`crate::exporter`) wraps a debug probe in the span [`capture`] makes; the
//! binary installs [`CaptureLayer`] beside its log writer. The layer finds the span among the
//! event's ancestors and appends the line to that probe's [`ProbeLog`]; events elsewhere, or
//! while no debug probe runs, cost one atomic load. The probe's own tasks carry the span
//! (`crate::scheduler::run_one` spawns the probe inside it).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::{LogFormat, LogFormatter};

/// The name of the span a debug probe runs in.
const SPAN: &str = "probe_debug";
/// Lines kept per probe: a probe of a domain with many MX hosts logs a few hundred.
const MAX_LINES: usize = 5_000;
/// Characters kept per line (a line carries a certificate error at most).
const MAX_LINE: usize = 4_000;

/// Debug probes running now, so that the layer does nothing while there are none.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Default)]
struct Lines {
    kept: Vec<String>,
    dropped: usize,
}

fn buffers() -> &'static Mutex<HashMap<u64, Arc<Mutex<Lines>>>> {
    static BUFFERS: OnceLock<Mutex<HashMap<u64, Arc<Mutex<Lines>>>>> = OnceLock::new();
    BUFFERS.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one debug probe logged; it stops collecting when dropped.
pub struct ProbeLog {
    id: u64,
    lines: Arc<Mutex<Lines>>,
}

impl ProbeLog {
    /// The lines so far, one per line, with a note when some were dropped.
    pub fn text(&self) -> String {
        let lines = lock(&self.lines);
        let mut out = lines.kept.join("\n");
        if lines.dropped > 0 {
            out.push_str(&format!("\n… {} more lines not kept", lines.dropped));
        }
        out
    }
}

impl Drop for ProbeLog {
    fn drop(&mut self) {
        lock(buffers()).remove(&self.id);
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A span to run one probe in (`future.instrument(span)`) and the log it collects. Without
/// [`CaptureLayer`] in the subscriber the log stays empty.
pub fn capture() -> (tracing::Span, ProbeLog) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let lines = Arc::new(Mutex::new(Lines::default()));
    lock(buffers()).insert(id, Arc::clone(&lines));
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    // At error level so that no level filter of the span itself hides it from the layer.
    let span = tracing::error_span!(SPAN, capture = id);
    (span, ProbeLog { id, lines })
}

/// The capture id a [`capture`] span carries, kept in the span's extensions.
struct CaptureId(u64);

struct IdVisitor(Option<u64>);

impl Visit for IdVisitor {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "capture" {
            self.0 = Some(value);
        }
    }
    fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {}
}

/// Appends every event inside a [`capture`] span to that probe's log; made by [`capture_layer`].
pub struct CaptureLayer {
    formatter: LogFormatter,
}

/// Takes every level, but only inside a [`capture`] span.
pub struct InCapture;

/// The layer to install beside the log writer: it sees every level inside a [`capture`] span,
/// whatever the writer's filter, and nothing else.
pub fn capture_layer<S>() -> Filtered<CaptureLayer, InCapture, S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    CaptureLayer {
        formatter: LogFormatter::new(LogFormat::Logfmt),
    }
    .with_filter(InCapture)
}

fn capture_of<S>(ctx: &Context<'_, S>, event: Option<&Event<'_>>) -> Option<u64>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let scope = match event {
        Some(event) => ctx.event_scope(event)?,
        None => ctx.lookup_current()?.scope(),
    };
    scope
        .into_iter()
        .find_map(|span| span.extensions().get::<CaptureId>().map(|c| c.0))
}

impl<S> Filter<S> for InCapture
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, ctx: &Context<'_, S>) -> bool {
        if ACTIVE.load(Ordering::Relaxed) == 0 {
            return false;
        }
        meta.is_span() || capture_of(ctx, None).is_some()
    }

    fn callsite_enabled(&self, _meta: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // Whether an event counts depends on the span it is in: ask each time.
        tracing::subscriber::Interest::sometimes()
    }
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != SPAN {
            return;
        }
        let mut visitor = IdVisitor(None);
        attrs.record(&mut visitor);
        if let (Some(capture), Some(span)) = (visitor.0, ctx.span(id)) {
            span.extensions_mut().insert(CaptureId(capture));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(capture) = capture_of(&ctx, Some(event)) else {
            return;
        };
        let Some(lines) = lock(buffers()).get(&capture).cloned() else {
            return;
        };
        let mut line = self.formatter.line(event, SystemTime::now());
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        let mut lines = lock(&lines);
        if lines.kept.len() < MAX_LINES {
            lines.kept.push(line);
        } else {
            lines.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Instrument;
    use tracing_subscriber::layer::SubscriberExt;

    #[tokio::test]
    async fn a_probe_span_collects_its_events_at_every_level_and_nothing_else() {
        let subscriber = tracing_subscriber::registry().with(capture_layer());
        let _guard = tracing::subscriber::set_default(subscriber);
        tracing::info!("before any probe");
        let (span, log) = capture();
        let (other, other_log) = capture();
        async {
            tracing::debug!(host = "mx.example", "connecting");
            tracing::trace!("detail");
        }
        .instrument(span)
        .await;
        async { tracing::warn!("elsewhere") }
            .instrument(other)
            .await;
        tracing::error!("outside");
        let text = log.text();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("level=debug") && text.contains("msg=connecting host=mx.example"));
        assert!(
            !text.contains("elsewhere") && !text.contains("outside"),
            "{text}"
        );
        assert!(other_log.text().contains("msg=elsewhere"));
        let id = log.id;
        drop(log);
        assert!(
            !lock(buffers()).contains_key(&id),
            "a finished probe keeps no buffer"
        );
    }

    #[test]
    fn a_flood_is_cut_with_a_note() {
        let subscriber = tracing_subscriber::registry().with(capture_layer());
        let _guard = tracing::subscriber::set_default(subscriber);
        let (span, log) = capture();
        span.in_scope(|| {
            for i in 0..MAX_LINES + 3 {
                tracing::debug!(i, "line");
            }
            tracing::debug!("{}", "x".repeat(MAX_LINE * 2));
        });
        let text = log.text();
        assert!(
            text.ends_with("… 4 more lines not kept"),
            "{}",
            &text[text.len() - 40..]
        );
    }
}
