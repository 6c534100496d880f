//! Operational hygiene of a DANE deployment: TLSA RRsets that work today but make the next
//! rollover fragile, and DNSKEY/DS sets that weaken the chain of trust. Pure: no I/O, no clock.
//!
//! Input is what the probe already found: an [`MxHostReport`] (the TLSA RRset as answered, its
//! TTL, each endpoint's evaluation and presented chain) and, for the DNSSEC side, the facts
//! the authoritative questions (`super::run`) gathered about a zone's DNSKEY and DS RRsets
//! ([`ZoneKeys`]). Output is [`Finding`]s with stable `reason` values, warnings only: nothing here
//! defers mail today. The probe appends them to the report; staleness needs the time a record was
//! first seen unmatched, which only the history across rounds remembers (`crate::history`), so
//! [`stale_findings`] takes that time as input.
//!
//! Reasons (the `reason` label of `dane_probe_warning_info`):
//! - `tlsa_duplicate_record`: the same record twice in the RRset (a broken server or zone tool).
//! - `tlsa_too_many_records`: more records than [`HygieneLimits::max_records`]; some large senders
//!   are reported to give up on RRsets of about a dozen records, and big RRsets with signatures
//!   no longer fit a 1232-byte UDP answer.
//! - `tlsa_full_certificate`: selector 0 with matching type 0 (`x 0 0`): the whole certificate in
//!   DNS, large, and broken by every renewal even when the key stays.
//! - `tlsa_pkix_usage`: usage 0 or 1, which SMTP senders ignore (RFC 7672 3.1.3).
//! - `tlsa_ttl_too_long`: a TTL above [`HygieneLimits::max_ttl`]: a rollover must wait two TTLs
//!   (RFC 7671 8.1), and an emergency key change as long.
//! - `dane_ta_not_sent`: a DANE-TA record matches only a trust anchor the server does not send
//!   (a full `2 x 0` key or certificate that signed the chain): senders that do not rebuild the
//!   anchor from the record fail, and RFC 7671 5.2.3 says servers using `2 1 0` MUST send the TA
//!   certificate.
//! - `tlsa_record_stale`: a usable record that matched nothing on any endpoint for longer than
//!   [`HygieneLimits::stale_after`].
//! - `dnskey_algorithm_deprecated`: a DNSKEY algorithm RFC 8624 says must not (or should no
//!   longer) be used for signing: RSAMD5, DSA, RSASHA1, DSA-NSEC3-SHA1, RSASHA1-NSEC3-SHA1,
//!   ECC-GOST.
//! - `ds_missing`: the zone is signed but its parent publishes no DS (an island of security).
//! - `ds_digest_sha1_only`: every DS uses SHA-1 (RFC 8624 3.3: SHA-256 must be published).
//! - `ds_no_matching_dnskey`: no DS matches a DNSKEY with the SEP flag: the chain of trust is
//!   broken or hangs on a key not marked as a key-signing key.
//! - `ds_unmatched`: besides a matching DS, one that matches no DNSKEY (a leftover of a rollover).

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::core::{
    CertUsage, Finding, HostDane, MatchingType, MxHostReport, MxReport, Reason, RecordState,
    RrsetOutcome, Selector, TlsaRecord, UnixSeconds,
};

/// Thresholds of the hygiene rules (`global` keys `tlsa_max_records`, `tlsa_max_ttl`,
/// `tlsa_stale_after`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HygieneLimits {
    /// Largest TLSA RRset not warned about.
    pub max_records: usize,
    /// Largest TLSA TTL (seconds) not warned about.
    pub max_ttl: u32,
    /// How long a record may match nothing before it is called stale.
    pub stale_after: Duration,
}

