//! The MTA-STS check's I/O: the `_mta-sts` and `_smtp._tls` TXT records, the addresses of
//! `mta-sts.<domain>`, and the policy fetched over HTTPS (`fetch`). It needs nothing from the MX
//! probing, so the probe runs it alongside; the judgement, which needs the MX hosts' chains, comes
//! after.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use super::fetch::{self, FetchError, Fetched};
use super::record;
use super::report::MtaStsSettings;
use super::webpki::{TrustError, WebPki};
use crate::core::{Answer, RecordType};
use crate::dns::DnsClient;

/// What [`run`] found on the network, for the judgement (`super::judge`).
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
pub async fn run(
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
