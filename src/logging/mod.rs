//! How the binary writes to stderr: log lines shaped as Prometheus's own (promslog, go-kit
//! style: `ts`, `level`, `caller`, `msg`, then the event's fields; logfmt or flat JSON), and the
//! status line `dane_exporter check` redraws on a terminal while a probe waits.
//!
//! Events come from `tracing` anywhere in the crate; the binary (`main.rs`) picks the pieces:
//! [`LogFormatter`] for the exporter's logs, [`CaptureLayer`] for the log of one
//! `/probe?debug=true` ([`capture`]), [`StatusLine`] for `check` on a terminal, which shows
//! the latest [`crate::core::PROGRESS`] event and the seconds since the check began, and erases
//! itself before the report is printed. Scripts and pipes (stderr not a terminal) get no status
//! line.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::core::PROGRESS;

mod capture;
pub use capture::{capture, capture_layer, CaptureLayer, InCapture, ProbeLog};

/// The line format of the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `ts=... level=info caller=exporter.rs:155 msg="..." key=value`.
    Logfmt,
    /// One flat JSON object per line with the same keys.
    Json,
}

/// A [`FormatEvent`] writing promslog's go-kit style keys: `ts` (RFC 3339, milliseconds, UTC),
/// `level` (lower case), `caller` (file:line), `msg`, then the event's own fields.
pub struct LogFormatter {
    format: LogFormat,
}

impl LogFormatter {
    /// A formatter for `format`.
    pub fn new(format: LogFormat) -> Self {
        LogFormatter { format }
    }
}

/// An event's fields in order, `message` apart.
#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, FieldValue)>,
}

enum FieldValue {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.pairs
                .push((field.name(), FieldValue::Text(value.to_string())));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pairs
            .push((field.name(), FieldValue::Number(value.into())));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pairs
            .push((field.name(), FieldValue::Number(value.into())));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        match serde_json::Number::from_f64(value) {
            Some(n) => self.pairs.push((field.name(), FieldValue::Number(n))),
            None => self.record_str(field, &value.to_string()),
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pairs.push((field.name(), FieldValue::Bool(value)));
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG | Level::TRACE => "debug",
    }
}

/// A logfmt value: bare when it is a plain token, else quoted with `"` and `\` escaped.
fn logfmt_value(out: &mut String, value: &str) {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| c > ' ' && c != '"' && c != '=' && c != '\\' && !c.is_control());
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The file name of a caller, with its folder when it is a `mod.rs`.
fn short_file(path: &str) -> &str {
    let mut parts = path.rsplitn(3, '/');
    let base = parts.next().unwrap_or(path);
    match (base, parts.next()) {
        ("mod.rs", Some(folder)) => &path[path.len() - base.len() - folder.len() - 1..],
        _ => base,
    }
}

impl LogFormatter {
    /// One line for `event` (without the newline), at `now`.
    fn line(&self, event: &Event<'_>, now: SystemTime) -> String {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let ts = humantime::format_rfc3339_millis(now).to_string();
        let caller = match (meta.file(), meta.line()) {
            (Some(file), Some(line)) => format!("{}:{line}", short_file(file)),
            _ => meta.target().to_string(),
        };
        let level = level_name(meta.level());
        match self.format {
            LogFormat::Logfmt => {
                let mut out = format!("ts={ts} level={level} caller=");
                logfmt_value(&mut out, &caller);
                out.push_str(" msg=");
                logfmt_value(&mut out, &fields.message);
                for (key, value) in &fields.pairs {
                    let _ = write!(out, " {key}=");
                    match value {
                        FieldValue::Text(t) => logfmt_value(&mut out, t),
                        FieldValue::Number(n) => out.push_str(&n.to_string()),
                        FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                    }
                }
                out
            }
            LogFormat::Json => {
                let mut map = serde_json::Map::new();
                map.insert("ts".into(), ts.into());
                map.insert("level".into(), level.into());
                map.insert("caller".into(), caller.into());
                map.insert("msg".into(), fields.message.into());
                for (key, value) in fields.pairs {
                    let value = match value {
                        FieldValue::Text(t) => serde_json::Value::String(t),
                        FieldValue::Number(n) => serde_json::Value::Number(n),
                        FieldValue::Bool(b) => serde_json::Value::Bool(b),
                    };
                    // A field named like a fixed key keeps the fixed one.
                    map.entry(key).or_insert(value);
                }
                serde_json::Value::Object(map).to_string()
            }
        }
    }
}