impl Default for HygieneLimits {
    fn default() -> Self {
        Self {
            // The issue report: "about a dozen" records is where some senders give up.
            max_records: 12,
            // A day: a planned rollover then needs two days of pre-publication.
            max_ttl: 86_400,
            // A next-key record ("current + next") legitimately matches nothing until the
            // switch, often a whole renewal cycle; 90 days covers Let's Encrypt's.
            stale_after: Duration::from_secs(90 * 86_400),
        }
    }
}

fn host_finding(host: &MxHostReport, reason: Reason, message: String) -> Finding {
    Finding::new(reason, message).at_mx(&host.name)
}

fn list(records: &[&TlsaRecord]) -> String {
    records
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The TLSA hygiene findings of every MX host of `mx`, host by host.
pub fn tlsa_hygiene(mx: &MxReport, limits: &HygieneLimits) -> Vec<Finding> {
    mx.hosts
        .iter()
        .flat_map(|host| tlsa_findings(host, limits))
        .collect()
}

/// The TLSA hygiene findings of one MX host: at most one finding per reason (the message lists
/// every record concerned), so that each is one `dane_probe_warning_info` series.
pub fn tlsa_findings(host: &MxHostReport, limits: &HygieneLimits) -> Vec<Finding> {
    let mut findings = Vec::new();
    if host.dane != HostDane::Applies || host.tlsa_records.is_empty() {
        return findings;
    }
    let records = &host.tlsa_records;
    let name = host
        .tlsa_lookups
        .iter()
        .find(|l| l.outcome == RrsetOutcome::Records)
        .map(|l| l.name.clone())
        .unwrap_or_else(|| host.name.clone());

    let mut duplicates: Vec<&TlsaRecord> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        if records[..i].contains(record) && !duplicates.contains(&record) {
            duplicates.push(record);
        }
    }
    if !duplicates.is_empty() {
        findings.push(host_finding(
            host,
            Reason::TlsaDuplicateRecord,
            format!(
                "{name}: TLSA record(s) published more than once: {}",
                list(&duplicates)
            ),
        ));
    }
    if records.len() > limits.max_records {
        findings.push(host_finding(
            host,
            Reason::TlsaTooManyRecords,
            format!(
                "{name}: {} TLSA records, more than {}; some senders are reported to give up on RRsets this large",
                records.len(),
                limits.max_records
            ),
        ));
    }
    let full: Vec<&TlsaRecord> = records
        .iter()
        .filter(|r| r.selector == Selector::FullCertificate && r.matching == MatchingType::Full)
        .collect();
    if !full.is_empty() {
        findings.push(host_finding(
            host,
            Reason::TlsaFullCertificate,
            format!(
                "{name}: full-certificate TLSA record(s) (x 0 0): large, and broken by every renewal; publish 3 1 1: {}",
                list(&full)
            ),
        ));
    }
    let pkix: Vec<&TlsaRecord> = records
        .iter()
        .filter(|r| matches!(r.usage, CertUsage::PkixTa | CertUsage::PkixEe))
        .collect();
    if !pkix.is_empty() {
        findings.push(host_finding(
            host,
            Reason::TlsaPkixUsage,
            format!(
                "{name}: usage 0/1 (PKIX) record(s), which SMTP senders ignore (RFC 7672 3.1.3): {}",
                list(&pkix)
            ),
        ));
    }
    let ttl = host
        .tlsa_lookups
        .iter()
        .filter(|l| l.outcome == RrsetOutcome::Records)
        .filter_map(|l| l.ttl)
        .max();
    if let Some(ttl) = ttl.filter(|t| *t > limits.max_ttl) {
        findings.push(host_finding(
            host,
            Reason::TlsaTtlTooLong,
            format!(
                "{name}: TLSA TTL {ttl} s is above {} s: a rollover must pre-publish the next record two TTLs ahead (RFC 7671 8.1), and an emergency key change waits as long",
                limits.max_ttl
            ),
        ));
    }
    let unsent: Vec<&TlsaRecord> = records
        .iter()
        .enumerate()
        .filter(|(index, record)| {
            record.usage == CertUsage::DaneTa
                && host.endpoints.iter().any(|endpoint| {
                    let sent = endpoint.session.tls().map_or(0, |t| t.chain.len());
                    let state = endpoint
                        .evaluation
                        .as_ref()
                        .and_then(|e| e.records.get(*index))
                        .map(|r| &r.state);
                    matches!(
                        state,
                        Some(RecordState::Matched { depth } | RecordState::MatchedButRejected { depth, .. })
                            if *depth >= sent
                    )
                })
        })
        .map(|(_, record)| record)
        .collect();
    if !unsent.is_empty() {
        findings.push(host_finding(
            host,
            Reason::DaneTaNotSent,
            format!(
                "{name}: DANE-TA record(s) match only a trust anchor the server does not send; add the TA certificate to the served chain: {}",
                list(&unsent)
            ),
        ));
    }
    findings
}

