//! DNS lookups with their DNSSEC status: the facts RFC 7672 section 2 decides on.
//!
//! The probe (`crate::probe`) asks this module for the MX, TLSA, A and AAAA RRsets of a domain and
//! its hosts. Each lookup comes back as an [`Answer`]: records (or a denial of existence) together
//! with whether DNSSEC made them *secure*, or a typed [`LookupError`] when nothing trustworthy could
//! be learned. Two ways of knowing, chosen by [`DnssecMode`]:
//!
//! - [`DnssecMode::TrustResolver`] (`trust_resolver.rs`): like Postfix, ask a validating resolver
//!   with the DO bit and trust its AD bit; SERVFAIL is a failure whose cause comes from the
//!   Extended DNS Error option (`ede.rs`) when the resolver sends one. Its UDP sockets to the
//!   resolver are pooled and reused (`udp_pool.rs`).
//! - [`DnssecMode::Validate`] (`validate.rs`): hickory validates every RRset itself against trust
//!   anchors (the IANA root KSK, or a file of DNSKEY records).
//!
//! Both collect the earliest RRSIG expiration of what they return, so that a zone that stops being
//! re-signed is seen days before it turns bogus. Names are handled as lower-case text without the
//! trailing dot (`mx.example.com`); the backends add the dot on the wire.

mod answer;
pub mod authoritative;
pub mod ede;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod nameservers;
mod trust_resolver;
mod udp_pool;
mod validate;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::rr::RData;
use serde::Serialize;

use crate::dane::TlsaRecord;

pub use ede::ExtendedDnsError;

/// Seconds since the Unix epoch, the time unit of every deadline in this crate.
pub type UnixSeconds = i64;

/// How DNSSEC security is established.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnssecMode {
    /// Trust the AD bit of a validating resolver (what Postfix does).
    #[default]
    TrustResolver,
    /// Validate every RRset here, against trust anchors.
    Validate,
}

/// Everything needed to build a [`DnsClient`].
#[derive(Clone, Debug)]
pub struct DnsSettings {
    /// How DNSSEC security is established.
    pub mode: DnssecMode,
    /// Nameservers to ask; empty means those of `/etc/resolv.conf`.
    pub nameservers: Vec<SocketAddr>,
    /// DNSKEY records (zone-file lines) that replace the built-in root trust anchor in
    /// [`DnssecMode::Validate`].
    pub trust_anchor_file: Option<PathBuf>,
    /// Time allowed for one lookup, retries included.
    pub timeout: Duration,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            mode: DnssecMode::TrustResolver,
            nameservers: Vec::new(),
            trust_anchor_file: None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// DNSSEC state of one RRset (RFC 4035 section 4.3, RFC 7672 section 2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnssecStatus {
    /// Validated by a chain of trust.
    Secure,
    /// Provably unsigned (an insecure delegation on the way).
    Insecure,
    /// Signed, but validation failed: tampered, expired or not matching its DS.
    Bogus,
    /// Security could not be determined (lookup failure, timeout, missing data).
    Indeterminate,
}

impl DnssecStatus {
    /// Every state, in the order metrics list them.
    pub const ALL: [DnssecStatus; 4] = [
        DnssecStatus::Secure,
        DnssecStatus::Insecure,
        DnssecStatus::Bogus,
        DnssecStatus::Indeterminate,
    ];

    /// Stable lower-case name, used as a label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DnssecStatus::Secure => "secure",
            DnssecStatus::Insecure => "insecure",
            DnssecStatus::Bogus => "bogus",
            DnssecStatus::Indeterminate => "indeterminate",
        }
    }
}

/// The record types DANE for SMTP depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    /// Mail exchangers of the domain.
    Mx,
    /// TLSA at `_port._tcp.<host>`.
    Tlsa,
    /// IPv4 addresses of a host.
    A,
    /// IPv6 addresses of a host.
    Aaaa,
    /// Text records (MTA-STS `_mta-sts`, TLS-RPT `_smtp._tls`).
    Txt,
}

impl RecordType {
    /// Upper-case mnemonic, as in zone files and label values.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Mx => "MX",
            RecordType::Tlsa => "TLSA",
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Txt => "TXT",
        }
    }
}

/// One MX record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MxRecord {
    /// Lower preference is tried first.
    pub preference: u16,
    /// Host name, normalised; empty for the null MX `0 .` (RFC 7505).
    pub exchange: String,
}

/// What a lookup found, when it found anything trustworthy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "records")]
pub enum RecordSet<T> {
    /// At least one record of the asked type.
    Records(Vec<T>),
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists but has no record of this type (NODATA).
    NoData,
}

/// A completed lookup: records or a denial, and how far DNSSEC vouches for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Response<T> {
    /// The records, or which kind of denial.
    pub set: RecordSet<T>,
    /// `Secure` or `Insecure` only; failures are [`LookupError`]s.
    pub status: DnssecStatus,
    /// When CNAMEs were followed: the names of the chain after the query name, in order; the last is
    /// the fully expanded name. Empty when the query name held the answer itself.
    pub cname_chain: Vec<String>,
    /// Earliest RRSIG expiration among the RRsets of the answer (CNAMEs included), if signed.
    pub signature_expiration: Option<UnixSeconds>,
    /// Smallest TTL among the returned records, if any.
    pub ttl: Option<u32>,
}

