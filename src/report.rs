//! The result of probing one domain: every check's output, in one tree.
//!
//! Assembled once by `crate::probe` from the checks' results (`crate::checks`); read by
//! `crate::text` for the human report, by `crate::metrics` for the series, and printed by
//! `dane_exporter check --json`, a public interface: rename nothing lightly. No check imports it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::checks::authoritative::ZoneReport;
use crate::checks::local_certs::LocalCertReport;
use crate::checks::mta_sts::{MtaStsReport, TlsRptReport};
use crate::checks::services::ServiceReport;
use crate::core::{Finding, MxReport, Reason, UnixSeconds, Verdict};
use crate::history::VerdictState;
use crate::tlsrpt::SendersView;

/// Everything about one domain.
#[derive(Clone, Debug, Serialize)]
pub struct DomainReport {
    /// What probing the MX hosts found (domain, MX lookup, hosts, endpoints).
    #[serde(flatten)]
    pub mx: MxReport,
    /// Seconds the whole probe took.
    pub duration_seconds: f64,
    /// Pass, fail, not applicable, or unknown (the exporter could not see).
    pub verdict: Verdict,
    /// Every MX host has DANE and every one of its endpoints authenticates.
    pub protected: bool,
    /// Why the verdict is `fail` (empty otherwise).
    pub failures: Vec<Finding>,
    /// Why the verdict is `unknown` (empty otherwise): the exporter's own resolver does not
    /// validate DNSSEC or does not answer (`crate::probe`), which says nothing about the domain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<Finding>,
    /// Things that do not defer mail today but need attention.
    pub warnings: Vec<Finding>,
    /// Earliest divergence over all endpoints (see `EndpointEvaluation::divergence`).
    pub divergence: Option<UnixSeconds>,
    /// The configured non-SMTP services (`crate::checks::services`), each with its own verdict;
    /// they do not change `verdict`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceReport>,
    /// MTA-STS (RFC 8461), when checked for this target; never changes the DANE verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mta_sts: Option<MtaStsReport>,
    /// TLS-RPT (RFC 8460), when checked for this target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_rpt: Option<TlsRptReport>,
    /// Local certificate files (live, staged) against the TLSA records, for inbound targets that
    /// name them (`crate::checks::local_certs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub local_certificates: Vec<LocalCertReport>,
    /// Every zone holding a TLSA or the MX RRset, as its authoritative nameservers answer (when
    /// the authoritative checks ran; see `crate::checks::authoritative`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneReport>,
    /// Since when the verdict (and its reasons) have held, as the history of rounds knows it
    /// (`crate::history`; the exporter's survives restarts); absent for a probe that did not
    /// finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict_since: Option<VerdictState>,
    /// What senders' latest TLS-RPT reports saw of this (inbound) domain, per MX host, when
    /// reports arrived (`crate::tlsrpt::SendersView`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub senders: Option<SendersView>,
}

impl DomainReport {
    /// The report of a probe that did not finish (it ran out of time, or crashed): no facts, a
    /// failed verdict and one finding saying why.
    pub fn unfinished(
        domain: &str,
        checked_at: UnixSeconds,
        duration_seconds: f64,
        reason: Reason,
        message: String,
    ) -> Self {
        Self {
            mx: MxReport::unfinished(domain, checked_at),
            duration_seconds,
            verdict: Verdict::Fail,
            protected: false,
            failures: vec![Finding::new(reason, message)],
            unknown: Vec::new(),
            warnings: Vec::new(),
            divergence: None,
            services: Vec::new(),
            mta_sts: None,
            tls_rpt: None,
            local_certificates: Vec::new(),
            zones: Vec::new(),
            verdict_since: None,
            senders: None,
        }
    }

    /// The report of a probe that did not look because the exporter cannot see (`finding` says
    /// why): no facts, the verdict unknown.
    pub fn blind(
        domain: &str,
        checked_at: UnixSeconds,
        duration_seconds: f64,
        finding: Finding,
    ) -> Self {
        Self {
            verdict: Verdict::Unknown,
            failures: Vec::new(),
            unknown: vec![finding],
            ..Self::unfinished(
                domain,
                checked_at,
                duration_seconds,
                Reason::ResolverUnavailable,
                String::new(),
            )
        }
    }

    /// The domain probed.
    pub fn domain(&self) -> &str {
        &self.mx.domain
    }

    /// When the probe started.
    pub fn checked_at(&self) -> UnixSeconds {
        self.mx.checked_at
    }
}

