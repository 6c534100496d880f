//! A TLS-RPT report (RFC 8460 section 4) as this crate holds it once validated: every field
//! typed, names normalised, counts as integers. Only [`super::parse_report`] makes one.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::core::UnixSeconds;

/// One validated aggregate report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// `organization-name`: who sent it (RFC 8460 4.1).
    pub organization: String,
    /// `report-id`: unique per organisation; with it, the duplicate key.
    pub report_id: String,
    /// `contact-info`.
    pub contact_info: String,
    /// `date-range.start-datetime`, Unix seconds.
    pub start: UnixSeconds,
    /// `date-range.end-datetime`, Unix seconds; after `start`.
    pub end: UnixSeconds,
    /// One entry per policy the sender applied (at least one).
    pub policies: Vec<PolicyResult>,
}

/// The sessions of one applied policy (RFC 8460 4.2 and 4.4 "policies").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyResult {
    /// `policy-type`.
    pub policy_type: PolicyType,
    /// `policy-domain`, normalised (lower case, no trailing dot).
    pub policy_domain: String,
    /// `policy-string`: the TLSA records or the MTA-STS policy lines the sender applied.
    pub policy_strings: Vec<String>,
    /// `mx-host`: the MX hosts (or MTA-STS patterns) the policy covered, lower case.
    pub mx_hosts: Vec<String>,
    /// `summary.total-successful-session-count`.
    pub successful_sessions: u64,
    /// `summary.total-failure-session-count`.
    pub failed_sessions: u64,
    /// `failure-details`.
    pub failures: Vec<FailureDetail>,
}

/// One line of `failure-details` (RFC 8460 4.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDetail {
    /// `result-type`.
    pub result_type: ResultType,
    /// `sending-mta-ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_mta_ip: Option<IpAddr>,
    /// `receiving-mx-hostname`, normalised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_mx_hostname: Option<String>,
    /// `receiving-mx-helo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_mx_helo: Option<String>,
    /// `receiving-ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiving_ip: Option<IpAddr>,
    /// `failed-session-count`.
    pub failed_sessions: u64,
    /// `additional-information` (a URI, as text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_information: Option<String>,
    /// `failure-reason-code` (free text, such as an OpenSSL error name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason_code: Option<String>,
}

/// `policy-type` (RFC 8460 4.4): what the sender enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PolicyType {
    /// DANE TLSA records (RFC 7672).
    #[serde(rename = "tlsa")]
    Tlsa,
    /// MTA-STS (RFC 8461).
    #[serde(rename = "sts")]
    Sts,
    /// Neither: opportunistic TLS.
    #[serde(rename = "no-policy-found")]
    NoPolicyFound,
}

impl PolicyType {
    /// Every type, in label order.
    pub const ALL: [PolicyType; 3] = [PolicyType::Tlsa, PolicyType::Sts, PolicyType::NoPolicyFound];

    /// The RFC's text, also the `policy_type` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Tlsa => "tlsa",
            PolicyType::Sts => "sts",
            PolicyType::NoPolicyFound => "no-policy-found",
        }
    }

    /// The type named `text` (RFC 8460 allows these three only).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// Declares [`ResultType`] with its registry text per variant, in one list.
macro_rules! result_types {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $text:literal, )+) => {
        /// `result-type` (RFC 8460 4.3, the IANA "STARTTLS Validation Result Types" registry).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ResultType {
            $( $(#[doc = $doc])+ $variant, )+
            /// A result type the registry (as of RFC 8460) does not list: a later registration,
            /// or a sender's own. Counted, labelled `other`.
            Other,
        }

        impl ResultType {
            /// Every registered type, in declaration order.
            pub const REGISTERED: &'static [ResultType] = &[$(ResultType::$variant,)+];

            /// The registry's text, also the `result_type` label value (`other` for
            /// [`ResultType::Other`]).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ResultType::$variant => $text,)+
                    ResultType::Other => "other",
                }
            }
        }
    };
}

