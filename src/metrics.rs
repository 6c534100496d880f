//! Probe results as Prometheus metrics: every metric name, help text and label in one place.
//!
//! Input is the latest [`DomainReport`] of each target (from the scheduler's store, or one fresh
//! report for `/probe`); output is metric families for the text encoder. Families are rebuilt
//! from the reports at every scrape, so the series of a removed domain, MX host or address vanish
//! with it, and nothing is ever probed on scrape. Series carry `domain` and `direction`, then the
//! target's extra labels, then their own.
//!
//! Times are Unix timestamps in seconds (`_timestamp_seconds`), or durations in seconds: base units,
//! as `promtool check metrics` demands. "Days to divergence", which postmasters think in, is
//! `(dane_divergence_timestamp_seconds - time()) / 86400` in PromQL (always current), or
//! `dane_divergence_remaining_seconds / 86400` as of the last probe (0 when broken now).
//!
//! Enumerations (verdicts, DNSSEC status per RRset, DANE state per MX host, state per TLSA record,
//! MTA-STS mode) are one series for the current state, value 1, not an OpenMetrics state set with
//! a 0 for every other state. The state sets were 21 of the 53 series of a typical domain: at
//! 10,000 domains 210,000 constant zeros held by every Prometheus scraping us, and most of the
//! exporter's render time (tests/bench/run.sh). `{status="bogus"} == 1` selects the same series
//! either way; a state that does not hold has no series rather than a 0, and a state change
//! ends one series (Prometheus marks it stale at the next scrape) and starts another.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::dane::EndpointOutcome;
use crate::dns::DnssecStatus;
use crate::report::{Direction, DomainReport, HostDane, RrsetReport, Verdict};

