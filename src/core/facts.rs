//! What probing a domain's MX hosts found: the facts every check reads.
//!
//! `crate::checks::mx` gathers them ([`MxReport`]: the MX lookup, per MX host the address and
//! TLSA lookups, per address the STARTTLS session and its DANE evaluation); the key-algorithm
//! check adds its sessions to each endpoint. The other checks (MTA-STS, hygiene, authoritative
//! consistency, local certificates) judge these facts; the report (`crate::report`) carries them;
//! they serialise to the JSON of `dane_exporter check --json`, a public interface.

use std::net::IpAddr;

use serde::ser::SerializeMap;
use serde::Serialize;

use super::certificate::CertificateInfo;
use super::dns::{Answer, DnssecStatus, LookupError, MxRecord, RecordSet, RecordType};
use super::evaluation::EndpointEvaluation;
use super::smtp::{KeyAlgorithm, Reachability, SmtpError, TlsSession};
use super::time::UnixSeconds;
use super::tlsa::TlsaRecord;

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

impl Direction {
    /// Stable snake_case name: the `direction` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// Identifies a configured target: one domain in one direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey {
    /// Inbound or outbound.
    pub direction: Direction,
    /// The domain, normalised.
    pub domain: String,
}

/// How a lookup ended, as the report shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RrsetOutcome {
    /// At least one record.
    Records,
    /// The name does not exist.
    NxDomain,
    /// The name exists without records of the type.
    NoData,
    /// Nothing trustworthy was learned (see the lookup's error).
    Failed,
    /// The probe ended before the lookup did (timeout, crash).
    Unfinished,
}

impl RrsetOutcome {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RrsetOutcome::Records => "records",
            RrsetOutcome::NxDomain => "nx_domain",
            RrsetOutcome::NoData => "no_data",
            RrsetOutcome::Failed => "failed",
            RrsetOutcome::Unfinished => "unfinished",
        }
    }

    /// NXDOMAIN or NODATA: an answer that there is nothing.
    pub fn is_denial(self) -> bool {
        matches!(self, RrsetOutcome::NxDomain | RrsetOutcome::NoData)
    }
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
    /// How the lookup ended.
    pub outcome: RrsetOutcome,
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
                    RecordSet::Records(_) => RrsetOutcome::Records,
                    RecordSet::NxDomain => RrsetOutcome::NxDomain,
                    RecordSet::NoData => RrsetOutcome::NoData,
                },
                response.cname_chain.clone(),
                response.signature_expiration,
                response.ttl,
                None,
            ),
            Err(error) => (
                RrsetOutcome::Failed,
                Vec::new(),
                None,
                None,
                Some(error.clone()),
            ),
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

/// Whether DANE applies to an MX host (or a service host), and if not, why not.
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

    /// A phrase for human reports.
    pub fn text(self) -> &'static str {
        match self {
            HostDane::Applies => "DANE applies",
            HostDane::AddressesInsecure => "its address records are not DNSSEC-signed",
            HostDane::NoTlsa => "no TLSA records",
            HostDane::TlsaInsecure => "its TLSA records are not DNSSEC-signed",
            HostDane::TlsaLookupFailed => "the TLSA lookup failed",
            HostDane::AddressLookupFailed => "the address lookup failed",
        }
    }
}

/// How the STARTTLS session with one address ended: a TLS session, or the step that failed.
#[derive(Clone, Debug)]
pub enum EndpointSession {
    /// The handshake completed.
    Tls(TlsSession),
    /// The dialogue or the handshake failed.
    Failed(SmtpError),
}

impl EndpointSession {
    /// The session from a dialogue's result.
    pub fn from_result(result: Result<TlsSession, SmtpError>) -> Self {
        match result {
            Ok(session) => EndpointSession::Tls(session),
            Err(error) => EndpointSession::Failed(error),
        }
    }

    /// The TLS session, when the handshake completed.
    pub fn tls(&self) -> Option<&TlsSession> {
        match self {
            EndpointSession::Tls(session) => Some(session),
            EndpointSession::Failed(_) => None,
        }
    }

    /// The failure, when the dialogue did not complete.
    pub fn error(&self) -> Option<&SmtpError> {
        match self {
            EndpointSession::Tls(_) => None,
            EndpointSession::Failed(error) => Some(error),
        }
    }

    /// Whether STARTTLS was offered, when the dialogue got that far.
    pub fn starttls_offered(&self) -> Option<bool> {
        match self {
            EndpointSession::Tls(_) => Some(true),
            EndpointSession::Failed(error) => error.starttls_offered(),
        }
    }

    /// Whether the server was reached (it greeted with 220).
    pub fn reachability(&self) -> Reachability {
        match self {
            EndpointSession::Tls(_) => Reachability::Reached,
            EndpointSession::Failed(error) => error.reachability(),
        }
    }
}

/// The JSON keeps the three fields it always had: `starttls_offered`, `tls`, `smtp_error`.
impl Serialize for EndpointSession {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("starttls_offered", &self.starttls_offered())?;
        map.serialize_entry("tls", &self.tls())?;
        map.serialize_entry("smtp_error", &self.error())?;
        map.end()
    }
}

/// One address of one MX host: the STARTTLS session and the DANE evaluation of its chain.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointReport {
    /// The address probed.
    pub address: IpAddr,
    /// DANE applies to this address: the host's TLSA RRset is secure and so is the address's own
    /// RRset (or the CNAME that led to it: RFC 7672 2.2.2). A sender authenticates it, or skips it.
    pub dane: bool,
    /// The STARTTLS session, or why there is none.
    #[serde(flatten)]
    pub session: EndpointSession,
    /// Every presented certificate, leaf first (unparsable ones left out).
    pub chain: Vec<CertificateInfo>,
    /// The DANE evaluation, when a chain was obtained and DANE applies.
    pub evaluation: Option<EndpointEvaluation>,
    /// Seconds the SMTP dialogue took.
    pub duration_seconds: f64,
    /// Each key algorithm's chain, checked on its own (`crate::checks::key_algorithms`); empty
    /// when DANE does not apply, the normal session failed, or the target's direction is outside
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

