//! The status page a postmaster reads: `/` lists every configured target with its latest
//! verdict, `/status/<direction>/<domain>` shows the latest probe's human report (what
//! `dane_exporter check` prints, with what senders' TLS-RPT reports saw beside the probe's view)
//! and `?format=json` its JSON.
//!
//! The rows and reports come from the store through [`super::Exporter`]; this module only turns
//! them into HTML. Plain server-side HTML, no script: everything interpolated goes through maud,
//! which escapes it, because report texts carry what remote servers sent (banners, error
//! replies, certificate names).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::core::time::format_time;
use crate::core::{Direction, TargetKey, UnixSeconds};
use crate::store::{StatusDetail, StatusEntry, StatusRow};

/// The page's few rules: readable on a phone and in a terminal browser alike.
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse}th,td{padding:.3em .7em;border-bottom:1px solid #ddd;\
text-align:left;vertical-align:top}th{background:#f4f4f4}\
.verdict{font-weight:600;text-transform:uppercase;white-space:nowrap}\
.fail,.unknown{color:#b00020}.encrypt_only{color:#a05a00}.pass{color:#0a7a2f}\
.not_applicable,.pending{color:#666}pre{background:#f7f7f7;padding:1em;overflow-x:auto}\
code{font-size:90%}nav a{margin-right:1em}";

/// Where the pages link to.
pub(crate) struct Links<'a> {
    /// The telemetry path (`/metrics` unless configured otherwise).
    pub metrics: &'a str,
    /// Links the exporter adds (path, text): the demo's `/demo` (`super::Exporter::landing_links`).
    pub extra: &'a [(String, String)],
}

/// Worst first: what needs a postmaster comes to the top.
fn rank(entry: &StatusEntry) -> u8 {
    match entry {
        StatusEntry::Pending(_) => 3,
        StatusEntry::Probed(row) => match row.verdict.as_str() {
            "fail" => 0,
            "unknown" => 1,
            "encrypt_only" => 2,
            "pass" => 4,
            _ => 5,
        },
    }
}

fn key_of(entry: &StatusEntry) -> (Direction, &str) {
    match entry {
        StatusEntry::Pending(key) => (key.direction, key.domain.as_str()),
        StatusEntry::Probed(row) => (row.direction, row.domain.as_str()),
    }
}

/// `/status/<direction>/<domain>` of a target.
pub(crate) fn detail_path(direction: Direction, domain: &str) -> String {
    format!("/status/{}/{}", direction.as_str(), domain)
}

/// The target named by a `/status/...` path, normalised; `None` when the path names none.
pub(crate) fn parse_detail_path(path: &str) -> Option<TargetKey> {
    let rest = path.strip_prefix("/status/")?;
    let (direction, domain) = rest.split_once('/')?;
    let direction = match direction {
        "inbound" => Direction::Inbound,
        "outbound" => Direction::Outbound,
        _ => return None,
    };
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if domain.is_empty() || domain.len() > 253 || domain.contains('/') {
        return None;
    }
    Some(TargetKey { direction, domain })
}

fn days(now: UnixSeconds, then: UnixSeconds) -> String {
    format!("{:.1}", (then - now) as f64 / 86_400.0)
}

/// "45 s", "12 min", "3 h", "4 days".
fn span(seconds: UnixSeconds) -> String {
    match seconds.max(0) {
        s @ 0..=119 => format!("{s} s"),
        s @ 120..=7199 => format!("{} min", s / 60),
        s @ 7200..=172_799 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn ago(now: UnixSeconds, then: UnixSeconds) -> String {
    format!("{} ago", span(now - then))
}

fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

fn row_cells(row: &StatusRow, now: UnixSeconds) -> Markup {
    let verdict = row.verdict.as_str();
    html! {
        td class={ "verdict " (verdict) } {
            (verdict.replace('_', " "))
            @if row.protected { br; small { "fully protected" } }
            @if let Some(since) = row.since {
                br; small class="since" title={ "since " (format_time(since)) } { "for " (span(now - since)) }
            }
        }
        td {
            @for reason in &row.failures { code class="fail" { (reason) } " " }
            @if !row.warnings.is_empty() {
                @if !row.failures.is_empty() { br; }
                small { (row.warnings.len()) " warning" @if row.warnings.len() != 1 { "s" } ": " }
                @for reason in &row.warnings { code { (reason) } " " }
            }
        }
        td title=(format_time(row.checked_at)) { (ago(now, row.checked_at)) }
        td {
            @match row.divergence {
                Some(t) => span title=(format_time(t)) { (days(now, t)) " days" },
                None => "–",
            }
        }
        td class="senders" {
            @match row.senders_failed {
                Some(0) => "no failures",
                Some(n) => span class="fail" { (n) " failed session" @if n != 1 { "s" } },
                None => "–",
            }
        }
    }
}

/// `/`: every target, worst first, with links.
pub(crate) fn index(entries: &[StatusEntry], now: UnixSeconds, links: &Links<'_>) -> String {
    let mut sorted: Vec<&StatusEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| key_of(a).cmp(&key_of(b)))
    });
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for entry in &sorted {
        let name = match entry {
            StatusEntry::Pending(_) => "pending",
            StatusEntry::Probed(row) => row.verdict.as_str(),
        };
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    let body = html! {
        h1 { "DANE Exporter" }
        p {
            "The DANE (RFC 7672) health of mail domains, as a DANE-enforcing sender sees it. Version "
            (env!("CARGO_PKG_VERSION")) "."
        }
        nav {
            a href=(links.metrics) { "Metrics" }
            a href="/-/healthy" { "Health" }
            a href="/-/ready" { "Readiness" }
            @for (path, text) in links.extra {
                a href=(path) { (text) }
            }
        }
        h2 { (entries.len()) " target" @if entries.len() != 1 { "s" } }
        @if !counts.is_empty() {
            p id="summary" {
                @for (i, (name, count)) in counts.iter().enumerate() {
                    @if i > 0 { ", " }
                    span class=(name) { (count) " " (name.replace('_', " ")) }
                }
            }
        }
        table id="targets" {
            thead {
                tr {
                    th { "Domain" } th { "Direction" } th { "Verdict" } th { "Reasons" }
                    th { "Last probe" } th { "Divergence in" }
                    th title="failed sessions in senders' latest TLS-RPT reports" { "Senders saw" }
                    th { "Links" }
                }
            }
            tbody {
                @for entry in &sorted {
                    @let (direction, domain) = key_of(entry);
                    @let detail = detail_path(direction, domain);
                    tr {
                        td { a href=(detail) { (domain) } }
                        td { (direction.as_str()) }
                        @match entry {
                            StatusEntry::Probed(row) => (row_cells(row, now)),
                            StatusEntry::Pending(_) => {
                                td class="verdict pending" { "pending" }
                                td { small { "not probed yet" } }
                                td { "–" } td { "–" } td { "–" }
                            },
                        }
                        td {
                            a href=(detail) { "report" } " "
                            a href={ (detail) "?format=json" } { "json" } " "
                            a href={ "/probe?target=" (domain) "&module=" (direction.as_str()) } { "probe now" }
                        }
                    }
                }
            }
        }
    };
    page("DANE Exporter", body)
}

/// `/status/<direction>/<domain>`: the human report of the latest probe.
pub(crate) fn detail(detail: &StatusDetail, now: UnixSeconds) -> String {
    let row = &detail.row;
    let path = detail_path(row.direction, &row.domain);
    let title = format!(
        "{} ({}): {}",
        row.domain,
        row.direction.as_str(),
        row.verdict.as_str()
    );
    let body = html! {
        nav { a href="/" { "All targets" } a href={ (path) "?format=json" } { "JSON" } }
        h1 {
            (row.domain) " "
            small { "(" (row.direction.as_str()) ") " }
            span class={ "verdict " (row.verdict.as_str()) } { (row.verdict.as_str().replace('_', " ")) }
        }
        p { "Probed " (format_time(row.checked_at)) " (" (ago(now, row.checked_at)) "), in "
            (format!("{:.2}", row.duration_seconds)) " s." }
        pre id="report" { (detail.text) }
    };
    page(&title, body)
}

/// `/status/...` of a target that is configured but not probed yet, or not configured.
/// Why a target's report page has no report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Configured, not probed yet.
    Pending,
    /// Probed, but the report of a passing target in the summary shape is not kept
    /// (`crate::store`).
    NotKept,
    /// Not a configured target.
    NotConfigured,
}

pub(crate) fn missing(key: &TargetKey, why: Missing) -> String {
    let body = html! {
        nav { a href="/" { "All targets" } }
        h1 { (key.domain) " " small { "(" (key.direction.as_str()) ")" } }
        p {
            @match why {
                Missing::Pending => "Configured; the first probe has not finished yet.",
                Missing::NotKept => "Passed its latest probe; the full report of a passing domain of a list in the summary shape is not kept (one that fails keeps it).",
                Missing::NotConfigured => "Not a configured target.",
            }
        }
    };
    page(&key.domain, body)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::core::Verdict;

    fn row(domain: &str, verdict: Verdict, failures: Vec<&'static str>) -> StatusRow {
        StatusRow {
            direction: Direction::Inbound,
            domain: domain.into(),
            verdict,
            protected: false,
            failures,
            warnings: vec!["mx_insecure"],
            checked_at: 1_000,
            divergence: Some(1_000 + 86_400 * 3),
            duration_seconds: 0.5,
            since: Some(1_000 - 3 * 3600),
            senders_failed: match verdict {
                Verdict::Fail => Some(42),
                _ => None,
            },
        }
    }

    #[test]
    fn paths_round_trip_and_reject_the_rest() {
        let key = parse_detail_path("/status/outbound/Example.ORG.").expect("key");
        assert_eq!(key.direction, Direction::Outbound);
        assert_eq!(key.domain, "example.org");
        assert_eq!(
            detail_path(key.direction, &key.domain),
            "/status/outbound/example.org"
        );
        for bad in [
            "/status/",
            "/status/inbound",
            "/status/sideways/a.b",
            "/status/inbound/",
            "/x",
        ] {
            assert!(parse_detail_path(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn index_puts_failures_first_and_escapes() {
        let entries = vec![
            StatusEntry::Probed(Arc::new(row("a.example", Verdict::Pass, vec![]))),
            StatusEntry::Probed(Arc::new(row(
                "z.example",
                Verdict::Fail,
                vec!["tlsa_mismatch"],
            ))),
            StatusEntry::Pending(TargetKey {
                direction: Direction::Outbound,
                domain: "p.example".into(),
            }),
        ];
        let html = index(
            &entries,
            1_060,
            &Links {
                metrics: "/metrics\"><script>",
                extra: &[("/demo".into(), "<b>Demo</b>".into())],
            },
        );
        let z = html.find("z.example").expect("z");
        let p = html.find("p.example").expect("p");
        let a = html.find(">a.example<").expect("a");
        assert!(z < p && p < a, "{html}");
        assert!(html.contains("<code class=\"fail\">tlsa_mismatch</code>"));
        assert!(html.contains("3.0 days"));
        assert!(html.contains("60 s ago"));
        assert!(html.contains(">for 3 h<"), "{html}");
        assert!(
            html.contains("<span class=\"fail\">42 failed sessions</span>"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("<a href=\"/demo\">&lt;b&gt;Demo&lt;/b&gt;</a>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<span class=\"fail\">1 fail</span>, <span class=\"pending\">1 pending</span>, \
                 <span class=\"pass\">1 pass</span>"
            ),
            "{html}"
        );
    }

    #[test]
    fn detail_escapes_the_report_text() {
        let detail = StatusDetail {
            row: Arc::new(row("x.example", Verdict::Fail, vec!["undeliverable"])),
            text: "greeting: 554 <script>alert(1)</script> & more".into(),
            json: "{}".into(),
        };
        let html = super::detail(&detail, 2_000);
        assert!(
            html.contains("554 &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }
}
