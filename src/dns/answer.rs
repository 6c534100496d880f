//! Turns the records of one DNS answer into a [`Response`]: shared by both backends.
//!
//! Input: the answer (and, for denials, authority) records of one response as hickory decoded
//! them, either straight off the wire (`trust_resolver.rs`) or after hickory's validator
//! (`validate.rs`). Output: the typed records at the end of the CNAME chain, the chain itself, the
//! earliest RRSIG expiration and the smallest TTL. The DNSSEC status is decided by the backend;
//! this module only reports the per-record proofs of the records it used.
//!
//! The records are hostile input: a chain that loops, is too long, or ends in records that do not
//! decode gives [`LookupError::Malformed`], never a panic.
use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::dnssec::Proof;
use hickory_proto::rr::{Name, RData, Record, RecordType as WireType};

use crate::core::{
    normalize_name, DnssecStatus, LookupError, MxRecord, RecordSet, RecordType, Response,
    TlsaRecord, UnixSeconds,
};

/// Longest CNAME chain followed. RFC 7672 does not set one; 8 is what resolvers commonly allow
/// and more than any sane mail setup uses.
pub(super) const MAX_CNAME_CHAIN: usize = 8;

/// Which denial an answer without final records stands for, as the response code said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Denial {
    /// NXDOMAIN.
    NxDomain,
    /// NOERROR without records of the type.
    NoData,
}

/// A [`Response`] still waiting for its DNSSEC status.
#[derive(Debug)]
pub(super) struct Assembled<T> {
    pub(super) set: RecordSet<T>,
    pub(super) cname_chain: Vec<String>,
    pub(super) signature_expiration: Option<UnixSeconds>,
    pub(super) ttl: Option<u32>,
    /// For a denial: the negative TTL from the authority section's SOA (RFC 2308 5).
    pub(super) negative_ttl: Option<u32>,
    /// Proofs of the records the answer was built from (CNAMEs and final records, not RRSIGs), as
    /// hickory's validator marked them; `Indeterminate` everywhere when nothing validated.
    pub(super) proofs: Vec<Proof>,
}

impl<T> Assembled<T> {
    /// The finished response, once the backend has decided the status.
    pub(super) fn into_response(self, status: DnssecStatus) -> Response<T> {
        Response {
            set: self.set,
            status,
            cname_chain: self.cname_chain,
            signature_expiration: self.signature_expiration,
            ttl: self.ttl,
            negative_ttl: self.negative_ttl,
        }
    }
}

/// Lower-case text without trailing dot, the form names take everywhere in this crate.
pub(super) fn name_text(name: &Name) -> String {
    normalize_name(&name.to_ascii())
}

/// The hickory record type for one of ours.
pub(super) fn wire_type(rtype: RecordType) -> WireType {
    match rtype {
        RecordType::Mx => WireType::MX,
        RecordType::Tlsa => WireType::TLSA,
        RecordType::A => WireType::A,
        RecordType::Aaaa => WireType::AAAA,
        RecordType::Txt => WireType::TXT,
        RecordType::Cname => WireType::CNAME,
    }
}

