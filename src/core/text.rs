//! Lines of the human report (`dane_exporter check`) that several checks print the same way: an
//! RRset, a presented leaf, a TLSA record's state, an endpoint's DANE outcome.

use std::fmt::Write as _;

use super::certificate::CertificateInfo;
use super::evaluation::{EndpointOutcome, RecordState};
use super::facts::RrsetReport;
use super::time::{days_from, format_time, UnixSeconds};

/// The presented leaf: subject, issuer and when it expires.
pub fn leaf_line(out: &mut String, leaf: &CertificateInfo, now: UnixSeconds) {
    let _ = writeln!(
        out,
        "      certificate: {} (issuer {}), expires {} ({})",
        leaf.subject,
        leaf.issuer,
        format_time(leaf.not_after),
        days_from(now, leaf.not_after)
    );
}

/// A TLSA record's state against one chain, for the human report (MX endpoints and services).
pub fn record_state_text(state: &RecordState) -> String {
    match state {
        RecordState::Matched { depth } => format!("MATCHED (certificate at depth {depth})"),
        RecordState::MatchedButRejected { depth, failure } => format!(
            "NO MATCH: matches depth {depth} but rejected: {}",
            failure.reason()
        ),
        RecordState::NoMatch => "NO MATCH (stale, or a next-key record)".to_string(),
        RecordState::Unusable { reason } => format!("UNUSABLE ({})", reason.as_str()),
    }
}

/// An RRset: name, DNSSEC state, outcome, CNAMEs, signature deadline, TTL.
pub fn rrset_line(rrset: &RrsetReport, now: UnixSeconds) -> String {
    let mut line = format!("{} {}", rrset.name, rrset.dnssec.as_str());
    match &rrset.error {
        Some(error) => {
            let _ = write!(line, ", lookup failed: {error}");
        }
        None => {
            let _ = write!(line, ", {}", rrset.outcome.as_str().replace('_', " "));
        }
    }
    if !rrset.cname_chain.is_empty() {
        let _ = write!(line, ", via CNAME {}", rrset.cname_chain.join(" -> "));
    }
    if let Some(expiration) = rrset.signature_expiration {
        let _ = write!(line, ", signatures expire {}", days_from(now, expiration));
    }
    if let Some(ttl) = rrset.ttl {
        let _ = write!(line, ", TTL {ttl} s");
    }
    line
}

/// An endpoint's outcome after `=>`; `no_usable` is the phrase for an RRset without usable
/// records (the MX and service reports word it differently).
pub fn outcome_text(outcome: &EndpointOutcome, no_usable: &str) -> String {
    match outcome {
        EndpointOutcome::Authenticated { usage, .. } => {
            format!("authenticated by a usage-{usage} record")
        }
        EndpointOutcome::NoUsableRecords => no_usable.to_string(),
        EndpointOutcome::Failed(failure) => format!("FAILED: {}", failure.reason()),
    }
}

/// A library's enum variant name as words: `CaUsedAsEndEntity` -> "ca used as end entity",
/// `NoCipherSuitesInCommon` -> "no cipher suites in common". Only the name is kept (any
/// `(...)` or `{...}` payload of a Debug rendering is dropped), so no library syntax reaches a
/// report.
pub fn variant_words(debug: &str) -> String {
    let name = debug.split(['(', '{', ' ']).next().unwrap_or(debug).trim();
    let mut words = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c == '_' {
            words.push(' ');
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            words.push(' ');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        words.push(c.to_ascii_lowercase());
    }
    words
}

#[cfg(test)]
mod words_tests {
    use super::variant_words;

    #[test]
    fn variant_names_become_words() {
        assert_eq!(variant_words("CaUsedAsEndEntity"), "ca used as end entity");
        assert_eq!(
            variant_words("NoCipherSuitesInCommon"),
            "no cipher suites in common"
        );
        assert_eq!(
            variant_words("CertExpired { time: UnixTime(1), not_after: UnixTime(0) }"),
            "cert expired"
        );
        assert_eq!(
            variant_words("RequiredEkuNotFound(Context)"),
            "required eku not found"
        );
        assert_eq!(variant_words("HandshakeFailure"), "handshake failure");
    }
}