/// Every probe metric: name and help text. The README's metric table mirrors this list.
pub const PROBE_METRICS: &[(&str, &str)] = &[
    ("dane_probe_success", "1 when no DANE-enforcing sender would defer mail to the domain (verdict pass or not applicable), else 0."),
    ("dane_probe_verdict", "Verdict of the last probe in the verdict label (pass, fail or not_applicable): one series, for the current verdict, value 1."),
    ("dane_domain_protected", "1 when the MX RRset is signed and every MX host has DANE and authenticates."),
    ("dane_probe_duration_seconds", "Seconds the last probe of the domain took."),
    ("dane_probe_timestamp_seconds", "Unix time the last probe of the domain started."),
    ("dane_probe_failure_info", "One series per reason a DANE sender would defer mail, with the MX host and address concerned."),
    ("dane_probe_warning_info", "One series per finding that does not defer mail today but needs attention."),
    ("dane_dnssec_valid", "1 when the RRset validated secure, else 0."),
    ("dane_dnssec_status", "DNSSEC state of the RRset in the status label (secure, insecure, bogus, indeterminate): one series, for the current state, value 1."),
    ("dane_rrsig_expiration_timestamp_seconds", "Earliest RRSIG expiration of the RRset (Unix time)."),
    ("dane_mx_dane_state", "Whether DANE applies to the MX host, in the state label (applies, no_tlsa, tlsa_insecure, addresses_insecure, tlsa_lookup_failed, address_lookup_failed): one series, for the current state, value 1."),
    ("dane_tlsa_rollover_ready", "1 when the TLSA RRset survives a key change: a record for a next key, or a DANE-TA match (RFC 7671 section 8)."),
    ("dane_tlsa_records", "Number of TLSA records published for the MX host."),
    ("dane_tlsa_record_state", "State of each TLSA record against each endpoint's chain in the state label (matched, no_match, unusable): one series per record and endpoint, value 1."),
    ("dane_tlsa_match", "1 when the endpoint's certificate chain authenticates against the TLSA RRset (or none is usable and TLS works), else 0. Only where DANE applies."),
    ("dane_starttls_offered", "1 when the endpoint offered STARTTLS in its EHLO reply, else 0."),
    ("dane_tls_version_info", "TLS version negotiated with the endpoint."),
    ("dane_certificate_not_after_timestamp_seconds", "notAfter of the endpoint's leaf certificate (Unix time)."),
    ("dane_divergence_timestamp_seconds", "Earliest moment the TLSA RRset and the endpoint's chain are expected to stop matching if nobody acts (Unix time)."),
    ("dane_divergence_remaining_seconds", "Seconds from the probe until dane_divergence_timestamp_seconds (divide by 86400 for days to divergence); 0 when the endpoint does not authenticate now."),
    ("dane_smtp_duration_seconds", "Seconds the SMTP and TLS dialogue with the endpoint took."),
    // Other TLS services of the domain (crate::service, series built in service/metrics.rs).
    ("dane_service_success", "1 when the service's verdict is pass or not_applicable (no DANE client would refuse it), else 0."),
    ("dane_service_verdict", "Verdict of the service in the verdict label (pass, fail or not_applicable): one series, for the current verdict, value 1."),
    ("dane_service_dane_state", "Whether DANE applies to the service, in the state label (applies, no_tlsa, tlsa_insecure, addresses_insecure, tlsa_lookup_failed, address_lookup_failed): one series, for the current state, value 1."),
    ("dane_service_failure_info", "One series per reason a DANE client would refuse the service, with the address concerned."),
    ("dane_service_warning_info", "One series per service finding that needs attention but fails nothing."),
    ("dane_service_tlsa_records", "Number of TLSA records published for the service."),
    ("dane_service_tlsa_expiration_timestamp_seconds", "Earliest RRSIG expiration of the service's TLSA RRset (Unix time)."),
    ("dane_service_tlsa_match", "1 when the service endpoint's chain authenticates against its TLSA RRset (PKIX usages included), else 0. Only where DANE applies."),
    ("dane_service_tlsa_record_state", "State of each TLSA record of the service against each endpoint's chain in the state label (matched, no_match, unusable): one series per record and endpoint, value 1."),
    ("dane_service_starttls_offered", "1 when the STARTTLS service endpoint offered STARTTLS (STLS), else 0."),
    ("dane_service_certificate_not_after_timestamp_seconds", "notAfter of the service endpoint's leaf certificate (Unix time)."),
    ("dane_service_divergence_timestamp_seconds", "Earliest moment the service's TLSA RRset and the endpoint's chain are expected to stop matching (Unix time)."),
    ("dane_service_duration_seconds", "Seconds the dialogue and TLS handshake with the service endpoint took."),
    ("dane_mta_sts_policy_valid", "1 when the domain has exactly one valid _mta-sts TXT record and its policy was fetched over validated HTTPS and parsed, else 0 (RFC 8461). Only for targets with MTA-STS checks."),
    ("dane_mta_sts_mode", "Mode of the MTA-STS policy in the mode label (enforce, testing, none): one series, value 1. Only when a valid policy was fetched."),
    ("dane_mta_sts_max_age_seconds", "max_age of the MTA-STS policy: seconds senders may cache it."),
    ("dane_mta_sts_policy_fetch_duration_seconds", "Seconds the HTTPS fetch of the MTA-STS policy took."),
    ("dane_mta_sts_mx_covered", "1 when the MX host matches an mx pattern of the MTA-STS policy, else 0. Only when a valid policy was fetched."),
    ("dane_mta_sts_certificate_valid", "1 when the endpoint's STARTTLS certificate passes MTA-STS validation (WebPKI chain to a trusted root, MX host name), else 0."),
    ("dane_mta_sts_problem_info", "One series per MTA-STS problem, with the MX host and address concerned. Does not affect the DANE verdict."),
    ("dane_tls_rpt_valid", "1 when the domain has exactly one valid _smtp._tls TLS-RPT record (RFC 8460), else 0. Only for targets with TLS-RPT checks."),
    ("dane_tls_rpt_problem_info", "One series per TLS-RPT problem (missing, malformed, several records, lookup failed)."),
    // Key algorithms (src/key_algorithms.rs).
    ("dane_key_algorithm_offered", "1 when the endpoint presents a certificate with a key of that algorithm (ecdsa, rsa), 0 when it refuses a handshake limited to it; absent when that probe failed. Only where DANE applies, for targets global.key_algorithm_checks covers (inbound by default)."),
    ("dane_key_algorithm_tlsa_match", "1 when the chain the endpoint presents for that key algorithm authenticates against the TLSA RRset, else 0. Only for offered algorithms where DANE applies, for targets global.key_algorithm_checks covers."),
    // Local certificate files (src/local_certs/).
    ("dane_local_certificate_tlsa_match", "1 when the certificate file (slot live or staged) is authenticated by the published TLSA RRset, else 0. Only where DANE applies to the MX host."),
    ("dane_local_certificate_safe_to_deploy", "1 when a TLSA record matching the certificate file has been published for at least two TTLs of the RRset (RFC 7671 section 8.1), or the file is already served by every address, else 0."),
    ("dane_local_certificate_published_seconds", "Seconds the oldest TLSA record matching the certificate file has been published, as first seen by the exporter's probes, as of the last probe."),
    ("dane_local_certificate_required_publication_seconds", "Two TTLs of the MX host's TLSA RRset: how long a record must be published before its key is deployed (RFC 7671 section 8.1)."),
    ("dane_local_certificate_served", "1 when every endpoint of the MX host presents the certificate file's key, else 0 (a live file not served means a reload is pending)."),
    ("dane_local_certificate_not_after_timestamp_seconds", "notAfter of the certificate file's leaf (Unix time)."),
    ("dane_zone_consistent", "1 when every authoritative nameserver address of the zone serves the newest SOA serial, the same TLSA/MX RRsets and valid signatures, else 0."),
    ("dane_nameserver_consistent", "1 when this authoritative nameserver address serves the zone's newest SOA serial, the same TLSA/MX RRsets as the others and valid signatures, else 0."),
    ("dane_nameserver_soa_serial", "SOA serial this authoritative nameserver address serves for the zone."),
    ("dane_nameserver_rrset_match", "1 when this authoritative nameserver address serves the RRset exactly as the servers with the newest serial do, else 0."),
    ("dane_nameserver_signatures_valid", "1 when this authoritative nameserver address serves the SOA and compared RRsets with RRSIGs that are in their validity period and verify with the zone's DNSKEYs (always 1 for an unsigned zone), else 0."),
    ("dane_zone_warning_info", "One series per zone-level finding: DNSKEY/DS health and nameserver disagreement."),
];