result_types! {
    // Negotiation failures (RFC 8460 4.3.1).
    /// The receiving MX does not offer STARTTLS.
    StarttlsNotSupported = "starttls-not-supported",
    /// The certificate presented does not name the MX host.
    CertificateHostMismatch = "certificate-host-mismatch",
    /// The certificate has expired.
    CertificateExpired = "certificate-expired",
    /// The certificate does not chain to a root the sender trusts.
    CertificateNotTrusted = "certificate-not-trusted",
    /// Any other validation failure (the reason code may say more).
    ValidationFailure = "validation-failure",
    // DANE policy failures (RFC 8460 4.3.2.1).
    /// The TLSA RRset is unusable or matches nothing the host presents.
    TlsaInvalid = "tlsa-invalid",
    /// The TLSA (or address) lookup failed DNSSEC validation.
    DnssecInvalid = "dnssec-invalid",
    /// DANE was required (by the sender's policy) and none was found.
    DaneRequired = "dane-required",
    // MTA-STS policy failures (RFC 8460 4.3.2.2).
    /// The MTA-STS policy could not be fetched.
    StsPolicyFetchError = "sts-policy-fetch-error",
    /// The MTA-STS policy is invalid.
    StsPolicyInvalid = "sts-policy-invalid",
    /// The MTA-STS policy host's certificate fails WebPKI validation.
    StsWebpkiInvalid = "sts-webpki-invalid",
}

impl ResultType {
    /// The type `text` names; unregistered tokens are [`ResultType::Other`].
    pub fn parse(text: &str) -> Self {
        Self::REGISTERED
            .iter()
            .copied()
            .find(|t| t.as_str() == text)
            .unwrap_or(ResultType::Other)
    }

    /// A DANE failure: a DANE-enforcing sender could not authenticate the MX host, so it
    /// deferred. `tlsa-invalid`, `dnssec-invalid`, `dane-required`, or a `certificate-*` result
    /// under a `tlsa` policy (where a sender reports what its DANE check saw as such).
    pub fn is_dane_failure(self, policy: PolicyType) -> bool {
        match self {
            ResultType::TlsaInvalid | ResultType::DnssecInvalid | ResultType::DaneRequired => true,
            ResultType::CertificateHostMismatch
            | ResultType::CertificateExpired
            | ResultType::CertificateNotTrusted => policy == PolicyType::Tlsa,
            _ => false,
        }
    }

    /// Whether our own probe checks what this result is about, under `policy`: then a sender's
    /// failure and our probe's pass contradict each other. MTA-STS results are about the policy
    /// host, which the DANE probe does not see; under a `tlsa` policy every negotiation result
    /// is something the probe's DANE session also meets; under the others only STARTTLS is.
    pub fn comparable_with_probe(self, policy: PolicyType) -> bool {
        match self {
            ResultType::StarttlsNotSupported => true,
            ResultType::StsPolicyFetchError
            | ResultType::StsPolicyInvalid
            | ResultType::StsWebpkiInvalid
            | ResultType::Other => false,
            _ => policy == PolicyType::Tlsa,
        }
    }
}

impl Serialize for ResultType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(ResultType::parse(&text))
    }
}

/// How the report body is encoded (RFC 8460 3 and 5.3, the two registered media types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/tlsrpt+gzip`: gzip-compressed JSON.
    Gzip,
    /// `application/tlsrpt+json`: JSON.
    Json,
}

impl MediaType {
    /// The media type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Gzip => "application/tlsrpt+gzip",
            MediaType::Json => "application/tlsrpt+json",
        }
    }

    /// The media type of a `Content-Type` value (parameters ignored, case-insensitive); `None`
    /// for any other type.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or("").trim();
        [MediaType::Gzip, MediaType::Json]
            .into_iter()
            .find(|m| essence.eq_ignore_ascii_case(m.as_str()))
    }
}