impl MxHostReport {
    /// The TLSA lookup in force: the one that found records.
    pub fn tlsa_lookup_in_force(&self) -> Option<&RrsetReport> {
        self.tlsa_lookups
            .iter()
            .rev()
            .find(|l| l.outcome == RrsetOutcome::Records)
    }
}

/// Everything probing the MX hosts of one domain found, before any judgement.
#[derive(Clone, Debug, Serialize)]
pub struct MxReport {
    /// The domain probed, normalised.
    pub domain: String,
    /// When the probe started.
    pub checked_at: UnixSeconds,
    /// The MX lookup.
    pub mx_lookup: RrsetReport,
    /// The MX records as found.
    pub mx_records: Vec<MxRecord>,
    /// True when there was no MX RRset and the domain itself was used (RFC 5321 5.1).
    pub implicit_mx: bool,
    /// One entry per MX host, in preference order.
    pub hosts: Vec<MxHostReport>,
}

impl MxReport {
    /// The facts of a probe that found nothing: it ran out of time or crashed before the MX
    /// lookup came back.
    pub fn unfinished(domain: &str, checked_at: UnixSeconds) -> Self {
        Self {
            domain: domain.to_string(),
            checked_at,
            mx_lookup: RrsetReport {
                name: domain.to_string(),
                rtype: RecordType::Mx,
                dnssec: DnssecStatus::Indeterminate,
                outcome: RrsetOutcome::Unfinished,
                cname_chain: Vec::new(),
                signature_expiration: None,
                ttl: None,
                error: None,
            },
            mx_records: Vec::new(),
            implicit_mx: false,
            hosts: Vec::new(),
        }
    }

    /// True when the MX RRset validated.
    pub fn mx_secure(&self) -> bool {
        self.mx_lookup.dnssec == DnssecStatus::Secure
    }

    /// The owner of the MX RRset when the domain is an alias (the end of the MX lookup's CNAME
    /// chain).
    pub fn mx_owner(&self) -> Option<&str> {
        self.mx_lookup.cname_chain.last().map(String::as_str)
    }

    /// True when the MX RRset holds a null MX (`MX 0 .`, RFC 7505), with other records or alone:
    /// the domain accepts no mail.
    pub fn null_mx(&self) -> bool {
        self.mx_records.iter().any(|r| r.exchange.is_empty())
    }
}

/// What probing one key algorithm on one endpoint found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyAlgorithmReport {
    /// The algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Offered (with its chain's evaluation), not offered, or the probe failed.
    #[serde(flatten)]
    pub state: KeyAlgorithmState,
    /// True when the normal (unrestricted) session already presented this algorithm's chain and
    /// no extra session was made.
    pub from_main_session: bool,
    /// Seconds the extra session took (0 when `from_main_session`).
    pub duration_seconds: f64,
}

/// The outcome for one key algorithm.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum KeyAlgorithmState {
    /// The server presented a chain whose leaf has a key of this algorithm.
    Offered {
        /// The leaf, when it parsed.
        leaf: Option<CertificateInfo>,
        /// The DANE evaluation of this chain against the host's TLSA RRset (boxed: it is large
        /// next to the other states).
        evaluation: Option<Box<EndpointEvaluation>>,
    },
    /// The server refused a handshake restricted to this algorithm: it has no such key.
    NotOffered {
        /// The TLS error as received.
        detail: String,
    },
    /// The restricted session failed otherwise (timeout, connection lost, ...): unknown.
    Failed {
        /// The failure.
        error: SmtpError,
    },
}

impl KeyAlgorithmReport {
    /// `Some(true)` offered, `Some(false)` not offered, `None` unknown (the probe failed).
    pub fn offered(&self) -> Option<bool> {
        match self.state {
            KeyAlgorithmState::Offered { .. } => Some(true),
            KeyAlgorithmState::NotOffered { .. } => Some(false),
            KeyAlgorithmState::Failed { .. } => None,
        }
    }

    /// The chain's evaluation, when offered and DANE applies.
    pub fn evaluation(&self) -> Option<&EndpointEvaluation> {
        match &self.state {
            KeyAlgorithmState::Offered { evaluation, .. } => evaluation.as_deref(),
            _ => None,
        }
    }
}

/// The overall verdict for a domain (or a service).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every reached endpoint where DANE applies authenticates, and there is at least one.
    Pass,
    /// A DANE sender would defer mail to at least one endpoint, or none can be used.
    Fail,
    /// TLSA records exist, but none is usable: senders require TLS and authenticate nothing
    /// (Postfix "encrypt"). Mail flows; DANE protects none of it.
    EncryptOnly,
    /// DANE does not apply: the MX RRset is insecure, or no MX host has TLSA.
    NotApplicable,
    /// The exporter could not see: its resolver does not validate DNSSEC or does not answer, so
    /// nothing is known about the domain (`crate::report::DomainReport::unknown` says why).
    /// Never a pass and never a failure of the domain.
    Unknown,
}

impl Verdict {
    /// Every verdict, in the order metrics and reports list them.
    pub const ALL: [Verdict; 4] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::EncryptOnly,
        Verdict::NotApplicable,
    ];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::EncryptOnly => "encrypt_only",
            Verdict::NotApplicable => "not_applicable",
            Verdict::Unknown => "unknown",
        }
    }
}
