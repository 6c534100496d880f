//! The exporter's own cache of DNS answers, by name and type: what lets a hosting provider's MX
//! host, named by thousands of recipient domains, cost one A, AAAA and TLSA lookup per TTL
//! instead of one per domain.
//!
//! [`super::DnsClient`] asks through it when it was built with one (the scheduler's runner, for
//! every target of one DNS setting; `/probe` and `check` ask afresh). A cached answer is the whole
//! outcome of a lookup, so its DNSSEC status, signature expiration, CNAME chain and, for a
//! failure, its Extended DNS Error come back exactly as first answered. How long an answer is
//! kept:
//!
//! - records: their TTL (the smallest of the RRsets used, as the resolver counted it down), at
//!   least [`CacheLimits::min_ttl`] and at most [`CacheLimits::max_ttl`];
//! - denials (NXDOMAIN, NODATA): the negative TTL of RFC 2308 section 5 (the smaller of the SOA
//!   record's TTL and its MINIMUM field), within the same bounds; without an SOA, the floor;
//! - failures (timeouts, SERVFAIL, bogus answers): [`CacheLimits::failure_ttl`], a few seconds,
//!   so that a herd of domains behind one broken name waits once, and a transient failure is
//!   asked again soon.
//!
//! The cap is what keeps the exporter honest: with it at half the probe interval (the runner's
//! choice), a domain's next probe never sees an answer its previous probe saw, so a changed TLSA
//! RRset is seen within one interval, as without the cache. Memory is bounded by an estimate of
//! each answer's size (`moka`'s weigher: [`CacheLimits::max_bytes`]), and concurrent lookups of
//! one name and type wait for one answer (`moka`'s coalescing).
//!
//! The process-wide count of lookups answered from a cache ([`cache_hits`]) is the exporter's
//! `dane_exporter_dns_cache_hits_total`; what reaches a resolver is counted where it is sent
//! (`health.rs`, `dane_exporter_dns_queries_total`).

use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::Expiry;

use crate::core::{LookupError, MxRecord, RecordSet, RecordType, Response, TlsaRecord};

/// Lookups answered from a cache (or by waiting for the same lookup of another probe).
static HITS: AtomicU64 = AtomicU64::new(0);

/// How many lookups this process's caches answered since it started.
pub fn cache_hits() -> u64 {
    HITS.load(Ordering::Relaxed)
}

/// How long answers are kept, and how much memory they may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLimits {
    /// Longest an answer is kept, whatever its TTL.
    pub max_ttl: Duration,
    /// Shortest an answer is kept (a TTL of 0 still spares the same lookup a moment later).
    pub min_ttl: Duration,
    /// How long a failed lookup is kept.
    pub failure_ttl: Duration,
    /// Estimated bytes all answers may take.
    pub max_bytes: u64,
}

impl CacheLimits {
    /// Answers kept at most `max_ttl`; the other bounds at their defaults: a floor of 1 s,
    /// failures 5 s (both at most `max_ttl`), 32 MiB.
    pub fn up_to(max_ttl: Duration) -> Self {
        Self {
            max_ttl,
            min_ttl: Duration::from_secs(1).min(max_ttl),
            failure_ttl: Duration::from_secs(5).min(max_ttl),
            max_bytes: 32 * 1024 * 1024,
        }
    }

    /// How long `result` is kept.
    fn ttl_of<T>(&self, result: &Result<Response<T>, LookupError>) -> Duration {
        let seconds = match result {
            Err(_) => return self.failure_ttl,
            Ok(response) => match response.set {
                RecordSet::Records(_) => response.ttl,
                RecordSet::NxDomain | RecordSet::NoData => response.negative_ttl,
            },
        };
        let ttl = seconds.map_or(self.min_ttl, |s| Duration::from_secs(u64::from(s)));
        ttl.clamp(self.min_ttl, self.max_ttl.max(self.min_ttl))
    }
}

/// The typed outcome of a lookup of one record type, as cached.
#[derive(Clone, Debug)]
pub(super) enum Cached {
    Mx(Result<Response<MxRecord>, LookupError>),
    Tlsa(Result<Response<TlsaRecord>, LookupError>),
    Address(Result<Response<IpAddr>, LookupError>),
    Text(Result<Response<String>, LookupError>),
}

