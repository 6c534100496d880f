//! [`DnsClient`]: the typed lookups (MX, TLSA, A/AAAA, TXT) the checks make, over the backend
//! the DNSSEC mode picks, through the exporter's own answer cache when it has one (`cache.rs`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::rr::RData;

use super::cache::{CacheLimits, Cacheable, DnsCache};
use super::health::{Resolvers, Sight};
use super::settings::{DnsSettings, DnsSetupError, DnssecMode};
use super::{answer, nameservers, trust_resolver, validate};
use crate::core::{normalize_name, Answer, LookupError, MxRecord, RecordType, TlsaRecord};

/// The resolvers `settings` asks: its nameservers, or those of `/etc/resolv.conf`. For
/// the authoritative checks (`crate::checks::authoritative`), which find zone cuts and nameserver addresses through them.
pub fn resolver_addresses(settings: &DnsSettings) -> Result<Vec<SocketAddr>, DnsSetupError> {
    nameservers::nameservers(settings)
}

/// The DNS side of a probe: typed lookups for the four record types DANE depends on.
///
/// Cheap to share behind an `Arc`; the backends keep their own caches and connections. Every
/// lookup is recorded in the health of its nameservers ([`Resolvers`]), which the probe reads
/// ([`DnsClient::sight`], [`DnsClient::settle`]) to tell the resolver's failures from the domain's.
pub struct DnsClient {
    backend: Backend,
    resolvers: Arc<Resolvers>,
    nameservers: Vec<SocketAddr>,
    mode: DnssecMode,
    /// Answers shared between the probes using this client, if it has a cache.
    cache: Option<DnsCache>,
}

enum Backend {
    TrustResolver(trust_resolver::AdResolver),
    Validate(validate::Validator),
}

impl DnsClient {
    /// Builds the client for `settings.mode` with a registry of its own that never checks its
    /// resolvers ([`Resolvers::passive`]): it never finds itself blind. The exporter and
    /// `dane_exporter check` use [`DnsClient::observed`].
    pub fn new(settings: &DnsSettings) -> Result<Self, DnsSetupError> {
        Self::observed(settings, Arc::new(Resolvers::passive()))
    }

    /// Builds the client for `settings.mode`, recording into (and judged by) `resolvers`, where
    /// its nameservers are registered as in use.
    pub fn observed(
        settings: &DnsSettings,
        resolvers: Arc<Resolvers>,
    ) -> Result<Self, DnsSetupError> {
        let backend = match settings.mode {
            DnssecMode::TrustResolver => Backend::TrustResolver(trust_resolver::AdResolver::new(
                settings,
                Arc::clone(&resolvers),
            )?),
            DnssecMode::Validate => Backend::Validate(validate::Validator::new(settings)?),
        };
        let nameservers = nameservers::nameservers(settings)?;
        resolvers.register(&nameservers, settings.mode == DnssecMode::TrustResolver);
        Ok(Self {
            backend,
            resolvers,
            nameservers,
            mode: settings.mode,
            cache: None,
        })
    }

    /// Like [`DnsClient::observed`], with an answer cache within `limits` shared by every lookup
    /// through this client (see `cache.rs`).
    pub fn observed_with_cache(
        settings: &DnsSettings,
        resolvers: Arc<Resolvers>,
        limits: CacheLimits,
    ) -> Result<Self, DnsSetupError> {
        Ok(Self {
            cache: Some(DnsCache::new(limits)),
            ..Self::observed(settings, resolvers)?
        })
    }

    /// Estimated bytes the answer cache holds (0 without one).
    pub async fn cached_bytes(&self) -> u64 {
        match &self.cache {
            Some(cache) => cache.weighted_size().await,
            None => 0,
        }
    }

    /// The nameservers this client asks, in order.
    pub fn nameservers(&self) -> &[SocketAddr] {
        &self.nameservers
    }

    /// What this client knows about its nameservers now.
    pub fn sight(&self) -> Sight {
        self.resolvers
            .sight(&self.nameservers, self.mode == DnssecMode::TrustResolver)
    }

    /// After a probe that started at `since`: checks this client's nameservers if its lookups
    /// made one of them suspect (see [`Resolvers::settle`]).
    pub async fn settle(&self, since: Instant) {
        self.resolvers.settle(&self.nameservers, since).await;
    }

    /// MX RRset of `domain`.
    pub async fn lookup_mx(&self, domain: &str) -> Answer<MxRecord> {
        self.lookup(domain, RecordType::Mx, answer::mx_record).await
    }

    /// TLSA RRset at `name` (already `_port._tcp.`-prefixed), following CNAMEs.
    pub async fn lookup_tlsa(&self, name: &str) -> Answer<TlsaRecord> {
        self.lookup(name, RecordType::Tlsa, answer::tlsa_record)
            .await
    }

    /// A (`RecordType::A`) or AAAA (`RecordType::Aaaa`) RRset of `host`, following CNAMEs.
    pub async fn lookup_addresses(&self, host: &str, rtype: RecordType) -> Answer<IpAddr> {
        self.lookup(host, rtype, answer::ip_address).await
    }

    /// TXT RRset at `name`, following CNAMEs; each record's strings joined into one.
    pub async fn lookup_txt(&self, name: &str) -> Answer<String> {
        self.lookup(name, RecordType::Txt, answer::txt_text).await
    }

    /// The CNAME record at `name` itself (not followed): whether the alias validates, which
    /// Postfix asks when the addresses behind it do not (`qname_secure` in `tls_dane.c`).
    pub async fn lookup_cname(&self, name: &str) -> Answer<String> {
        self.lookup(name, RecordType::Cname, answer::cname_target)
            .await
    }

    /// The one place that picks the backend. The query name is checked here and the answer
    /// labelled here, so the typed lookups above and this framing are written once for both
    /// modes.
    async fn lookup<T: Cacheable>(
        &self,
        name: &str,
        rtype: RecordType,
        convert: fn(&RData) -> Option<T>,
    ) -> Answer<T> {
        let name = normalize_name(name);
        tracing::debug!(target: crate::core::PROGRESS, "DNS {} {name}", rtype.as_str());
        let result = match answer::query_name(&name) {
            Ok(qname) => {
                let ask = async {
                    match &self.backend {
                        Backend::TrustResolver(r) => r.lookup(qname, rtype, convert).await,
                        Backend::Validate(v) => {
                            let sent = Instant::now();
                            let result = v.lookup(qname, rtype, convert).await;
                            // hickory picks the nameserver: a lookup that got nothing from any
                            // makes them all suspect, for the probe's check to decide
                            // (`health.rs`).
                            if matches!(
                                result,
                                Err(LookupError::Timeout { .. } | LookupError::Network { .. })
                            ) {
                                self.resolvers.suspect_down(&self.nameservers, sent);
                            }
                            result
                        }
                    }
                };
                match &self.cache {
                    Some(cache) if shared_by_domains(rtype) => {
                        cache.answer(&name, rtype, ask).await
                    }
                    _ => ask.await,
                }
            }
            Err(e) => Err(e),
        };
        Answer {
            name,
            rtype,
            result,
        }
    }
}

/// Whether answers of `rtype` are cached: those of MX hosts (addresses, TLSA, CNAME), which many
/// domains share. A domain's MX and TXT RRsets are asked once per probe of that domain, so
/// keeping them would hold an entry per listed domain (most of the cache at 100,000 domains)
/// and never be hit.
fn shared_by_domains(rtype: RecordType) -> bool {
    !matches!(rtype, RecordType::Mx | RecordType::Txt)
}