/// Adds one gauge series (name, labels, value): how modules outside this one hand their series
/// to the collector.
pub type GaugeSink<'s> = dyn FnMut(&'static str, &[(&str, &str)], f64) + 's;

/// The latest report of one target, with the labels its series carry.
#[derive(Clone, Copy, Debug)]
pub struct LabelledReport<'a> {
    /// Inbound or outbound.
    pub direction: Direction,
    /// Extra labels from the configuration.
    pub extra_labels: &'a BTreeMap<String, String>,
    /// The report.
    pub report: &'a DomainReport,
}

/// Where the series of reports go. [`probe_families`] (protobuf objects, for tests and tools) and
/// [`TargetSeries`] (the text `/metrics` and `/probe` serve) are the two implementations, fed by
/// the same `add_report`, so they can never disagree on the series.
pub(crate) trait Sink {
    /// One gauge series; labels with an empty value are left out.
    fn gauge(&mut self, name: &'static str, labels: &[(&str, &str)], value: f64);
}

/// Collects series per metric name, then hands them out as families.
pub(crate) struct Families {
    series: BTreeMap<&'static str, Vec<Metric>>,
}

impl Families {
    fn new() -> Self {
        Self {
            series: BTreeMap::new(),
        }
    }
}

impl Sink for Families {
    fn gauge(&mut self, name: &'static str, labels: &[(&str, &str)], value: f64) {
        let mut gauge = Gauge::default();
        gauge.set_value(value);
        let mut metric = Metric::from_gauge(gauge);
        metric.set_label(
            labels
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| {
                    let mut pair = LabelPair::default();
                    pair.set_name((*k).to_string());
                    pair.set_value((*v).to_string());
                    pair
                })
                .collect(),
        );
        self.series.entry(name).or_default().push(metric);
    }
}