/// A record type the cache can hold: how its outcome goes in and comes out, and its size.
pub(super) trait Cacheable: Clone + Send + Sync + Sized + 'static {
    /// The outcome as a cache value.
    fn wrap(result: Result<Response<Self>, LookupError>) -> Cached;
    /// The outcome in a cache value, when it holds this type.
    fn unwrap(cached: &Cached) -> Option<&Result<Response<Self>, LookupError>>;
    /// Estimated bytes of one record, heap included.
    fn bytes(&self) -> usize;
}

impl Cacheable for MxRecord {
    fn wrap(result: Result<Response<Self>, LookupError>) -> Cached {
        Cached::Mx(result)
    }
    fn unwrap(cached: &Cached) -> Option<&Result<Response<Self>, LookupError>> {
        match cached {
            Cached::Mx(result) => Some(result),
            _ => None,
        }
    }
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.exchange.len()
    }
}

impl Cacheable for TlsaRecord {
    fn wrap(result: Result<Response<Self>, LookupError>) -> Cached {
        Cached::Tlsa(result)
    }
    fn unwrap(cached: &Cached) -> Option<&Result<Response<Self>, LookupError>> {
        match cached {
            Cached::Tlsa(result) => Some(result),
            _ => None,
        }
    }
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.data.len()
    }
}

impl Cacheable for IpAddr {
    fn wrap(result: Result<Response<Self>, LookupError>) -> Cached {
        Cached::Address(result)
    }
    fn unwrap(cached: &Cached) -> Option<&Result<Response<Self>, LookupError>> {
        match cached {
            Cached::Address(result) => Some(result),
            _ => None,
        }
    }
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

impl Cacheable for String {
    fn wrap(result: Result<Response<Self>, LookupError>) -> Cached {
        Cached::Text(result)
    }
    fn unwrap(cached: &Cached) -> Option<&Result<Response<Self>, LookupError>> {
        match cached {
            Cached::Text(result) => Some(result),
            _ => None,
        }
    }
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.len()
    }
}

/// One cached answer, with how long it is kept and about how much memory it takes.
#[derive(Clone, Debug)]
struct Entry {
    answer: Cached,
    ttl: Duration,
    weight: u32,
}

/// Each entry expires after its own TTL.
struct OwnTtl;

