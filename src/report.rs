//! The result of probing one domain: every check's output, in one tree.
//!
//! Assembled once by `crate::probe` from the checks' results (`crate::checks`); read by
//! `crate::text` for the human report, by `crate::metrics` for the series, and printed by
//! `dane_exporter check --json`, a public interface: rename nothing lightly. No check imports it.

use serde::Serialize;

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
    /// Pass, fail or not applicable.
    pub verdict: Verdict,
    /// Every MX host has DANE and every one of its endpoints authenticates.
    pub protected: bool,
    /// Why the verdict is `fail` (empty otherwise).
    pub failures: Vec<Finding>,
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

    /// The domain probed.
    pub fn domain(&self) -> &str {
        &self.mx.domain
    }

    /// When the probe started.
    pub fn checked_at(&self) -> UnixSeconds {
        self.mx.checked_at
    }
}
