//! The result of probing one domain: every fact found, every judgement made, in one tree.
//!
//! Built by `crate::probe` (facts) and `crate::verdict` (judgements); read by `crate::check` for
//! the human report and `--json`, and by the exporter's metrics. Serialises to the JSON that
//! `dane_exporter check --json` prints, which is a public interface: rename nothing lightly.

use std::net::IpAddr;

use serde::Serialize;

use crate::dane::{CertificateInfo, EndpointEvaluation, TlsaRecord};
use crate::dns::{Answer, DnssecStatus, LookupError, MxRecord, RecordType, UnixSeconds};
use crate::key_algorithms::KeyAlgorithmReport;
use crate::local_certs::LocalCertReport;
use crate::smtp::{SmtpError, TlsSession};

/// Which way mail flows to the probed domain, as the exporter labels it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// One of our own domains: others send to us.
    Inbound,
    /// A domain we send to.
    Outbound,
}

/// A DNS lookup as the report shows it: the RRset, its DNSSEC state and its signature deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RrsetReport {
    /// Query name.
    pub name: String,
    /// Query type.
    #[serde(rename = "type")]
    pub rtype: RecordType,
    /// DNSSEC state of the answer.
    pub dnssec: DnssecStatus,
    /// `records`, `nx_domain`, `no_data` or `failed`.
    pub outcome: &'static str,
    /// Names of the CNAME chain that was followed, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cname_chain: Vec<String>,
    /// Earliest RRSIG expiration, if signed.
    pub signature_expiration: Option<UnixSeconds>,
    /// TTL of the RRset as answered.
    pub ttl: Option<u32>,
    /// The failure, when the lookup failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<LookupError>,
}

impl RrsetReport {
    /// Summarises an answer; the records themselves are kept elsewhere in typed form.
    pub fn from_answer<T>(answer: &Answer<T>) -> Self {
        let (outcome, cname_chain, signature_expiration, ttl, error) = match &answer.result {
            Ok(response) => (
                match &response.set {
                    crate::dns::RecordSet::Records(_) => "records",
                    crate::dns::RecordSet::NxDomain => "nx_domain",
                    crate::dns::RecordSet::NoData => "no_data",
                },
                response.cname_chain.clone(),
                response.signature_expiration,
                response.ttl,
                None,
            ),
            Err(error) => ("failed", Vec::new(), None, None, Some(error.clone())),
        };
        Self {
            name: answer.name.clone(),
            rtype: answer.rtype,
            dnssec: answer.dnssec_status(),
            outcome,
            cname_chain,
            signature_expiration,
            ttl,
            error,
        }
    }
}

/// Whether DANE applies to an MX host, and if not, why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum HostDane {
    /// A secure TLSA RRset exists: authenticated (or at least mandatory) TLS applies.
    Applies,
    /// The host's address records are not secure, so its TLSA records are not used (RFC 7672
    /// 2.2.2, as Postfix does).
    AddressesInsecure,
    /// Secure denial of TLSA: opportunistic TLS only.
    NoTlsa,
    /// The TLSA RRset is insecure: opportunistic TLS only.
    TlsaInsecure,
    /// The TLSA lookup failed for a host DANE would apply to: a DANE sender defers.
    TlsaLookupFailed,
    /// The address lookup failed: a sender cannot reach the host.
    AddressLookupFailed,
}

impl HostDane {
    /// Every state, in the order metrics list them.
    pub const ALL: [HostDane; 6] = [
        HostDane::Applies,
        HostDane::NoTlsa,
        HostDane::TlsaInsecure,
        HostDane::AddressesInsecure,
        HostDane::TlsaLookupFailed,
        HostDane::AddressLookupFailed,
    ];

    /// Stable snake_case name, the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HostDane::Applies => "applies",
            HostDane::AddressesInsecure => "addresses_insecure",
            HostDane::NoTlsa => "no_tlsa",
            HostDane::TlsaInsecure => "tlsa_insecure",
            HostDane::TlsaLookupFailed => "tlsa_lookup_failed",
            HostDane::AddressLookupFailed => "address_lookup_failed",
        }
    }
}

/// One address of one MX host: the STARTTLS session and the DANE evaluation of its chain.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointReport {
    /// The address probed.
    pub address: IpAddr,
    /// Whether STARTTLS was offered, when the dialogue got that far.
    pub starttls_offered: Option<bool>,
    /// The TLS session, when the handshake completed.
    pub tls: Option<TlsSession>,
    /// The SMTP or TLS failure, when the dialogue did not complete.
    pub smtp_error: Option<SmtpError>,
    /// Every presented certificate, leaf first (unparsable ones left out).
    pub chain: Vec<CertificateInfo>,
    /// The DANE evaluation, when a chain was obtained and DANE applies.
    pub evaluation: Option<EndpointEvaluation>,
    /// Seconds the SMTP dialogue took.
    pub duration_seconds: f64,
    /// Each key algorithm's chain, checked on its own (`crate::key_algorithms`); empty when DANE
    /// does not apply, the normal session failed, or the target's direction is outside
    /// `key_algorithm_checks`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_algorithms: Vec<KeyAlgorithmReport>,
}

