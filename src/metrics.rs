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

use std::collections::BTreeMap;
use std::fmt::Write as _;

use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::dane::EndpointOutcome;
use crate::dns::DnssecStatus;
use crate::mta_sts::Mode;
use crate::report::{Direction, DomainReport, HostDane, RrsetReport, Verdict};

/// Every probe metric: name and help text. The README's metric table mirrors this list.
pub const PROBE_METRICS: &[(&str, &str)] = &[
    ("dane_probe_success", "1 when no DANE-enforcing sender would defer mail to the domain (verdict pass or not applicable), else 0."),
    ("dane_probe_verdict", "Verdict of the last probe as a state set: pass, fail or not_applicable."),
    ("dane_domain_protected", "1 when the MX RRset is signed and every MX host has DANE and authenticates."),
    ("dane_probe_duration_seconds", "Seconds the last probe of the domain took."),
    ("dane_probe_timestamp_seconds", "Unix time the last probe of the domain started."),
    ("dane_probe_failure_info", "One series per reason a DANE sender would defer mail, with the MX host and address concerned."),
    ("dane_probe_warning_info", "One series per finding that does not defer mail today but needs attention."),
    ("dane_dnssec_valid", "1 when the RRset validated secure, else 0."),
    ("dane_dnssec_status", "DNSSEC state of the RRset as a state set: secure, insecure, bogus, indeterminate."),
    ("dane_rrsig_expiration_timestamp_seconds", "Earliest RRSIG expiration of the RRset (Unix time)."),
    ("dane_mx_dane_state", "Whether DANE applies to the MX host, as a state set (applies, no_tlsa, tlsa_insecure, addresses_insecure, tlsa_lookup_failed, address_lookup_failed)."),
    ("dane_tlsa_rollover_ready", "1 when the TLSA RRset survives a key change: a record for a next key, or a DANE-TA match (RFC 7671 section 8)."),
    ("dane_tlsa_records", "Number of TLSA records published for the MX host."),
    ("dane_tlsa_record_state", "State of each TLSA record against each endpoint's chain as a state set: matched, no_match, unusable."),
    ("dane_tlsa_match", "1 when the endpoint's certificate chain authenticates against the TLSA RRset (or none is usable and TLS works), else 0. Only where DANE applies."),
    ("dane_starttls_offered", "1 when the endpoint offered STARTTLS in its EHLO reply, else 0."),
    ("dane_tls_version_info", "TLS version negotiated with the endpoint."),
    ("dane_certificate_not_after_timestamp_seconds", "notAfter of the endpoint's leaf certificate (Unix time)."),
    ("dane_divergence_timestamp_seconds", "Earliest moment the TLSA RRset and the endpoint's chain are expected to stop matching if nobody acts (Unix time)."),
    ("dane_divergence_remaining_seconds", "Seconds from the probe until dane_divergence_timestamp_seconds (divide by 86400 for days to divergence); 0 when the endpoint does not authenticate now."),
    ("dane_smtp_duration_seconds", "Seconds the SMTP and TLS dialogue with the endpoint took."),
    // Other TLS services of the domain (crate::service, series built in service/metrics.rs).
    ("dane_service_success", "1 when the service's verdict is pass or not_applicable (no DANE client would refuse it), else 0."),
    ("dane_service_verdict", "Verdict of the service as a state set: pass, fail or not_applicable."),
    ("dane_service_dane_state", "Whether DANE applies to the service, as a state set (applies, no_tlsa, tlsa_insecure, addresses_insecure, tlsa_lookup_failed, address_lookup_failed)."),
    ("dane_service_failure_info", "One series per reason a DANE client would refuse the service, with the address concerned."),
    ("dane_service_warning_info", "One series per service finding that needs attention but fails nothing."),
    ("dane_service_tlsa_records", "Number of TLSA records published for the service."),
    ("dane_service_tlsa_expiration_timestamp_seconds", "Earliest RRSIG expiration of the service's TLSA RRset (Unix time)."),
    ("dane_service_tlsa_match", "1 when the service endpoint's chain authenticates against its TLSA RRset (PKIX usages included), else 0. Only where DANE applies."),
    ("dane_service_tlsa_record_state", "State of each TLSA record of the service against each endpoint's chain as a state set: matched, no_match, unusable."),
    ("dane_service_starttls_offered", "1 when the STARTTLS service endpoint offered STARTTLS (STLS), else 0."),
    ("dane_service_certificate_not_after_timestamp_seconds", "notAfter of the service endpoint's leaf certificate (Unix time)."),
    ("dane_service_divergence_timestamp_seconds", "Earliest moment the service's TLSA RRset and the endpoint's chain are expected to stop matching (Unix time)."),
    ("dane_service_duration_seconds", "Seconds the dialogue and TLS handshake with the service endpoint took."),
    ("dane_mta_sts_policy_valid", "1 when the domain has exactly one valid _mta-sts TXT record and its policy was fetched over validated HTTPS and parsed, else 0 (RFC 8461). Only for targets with MTA-STS checks."),
    ("dane_mta_sts_mode", "Mode of the MTA-STS policy as a state set: enforce, testing, none. Only when a valid policy was fetched."),
    ("dane_mta_sts_max_age_seconds", "max_age of the MTA-STS policy: seconds senders may cache it."),
    ("dane_mta_sts_policy_fetch_duration_seconds", "Seconds the HTTPS fetch of the MTA-STS policy took."),
    ("dane_mta_sts_mx_covered", "1 when the MX host matches an mx pattern of the MTA-STS policy, else 0. Only when a valid policy was fetched."),
    ("dane_mta_sts_certificate_valid", "1 when the endpoint's STARTTLS certificate passes MTA-STS validation (WebPKI chain to a trusted root, MX host name), else 0."),
    ("dane_mta_sts_problem_info", "One series per MTA-STS problem, with the MX host and address concerned. Does not affect the DANE verdict."),
    ("dane_tls_rpt_valid", "1 when the domain has exactly one valid _smtp._tls TLS-RPT record (RFC 8460), else 0. Only for targets with TLS-RPT checks."),
    ("dane_tls_rpt_problem_info", "One series per TLS-RPT problem (missing, malformed, several records, lookup failed)."),
    // Key algorithms (src/key_algorithms.rs).
    ("dane_key_algorithm_offered", "1 when the endpoint presents a certificate with a key of that algorithm (ecdsa, rsa), 0 when it refuses a handshake limited to it; absent when that probe failed. Only where DANE applies."),
    ("dane_key_algorithm_tlsa_match", "1 when the chain the endpoint presents for that key algorithm authenticates against the TLSA RRset, else 0. Only for offered algorithms where DANE applies."),
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

/// Where the series of reports go. [`probe_families`] and [`probe_exposition`] are the two
/// implementations, fed by the same `add_report`, so they can never disagree on the series.
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

/// Series written straight as text exposition lines, one buffer per metric name.
#[derive(Default)]
struct TextFamilies {
    lines: BTreeMap<&'static str, String>,
}

impl Sink for TextFamilies {
    fn gauge(&mut self, name: &'static str, labels: &[(&str, &str)], value: f64) {
        let out = self.lines.entry(name).or_default();
        out.push_str(name);
        let mut separator = '{';
        for (key, val) in labels.iter().filter(|(_, v)| !v.is_empty()) {
            out.push(separator);
            out.push_str(key);
            out.push_str("=\"");
            push_escaped(out, val, true);
            out.push('"');
            separator = ',';
        }
        if separator == ',' {
            out.push('}');
        }
        // f64's Display, as the prometheus crate's TextEncoder writes values.
        let _ = writeln!(out, " {value}");
    }
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

/// The probe series of `reports` as text exposition: one `(name, text)` chunk per metric that has
/// series, HELP and TYPE lines included, in [`PROBE_METRICS`] order. The same bytes the
/// prometheus crate's `TextEncoder` makes of [`probe_families`], without a protobuf object and a
/// dozen small allocations per series: at 10,000 domains (about 450,000 series) those were most
/// of the time and memory a `/metrics` render took (tests/bench/run.sh).
pub fn probe_exposition(reports: &[LabelledReport<'_>]) -> Vec<(&'static str, String)> {
    let mut families = TextFamilies::default();
    for item in reports {
        add_report(&mut families, item);
    }
    PROBE_METRICS
        .iter()
        .filter_map(|(name, help)| {
            let lines = families.lines.remove(name)?;
            let mut text = String::with_capacity(lines.len() + help.len() + 2 * name.len() + 20);
            text.push_str("# HELP ");
            text.push_str(name);
            text.push(' ');
            push_escaped(&mut text, help, false);
            text.push_str("\n# TYPE ");
            text.push_str(name);
            text.push_str(" gauge\n");
            text.push_str(&lines);
            Some((*name, text))
        })
        .collect()
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

fn add_report(f: &mut impl Sink, item: &LabelledReport<'_>) {
    let report = item.report;
    let direction = match item.direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    };
    // Base labels of every series of this target: domain, direction, then the extra labels.
    let mut base: Vec<(&str, &str)> = vec![("domain", &report.domain), ("direction", direction)];
    base.extend(
        item.extra_labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );

    f.gauge(
        "dane_probe_success",
        &base,
        bool_value(report.verdict != Verdict::Fail),
    );
    for verdict in [Verdict::Pass, Verdict::Fail, Verdict::NotApplicable] {
        f.gauge(
            "dane_probe_verdict",
            &join(&base, &[("verdict", verdict.as_str())]),
            bool_value(report.verdict == verdict),
        );
    }
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
        for status in DnssecStatus::ALL {
            let mut state_labels = labels.clone();
            state_labels.push(("status", status.as_str()));
            f.gauge(
                "dane_dnssec_status",
                &state_labels,
                bool_value(rrset.dnssec == status),
            );
        }
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
        for state in HostDane::ALL {
            f.gauge(
                "dane_mx_dane_state",
                &join(&base, &[("mx", mx), ("state", state.as_str())]),
                bool_value(host.dane == state),
            );
        }
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
                    for state in ["matched", "no_match", "unusable"] {
                        let mut labels = at.clone();
                        labels.push(("record", &record));
                        labels.push(("state", state));
                        f.gauge(
                            "dane_tlsa_record_state",
                            &labels,
                            bool_value(result.state.label() == state),
                        );
                    }
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
            for mode in Mode::ALL {
                f.gauge(
                    "dane_mta_sts_mode",
                    &join(base, &[("mode", mode.as_str())]),
                    bool_value(policy.mode == mode),
                );
            }
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

    use super::{probe_families, LabelledReport, PROBE_METRICS};
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