/// Usable records of `host` that matched nothing on every endpoint that was evaluated (none when
/// no endpoint was): the candidates for staleness.
pub fn unmatched_everywhere(host: &MxHostReport) -> Vec<TlsaRecord> {
    let evaluations: Vec<_> = host
        .endpoints
        .iter()
        .filter_map(|e| e.evaluation.as_ref())
        .collect();
    if host.dane != HostDane::Applies || evaluations.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<TlsaRecord> = Vec::new();
    for (index, record) in host.tlsa_records.iter().enumerate() {
        let never = evaluations.iter().all(|e| {
            matches!(
                e.records.get(index).map(|r| &r.state),
                Some(RecordState::NoMatch)
            )
        });
        if never && !out.contains(record) {
            out.push(record.clone());
        }
    }
    out
}

/// `tlsa_record_stale` for `host`: records in `first_unmatched` (presentation form -> when it was
/// first seen matching nothing) unmatched for at least `limits.stale_after` at `now`.
pub fn stale_findings(
    host: &MxHostReport,
    first_unmatched: &HashMap<String, UnixSeconds>,
    now: UnixSeconds,
    limits: &HygieneLimits,
) -> Vec<Finding> {
    let after = i64::try_from(limits.stale_after.as_secs()).unwrap_or(i64::MAX);
    let mut stale: Vec<String> = unmatched_everywhere(host)
        .iter()
        .map(|r| r.to_string())
        .filter(|r| {
            first_unmatched
                .get(r)
                .is_some_and(|since| now.saturating_sub(*since) >= after)
        })
        .collect();
    stale.sort();
    if stale.is_empty() {
        return Vec::new();
    }
    vec![host_finding(
        host,
        Reason::TlsaRecordStale,
        format!(
            "{}: TLSA record(s) matched no endpoint for {} or longer; remove them unless they are for a next key: {}",
            host.name,
            humantime::format_duration(limits.stale_after),
            stale.join(", ")
        ),
    )]
}

/// A DNSKEY of a zone, as far as the rules need it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyFact {
    /// Key tag (RFC 4034 appendix B).
    pub key_tag: u16,
    /// Algorithm number.
    pub algorithm: u8,
    /// The SEP flag (a key-signing key by convention).
    pub sep: bool,
}

/// A DS record in the parent zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DsFact {
    /// Key tag of the key it names.
    pub key_tag: u16,
    /// Algorithm number.
    pub algorithm: u8,
    /// Digest type (1 SHA-1, 2 SHA-256, 4 SHA-384).
    pub digest_type: u8,
    /// Key tag of the zone's DNSKEY whose digest it is, if any.
    pub matches: Option<u16>,
}

/// A zone's DNSKEY RRset and its parent's DS RRset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneKeys<'a> {
    /// Zone name.
    pub zone: &'a str,
    /// DNSKEYs as served by the zone's nameservers.
    pub dnskeys: &'a [KeyFact],
    /// DS records as the parent serves them; `None` when the DS lookup failed.
    pub ds: Option<&'a [DsFact]>,
}