/// Version of the JSON layout of `check --json` and `/status/...?format=json`. Adding a field does
/// not change it; removing or renaming one, or changing what it means, does.
pub const JSON_SCHEMA_VERSION: u64 = 1;

/// Fields that hold Unix seconds. Each gets a sibling `<name>_rfc3339` (UTC, to the second) for
/// readers that do not want to convert.
const TIME_FIELDS: &[&str] = &[
    "checked_at",
    "divergence",
    "first_seen",
    "min_not_after",
    "not_after",
    "not_before",
    "period_end",
    "period_start",
    "published_since",
    "reasons_since",
    "signature_expiration",
    "since",
    "tlsa_signature_expiration",
    "until",
];

/// The report as the JSON `check --json` prints: `schema_version` first, then the report's
/// fields in their order, every Unix time with its RFC 3339 twin.
pub fn to_json_value(report: &DomainReport) -> Value {
    let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
    add_rfc3339(&mut value);
    let mut top = Map::new();
    top.insert("schema_version".into(), Value::from(JSON_SCHEMA_VERSION));
    if let Value::Object(fields) = value {
        top.extend(fields);
    }
    Value::Object(top)
}

/// [`to_json_value`], pretty-printed.
pub fn to_json(report: &DomainReport) -> String {
    serde_json::to_string_pretty(&to_json_value(report)).unwrap_or_default()
}

fn add_rfc3339(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let times: Vec<(String, String)> = map
                .iter()
                .filter(|(k, _)| TIME_FIELDS.contains(&k.as_str()))
                .filter_map(|(k, v)| {
                    let t = v.as_i64()?;
                    Some((format!("{k}_rfc3339"), crate::core::time::format_time(t)))
                })
                .collect();
            for v in map.values_mut() {
                add_rfc3339(v);
            }
            // Inserted after the walk so that the twins sit beside their fields in key order.
            let old = std::mem::take(map);
            for (k, v) in old {
                let twin = times
                    .iter()
                    .find(|(name, _)| name.strip_suffix("_rfc3339") == Some(&k));
                map.insert(k, v);
                if let Some((name, text)) = twin {
                    map.insert(name.clone(), Value::String(text.clone()));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_rfc3339),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_schema_version_first_and_rfc3339_twins() {
        let report = DomainReport::unfinished(
            "example.org",
            1_796_169_600,
            1.5,
            Reason::ProbeTimeout,
            "took too long".into(),
        );
        let value = to_json_value(&report);
        let map = value.as_object().expect("object");
        assert_eq!(
            map.keys().next().map(String::as_str),
            Some("schema_version")
        );
        assert_eq!(value["schema_version"], JSON_SCHEMA_VERSION);
        assert_eq!(value["checked_at"], 1_796_169_600);
        assert_eq!(value["checked_at_rfc3339"], "2026-12-02T00:00:00Z");
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        let at = keys
            .iter()
            .position(|k| *k == "checked_at")
            .expect("checked_at");
        assert_eq!(keys[at + 1], "checked_at_rfc3339");
        // A null time (no divergence) has no twin.
        assert_eq!(value["divergence"], Value::Null);
        assert!(map.get("divergence_rfc3339").is_none());
    }

    #[test]
    fn history_and_senders_times_have_twins() {
        let mut report = DomainReport::unfinished(
            "example.org",
            1_796_169_600,
            1.5,
            Reason::ProbeTimeout,
            "took too long".into(),
        );
        report.verdict_since = Some(VerdictState {
            verdict: Verdict::Fail,
            since: 1_796_083_200,
            reasons: vec![Reason::ProbeTimeout],
            reasons_since: 1_796_169_600,
            previous: Some(Verdict::Pass),
        });
        report.senders = Some(SendersView {
            period_start: 1_795_996_800,
            period_end: 1_796_083_200,
            ..SendersView::default()
        });
        let value = to_json_value(&report);
        let since = &value["verdict_since"];
        assert_eq!(since["since_rfc3339"], "2026-12-01T00:00:00Z");
        assert_eq!(since["reasons_since_rfc3339"], "2026-12-02T00:00:00Z");
        assert_eq!(
            value["senders"]["period_start_rfc3339"],
            "2026-11-30T00:00:00Z"
        );
        assert_eq!(
            value["senders"]["period_end_rfc3339"],
            "2026-12-01T00:00:00Z"
        );
    }
}
