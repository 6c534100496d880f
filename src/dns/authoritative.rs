//! Single questions to single servers: what `crate::consistency` needs to compare the
//! authoritative nameservers of a zone, and to read DNSKEY, DS, SOA and NS RRsets.
//!
//! Unlike the two lookup backends this module does not judge DNSSEC: it returns the raw records
//! of one answer (RRSIGs included, the DO bit is set) from one server, over UDP with a TCP retry on
//! truncation (the same bounded exchanges as `trust_resolver.rs`). Questions to an authoritative
//! server go without RD; questions to the configured resolver (to find zone cuts and nameserver
//! addresses) go with RD. Signature checks over these records are [`verify_rrset`], pure.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::Verifier;
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType as WireType};
use tokio::time::Instant;

use super::answer::{name_text, query_name};
use super::trust_resolver::{tcp_exchange, udp_exchange, AttemptError};
use super::{normalize_name, LookupError, UnixSeconds};

pub use hickory_proto::rr::RecordType as QueryType;

/// EDNS payload advertised, as in `trust_resolver.rs` (DNS Flag Day 2020).
const EDNS_PAYLOAD: u16 = 1232;

/// What one server said to one question.
#[derive(Clone, Debug)]
pub struct RawAnswer {
    /// Response code.
    pub rcode: ResponseCode,
    /// The AA bit: the server answered from a zone it serves.
    pub authoritative: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (SOA of a denial, NS of a referral).
    pub authorities: Vec<Record>,
}

impl RawAnswer {
    /// Records of type `rtype` owned by `owner` (normalised text) in the answer section.
    pub fn rrset(&self, owner: &str, rtype: WireType) -> Vec<&Record> {
        self.answers
            .iter()
            .filter(|r| r.record_type() == rtype && name_text(&r.name) == normalize_name(owner))
            .collect()
    }

    /// RRSIGs in the answer section owned by `owner` covering `rtype`.
    pub fn rrsigs(&self, owner: &str, rtype: WireType) -> Vec<&RRSIG> {
        self.answers
            .iter()
            .filter(|r| name_text(&r.name) == normalize_name(owner))
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == rtype => {
                    Some(sig)
                }
                _ => None,
            })
            .collect()
    }
}

/// Asks `server` one question with the DO bit; `recursion` sets RD, and CD with it: the caller
/// judges signatures itself, and a resolver must not hide a bogus zone's servers and keys
/// behind SERVFAIL. Bounded by `timeout` in all.
pub async fn ask(
    server: SocketAddr,
    name: &str,
    rtype: WireType,
    recursion: bool,
    timeout: Duration,
) -> Result<RawAnswer, LookupError> {
    // The root zone (".", empty once normalised) is a valid question here, unlike in lookups.
    let qname = if normalize_name(name).is_empty() {
        hickory_proto::rr::Name::root()
    } else {
        query_name(name)?
    };
    let deadline = Instant::now() + timeout;
    let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let mut request = Message::query();
    request.metadata.recursion_desired = recursion;
    request.metadata.checking_disabled = recursion;
    request.add_query(Query::query(qname, rtype));
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    edns.set_max_payload(EDNS_PAYLOAD);
    request.set_edns(edns);

    let map = |e: AttemptError| match e {
        AttemptError::Timeout => LookupError::Timeout { millis },
        AttemptError::Network(detail) => LookupError::Network { detail },
        AttemptError::Malformed(detail) => LookupError::Malformed { detail },
    };
    let mut response = udp_exchange(server, &request, deadline)
        .await
        .map_err(map)?;
    if response.metadata.truncation {
        response = tcp_exchange(server, &request, deadline)
            .await
            .map_err(map)?;
    }
    Ok(RawAnswer {
        rcode: response.metadata.response_code,
        authoritative: response.metadata.authoritative,
        answers: response.answers,
        authorities: response.authorities,
    })
}

/// Why an RRset's signatures do not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    /// No RRSIG covers the RRset.
    #[error("no RRSIG")]
    Missing,
    /// Every RRSIG is outside its validity period.
    #[error("every RRSIG is expired or not yet valid")]
    Expired,
    /// No RRSIG verifies with a DNSKEY of the zone.
    #[error("no RRSIG verifies with the zone's DNSKEYs")]
    NoMatchingKey,
}

/// Checks that at least one RRSIG over `records` (owner `owner`, non-empty, one type) is within
/// its validity period at `now` and verifies with one of `keys` (the zone's DNSKEY RRset). Pure.
pub fn verify_rrset(
    records: &[&Record],
    rrsigs: &[&RRSIG],
    keys: &[&DNSKEY],
    now: UnixSeconds,
) -> Result<(), SignatureProblem> {
    let Some(first) = records.first() else {
        return Ok(());
    };
    if rrsigs.is_empty() {
        return Err(SignatureProblem::Missing);
    }
    // RRSIG times are 32-bit serial numbers (RFC 4034 3.1.5); compare as such around `now`.
    let now32 = now as u32;
    let timely: Vec<&&RRSIG> = rrsigs
        .iter()
        .filter(|sig| {
            let input = sig.input();
            let from = input.sig_inception.get();
            let until = input.sig_expiration.get();
            (now32.wrapping_sub(from) as i32) >= 0 && (until.wrapping_sub(now32) as i32) > 0
        })
        .collect();
    if timely.is_empty() {
        return Err(SignatureProblem::Expired);
    }
    let verified = timely.iter().any(|sig| {
        keys.iter().any(|key| {
            key.calculate_key_tag().ok() == Some(sig.input().key_tag)
                && key.algorithm() == sig.input().algorithm
                && key
                    .verify_rrsig(&first.name, DNSClass::IN, sig, records.iter().copied())
                    .is_ok()
        })
    });
    if verified {
        Ok(())
    } else {
        Err(SignatureProblem::NoMatchingKey)
    }
}

/// The DNSKEYs among `records`.
pub fn dnskeys(records: &[&Record]) -> Vec<DNSKEY> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// The owner name of a zone as hickory wants it (fully qualified), or `None` when it does not
/// parse.
pub fn zone_name(zone: &str) -> Option<hickory_proto::rr::Name> {
    query_name(zone).ok()
}