impl Expiry<Key, Entry> for OwnTtl {
    fn expire_after_create(&self, _: &Key, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// Normalised query name and type.
type Key = (String, RecordType);

/// Bytes the cache's own bookkeeping takes per entry (key, entry, moka's nodes), roughly.
const ENTRY_OVERHEAD: usize = 160;

/// Cached answers by name and type.
pub(super) struct DnsCache {
    answers: Cache<Key, Entry>,
    limits: CacheLimits,
}

impl DnsCache {
    pub(super) fn new(limits: CacheLimits) -> Self {
        Self {
            answers: Cache::builder()
                .max_capacity(limits.max_bytes)
                .weigher(|_: &Key, entry: &Entry| entry.weight)
                .expire_after(OwnTtl)
                .build(),
            limits,
        }
    }

    /// The cached outcome of `name` (normalised) and `rtype`, or `lookup`'s, kept for its TTL.
    pub(super) async fn answer<T, F>(
        &self,
        name: &str,
        rtype: RecordType,
        lookup: F,
    ) -> Result<Response<T>, LookupError>
    where
        T: Cacheable,
        F: Future<Output = Result<Response<T>, LookupError>>,
    {
        let asked = AtomicBool::new(false);
        let key = (name.to_string(), rtype);
        let entry = self
            .answers
            .get_with(key, async {
                asked.store(true, Ordering::Relaxed);
                let result = lookup.await;
                Entry {
                    ttl: self.limits.ttl_of(&result),
                    weight: weight(name, &result),
                    answer: T::wrap(result),
                }
            })
            .await;
        if !asked.load(Ordering::Relaxed) {
            HITS.fetch_add(1, Ordering::Relaxed);
        }
        match T::unwrap(&entry.answer) {
            Some(result) => result.clone(),
            // One record type always holds one Rust type (see `DnsClient`): unreachable, and
            // even then no reason to panic.
            None => Err(LookupError::Malformed {
                detail: format!(
                    "cached answer for {name} {} has another type",
                    rtype.as_str()
                ),
            }),
        }
    }

    /// Estimated bytes all answers take, once pending evictions are done (tests, metrics).
    pub(super) async fn weighted_size(&self) -> u64 {
        self.answers.run_pending_tasks().await;
        self.answers.weighted_size()
    }
}

/// About how many bytes the cached `result` for `name` takes.
fn weight<T: Cacheable>(name: &str, result: &Result<Response<T>, LookupError>) -> u32 {
    let body = match result {
        Ok(response) => {
            response.records().iter().map(T::bytes).sum::<usize>()
                + response
                    .cname_chain
                    .iter()
                    .map(|n| n.len() + 24)
                    .sum::<usize>()
        }
        Err(error) => error.to_string().len(),
    };
    u32::try_from(ENTRY_OVERHEAD + 2 * name.len() + body).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use super::*;
    use crate::core::DnssecStatus;

    fn address(ttl: u32) -> Result<Response<IpAddr>, LookupError> {
        Ok(Response {
            set: RecordSet::Records(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]),
            status: DnssecStatus::Secure,
            cname_chain: Vec::new(),
            signature_expiration: Some(2_000_000_000),
            ttl: Some(ttl),
            negative_ttl: None,
        })
    }

    fn denial(negative_ttl: Option<u32>) -> Result<Response<IpAddr>, LookupError> {
        Ok(Response {
            set: RecordSet::NoData,
            status: DnssecStatus::Secure,
            cname_chain: Vec::new(),
            signature_expiration: None,
            ttl: None,
            negative_ttl,
        })
    }

    #[test]
    fn ttls_are_honoured_within_floor_and_cap() {
        let limits = CacheLimits::up_to(Duration::from_secs(150));
        assert_eq!(limits.ttl_of(&address(60)), Duration::from_secs(60));
        assert_eq!(limits.ttl_of(&address(86_400)), Duration::from_secs(150));
        assert_eq!(limits.ttl_of(&address(0)), Duration::from_secs(1));
        assert_eq!(limits.ttl_of(&denial(Some(30))), Duration::from_secs(30));
        assert_eq!(limits.ttl_of(&denial(None)), Duration::from_secs(1));
        let failed: Result<Response<IpAddr>, LookupError> = Err(LookupError::Timeout { millis: 1 });
        assert_eq!(limits.ttl_of(&failed), Duration::from_secs(5));
        // A cap below the defaults lowers them too.
        let short = CacheLimits::up_to(Duration::from_millis(500));
        assert_eq!(short.ttl_of(&failed), Duration::from_millis(500));
        assert_eq!(short.ttl_of(&address(60)), Duration::from_millis(500));
    }

    /// Concurrent askers of one name share one lookup; the answer comes back whole (status,
    /// expiration); another type or name is asked on its own; a failure keeps its EDE.
    #[tokio::test]
    async fn one_lookup_per_name_and_type() {
        let cache = DnsCache::new(CacheLimits::up_to(Duration::from_secs(60)));
        let asked = Arc::new(AtomicUsize::new(0));
        let lookup = |result: Result<Response<IpAddr>, LookupError>| {
            let asked = Arc::clone(&asked);
            async move {
                asked.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                result
            }
        };
        let (a, b) = tokio::join!(
            cache.answer("mx.example", RecordType::A, lookup(address(60))),
            cache.answer("mx.example", RecordType::A, lookup(address(60)))
        );
        assert_eq!(a, address(60));
        assert_eq!(b, address(60));
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        let again = cache
            .answer("mx.example", RecordType::A, lookup(denial(None)))
            .await;
        assert_eq!(again, address(60), "answered from the cache");
        let _ = cache
            .answer("mx.example", RecordType::Aaaa, lookup(denial(Some(60))))
            .await;
        let servfail = Err(LookupError::ServFail {
            ede: Some(crate::core::ExtendedDnsError {
                code: 7,
                text: Some("expired".into()),
            }),
        });
        let first = cache
            .answer("bad.example", RecordType::A, lookup(servfail.clone()))
            .await;
        let second = cache
            .answer("bad.example", RecordType::A, lookup(address(1)))
            .await;
        assert_eq!((first, second), (servfail.clone(), servfail));
        assert_eq!(asked.load(Ordering::SeqCst), 3);
    }

    /// However many names are asked, the estimated size stays under the bound.
    #[tokio::test]
    async fn memory_is_bounded() {
        let limits = CacheLimits {
            max_bytes: 64 * 1024,
            ..CacheLimits::up_to(Duration::from_secs(60))
        };
        let cache = DnsCache::new(limits);
        for i in 0..5_000 {
            let name = format!("host-{i}.example");
            let _ = cache
                .answer(&name, RecordType::A, async { address(60) })
                .await;
        }
        let size = cache.weighted_size().await;
        assert!(size <= 64 * 1024, "{size} bytes cached");
        assert!(size > 0);
    }
}
