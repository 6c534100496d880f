//! [`DnsClient`]: the typed lookups (MX, TLSA, A/AAAA, TXT) the checks make, over the backend
//! the DNSSEC mode picks.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::RData;

use super::settings::{DnsSettings, DnsSetupError, DnssecMode};
use super::{answer, nameservers, trust_resolver, validate};
use crate::core::{normalize_name, Answer, MxRecord, RecordType, TlsaRecord};

/// The resolvers `settings` asks: its nameservers, or those of `/etc/resolv.conf`. For
/// the authoritative checks (`crate::checks::authoritative`), which find zone cuts and nameserver addresses through them.
pub fn resolver_addresses(settings: &DnsSettings) -> Result<Vec<SocketAddr>, DnsSetupError> {
    nameservers::nameservers(settings)
}

/// The DNS side of a probe: typed lookups for the four record types DANE depends on.
///
/// Cheap to share behind an `Arc`; the backends keep their own caches and connections.
pub struct DnsClient {
    backend: Backend,
}

enum Backend {
    TrustResolver(trust_resolver::AdResolver),
    Validate(validate::Validator),
}

impl DnsClient {
    /// Builds the client for `settings.mode`.
    pub fn new(settings: &DnsSettings) -> Result<Self, DnsSetupError> {
        let backend = match settings.mode {
            DnssecMode::TrustResolver => {
                Backend::TrustResolver(trust_resolver::AdResolver::new(settings)?)
            }
            DnssecMode::Validate => Backend::Validate(validate::Validator::new(settings)?),
        };
        Ok(Self { backend })
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
    async fn lookup<T: Send + 'static>(
        &self,
        name: &str,
        rtype: RecordType,
        convert: fn(&RData) -> Option<T>,
    ) -> Answer<T> {
        tracing::debug!(target: crate::core::PROGRESS, "DNS {} {name}", rtype.as_str());
        let result = match answer::query_name(name) {
            Ok(qname) => match &self.backend {
                Backend::TrustResolver(r) => r.lookup(qname, rtype, convert).await,
                Backend::Validate(v) => v.lookup(qname, rtype, convert).await,
            },
            Err(e) => Err(e),
        };
        Answer {
            name: normalize_name(name),
            rtype,
            result,
        }
    }
}