impl<T> Response<T> {
    /// The records, or an empty slice for a denial.
    pub fn records(&self) -> &[T] {
        match &self.set {
            RecordSet::Records(records) => records,
            RecordSet::NxDomain | RecordSet::NoData => &[],
        }
    }

    /// The fully CNAME-expanded name, when the answer followed an alias.
    pub fn expanded_name(&self) -> Option<&str> {
        self.cname_chain.last().map(String::as_str)
    }
}

/// Why a lookup gave nothing trustworthy. For a record DANE depends on, each of these means "we
/// cannot know", and a DANE sender defers mail rather than guess (RFC 7672 section 2.1.1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LookupError {
    /// No answer within the timeout.
    #[error("no answer within {millis} ms")]
    Timeout {
        /// The timeout that ran out, in milliseconds.
        millis: u64,
    },
    /// The resolver answered SERVFAIL; `ede` tells why when it said.
    #[error("SERVFAIL{}", ede.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    ServFail {
        /// RFC 8914 Extended DNS Error, when sent.
        ede: Option<ExtendedDnsError>,
    },
    /// The resolver refused the query.
    #[error("REFUSED{}", ede.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Refused {
        /// RFC 8914 Extended DNS Error, when sent.
        ede: Option<ExtendedDnsError>,
    },
    /// DNSSEC validation failed (validate mode).
    #[error("DNSSEC validation failed: {detail}")]
    Bogus {
        /// What the validator said.
        detail: String,
    },
    /// Validation could not reach a conclusion (validate mode).
    #[error("DNSSEC status indeterminate: {detail}")]
    Indeterminate {
        /// What the validator said.
        detail: String,
    },
    /// Another response code (FORMERR, NOTIMP, ...).
    #[error("resolver answered {rcode}")]
    Rcode {
        /// The response code, as text.
        rcode: String,
    },
    /// The answer could not be used: malformed, wrong type, CNAME loop, over-long chain.
    #[error("unusable answer: {detail}")]
    Malformed {
        /// What was wrong.
        detail: String,
    },
    /// Could not talk to the nameserver at all.
    #[error("network error: {detail}")]
    Network {
        /// The I/O error.
        detail: String,
    },
}

impl LookupError {
    /// The DNSSEC state this failure amounts to, for the per-RRset metrics.
    pub fn dnssec_status(&self) -> DnssecStatus {
        match self {
            LookupError::Bogus { .. } => DnssecStatus::Bogus,
            LookupError::ServFail { ede: Some(e) } | LookupError::Refused { ede: Some(e) }
                if e.is_dnssec_failure() =>
            {
                DnssecStatus::Bogus
            }
            _ => DnssecStatus::Indeterminate,
        }
    }

    /// Stable snake_case cause, suffix of the probe's `reason` label (`tlsa_lookup_<cause>`).
    pub fn cause(&self) -> &'static str {
        match self {
            LookupError::Timeout { .. } => "timeout",
            LookupError::ServFail { ede: Some(e) } if e.is_dnssec_failure() => "bogus",
            LookupError::ServFail { .. } => "servfail",
            LookupError::Refused { .. } => "refused",
            LookupError::Bogus { .. } => "bogus",
            LookupError::Indeterminate { .. } => "indeterminate",
            LookupError::Rcode { .. } => "rcode",
            LookupError::Malformed { .. } => "malformed",
            LookupError::Network { .. } => "network",
        }
    }
}

/// One lookup of `name`/`rtype` and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer<T> {
    /// Query name, normalised.
    pub name: String,
    /// Query type.
    pub rtype: RecordType,
    /// What came back.
    pub result: Result<Response<T>, LookupError>,
}

impl<T> Answer<T> {
    /// The RRset's DNSSEC state, whatever the outcome.
    pub fn dnssec_status(&self) -> DnssecStatus {
        match &self.result {
            Ok(response) => response.status,
            Err(error) => error.dnssec_status(),
        }
    }

    /// True when records or a denial were obtained and validated secure.
    pub fn is_secure(&self) -> bool {
        self.dnssec_status() == DnssecStatus::Secure
    }

    /// The records, or an empty slice for a denial or a failure.
    pub fn records(&self) -> &[T] {
        match &self.result {
            Ok(response) => response.records(),
            Err(_) => &[],
        }
    }
}

/// Why a [`DnsClient`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DnsSetupError {
    /// The trust-anchor file could not be read or holds no usable DNSKEY.
    #[error("trust anchor file {path}: {detail}")]
    TrustAnchor {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// `/etc/resolv.conf` could not be read or names no nameserver.
    #[error("system resolver configuration: {0}")]
    SystemConfig(String),
    /// The resolver library refused the configuration.
    #[error("resolver setup: {0}")]
    Resolver(String),
}

/// Normalises a domain name: lower case, no trailing dot, surrounding white space removed.
pub fn normalize_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The resolvers `settings` asks: its nameservers, or those of `/etc/resolv.conf`. For
/// `crate::consistency`, which finds zone cuts and nameserver addresses through them.
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

    /// The one place that picks the backend. The query name is checked here and the answer
    /// labelled here, so the typed lookups above and this framing are written once for both
    /// modes.
    async fn lookup<T: Send + 'static>(
        &self,
        name: &str,
        rtype: RecordType,
        convert: fn(&RData) -> Option<T>,
    ) -> Answer<T> {
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