impl<S, N> FormatEvent<S, N> for LogFormatter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", self.line(event, SystemTime::now()))
    }
}

/// Longest status line, in characters: one terminal line on most screens.
const STATUS_WIDTH: usize = 100;

struct StatusState {
    began: Instant,
    doing: String,
    drawn: bool,
}

/// The status line of `check` on a terminal; clones share it.
#[derive(Clone)]
pub struct StatusLine {
    state: Arc<Mutex<StatusState>>,
}

impl Default for StatusLine {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusLine {
    /// A status line counting from now.
    pub fn new() -> Self {
        StatusLine {
            state: Arc::new(Mutex::new(StatusState {
                began: Instant::now(),
                doing: "starting".into(),
                drawn: false,
            })),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut StatusState) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    /// Redraws the line (call it every second or so: the seconds count up while a server is
    /// silent).
    pub fn redraw(&self) {
        self.with(|state| {
            let text = format!("… {} ({} s)", state.doing, state.began.elapsed().as_secs());
            let text: String = text.chars().take(STATUS_WIDTH).collect();
            let mut err = std::io::stderr().lock();
            // Carriage return and erase-line: the line is rewritten in place.
            let _ = write!(err, "\r\x1b[K{text}");
            let _ = err.flush();
            state.drawn = true;
        });
    }

    /// Erases the line, so that what follows starts on a clean line.
    pub fn clear(&self) {
        self.with(|state| {
            if state.drawn {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[K");
                let _ = err.flush();
                state.drawn = false;
            }
        });
    }

    fn set(&self, doing: String) {
        self.with(|state| state.doing = doing);
        self.redraw();
    }

    /// The [`Layer`] that feeds this line from [`PROGRESS`] events.
    pub fn layer(&self) -> StatusLayer {
        StatusLayer { line: self.clone() }
    }
}

/// Feeds a [`StatusLine`]: every [`PROGRESS`] event replaces what it says.
pub struct StatusLayer {
    line: StatusLine,
}

impl<S: Subscriber> Layer<S> for StatusLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != PROGRESS {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.line.set(fields.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};
    use tracing_subscriber::layer::SubscriberExt;

    /// Captures what the formatter makes of events.
    struct Capture {
        formatter: LogFormatter,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let at = UNIX_EPOCH + Duration::from_millis(1_796_169_600_123);
            let line = self.formatter.line(event, at);
            self.lines.lock().unwrap().push(line);
        }
    }

    fn lines(format: LogFormat, emit: impl FnOnce()) -> Vec<String> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture {
            formatter: LogFormatter::new(format),
            lines: Arc::clone(&lines),
        });
        tracing::subscriber::with_default(subscriber, emit);
        let out = lines.lock().unwrap().clone();
        out
    }

    #[test]
    fn logfmt_has_promslog_keys_and_quotes_what_needs_it() {
        let out = lines(LogFormat::Logfmt, || {
            tracing::info!(address = "127.0.0.1:9724", tls = false, n = 3, "listening");
            tracing::warn!(error = "bad \"x\"\nline", "reload failed");
        });
        assert_eq!(out.len(), 2);
        assert!(
            out[0].starts_with("ts=2026-12-02T00:00:00.123Z level=info caller=logging/mod.rs:"),
            "{}",
            out[0]
        );
        assert!(
            out[0].ends_with(" msg=listening address=127.0.0.1:9724 tls=false n=3"),
            "{}",
            out[0]
        );
        assert!(out[1].contains(" level=warn "), "{}", out[1]);
        assert!(
            out[1].ends_with(r#" msg="reload failed" error="bad \"x\"\nline""#),
            "{}",
            out[1]
        );
    }

    #[test]
    fn json_is_flat_with_the_same_keys() {
        let out = lines(LogFormat::Json, || {
            tracing::error!(file = "/etc/x.yml", line = 2u64, "reload failed");
        });
        let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(v["ts"], "2026-12-02T00:00:00.123Z");
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "reload failed");
        assert_eq!(v["file"], "/etc/x.yml");
        assert_eq!(v["line"], 2);
        assert!(v["caller"].as_str().unwrap().starts_with("logging/mod.rs:"));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(&keys[..4], ["ts", "level", "caller", "msg"]);
    }
}
