//! Single questions to single servers: what the authoritative check (`crate::checks::authoritative`) needs to compare the
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
use super::exchange::{tcp_exchange, udp_exchange, AttemptError};
use crate::core::{normalize_name, LookupError, UnixSeconds};

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

/// Whether this host has a route to `server` at all: a UDP "connect" only consults the routing
/// table. `Err` says why not (no route, address family not available), which is a property of the
/// exporter's host (an IPv6 address on an IPv4-only host), not of the server.
pub async fn routable(server: SocketAddr) -> Result<(), String> {
    use std::io::ErrorKind;
    let bind: SocketAddr = match server {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = match tokio::net::UdpSocket::bind(bind).await {
        Ok(socket) => socket,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::AddrNotAvailable | ErrorKind::Unsupported
            ) =>
        {
            return Err(format!("no {} on this host: {e}", family(server)))
        }
        // Anything else (out of sockets, ...) is left to the real exchange to report.
        Err(_) => return Ok(()),
    };
    match socket.connect(server).await {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::NetworkUnreachable | ErrorKind::HostUnreachable
            ) =>
        {
            Err(format!("no route from this host to {server}: {e}"))
        }
        _ => Ok(()),
    }
}

fn family(server: SocketAddr) -> &'static str {
    if server.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
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

#[cfg(test)]
mod tests {
    use hickory_proto::dnssec::crypto::Ed25519SigningKey;
    use hickory_proto::dnssec::rdata::sig::SigInput;
    use hickory_proto::dnssec::{SigningKey, TBS};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, SerialNumber};

    use super::*;

    fn key() -> Ed25519SigningKey {
        let pkcs8 = Ed25519SigningKey::generate_pkcs8().expect("key");
        Ed25519SigningKey::from_pkcs8(&pkcs8).expect("key")
    }

    fn dnskey(key: &Ed25519SigningKey) -> DNSKEY {
        DNSKEY::with_flags(257, key.to_public_key().expect("public key"))
    }

    /// An RRSIG over `records` by `signer`, valid from `inception` to `expiration`; its key tag
    /// is that of `tagged` (normally the signer's own DNSKEY).
    fn rrsig(
        records: &[Record],
        signer: &Ed25519SigningKey,
        tagged: &DNSKEY,
        inception: u32,
        expiration: u32,
    ) -> RRSIG {
        let name = records[0].name.clone();
        let input = SigInput {
            type_covered: WireType::A,
            algorithm: signer.algorithm(),
            num_labels: name.num_labels(),
            original_ttl: 60,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(inception),
            key_tag: tagged.calculate_key_tag().expect("key tag"),
            signer_name: Name::from_ascii("example.test.").expect("name"),
        };
        let tbs = TBS::from_input(&name, DNSClass::IN, &input, records.iter()).expect("tbs");
        RRSIG::from_sig(input.clone(), signer.sign(&tbs).expect("sign"))
    }

    #[test]
    fn signatures_are_checked_for_time_and_key() {
        let name = Name::from_ascii("mx.example.test.").expect("name");
        let records = vec![
            Record::from_rdata(name.clone(), 60, RData::A(A::new(192, 0, 2, 1))),
            Record::from_rdata(name, 60, RData::A(A::new(192, 0, 2, 2))),
        ];
        let refs: Vec<&Record> = records.iter().collect();
        let (zone_key, other_key) = (key(), key());
        let (zone_dnskey, other_dnskey) = (dnskey(&zone_key), dnskey(&other_key));
        let now = 1_800_000_000_i64;
        let t = now as u32;
        let good = rrsig(&records, &zone_key, &zone_dnskey, t - 3600, t + 86_400);
        let expired = rrsig(&records, &zone_key, &zone_dnskey, t - 86_400, t - 60);
        let future = rrsig(&records, &zone_key, &zone_dnskey, t + 60, t + 86_400);
        let foreign = rrsig(&records, &other_key, &other_dnskey, t - 3600, t + 86_400);
        // Signed by another key but claiming the zone key's tag: must not verify either.
        let forged = rrsig(&records, &other_key, &zone_dnskey, t - 3600, t + 86_400);
        let keys = [&zone_dnskey];
        let check = |sigs: &[&RRSIG]| verify_rrset(&refs, sigs, &keys, now);
        assert_eq!(check(&[&good]), Ok(()));
        assert_eq!(
            check(&[&expired, &good]),
            Ok(()),
            "one good signature is enough"
        );
        assert_eq!(check(&[]), Err(SignatureProblem::Missing));
        assert_eq!(check(&[&expired]), Err(SignatureProblem::Expired));
        assert_eq!(check(&[&future]), Err(SignatureProblem::Expired));
        assert_eq!(check(&[&foreign]), Err(SignatureProblem::NoMatchingKey));
        assert_eq!(check(&[&forged]), Err(SignatureProblem::NoMatchingKey));
        // A changed record breaks the signature.
        let mut tampered = records.clone();
        tampered[1] = Record::from_rdata(
            tampered[1].name.clone(),
            60,
            RData::A(A::new(192, 0, 2, 99)),
        );
        let tampered_refs: Vec<&Record> = tampered.iter().collect();
        assert_eq!(
            verify_rrset(&tampered_refs, &[&good], &keys, now),
            Err(SignatureProblem::NoMatchingKey)
        );
        // Nothing to sign (a denial): nothing to check here.
        assert_eq!(verify_rrset(&[], &[], &keys, now), Ok(()));
    }
}
