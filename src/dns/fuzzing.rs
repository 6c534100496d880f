//! Hook for the fuzz targets (`fuzz/`): runs the private answer assembly over a decoded message.
//! Not part of the API.
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType as WireType};

use super::answer::{assemble, ip_address, mx_record, tlsa_record, Denial, MAX_CNAME_CHAIN};
use crate::core::TlsaRecord;

/// Assembles `message` as the answer to its first question (or `example.` if it has none), once
/// per record type we look up, and converts every RDATA we know. Panics if an assembled answer
/// breaks an invariant: a CNAME chain over [`MAX_CNAME_CHAIN`] or with a repeated name, or a TLSA
/// record whose presentation form does not read back to itself.
pub fn assemble_message(message: &Message) {
    let qname = message
        .queries
        .first()
        .map(|q| q.name().clone())
        .unwrap_or_else(|| Name::from_ascii("example.").expect("valid name"));
    let denial = match message.metadata.response_code {
        ResponseCode::NXDomain => Denial::NxDomain,
        _ => Denial::NoData,
    };
    let (answers, authorities) = (&message.answers, &message.authorities);
    let chains = [
        assemble(
            &qname,
            WireType::MX,
            answers,
            authorities,
            denial,
            mx_record,
        )
        .map(|a| a.cname_chain),
        assemble(
            &qname,
            WireType::TLSA,
            answers,
            authorities,
            denial,
            tlsa_record,
        )
        .map(|a| a.cname_chain),
        assemble(
            &qname,
            WireType::A,
            answers,
            authorities,
            denial,
            ip_address,
        )
        .map(|a| a.cname_chain),
        assemble(
            &qname,
            WireType::AAAA,
            answers,
            authorities,
            denial,
            ip_address,
        )
        .map(|a| a.cname_chain),
    ];
    for chain in chains.into_iter().flatten() {
        assert!(chain.len() <= MAX_CNAME_CHAIN, "chain of {}", chain.len());
        let unique: std::collections::HashSet<&String> = chain.iter().collect();
        assert_eq!(unique.len(), chain.len(), "repeated name in {chain:?}");
    }
    for record in answers.iter().chain(authorities) {
        if let RData::TLSA(_) = &record.data {
            let tlsa = tlsa_record(&record.data).expect("TLSA RDATA converts");
            if !tlsa.data.is_empty() {
                let text = tlsa.to_string();
                assert_eq!(text.parse::<TlsaRecord>().as_ref(), Ok(&tlsa), "{text}");
            }
        }
    }
}