/// One MX host (or the implicit MX).
#[derive(Clone, Debug, Serialize)]
pub struct MxHostReport {
    /// Host name as given in the MX record.
    pub name: String,
    /// MX preference (0 for the implicit MX).
    pub preference: u16,
    /// Whether DANE applies to this host.
    pub dane: HostDane,
    /// The name the TLSA RRset was found at (RFC 7672 2.2.2), when DANE applies.
    pub tlsa_base_domain: Option<String>,
    /// TLSA lookups made, in order (expanded name first when the host is an alias).
    pub tlsa_lookups: Vec<RrsetReport>,
    /// The TLSA records in force.
    pub tlsa_records: Vec<TlsaRecord>,
    /// A and AAAA lookups.
    pub address_lookups: Vec<RrsetReport>,
    /// One entry per address.
    pub endpoints: Vec<EndpointReport>,
    /// Rollover readiness over all endpoints (RFC 7671 8), when DANE applies.
    pub rollover_ready: Option<bool>,
}

/// The overall verdict for a domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every endpoint where DANE applies authenticates, and there is at least one.
    Pass,
    /// A DANE sender would defer mail to at least one endpoint.
    Fail,
    /// DANE does not apply: the MX RRset is insecure, or no MX host has TLSA.
    NotApplicable,
}

impl Verdict {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotApplicable => "not_applicable",
        }
    }
}

/// One reason a DANE sender would defer, or a deadline worth a warning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable snake_case reason, the `reason` label value.
    pub reason: String,
    /// MX host concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mx: Option<String>,
    /// Address concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// A sentence for humans.
    pub message: String,
}

/// Everything about one domain.
#[derive(Clone, Debug, Serialize)]
pub struct DomainReport {
    /// The domain probed, normalised.
    pub domain: String,
    /// When the probe started.
    pub checked_at: UnixSeconds,
    /// Seconds the whole probe took.
    pub duration_seconds: f64,
    /// The MX lookup.
    pub mx_lookup: RrsetReport,
    /// The MX records as found.
    pub mx_records: Vec<MxRecord>,
    /// True when there was no MX RRset and the domain itself was used (RFC 5321 5.1).
    pub implicit_mx: bool,
    /// One entry per MX host, in preference order.
    pub hosts: Vec<MxHostReport>,
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
    /// The configured non-SMTP services (`crate::service`), each with its own verdict; they do
    /// not change `verdict`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<crate::service::ServiceReport>,
    /// MTA-STS (RFC 8461), when checked for this target; never changes the DANE verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mta_sts: Option<crate::mta_sts::MtaStsReport>,
    /// TLS-RPT (RFC 8460), when checked for this target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_rpt: Option<crate::mta_sts::TlsRptReport>,
    /// Local certificate files (live, staged) against the TLSA records, for inbound targets that
    /// name them (`crate::local_certs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub local_certificates: Vec<LocalCertReport>,
    /// Every zone holding a TLSA or the MX RRset, as its authoritative nameservers answer (when
    /// the authoritative checks ran; see `crate::consistency`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<crate::consistency::ZoneReport>,
}

impl DomainReport {
    /// The report of a probe that did not finish (it ran out of time, or crashed): no facts, a
    /// failed verdict and one finding saying why.
    pub fn unfinished(
        domain: &str,
        checked_at: UnixSeconds,
        duration_seconds: f64,
        reason: &str,
        message: String,
    ) -> Self {
        Self {
            domain: domain.to_string(),
            checked_at,
            duration_seconds,
            mx_lookup: RrsetReport {
                name: domain.to_string(),
                rtype: RecordType::Mx,
                dnssec: DnssecStatus::Indeterminate,
                outcome: "unfinished",
                cname_chain: Vec::new(),
                signature_expiration: None,
                ttl: None,
                error: None,
            },
            mx_records: Vec::new(),
            implicit_mx: false,
            hosts: Vec::new(),
            verdict: Verdict::Fail,
            protected: false,
            failures: vec![Finding {
                reason: reason.to_string(),
                mx: None,
                address: None,
                message,
            }],
            warnings: Vec::new(),
            divergence: None,
            services: Vec::new(),
            mta_sts: None,
            tls_rpt: None,
            local_certificates: Vec::new(),
            zones: Vec::new(),
        }
    }
}
