//! The facts of a DNS lookup as every layer above `crate::dns` sees them: the RRset or the
//! denial, its DNSSEC state (RFC 7672 section 2.1), its signature deadline, or a typed failure.
//!
//! `crate::dns` produces [`Answer`]s (in either DNSSEC mode); the checks read them and copy what a
//! report shows into `RrsetReport` (`super::facts`).

use serde::Serialize;

use super::ede::ExtendedDnsError;
use super::time::UnixSeconds;

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
    /// An alias: asked directly for the DNSSEC state of the alias itself (RFC 7672 2.2.2).
    Cname,
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
            RecordType::Cname => "CNAME",
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
    /// For a denial, how long it may be cached: the smaller of the SOA record's TTL and its
    /// MINIMUM field (RFC 2308 section 5), when the answer carried the zone's SOA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_ttl: Option<u32>,
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
