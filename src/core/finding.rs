//! One [`Finding`] type for every check, and the [`Reason`] enum of every stable reason.
//!
//! A reason is what an alert and a dashboard select on: the `reason` label of
//! `dane_probe_failure_info`, `dane_probe_warning_info`, `dane_service_*_info`,
//! `dane_mta_sts_problem_info`, `dane_tls_rpt_problem_info` and `dane_zone_warning_info`, and the
//! `reason` field of `dane_exporter check --json`. Every value is listed once here, with
//! [`Reason::as_str`] giving its label text; renaming one breaks users' alert rules, so the texts
//! never change. The checks (`crate::checks`) make findings; the reports carry them.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// Declares [`Reason`] with its label text per variant, in one list.
macro_rules! reasons {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $text:literal, )+) => {
        /// A stable reason: why a DANE sender would defer, or what needs attention.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)+];

            /// The label value: stable snake_case text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $text,)+
                }
            }
        }
    };
}

impl Reason {
    /// Whether a gauge of its own says what this warning says (`rollover_not_ready`:
    /// `dane_tlsa_rollover_ready` 0): the report keeps the finding, the metrics only the gauge.
    pub fn has_own_gauge(self) -> bool {
        matches!(self, Reason::RolloverNotReady)
    }
}

reasons! {
    // The domain and its MX hosts (crate::checks::mx).
    /// The MX lookup failed: DANE senders defer all mail.
    MxLookupFailed = "mx_lookup_failed",
    /// No address of any MX host can be used: every sender defers.
    Undeliverable = "undeliverable",
    /// The domain does not exist (NXDOMAIN), or has no MX host mail could go to (null MX, no
    /// address for any MX host).
    DomainNotFound = "domain_not_found",
    /// A null MX (RFC 7505): the domain accepts no mail.
    NullMx = "null_mx",
    /// The MX RRset is not signed while the MX hosts have DANE.
    MxInsecure = "mx_insecure",
    /// One MX host has no DANE while others do.
    MxHostWithoutDane = "mx_host_without_dane",
    /// The TLSA lookup of a host DANE would apply to failed.
    TlsaLookupFailed = "tlsa_lookup_failed",
    /// The address lookup of a host failed.
    AddressLookupFailed = "address_lookup_failed",
    /// An MX host with DANE has no A or AAAA record.
    MxHostWithoutAddress = "mx_host_without_address",
    /// TLSA records exist but none is usable for SMTP.
    NoUsableTlsa = "no_usable_tlsa",
    /// One TLSA record is unusable for SMTP.
    TlsaRecordUnusable = "tlsa_record_unusable",
    /// No record for a next key and no DANE-TA record (RFC 7671 section 8).
    RolloverNotReady = "rollover_not_ready",
    /// The probe did not finish within the target's timeout.
    ProbeTimeout = "probe_timeout",
    /// The probe crashed.
    ProbePanicked = "probe_panicked",
    /// The probe could not be set up.
    ProbeSetupFailed = "probe_setup_failed",
    // The SMTP dialogue (crate::core::smtp::SmtpError).
    /// The TCP connection failed (refused, reset): the address is unreachable.
    SmtpConnectFailed = "smtp_connect_failed",
    /// The monitoring host has no route to the address: it was skipped.
    SmtpNoRoute = "smtp_no_route",
    /// The TCP connection did not complete in time: the address is unreachable.
    SmtpConnectTimeout = "smtp_connect_timeout",
    /// No greeting in time: the address is unreachable.
    SmtpBannerTimeout = "smtp_banner_timeout",
    /// No reply to EHLO in time.
    SmtpEhloTimeout = "smtp_ehlo_timeout",
    /// No reply to STARTTLS in time.
    SmtpStarttlsTimeout = "smtp_starttls_timeout",
    /// The TLS handshake did not complete in time.
    TlsHandshakeTimeout = "tls_handshake_timeout",
    /// The connection closed or failed mid-dialogue.
    SmtpConnectionLost = "smtp_connection_lost",
    /// The greeting was not 220 (a 4xx or 5xx greeting): the address is unreachable.
    SmtpGreetingRejected = "smtp_greeting_rejected",
    /// EHLO was refused.
    SmtpEhloRejected = "smtp_ehlo_rejected",
    /// STARTTLS is not offered.
    StarttlsNotOffered = "starttls_not_offered",
    /// STARTTLS was refused.
    StarttlsRejected = "starttls_rejected",
    /// A reply broke the protocol.
    SmtpProtocolError = "smtp_protocol_error",
    /// The TLS handshake failed.
    TlsHandshakeFailed = "tls_handshake_failed",
    // The DANE rules (crate::core::evaluation::MatchFailure).
    /// The server presented no certificate.
    NoCertificate = "no_certificate",
    /// A certificate does not parse.
    BadCertificate = "bad_certificate",
    /// No usable TLSA record matches the chain.
    TlsaMismatch = "tlsa_mismatch",
    /// A DANE-TA record matched, but the leaf names no reference identifier.
    DaneTaNameMismatch = "dane_ta_name_mismatch",
    /// A DANE-TA record matched, but the chain does not verify.
    DaneTaChainInvalid = "dane_ta_chain_invalid",
    /// A PKIX record matched, but the chain does not validate to a trusted root.
    PkixChainInvalid = "pkix_chain_invalid",
    /// A PKIX record matched, but the leaf does not name the host.
    PkixNameMismatch = "pkix_name_mismatch",
    /// A record matched a leaf whose RSA key is below 1024 bits: Postfix's OpenSSL calls the
    /// peer untrusted.
    CertificateKeyTooSmall = "certificate_key_too_small",
    // Key algorithms (crate::checks::key_algorithms).
    /// Another offered key algorithm's chain matches no TLSA record.
    TlsaMismatchKeyAlgorithm = "tlsa_mismatch_key_algorithm",
    /// The session restricted to one key algorithm failed.
    KeyAlgorithmProbeFailed = "key_algorithm_probe_failed",
    // Hygiene and authoritative consistency (crate::checks::authoritative).
    /// The same record twice in the RRset.
    TlsaDuplicateRecord = "tlsa_duplicate_record",
    /// More TLSA records than the configured maximum.
    TlsaTooManyRecords = "tlsa_too_many_records",
    /// A `x 0 0` record: the whole certificate in DNS.
    TlsaFullCertificate = "tlsa_full_certificate",
    /// Usage 0 or 1, which SMTP senders ignore.
    TlsaPkixUsage = "tlsa_pkix_usage",
    /// A TLSA TTL above the configured maximum.
    TlsaTtlTooLong = "tlsa_ttl_too_long",
    /// A DANE-TA record matches only an anchor the server does not send.
    DaneTaNotSent = "dane_ta_not_sent",
    /// A usable record matched nothing for longer than `tlsa_stale_after`.
    TlsaRecordStale = "tlsa_record_stale",
    /// A DNSKEY algorithm RFC 8624 deprecates for signing.
    DnskeyAlgorithmDeprecated = "dnskey_algorithm_deprecated",
    /// A signed zone whose parent publishes no DS.
    DsMissing = "ds_missing",
    /// Every DS uses SHA-1.
    DsDigestSha1Only = "ds_digest_sha1_only",
    /// No DS matches a DNSKEY with the SEP flag.
    DsNoMatchingDnskey = "ds_no_matching_dnskey",
    /// A DS that matches no DNSKEY, beside one that does.
    DsUnmatched = "ds_unmatched",
    /// The authoritative nameservers of a zone disagree.
    NameserverInconsistent = "nameserver_inconsistent",
    /// The authoritative checks stopped.
    AuthoritativeCheckFailed = "authoritative_check_failed",
    // Local certificate files (crate::checks::local_certs).
    /// Certificate files are configured for a host that is not an MX host.
    LocalCertificateMxNotFound = "local_certificate_mx_not_found",
    /// A certificate file gives no certificate.
    LocalCertificateUnreadable = "local_certificate_unreadable",
    /// No published TLSA record matches the live certificate file.
    LocalCertificateUnpublished = "local_certificate_unpublished",
    /// No published TLSA record matches the staged certificate file.
    StagedCertificateUnpublished = "staged_certificate_unpublished",
    /// Two files of one MX host, slot and key algorithm.
    LocalCertificateAmbiguous = "local_certificate_ambiguous",
    // MTA-STS (crate::checks::mta_sts).
    /// The `_mta-sts` TXT lookup failed.
    MtaStsRecordLookupFailed = "mta_sts_record_lookup_failed",
    /// No `_mta-sts` record.
    MtaStsMissing = "mta_sts_missing",
    /// Several `_mta-sts` records.
    MtaStsRecordMultiple = "mta_sts_record_multiple",
    /// A malformed `_mta-sts` record.
    MtaStsRecordInvalid = "mta_sts_record_invalid",
    /// The WebPKI trust store could not be built.
    MtaStsSetupFailed = "mta_sts_setup_failed",
    /// The policy fetch failed (connection, TLS, timeout, no address).
    MtaStsPolicyFetchFailed = "mta_sts_policy_fetch_failed",
    /// The policy host's certificate fails WebPKI validation.
    MtaStsPolicyHostCertInvalid = "mta_sts_policy_host_cert_invalid",
    /// The policy host answered with another status than 200.
    MtaStsPolicyHttpStatus = "mta_sts_policy_http_status",
    /// The policy is not served as text/plain.
    MtaStsPolicyContentType = "mta_sts_policy_content_type",
    /// The policy host redirected (RFC 8461 3.3 forbids following).
    MtaStsPolicyRedirect = "mta_sts_policy_redirect",
    /// The policy is larger than 64 KiB.
    MtaStsPolicyTooLarge = "mta_sts_policy_too_large",
    /// The policy does not parse.
    MtaStsPolicyInvalid = "mta_sts_policy_invalid",
    /// The policy changed while the TXT id did not.
    MtaStsPolicyIdUnchanged = "mta_sts_policy_id_unchanged",
    /// An MX host matches no mx pattern of the policy.
    MtaStsMxNotCovered = "mta_sts_mx_not_covered",
    /// An MX certificate fails MTA-STS validation.
    MtaStsCertInvalid = "mta_sts_cert_invalid",
    // TLS-RPT (crate::checks::mta_sts).
    /// The `_smtp._tls` TXT lookup failed.
    TlsRptLookupFailed = "tls_rpt_lookup_failed",
    /// No `_smtp._tls` record.
    TlsRptMissing = "tls_rpt_missing",
    /// A malformed `_smtp._tls` record.
    TlsRptRecordInvalid = "tls_rpt_record_invalid",
    /// Several `_smtp._tls` records.
    TlsRptRecordMultiple = "tls_rpt_record_multiple",
    // TLS-RPT reports received, against the probe (crate::tlsrpt::correlate).
    /// Senders report failures on an MX host this probe authenticates.
    TlsRptFailuresProbePasses = "tlsrpt_failures_probe_passes",
    /// This probe fails on an MX host senders report DANE sessions to without failure.
    TlsRptSuccessProbeFails = "tlsrpt_success_probe_fails",
    // Other TLS services (crate::checks::services).
    /// The TCP connection to the service failed.
    ServiceConnectFailed = "service_connect_failed",
    /// A service dialogue step timed out.
    ServiceTimeout = "service_timeout",
    /// The service connection closed or failed mid-dialogue.
    ServiceConnectionLost = "service_connection_lost",
    /// The service's greeting was a refusal.
    ServiceGreetingRejected = "service_greeting_rejected",
    /// The service refused EHLO, CAPABILITY or CAPA.
    ServiceCommandRejected = "service_command_rejected",
    /// The service broke its protocol.
    ServiceProtocolError = "service_protocol_error",
    /// DANE does not apply to the service.
    ServiceDaneNotApplicable = "service_dane_not_applicable",
    /// The service host has no address.
    ServiceNoAddresses = "service_no_addresses",
    // What the exporter can see, and what is expected of a target (crate::probe).
    /// The resolver does not validate DNSSEC: the verdict is unknown, not the domain's fault.
    ResolverNotValidating = "resolver_not_validating",
    /// No configured resolver answers: the verdict is unknown, not the domain's fault.
    ResolverUnavailable = "resolver_unavailable",
    /// DANE is expected for the domain (`expect: dane`) but does not apply: DS removed, zone
    /// unsigned, TLSA records gone.
    DaneExpected = "dane_expected",
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One reason a DANE sender would defer, or something that needs attention, with where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable reason, the `reason` label value.
    pub reason: Reason,
    /// MX host concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mx: Option<String>,
    /// Address concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// A sentence for humans.
    pub message: String,
}

impl Finding {
    /// A finding about the whole domain (or zone, or service: whatever the list it is in is about).
    pub fn new(reason: Reason, message: String) -> Self {
        Self {
            reason,
            mx: None,
            address: None,
            message,
        }
    }

    /// The same finding, about MX host `mx`.
    pub fn at_mx(mut self, mx: &str) -> Self {
        self.mx = Some(mx.to_string());
        self
    }

    /// The same finding, about `address`.
    pub fn at_address(mut self, address: IpAddr) -> Self {
        self.address = Some(address);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    /// Label values are unique and snake_case: two reasons with one text would merge their
    /// series, and alert rules select on the text.
    #[test]
    fn reason_texts_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reason::ALL {
            let text = reason.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{text}"
            );
        }
    }
}
