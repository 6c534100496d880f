//! MTA-STS (RFC 8461) and TLS-RPT (RFC 8460): the transport security a domain offers senders
//! that do not validate DNSSEC, checked beside DANE.
//!
//! Data flow: `crate::probe` calls [`gather`] concurrently with its MX probing; it asks
//! `crate::dns` for the `_mta-sts` and `_smtp._tls` TXT records and the addresses of
//! `mta-sts.<domain>`, and fetches the policy over HTTPS (`fetch`). After the DANE verdict,
//! [`judge::evaluate`] (pure apart from CPU-only certificate checks) parses record and policy
//! (`record`, `policy`, `crate::tls_rpt`), checks that every MX host is covered by a pattern and
//! that each MX endpoint's certificate, as captured by the STARTTLS session the probe already ran,
//! passes WebPKI validation (`webpki`). The result lands in `DomainReport::mta_sts` and
//! `DomainReport::tls_rpt` with their own findings: MTA-STS problems never change the DANE
//! verdict. `crate::store` calls [`judge::carry_over`] with the previous round's report to notice a
//! policy that changed while its TXT id did not.

pub mod fetch;
pub mod judge;
pub mod policy;
pub mod record;
pub mod webpki;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::dns::{Answer, DnsClient, RecordType, UnixSeconds};
use crate::report::{Finding, RrsetReport};
use crate::tls_rpt::TlsRptRecord;

pub use fetch::{FetchError, Fetched};
pub use policy::{Mode, MxPattern, Policy, PolicyError};
pub use record::{RecordError, StsRecord};
pub use webpki::{TrustError, WebPki};

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
    /// Set when the policy changed while the TXT id stayed the same (see [`judge::carry_over`]).
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

/// A policy change senders will not notice, because the TXT id did not change with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

/// What [`gather`] found on the network, for [`judge::evaluate`].
pub struct Gathered {
    /// The domain.
    pub domain: String,
    /// `_mta-sts` TXT lookup, when MTA-STS is checked.
    pub sts_txt: Option<Answer<String>>,
    /// The fetch and its duration, when a valid record made one worth doing.
    pub fetch: Option<(Result<Fetched, FetchError>, f64)>,
    /// `_smtp._tls` TXT lookup, when TLS-RPT is checked.
    pub rpt_txt: Option<Answer<String>>,
    /// The trust store, or why it could not be built.
    pub trust: Option<Result<Arc<WebPki>, String>>,
}

/// `mta-sts.<domain>`, the policy host (RFC 8461 3.3).
pub fn policy_host(domain: &str) -> String {
    format!("mta-sts.{domain}")
}

/// Looks up the records and fetches the policy. Every step is bounded by `timeout` (DNS lookups by
/// the DNS client's own).
pub async fn gather(
    dns: &DnsClient,
    settings: &MtaStsSettings,
    domain: &str,
    timeout: Duration,
) -> Gathered {
    let sts = async {
        if !settings.mta_sts {
            return (None, None, None);
        }
        let trust = shared_trust(settings.ca_file.as_deref()).map_err(|e| e.to_string());
        let txt = dns.lookup_txt(&format!("_mta-sts.{domain}")).await;
        let worth_fetching = record::select_sts_record(txt.records()).is_ok();
        let fetch = match (&trust, worth_fetching) {
            (Ok(trust), true) => Some(fetch_from_host(dns, trust, domain, settings, timeout).await),
            _ => None,
        };
        (Some(txt), fetch, Some(trust))
    };
    let rpt = async {
        if settings.tls_rpt {
            Some(dns.lookup_txt(&format!("_smtp._tls.{domain}")).await)
        } else {
            None
        }
    };
    let ((sts_txt, fetch, trust), rpt_txt) = tokio::join!(sts, rpt);
    Gathered {
        domain: domain.to_string(),
        sts_txt,
        fetch,
        rpt_txt,
        trust,
    }
}

/// Resolves the policy host and fetches its policy.
async fn fetch_from_host(
    dns: &DnsClient,
    trust: &WebPki,
    domain: &str,
    settings: &MtaStsSettings,
    timeout: Duration,
) -> (Result<Fetched, FetchError>, f64) {
    let started = Instant::now();
    let host = policy_host(domain);
    let (a, aaaa) = tokio::join!(
        dns.lookup_addresses(&host, RecordType::A),
        dns.lookup_addresses(&host, RecordType::Aaaa)
    );
    // No DNSSEC needed here: MTA-STS rests on the WebPKI certificate, not on DNS.
    let addresses: Vec<IpAddr> = a.records().iter().chain(aaaa.records()).copied().collect();
    let result = if addresses.is_empty() {
        let describe = |answer: &Answer<IpAddr>| match &answer.result {
            Ok(_) => "no records".to_string(),
            Err(e) => e.to_string(),
        };
        Err(FetchError::NoAddress {
            detail: format!("A: {}, AAAA: {}", describe(&a), describe(&aaaa)),
        })
    } else {
        fetch::fetch_policy(
            trust.client_config(),
            &host,
            &addresses,
            settings.https_port,
            timeout,
        )
        .await
    };
    (result, started.elapsed().as_secs_f64())
}

/// One trust store per CA file, rebuilt when the file changes (so a reload with a renewed private
/// CA takes effect) and shared by every probe otherwise: Mozilla's list is ~150 roots to parse.
fn shared_trust(ca_file: Option<&std::path::Path>) -> Result<Arc<WebPki>, TrustError> {
    type Key = (Option<PathBuf>, Option<SystemTime>);
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<WebPki>>>> = OnceLock::new();
    let modified = ca_file.and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let key = (ca_file.map(PathBuf::from), modified);
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(Arc::clone(found));
    }
    let built = Arc::new(WebPki::new(ca_file)?);
    let mut entries = cache.lock().unwrap_or_else(|e| e.into_inner());
    // Old versions of a file are never asked for again; keep the map from growing.
    entries.retain(|(path, _), _| path.as_deref() != ca_file);
    entries.insert(key, Arc::clone(&built));
    Ok(built)
}
