//! The MTA-STS and TLS-RPT parts of a domain's report, and the settings that say whether they
//! are checked.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::fetch::FetchError;
use super::policy::{Policy, PolicyError};
use super::record::{RecordError, StsRecord};
use super::tls_rpt::TlsRptRecord;
use crate::core::{Finding, RrsetReport, UnixSeconds};

/// Which of the two checks run for a target, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MtaStsSettings {
    /// Check MTA-STS (TXT record, policy, MX coverage, MX certificates).
    pub mta_sts: bool,
    /// Check the TLS-RPT record.
    pub tls_rpt: bool,
    /// PEM file of extra trusted roots (a private CA), besides Mozilla's.
    pub ca_file: Option<PathBuf>,
    /// Port of the policy host: 443 except in tests.
    pub https_port: u16,
}

impl Default for MtaStsSettings {
    fn default() -> Self {
        Self {
            mta_sts: false,
            tls_rpt: false,
            ca_file: None,
            https_port: 443,
        }
    }
}

/// The MTA-STS part of a domain's report.
#[derive(Clone, Debug, Serialize)]
pub struct MtaStsReport {
    /// The `_mta-sts.<domain>` TXT lookup.
    pub txt_lookup: RrsetReport,
    /// The record in force, when exactly one valid one exists.
    pub record: Option<StsRecord>,
    /// Why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_error: Option<RecordError>,
    /// Where the policy is fetched from.
    pub policy_url: String,
    /// The address that served the policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_address: Option<IpAddr>,
    /// Seconds the fetch took, when one was made.
    pub fetch_duration_seconds: Option<f64>,
    /// Why the fetch failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_error: Option<FetchError>,
    /// The parsed policy.
    pub policy: Option<Policy>,
    /// Why the body is not a valid policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_error: Option<PolicyError>,
    /// SHA-256 over the policy's fields (not its bytes, so line endings do not count), to see it
    /// change between rounds.
    pub policy_fingerprint: Option<String>,
    /// MX hosts against the policy.
    pub hosts: Vec<MtaStsHost>,
    /// Set when the policy changed while the TXT id stayed the same (see `super::judge::carry_over`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_id: Option<StaleId>,
    /// Record and policy are valid: senders apply the policy.
    pub valid: bool,
    /// Problems, with stable reasons (`mta_sts_*`).
    pub findings: Vec<Finding>,
}

/// One MX host against the policy.
#[derive(Clone, Debug, Serialize)]
pub struct MtaStsHost {
    /// The MX host.
    pub name: String,
    /// The pattern covering it, when a policy exists and one does.
    pub covered_by: Option<String>,
    /// Its endpoints' certificates.
    pub endpoints: Vec<MtaStsEndpoint>,
}

/// One endpoint's certificate under MTA-STS validation.
#[derive(Clone, Debug, Serialize)]
pub struct MtaStsEndpoint {
    /// The address.
    pub address: IpAddr,
    /// The chain leads to a trusted root and names the MX host.
    pub certificate_valid: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the next round compares a round's MTA-STS section with (`super::judge::carry_over`):
/// small, so that it can be kept across restarts (`crate::history`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    /// The TXT record's id, when one valid record was in force.
    pub record_id: Option<String>,
    /// The policy's fingerprint, when one was fetched.
    pub policy_fingerprint: Option<String>,
    /// The policy's `max_age`, when one was fetched.
    pub max_age: Option<u64>,
    /// The unchanged-id state carried so far.
    pub stale_id: Option<StaleId>,
}

impl MtaStsReport {
    /// What the next round compares this one with.
    pub fn carried(&self) -> Carried {
        Carried {
            record_id: self.record.as_ref().map(|r| r.id.clone()),
            policy_fingerprint: self.policy_fingerprint.clone(),
            max_age: self.policy.as_ref().map(|p| p.max_age),
            stale_id: self.stale_id.clone(),
        }
    }
}

/// A policy change senders will not notice, because the TXT id did not change with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleId {
    /// The unchanged id.
    pub id: String,
    /// When the change was seen.
    pub since: UnixSeconds,
    /// Until when senders may still use the old policy (the change plus the old `max_age`).
    pub until: UnixSeconds,
}

/// The TLS-RPT part of a domain's report.
#[derive(Clone, Debug, Serialize)]
pub struct TlsRptReport {
    /// The `_smtp._tls.<domain>` TXT lookup.
    pub txt_lookup: RrsetReport,
    /// The record in force.
    pub record: Option<TlsRptRecord>,
    /// Why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_error: Option<RecordError>,
    /// Exactly one valid record exists.
    pub valid: bool,
    /// Problems, with stable reasons (`tls_rpt_*`).
    pub findings: Vec<Finding>,
}