impl Families {
    fn into_families(mut self) -> Vec<MetricFamily> {
        PROBE_METRICS
            .iter()
            .filter_map(|(name, help)| {
                let metrics = self.series.remove(name)?;
                let mut family = MetricFamily::default();
                family.set_name((*name).to_string());
                family.set_help((*help).to_string());
                family.set_field_type(MetricType::GAUGE);
                family.set_metric(metrics);
                Some(family)
            })
            .collect()
    }
}

pub(crate) fn bool_value(value: bool) -> f64 {
    if value {
        1.0
    } else {
        0.0
    }
}

/// Builds the probe metric families for `reports`.
pub fn probe_families(reports: &[LabelledReport<'_>]) -> Vec<MetricFamily> {
    let mut families = Families::new();
    for item in reports {
        add_report(&mut families, item);
    }
    families.into_families()
}

/// The probe series of one target as exposition text, written once when its report arrives
/// (`crate::store`), so that a scrape only copies bytes. At 10,000 domains rendering every series
/// at every scrape took most of a scrape's time and held the store's lock meanwhile
/// (tests/bench/run.sh); now a scrape costs a copy of the text and the probe pays the formatting,
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

/// Indices of [`PROBE_METRICS`] sorted by metric name: the exposition's family order, as the
/// prometheus crate and Prometheus' own exporters write it.
fn metrics_by_name() -> &'static [usize] {
    static ORDER: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    ORDER.get_or_init(|| {
        let mut order: Vec<usize> = (0..PROBE_METRICS.len()).collect();
        order.sort_by_key(|&i| PROBE_METRICS[i].0);
        order
    })
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
        let Some(index) = PROBE_METRICS.iter().position(|(n, _)| *n == name) else {
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
}

impl TargetSeries {
    /// Renders the series of one report.
    pub fn of(item: &LabelledReport<'_>) -> Self {
        let base = report_base(item);
        let mut writer = SeriesWriter {
            base_len: base.len(),
            texts: vec![String::new(); PROBE_METRICS.len()],
        };
        add_report(&mut writer, item);
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
fn base_text(labels: &[(&str, &str)]) -> String {
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
fn push_escaped(out: &mut String, text: &str, quote: bool) {
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
/// (the peak RSS of tests/bench/run.sh). Each chunk holds whole series lines: at least
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
        for suffix in text.split_inclusive('\n') {
            push_series(out, name, &target.base, suffix);
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
fn push_series(out: &mut String, name: &str, base: &str, suffix: &str) {
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

/// `base` followed by `extra`.
pub(crate) fn join<'a>(
    base: &[(&'a str, &'a str)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut labels = Vec::with_capacity(base.len() + extra.len());
    labels.extend_from_slice(base);
    labels.extend_from_slice(extra);
    labels
}

fn direction_label(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

/// The labels every series of a target starts with: domain, direction, then the extra labels.
fn base_labels<'a>(
    domain: &'a str,
    direction: Direction,
    extra_labels: &'a BTreeMap<String, String>,
) -> Vec<(&'a str, &'a str)> {
    let mut base = vec![
        ("domain", domain),
        ("direction", direction_label(direction)),
    ];
    base.extend(extra_labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    base
}

/// [`base_labels`] of a labelled report.
fn report_base<'a>(item: &LabelledReport<'a>) -> Vec<(&'a str, &'a str)> {
    base_labels(&item.report.domain, item.direction, item.extra_labels)
}

fn add_report(f: &mut impl Sink, item: &LabelledReport<'_>) {
    let report = item.report;
    let base = report_base(item);

    f.gauge(
        "dane_probe_success",
        &base,
        bool_value(report.verdict != Verdict::Fail),
    );
    // Enumerations are one series for the current state, not a state set (module doc).
    f.gauge(
        "dane_probe_verdict",
        &join(&base, &[("verdict", report.verdict.as_str())]),
        1.0,
    );
    f.gauge("dane_domain_protected", &base, bool_value(report.protected));
    f.gauge(
        "dane_probe_duration_seconds",
        &base,
        report.duration_seconds,
    );
    f.gauge(
        "dane_probe_timestamp_seconds",
        &base,
        report.checked_at as f64,
    );
    for (name, findings) in [
        ("dane_probe_failure_info", &report.failures),
        ("dane_probe_warning_info", &report.warnings),
    ] {
        // Several findings may share a reason, MX host and address (one per unusable TLSA record,
        // say): they are one series, or the exposition would repeat a series and Prometheus
        // would reject the whole scrape.
        let mut seen = std::collections::BTreeSet::new();
        for finding in findings {
            let address = finding.address.map(|a| a.to_string()).unwrap_or_default();
            if !seen.insert((
                finding.reason.as_str(),
                finding.mx.as_deref(),
                finding.address,
            )) {
                continue;
            }
            f.gauge(
                name,
                &join(
                    &base,
                    &[
                        ("reason", &finding.reason),
                        ("mx", finding.mx.as_deref().unwrap_or("")),
                        ("address", &address),
                    ],
                ),
                1.0,
            );
        }
    }

    crate::service::metrics::add(f, &base, &report.services);
    add_transport_security(f, &base, report);
    crate::local_certs::add_metrics(
        &base,
        &report.local_certificates,
        &mut |name, labels, value| f.gauge(name, labels, value),
    );

    let mut rrsets: Vec<&RrsetReport> = vec![&report.mx_lookup];
    for host in &report.hosts {
        rrsets.extend(host.address_lookups.iter());
        rrsets.extend(host.tlsa_lookups.iter());
    }
    for rrset in rrsets {
        let labels = join(
            &base,
            &[("name", &rrset.name), ("type", rrset.rtype.as_str())],
        );
        f.gauge(
            "dane_dnssec_valid",
            &labels,
            bool_value(rrset.dnssec == DnssecStatus::Secure),
        );
        f.gauge(
            "dane_dnssec_status",
            &join(&labels, &[("status", rrset.dnssec.as_str())]),
            1.0,
        );
        if let Some(expiration) = rrset.signature_expiration {
            f.gauge(
                "dane_rrsig_expiration_timestamp_seconds",
                &labels,
                expiration as f64,
            );
        }
    }

    add_zones(f, &base, report);

    for host in &report.hosts {
        let mx = host.name.as_str();
        f.gauge(
            "dane_mx_dane_state",
            &join(&base, &[("mx", mx), ("state", host.dane.as_str())]),
            1.0,
        );
        if let Some(ready) = host.rollover_ready {
            f.gauge(
                "dane_tlsa_rollover_ready",
                &join(&base, &[("mx", mx)]),
                bool_value(ready),
            );
        }
        if host.dane == HostDane::Applies {
            f.gauge(
                "dane_tlsa_records",
                &join(&base, &[("mx", mx)]),
                host.tlsa_records.len() as f64,
            );
        }
        for endpoint in &host.endpoints {
            let address = endpoint.address.to_string();
            let at = join(&base, &[("mx", mx), ("address", &address)]);
            if let Some(offered) = endpoint.starttls_offered {
                f.gauge("dane_starttls_offered", &at, bool_value(offered));
            }
            if let Some(tls) = &endpoint.tls {
                let mut labels = at.clone();
                labels.push(("version", &tls.version));
                f.gauge("dane_tls_version_info", &labels, 1.0);
            }
            if let Some(leaf) = endpoint.chain.first() {
                f.gauge(
                    "dane_certificate_not_after_timestamp_seconds",
                    &at,
                    leaf.not_after as f64,
                );
            }
            f.gauge("dane_smtp_duration_seconds", &at, endpoint.duration_seconds);
            if host.dane != HostDane::Applies {
                continue;
            }
            let evaluation = endpoint.evaluation.as_ref();
            let passes = evaluation.is_some_and(|e| e.passes());
            f.gauge("dane_tlsa_match", &at, bool_value(passes));
            let divergence = evaluation.and_then(|e| e.divergence);
            if let Some(divergence) = divergence {
                f.gauge("dane_divergence_timestamp_seconds", &at, divergence as f64);
            }
            // Nothing is authenticated without usable records, so nothing can diverge either.
            let no_usable_records = matches!(
                evaluation.map(|e| &e.outcome),
                Some(EndpointOutcome::NoUsableRecords)
            );
            if !no_usable_records {
                let remaining = match divergence {
                    Some(t) if passes => ((t - report.checked_at) as f64).max(0.0),
                    _ => 0.0,
                };
                f.gauge("dane_divergence_remaining_seconds", &at, remaining);
            }
            crate::key_algorithms::add_metrics(
                &at,
                &endpoint.key_algorithms,
                &mut |name, labels, value| f.gauge(name, labels, value),
            );
            if let Some(evaluation) = evaluation {
                for result in &evaluation.records {
                    let record = result.record.to_string();
                    f.gauge(
                        "dane_tlsa_record_state",
                        &join(&at, &[("record", &record), ("state", result.state.label())]),
                        1.0,
                    );
                }
            }
        }
    }
}

/// The MTA-STS and TLS-RPT series of one target (none when they are not checked for it).
fn add_transport_security(f: &mut impl Sink, base: &[(&str, &str)], report: &DomainReport) {
    if let Some(sts) = &report.mta_sts {
        f.gauge("dane_mta_sts_policy_valid", base, bool_value(sts.valid));
        if let Some(policy) = &sts.policy {
            f.gauge(
                "dane_mta_sts_mode",
                &join(base, &[("mode", policy.mode.as_str())]),
                1.0,
            );
            f.gauge("dane_mta_sts_max_age_seconds", base, policy.max_age as f64);
        }
        if let Some(seconds) = sts.fetch_duration_seconds {
            f.gauge("dane_mta_sts_policy_fetch_duration_seconds", base, seconds);
        }
        for host in &sts.hosts {
            if sts.policy.is_some() {
                f.gauge(
                    "dane_mta_sts_mx_covered",
                    &join(base, &[("mx", &host.name)]),
                    bool_value(host.covered_by.is_some()),
                );
            }
            for endpoint in &host.endpoints {
                let address = endpoint.address.to_string();
                f.gauge(
                    "dane_mta_sts_certificate_valid",
                    &join(base, &[("mx", &host.name), ("address", &address)]),
                    bool_value(endpoint.certificate_valid),
                );
            }
        }
        for finding in &sts.findings {
            let address = finding.address.map(|a| a.to_string()).unwrap_or_default();
            f.gauge(
                "dane_mta_sts_problem_info",
                &join(
                    base,
                    &[
                        ("reason", &finding.reason),
                        ("mx", finding.mx.as_deref().unwrap_or("")),
                        ("address", &address),
                    ],
                ),
                1.0,
            );
        }
    }
    if let Some(rpt) = &report.tls_rpt {
        f.gauge("dane_tls_rpt_valid", base, bool_value(rpt.valid));
        for finding in &rpt.findings {
            f.gauge(
                "dane_tls_rpt_problem_info",
                &join(base, &[("reason", &finding.reason)]),
                1.0,
            );
        }
    }
}

/// The authoritative consistency series of every zone (`crate::consistency`).
fn add_zones(f: &mut impl Sink, base: &[(&str, &str)], report: &DomainReport) {
    for zone in &report.zones {
        let z = join(base, &[("zone", &zone.zone)]);
        f.gauge("dane_zone_consistent", &z, bool_value(zone.consistent));
        for warning in &zone.warnings {
            f.gauge(
                "dane_zone_warning_info",
                &join(&z, &[("reason", &warning.reason)]),
                1.0,
            );
        }
        // A server the exporter's host cannot route to was not asked: no series, no alert.
        for server in zone.nameservers.iter().filter(|n| n.skipped.is_none()) {
            let address = server.address.to_string();
            let at = join(
                &z,
                &[("nameserver", &server.nameserver), ("address", &address)],
            );
            f.gauge(
                "dane_nameserver_consistent",
                &at,
                bool_value(server.consistent),
            );
            if let Some(serial) = server.serial {
                f.gauge("dane_nameserver_soa_serial", &at, f64::from(serial));
            }
            if server.error.is_none() {
                f.gauge(
                    "dane_nameserver_signatures_valid",
                    &at,
                    bool_value(server.signatures_valid),
                );
            }
            for rrset in &server.rrsets {
                f.gauge(
                    "dane_nameserver_rrset_match",
                    &join(
                        &at,
                        &[("name", &rrset.key.name), ("type", &rrset.key.rtype)],
                    ),
                    bool_value(rrset.matches),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::{
        exposition, probe_families, ExpositionChunks, LabelledReport, TargetSeries, PROBE_METRICS,
    };
    use crate::report::{Direction, DomainReport, Finding};

    /// Two findings with the same reason, MX host and address (two unusable TLSA records of one
    /// host) must not repeat a series: Prometheus rejects a scrape with a duplicate series.
    #[test]
    fn findings_sharing_their_labels_are_one_series() {
        let mut report = DomainReport::unfinished("example.org", 0, 0.0, "x", String::new());
        report.failures.clear();
        let unusable = |message: &str| Finding {
            reason: "tlsa_record_unusable".to_string(),
            mx: Some("mx.example.org".to_string()),
            address: None,
            message: message.to_string(),
        };
        report.warnings = vec![unusable("first record"), unusable("second record")];
        report.warnings.push(Finding {
            mx: Some("mx2.example.org".to_string()),
            ..unusable("another host")
        });
        let labels = BTreeMap::new();
        let families = probe_families(&[LabelledReport {
            direction: Direction::Inbound,
            extra_labels: &labels,
            report: &report,
        }]);
        let warnings = families
            .iter()
            .find(|f| f.name() == "dane_probe_warning_info")
            .map(|f| f.get_metric().len());
        assert_eq!(warnings, Some(2));
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn series_of(report: &DomainReport, extra: &BTreeMap<String, String>) -> TargetSeries {
        TargetSeries::of(&LabelledReport {
            direction: Direction::Outbound,
            extra_labels: extra,
            report,
        })
    }

    /// A reload that changes a target's extra labels relabels its stored series: the result must
    /// be what rendering the report with the new labels gives.
    #[test]
    fn relabelled_series_equal_a_fresh_render() {
        let report = DomainReport::unfinished("example.org", 7, 0.5, "timeout", "t".into());
        let old = series_of(&report, &labels(&[("team", "a")]));
        let new_labels = labels(&[("team", "b \"x\""), ("site", "")]);
        let relabelled = old.relabelled("example.org", Direction::Outbound, &new_labels);
        let fresh = series_of(&report, &new_labels);
        assert_eq!(
            exposition(Vec::new(), &[&relabelled]),
            exposition(Vec::new(), &[&fresh])
        );
        assert!(exposition(Vec::new(), &[&relabelled]).contains(r#"team="b \"x\"""#));
    }

    /// The exporter's own families sort in among the probe families by name, and within a
    /// family the targets keep their order.
    #[test]
    fn exposition_merges_families_by_name_and_keeps_target_order() {
        let none = BTreeMap::new();
        let a = series_of(
            &DomainReport::unfinished("a.example", 1, 0.1, "x", String::new()),
            &none,
        );
        let b = series_of(
            &DomainReport::unfinished("b.example", 2, 0.2, "y", String::new()),
            &none,
        );
        let own = vec![
            ("zz_last".to_string(), "# zz\n".to_string()),
            ("aa_first".to_string(), "# aa\n".to_string()),
            ("dane_probe_t".to_string(), "# between\n".to_string()),
        ];
        let text = exposition(own, &[&a, &b]);
        let position = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} missing from {text}"))
        };
        assert_eq!(position("# aa\n"), 0);
        assert!(text.ends_with("# zz\n"), "{text}");
        assert!(position("# HELP dane_probe_success ") < position("# between\n"));
        assert!(position("# between\n") < position("# HELP dane_probe_timestamp_seconds "));
        let ts = |domain: &str| {
            position(&format!(
                "dane_probe_timestamp_seconds{{domain=\"{domain}\",direction=\"outbound\"}} "
            ))
        };
        assert!(ts("a.example") < ts("b.example"));
        // Every line is a comment or `name{labels} value`: nothing left over from the spans.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("{domain=\""), "{line}");
        }
    }

    /// Written in chunks, the exposition is the same text cut at line ends: every chunk but the
    /// last holds at least the chunk size, and the last is not empty.
    #[test]
    fn chunks_cut_the_same_exposition_at_line_ends() {
        let none = BTreeMap::new();
        let targets: Vec<Arc<TargetSeries>> = (0..40)
            .map(|i| {
                let domain = format!("d{i}.example");
                let report = DomainReport::unfinished(&domain, 1, 0.1, "x", String::new());
                Arc::new(series_of(&report, &none))
            })
            .collect();
        let own = || vec![("zz_own".to_string(), "# zz\nzz_own 1\n".to_string())];
        let whole = exposition(
            own(),
            &targets.iter().map(|t| t.as_ref()).collect::<Vec<_>>(),
        );
        for chunk_bytes in [1, 100, 1000, 4096, whole.len(), whole.len() + 1] {
            let chunks: Vec<String> =
                ExpositionChunks::new(own(), targets.clone(), chunk_bytes).collect();
            assert_eq!(chunks.concat(), whole, "chunk size {chunk_bytes}");
            let (last, full) = chunks.split_last().expect("at least one chunk");
            assert!(!last.is_empty() && last.ends_with('\n'));
            for chunk in full {
                assert!(chunk.len() >= chunk_bytes, "{chunk_bytes}: {}", chunk.len());
                assert!(chunk.ends_with('\n'));
            }
        }
        assert!(ExpositionChunks::new(own(), targets.clone(), 1000).count() > 2);
        // Nothing at all: no chunk, not an empty one.
        let empty: Vec<Arc<TargetSeries>> = Vec::new();
        assert_eq!(ExpositionChunks::new(Vec::new(), empty, 10).count(), 0);
    }

    /// Enumerations are one series for the current state, with value 1.
    #[test]
    fn enumerations_are_one_series_for_the_current_state() {
        let report = DomainReport::unfinished("example.org", 0, 0.0, "x", String::new());
        let text = exposition(Vec::new(), &[&series_of(&report, &BTreeMap::new())]);
        let verdicts: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("dane_probe_verdict{"))
            .collect();
        assert_eq!(
            verdicts,
            ["dane_probe_verdict{domain=\"example.org\",direction=\"outbound\",verdict=\"fail\"} 1"]
        );
        let statuses: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("dane_dnssec_status{"))
            .collect();
        assert_eq!(statuses.len(), 1, "{statuses:?}");
        assert!(statuses[0].ends_with(r#"status="indeterminate"} 1"#));
    }

    #[test]
    fn a_series_without_base_labels_stays_well_formed() {
        let mut out = String::new();
        super::push_series(&mut out, "m", "", "} 1\n");
        super::push_series(&mut out, "m", "", ",a=\"b\"} 2\n");
        super::push_series(&mut out, "m", "d=\"e\"", ",a=\"b\"} 3\n");
        assert_eq!(out, "m 1\nm{a=\"b\"} 2\nm{d=\"e\",a=\"b\"} 3\n");
    }

    /// The README's metric table is the documentation users read: it must list every family.
    #[test]
    fn readme_documents_every_metric() {
        let readme = include_str!("../README.md");
        for (name, _) in PROBE_METRICS {
            assert!(
                readme.contains(&format!("| `{name}` |")),
                "README.md's metric table lacks {name}"
            );
        }
    }
}