/// Parses a query name given without trailing dot into a fully qualified name: the validator
/// treats relative names differently (see the feasibility notes), so every query is made FQDN.
pub(super) fn query_name(name: &str) -> Result<Name, LookupError> {
    let normalized = normalize_name(name);
    if normalized.is_empty() {
        return Err(LookupError::Malformed {
            detail: "empty query name".into(),
        });
    }
    let mut parsed = Name::from_ascii(&normalized).map_err(|e| LookupError::Malformed {
        detail: format!("query name {normalized:?}: {e}"),
    })?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// MX RDATA to [`MxRecord`]; the null MX `.` becomes the empty exchange.
pub(super) fn mx_record(data: &RData) -> Option<MxRecord> {
    match data {
        RData::MX(mx) => Some(MxRecord {
            preference: mx.preference,
            exchange: name_text(&mx.exchange),
        }),
        _ => None,
    }
}

/// TLSA RDATA to [`TlsaRecord`], keeping unknown field values (they make the record unusable,
/// which the DANE engine decides, not the DNS layer).
pub(super) fn tlsa_record(data: &RData) -> Option<TlsaRecord> {
    match data {
        RData::TLSA(tlsa) => Some(TlsaRecord::new(
            tlsa.cert_usage.into(),
            tlsa.selector.into(),
            tlsa.matching.into(),
            tlsa.cert_data.clone(),
        )),
        _ => None,
    }
}

/// TXT RDATA to one string: its character-strings concatenated without separator, as RFC 8461
/// 3.1 and RFC 8460 3 read them. Bytes that are not UTF-8 become U+FFFD, which the record parsers
/// reject as they reject any non-ASCII.
pub(super) fn txt_text(data: &RData) -> Option<String> {
    match data {
        RData::TXT(txt) => {
            let bytes: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => None,
    }
}

/// A or AAAA RDATA to an address.
pub(super) fn cname_target(data: &RData) -> Option<String> {
    match data {
        RData::CNAME(target) => Some(name_text(&target.0)),
        _ => None,
    }
}

pub(super) fn ip_address(data: &RData) -> Option<IpAddr> {
    match data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
        _ => None,
    }
}

/// Builds the answer to `qname`/`qtype` from `answers`, following the CNAME chain the resolver
/// already chased. `authorities` only matters for a denial: the RRSIGs over its NSEC/NSEC3/SOA
/// records expire like any other, and a zone that is no longer re-signed breaks its denials too.
pub(super) fn assemble<T>(
    qname: &Name,
    qtype: WireType,
    answers: &[Record],
    authorities: &[Record],
    denial: Denial,
    convert: fn(&RData) -> Option<T>,
) -> Result<Assembled<T>, LookupError> {
    let qname_text = name_text(qname);
    let mut current = qname_text.clone();
    let mut seen: HashSet<String> = HashSet::from([qname_text]);
    let mut chain: Vec<String> = Vec::new();
    let mut used: Vec<&Record> = Vec::new();
    let mut finals: Vec<&Record> = Vec::new();

    loop {
        finals.extend(
            answers
                .iter()
                .filter(|r| r.record_type() == qtype && name_text(&r.name) == current),
        );
        if !finals.is_empty() {
            break;
        }
        let cname = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if name_text(&r.name) == current => Some((r, target)),
            _ => None,
        });
        let Some((record, target)) = cname else {
            break;
        };
        let target = name_text(&target.0);
        if !seen.insert(target.clone()) {
            return Err(LookupError::Malformed {
                detail: format!("CNAME loop at {target}"),
            });
        }
        if chain.len() >= MAX_CNAME_CHAIN {
            return Err(LookupError::Malformed {
                detail: format!("CNAME chain longer than {MAX_CNAME_CHAIN}"),
            });
        }
        used.push(record);
        chain.push(target.clone());
        current = target;
    }

    let set = if finals.is_empty() {
        match denial {
            Denial::NxDomain => RecordSet::NxDomain,
            Denial::NoData => RecordSet::NoData,
        }
    } else {
        let mut records = Vec::with_capacity(finals.len());
        for record in &finals {
            let converted = convert(&record.data).ok_or_else(|| LookupError::Malformed {
                detail: format!(
                    "{} record at {current} does not decode as {qtype}",
                    record.record_type()
                ),
            })?;
            records.push(converted);
        }
        RecordSet::Records(records)
    };
    used.extend(finals.iter().copied());

    // Only signatures over the RRsets actually used count: an unrelated, soon-expiring RRSIG in
    // the same message must not raise an alarm for this lookup.
    let owners: HashSet<String> = used.iter().map(|r| name_text(&r.name)).collect();
    let covers_used = |r: &Record, covered: WireType| {
        (covered == qtype || covered == WireType::CNAME) && owners.contains(&name_text(&r.name))
    };
    let covers_denial =
        |covered: WireType| matches!(covered, WireType::NSEC | WireType::NSEC3 | WireType::SOA);
    let answer_sigs = answers.iter().filter_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) if covers_used(r, sig.input().type_covered) => {
            Some(sig.input().sig_expiration.get())
        }
        _ => None,
    });
    let denial_sigs = authorities.iter().filter_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig))
            if matches!(set, RecordSet::NxDomain | RecordSet::NoData)
                && covers_denial(sig.input().type_covered) =>
        {
            Some(sig.input().sig_expiration.get())
        }
        _ => None,
    });
    // RRSIG times are 32-bit serial numbers (RFC 4034 3.1.5); read as plain Unix seconds they
    // are right until 2106, which is good enough for an exporter.
    let signature_expiration = answer_sigs.chain(denial_sigs).min().map(UnixSeconds::from);
    // RFC 2308 5: a denial may be cached for the SOA's own TTL or its MINIMUM, whichever is less
    // (and no longer than a CNAME that led to it).
    let negative_ttl = match set {
        RecordSet::NxDomain | RecordSet::NoData => authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .map(|ttl| used.iter().map(|r| r.ttl).fold(ttl, u32::min)),
        RecordSet::Records(_) => None,
    };

    Ok(Assembled {
        set,
        cname_chain: chain,
        signature_expiration,
        ttl: used.iter().map(|r| r.ttl).min(),
        negative_ttl,
        proofs: used.iter().map(|r| r.proof).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::dnssec::rdata::{SigInput, RRSIG};
    use hickory_proto::dnssec::Algorithm;
    use hickory_proto::rr::rdata::{A, CNAME, MX};
    use hickory_proto::rr::SerialNumber;
    use std::net::Ipv4Addr;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn cname(owner: &str, target: &str, ttl: u32) -> Record {
        Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
    }

    fn a(owner: &str, last: u8, ttl: u32) -> Record {
        Record::from_rdata(
            name(owner),
            ttl,
            RData::A(A(Ipv4Addr::new(127, 0, 0, last))),
        )
    }

    fn rrsig(owner: &str, covered: WireType, expiration: u32) -> Record {
        let input = SigInput {
            type_covered: covered,
            algorithm: Algorithm::ED25519,
            num_labels: 2,
            original_ttl: 300,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(1),
            key_tag: 1,
            signer_name: Name::root(),
        };
        let sig = RRSIG::from_sig(input, vec![0; 64]);
        Record::from_rdata(name(owner), 300, RData::DNSSEC(DNSSECRData::RRSIG(sig)))
    }

    #[test]
    fn direct_answer_has_no_chain() {
        let answers = [a("mx.example.test.", 1, 300), a("mx.example.test.", 2, 60)];
        let got = assemble(
            &name("MX.Example.Test."),
            WireType::A,
            &answers,
            &[],
            Denial::NoData,
            ip_address,
        )
        .unwrap();
        assert_eq!(
            got.set,
            RecordSet::Records(vec![
                "127.0.0.1".parse().unwrap(),
                "127.0.0.2".parse().unwrap()
            ])
        );
        assert!(got.cname_chain.is_empty());
        assert_eq!(got.ttl, Some(60));
        assert_eq!(got.signature_expiration, None);
    }

    #[test]
    fn follows_cname_chain_in_order_and_takes_min_expiration() {
        let answers = [
            a("c.example.test.", 9, 500),
            cname("b.example.test.", "C.example.test.", 400),
            cname("a.example.test.", "b.example.test.", 200),
            rrsig("a.example.test.", WireType::CNAME, 3_000_000_000),
            rrsig("b.example.test.", WireType::CNAME, 2_000_000_000),
            rrsig("c.example.test.", WireType::A, 2_500_000_000),
            // Not part of the chain: must not count.
            rrsig("other.example.test.", WireType::A, 1_000),
            rrsig("c.example.test.", WireType::MX, 1_000),
        ];
        let got = assemble(
            &name("a.example.test."),
            WireType::A,
            &answers,
            &[],
            Denial::NoData,
            ip_address,
        )
        .unwrap();
        assert_eq!(got.cname_chain, vec!["b.example.test", "c.example.test"]);
        assert_eq!(
            got.set,
            RecordSet::Records(vec!["127.0.0.9".parse().unwrap()])
        );
        assert_eq!(got.signature_expiration, Some(2_000_000_000));
        assert_eq!(got.ttl, Some(200));
        assert_eq!(got.proofs.len(), 3);
    }

    #[test]
    fn cname_loop_is_malformed() {
        let answers = [
            cname("a.example.test.", "b.example.test.", 60),
            cname("b.example.test.", "a.example.test.", 60),
        ];
        let err = assemble(
            &name("a.example.test."),
            WireType::A,
            &answers,
            &[],
            Denial::NoData,
            ip_address,
        )
        .unwrap_err();
        assert!(matches!(&err, LookupError::Malformed { detail } if detail.contains("loop")));
    }

    #[test]
    fn over_long_chain_is_malformed_but_eight_is_fine() {
        let chain = |len: usize| -> Vec<Record> {
            let mut records: Vec<Record> = (0..len)
                .map(|i| cname(&format!("n{i}.test."), &format!("n{}.test.", i + 1), 60))
                .collect();
            records.push(a(&format!("n{len}.test."), 1, 60));
            records
        };
        let ok = assemble(
            &name("n0.test."),
            WireType::A,
            &chain(8),
            &[],
            Denial::NoData,
            ip_address,
        )
        .unwrap();
        assert_eq!(ok.cname_chain.len(), 8);
        let err = assemble(
            &name("n0.test."),
            WireType::A,
            &chain(9),
            &[],
            Denial::NoData,
            ip_address,
        )
        .unwrap_err();
        assert!(matches!(&err, LookupError::Malformed { detail } if detail.contains("longer")));
    }

    #[test]
    fn cname_to_nothing_is_the_given_denial() {
        let answers = [cname("a.example.test.", "gone.example.test.", 30)];
        let got = assemble(
            &name("a.example.test."),
            WireType::A,
            &answers,
            &[],
            Denial::NxDomain,
            ip_address,
        )
        .unwrap();
        assert_eq!(got.set, RecordSet::NxDomain);
        assert_eq!(got.cname_chain, vec!["gone.example.test"]);
        assert_eq!(got.ttl, Some(30));
    }

    #[test]
    fn denial_takes_expiration_from_authority_proofs() {
        let authorities = [
            rrsig("example.test.", WireType::SOA, 2_000_000_100),
            rrsig("a.example.test.", WireType::NSEC, 2_000_000_050),
        ];
        let got = assemble(
            &name("a.example.test."),
            WireType::TLSA,
            &[],
            &authorities,
            Denial::NoData,
            tlsa_record,
        )
        .unwrap();
        assert_eq!(got.set, RecordSet::NoData);
        assert_eq!(got.signature_expiration, Some(2_000_000_050));
        assert_eq!(got.ttl, None);
    }

    /// RFC 2308 5: a denial is cached for the smaller of the SOA's TTL and MINIMUM (and no
    /// longer than an alias that led to it); records have no negative TTL.
    #[test]
    fn denial_has_the_soa_negative_ttl() {
        use hickory_proto::rr::rdata::SOA;
        let soa = |ttl: u32, minimum: u32| {
            let data = SOA::new(
                name("ns.test."),
                name("h.test."),
                1,
                3600,
                600,
                86400,
                minimum,
            );
            Record::from_rdata(name("example.test."), ttl, RData::SOA(data))
        };
        let denial = |answers: &[Record], authorities: &[Record]| {
            assemble(
                &name("a.example.test."),
                WireType::AAAA,
                answers,
                authorities,
                Denial::NoData,
                ip_address,
            )
            .unwrap()
        };
        assert_eq!(denial(&[], &[soa(3600, 300)]).negative_ttl, Some(300));
        assert_eq!(denial(&[], &[soa(120, 300)]).negative_ttl, Some(120));
        assert_eq!(denial(&[], &[]).negative_ttl, None);
        let alias = [cname("a.example.test.", "b.example.test.", 60)];
        assert_eq!(denial(&alias, &[soa(3600, 300)]).negative_ttl, Some(60));
        let found = [a("a.example.test.", 1, 30)];
        let records = assemble(
            &name("a.example.test."),
            WireType::A,
            &found,
            &[soa(3600, 300)],
            Denial::NoData,
            ip_address,
        )
        .unwrap();
        assert_eq!((records.ttl, records.negative_ttl), (Some(30), None));
    }

    #[test]
    fn mx_conversion_normalizes_and_handles_null_mx() {
        let mx = RData::MX(MX::new(10, name("MX1.Example.TEST.")));
        assert_eq!(
            mx_record(&mx),
            Some(MxRecord {
                preference: 10,
                exchange: "mx1.example.test".into()
            })
        );
        let null = RData::MX(MX::new(0, Name::root()));
        assert_eq!(mx_record(&null).map(|m| m.exchange), Some(String::new()));
        assert_eq!(mx_record(&RData::A(A(Ipv4Addr::LOCALHOST))), None);
    }

    #[test]
    fn record_of_wrong_shape_is_malformed() {
        // A record claiming the queried type but carrying other RDATA cannot come off the wire
        // through hickory's decoder; the check guards the converter contract anyway.
        let answers = [a("x.test.", 1, 60)];
        let err = assemble(
            &name("x.test."),
            WireType::A,
            &answers,
            &[],
            Denial::NoData,
            |_| None::<IpAddr>,
        )
        .unwrap_err();
        assert!(matches!(err, LookupError::Malformed { .. }));
    }

    #[test]
    fn query_names_become_fqdn() {
        let n = query_name("_25._tcp.MX.example.test").unwrap();
        assert!(n.is_fqdn());
        assert_eq!(n.to_ascii(), "_25._tcp.mx.example.test.");
        assert!(query_name(" . ").is_err());
    }
}