/// Algorithm mnemonic (RFC 8624 table), for messages.
pub fn algorithm_name(number: u8) -> String {
    match number {
        1 => "RSAMD5".into(),
        3 => "DSA".into(),
        5 => "RSASHA1".into(),
        6 => "DSA-NSEC3-SHA1".into(),
        7 => "RSASHA1-NSEC3-SHA1".into(),
        8 => "RSASHA256".into(),
        10 => "RSASHA512".into(),
        12 => "ECC-GOST".into(),
        13 => "ECDSAP256SHA256".into(),
        14 => "ECDSAP384SHA384".into(),
        15 => "ED25519".into(),
        16 => "ED448".into(),
        other => format!("algorithm {other}"),
    }
}

/// RFC 8624 section 3.1: MUST NOT or NOT RECOMMENDED for signing.
fn deprecated_algorithm(number: u8) -> bool {
    matches!(number, 1 | 3 | 5 | 6 | 7 | 12)
}

/// A zone-level finding: (reason, message).
pub type ZoneFinding = (Reason, String);

/// The DNSKEY/DS findings of one zone. Nothing for an unsigned zone (no DNSKEY).
pub fn dnssec_findings(keys: &ZoneKeys<'_>) -> Vec<ZoneFinding> {
    let zone = keys.zone;
    let mut findings = Vec::new();
    if keys.dnskeys.is_empty() {
        return findings;
    }
    let mut deprecated: Vec<u8> = keys
        .dnskeys
        .iter()
        .map(|k| k.algorithm)
        .filter(|a| deprecated_algorithm(*a))
        .collect();
    deprecated.sort_unstable();
    deprecated.dedup();
    if !deprecated.is_empty() {
        let names: Vec<String> = deprecated.iter().map(|a| algorithm_name(*a)).collect();
        findings.push((
            Reason::DnskeyAlgorithmDeprecated,
            format!(
                "{zone} is signed with {} (RFC 8624: must not or should no longer sign); roll to ECDSAP256SHA256 (13) or ED25519 (15)",
                names.join(", ")
            ),
        ));
    }
    let Some(ds) = keys.ds else {
        return findings;
    };
    if ds.is_empty() {
        findings.push((
            Reason::DsMissing,
            format!("{zone} is signed but its parent publishes no DS record: validators treat it as unsigned"),
        ));
        return findings;
    }
    if ds.iter().all(|d| d.digest_type == 1) {
        findings.push((
            Reason::DsDigestSha1Only,
            format!("every DS record of {zone} uses SHA-1 (digest type 1); publish a SHA-256 (2) DS (RFC 8624 3.3)"),
        ));
    }
    let sep_tags: Vec<u16> = keys
        .dnskeys
        .iter()
        .filter(|k| k.sep)
        .map(|k| k.key_tag)
        .collect();
    let sep_match = ds
        .iter()
        .any(|d| d.matches.is_some_and(|tag| sep_tags.contains(&tag)));
    if !sep_match {
        findings.push((
            Reason::DsNoMatchingDnskey,
            format!("no DS record of {zone} matches a DNSKEY with the SEP flag: the chain of trust is broken or rests on a key not marked as key-signing"),
        ));
    } else {
        let mut unmatched: Vec<u16> = ds
            .iter()
            .filter(|d| d.matches.is_none())
            .map(|d| d.key_tag)
            .collect();
        unmatched.sort_unstable();
        unmatched.dedup();
        if !unmatched.is_empty() {
            let tags: Vec<String> = unmatched.iter().map(u16::to_string).collect();
            findings.push((
                Reason::DsUnmatched,
                format!(
                    "DS record(s) of {zone} for key tag(s) {} match no DNSKEY (a leftover of a key rollover?)",
                    tags.join(", ")
                ),
            ));
        }
    }
    findings
}

#[cfg(test)]
#[path = "hygiene_tests.rs"]
mod tests;
