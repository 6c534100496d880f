//! The parts of a DNSSEC verdict hickory 0.26 gets wrong, decided here as unbound 1.17 decides
//! them (`validator/val_nsec.c`, `val_nsec3.c`), from records hickory has already validated.
//!
//! Input: the answer and authority records of one response, each carrying the [`Proof`] hickory's
//! validator gave its RRset (signature, key chain and validity already checked there; an RRSIG
//! hickory used is marked with the proof too). Nothing here verifies a signature: this module only
//! reads which names a set of *secure* NSEC/NSEC3 records proves absent.
//!
//! - [`positive`]: a positive answer (the RRset, or a CNAME chain ending in it). RFC 4035 5.3.4:
//!   only an RRset expanded from a wildcard (RRSIG labels field below the owner's label count)
//!   needs a denial, namely that the *next closer* name does not exist; denial records beside an
//!   unexpanded answer prove nothing and are ignored (hickory checks them against the query name
//!   and calls the answer bogus). With NSEC3, an opt-out span over the next closer name or more
//!   than [`NSEC3_ITERATION_LIMIT`] iterations make the expansion insecure (RFC 5155 9.2,
//!   RFC 9276 3.2), as in unbound.
//! - [`denial_in_opt_out`]: an NXDOMAIN or wildcard NODATA whose next closer name lies in an
//!   opt-out span (RFC 5155 7.2.1, 9.2): unbound calls it insecure, hickory secure.
//!
//! Hostile input: every loop is bounded by the labels of one name (at most 127) or the records of
//! one message, hashing is capped at [`NSEC3_ITERATION_LIMIT`] iterations, and nothing panics.
use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC, NSEC3};
use hickory_proto::dnssec::{Nsec3HashAlgorithm, Proof};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// Most NSEC3 iterations a proof may use and still be secure: unbound 1.17's
/// `val-nsec3-keysize-iterations` (150 for every key size). Above it a denial is insecure.
pub(in crate::dns) const NSEC3_ITERATION_LIMIT: u16 = 150;

/// Longest CNAME chain inside one response that [`positive`] follows (as `answer.rs` does).
const MAX_CHAIN: usize = 8;

/// The verdict on a positive answer to `qname`/`qtype`: the weakest over the RRsets the answer is
/// built from (CNAMEs, then the records of `qtype`), each one as unbound judges it. `None` when
/// the records do not form a positive answer, an RRset is not secure or insecure in hickory's
/// eyes, or a wildcard expansion lacks its proof: the caller's verdict (bogus) stands.
pub(in crate::dns) fn positive(
    qname: &Name,
    qtype: RecordType,
    answers: &[Record],
    authorities: &[Record],
) -> Option<Proof> {
    let mut current = qname.clone();
    let mut weakest = Proof::Secure;
    for _ in 0..=MAX_CHAIN {
        let finals: Vec<&Record> = answers
            .iter()
            .filter(|r| r.record_type() == qtype && r.name == current)
            .collect();
        if !finals.is_empty() {
            return Some(weakest.min(rrset(&current, qtype, &finals, answers, authorities)?));
        }
        let cnames: Vec<&Record> = answers
            .iter()
            .filter(|r| r.record_type() == RecordType::CNAME && r.name == current)
            .collect();
        // RFC 2181 10.1: one CNAME per name.
        let [cname] = cnames.as_slice() else {
            return None;
        };
        let RData::CNAME(target) = &cname.data else {
            return None;
        };
        weakest = weakest.min(rrset(
            &current,
            RecordType::CNAME,
            &cnames,
            answers,
            authorities,
        )?);
        current = target.0.clone();
    }
    None
}

/// One RRset of a positive answer: hickory's proof, and for a wildcard expansion the denial of the
/// next closer name.
fn rrset(
    owner: &Name,
    rtype: RecordType,
    records: &[&Record],
    answers: &[Record],
    authorities: &[Record],
) -> Option<Proof> {
    match records.iter().map(|r| r.proof).min()? {
        Proof::Secure => {}
        Proof::Insecure => return Some(Proof::Insecure),
        Proof::Bogus | Proof::Indeterminate => return None,
    }
    let sigs: Vec<(&Record, u8, &Name)> = answers
        .iter()
        .filter(|r| r.name == *owner)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == rtype => {
                Some((r, sig.input().num_labels, &sig.input().signer_name))
            }
            _ => None,
        })
        .collect();
    // The RRSIG hickory validated with carries its proof; without one marked, all of them count.
    let marked = sigs.iter().any(|(r, ..)| r.proof == Proof::Secure);
    let (labels, signer) = sigs
        .iter()
        .filter(|(r, ..)| !marked || r.proof == Proof::Secure)
        .map(|(_, labels, signer)| (*labels, *signer))
        .min_by_key(|(labels, _)| *labels)?;
    if labels >= owner.num_labels() {
        return Some(Proof::Secure);
    }
    let encloser = owner.trim_to(usize::from(labels));
    let next_closer = owner.trim_to(usize::from(labels) + 1);
    wildcard_denial(owner, &encloser, &next_closer, signer, authorities)
}

/// RFC 4035 5.3.4 / RFC 5155 8.8: the records prove that `owner` (an RRset synthesised from
/// `*.encloser`) has no closer match in the zone `signer`.
fn wildcard_denial(
    owner: &Name,
    encloser: &Name,
    next_closer: &Name,
    signer: &Name,
    authorities: &[Record],
) -> Option<Proof> {
    let nsec_proves = secure_nsecs(authorities)
        .filter(|(name, nsec)| signer.zone_of(name) && signer.zone_of(nsec.next_domain_name()))
        .any(|(name, nsec)| {
            proves_name_error(name, nsec, owner)
                && closest_encloser(name, nsec.next_domain_name(), owner) == *encloser
        });
    if nsec_proves {
        return Some(Proof::Secure);
    }
    let nsec3s = Nsec3Set::of_zone(authorities, signer)?;
    if nsec3s.too_many_iterations() {
        return Some(Proof::Insecure);
    }
    let covering = nsec3s.covering(next_closer)?;
    Some(if covering.opt_out() {
        Proof::Insecure
    } else {
        Proof::Secure
    })
}

/// Whether a denial of `qname` that hickory called secure rests on an NSEC3 opt-out span: the
/// NSEC3 covering the next closer name of the closest encloser proof has the opt-out flag
/// (NXDOMAIN, and NODATA answered from a wildcard). unbound 1.17 calls such a denial insecure
/// (`nsec3_do_prove_nameerror`, `nsec3_do_prove_nodata`); a denial that matches `qname` itself is
/// not affected.
pub(in crate::dns) fn denial_in_opt_out(qname: &Name, authorities: &[Record]) -> bool {
    let Some(zone) = secure_nsec3s(authorities)
        .map(|(name, _)| name.base_name())
        .filter(|zone| zone.zone_of(qname))
        .max_by_key(|zone| zone.num_labels())
    else {
        return false;
    };
    let Some(set) = Nsec3Set::of_zone(authorities, &zone) else {
        return false;
    };
    if set.too_many_iterations() {
        return false;
    }
    // Closest encloser: the longest ancestor of qname with a matching NSEC3; next closer: one
    // label longer, towards qname.
    let mut candidate = qname.clone();
    let mut next_closer: Option<Name> = None;
    while zone.zone_of(&candidate) {
        if set.matching(&candidate) {
            return match next_closer {
                Some(nc) => set.covering(&nc).is_some_and(NSEC3::opt_out),
                None => false,
            };
        }
        if candidate.num_labels() == 0 || candidate == zone {
            break;
        }
        next_closer = Some(candidate.clone());
        candidate = candidate.base_name();
    }
    false
}

fn secure_nsecs(records: &[Record]) -> impl Iterator<Item = (&Name, &NSEC)> {
    records.iter().filter_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::NSEC(nsec)) if r.proof == Proof::Secure => Some((&r.name, nsec)),
        _ => None,
    })
}

fn secure_nsec3s(records: &[Record]) -> impl Iterator<Item = (&Name, &NSEC3)> {
    records.iter().filter_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) if r.proof == Proof::Secure => {
            Some((&r.name, nsec3))
        }
        _ => None,
    })
}

/// unbound's `val_nsec_proves_name_error`: the NSEC `owner` proves that `qname` does not exist.
fn proves_name_error(owner: &Name, nsec: &NSEC, qname: &Name) -> bool {
    if qname == owner {
        return false;
    }
    let types = nsec.type_set();
    let strictly_below = |parent: &Name| parent.zone_of(qname) && qname != parent;
    // A delegation or DNAME at the owner says nothing about names below it.
    if strictly_below(owner)
        && (types.contains(RecordType::DNAME)
            || (types.contains(RecordType::NS) && !types.contains(RecordType::SOA)))
    {
        return false;
    }
    let next = nsec.next_domain_name();
    if owner == next {
        // The only NSEC of the zone: every other name of the zone is absent.
        strictly_below(next)
    } else if owner > next {
        // The last NSEC of the zone: names after the owner, inside the zone of `next`.
        owner < qname && strictly_below(next)
    } else {
        owner < qname && qname < next
    }
}

/// unbound's `nsec_closest_encloser`: the longest ancestor `qname` shares with the NSEC's owner
/// or next name.
fn closest_encloser(owner: &Name, next: &Name, qname: &Name) -> Name {
    let shared = |other: &Name| {
        qname
            .iter()
            .rev()
            .zip(other.iter().rev())
            .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
            .count()
    };
    qname.trim_to(shared(owner).max(shared(next)))
}

/// The secure NSEC3 records of one zone that share the first record's parameters (hickory calls a
/// mix bogus before this module is asked).
struct Nsec3Set<'a> {
    zone: Name,
    records: Vec<(Vec<u8>, &'a NSEC3)>,
    algorithm: Nsec3HashAlgorithm,
    salt: &'a [u8],
    iterations: u16,
}

impl<'a> Nsec3Set<'a> {
    fn of_zone(authorities: &'a [Record], zone: &Name) -> Option<Self> {
        let in_zone: Vec<(&Name, &NSEC3)> = secure_nsec3s(authorities)
            .filter(|(name, _)| name.num_labels() > 0 && name.base_name() == *zone)
            .collect();
        let (_, first) = in_zone.first()?;
        let (algorithm, salt, iterations) =
            (first.hash_algorithm(), first.salt(), first.iterations());
        let records = in_zone
            .iter()
            .filter(|(_, n)| {
                n.hash_algorithm() == algorithm && n.salt() == salt && n.iterations() == iterations
            })
            .filter_map(|(name, n)| Some((base32hex_decode(name.iter().next()?)?, *n)))
            .collect();
        Some(Self {
            zone: zone.clone(),
            records,
            algorithm,
            salt,
            iterations,
        })
    }

    fn too_many_iterations(&self) -> bool {
        self.iterations > NSEC3_ITERATION_LIMIT
    }

    fn hash(&self, name: &Name) -> Option<Vec<u8>> {
        if self.too_many_iterations() || !self.zone.zone_of(name) {
            return None;
        }
        let digest = self.algorithm.hash(self.salt, name, self.iterations).ok()?;
        Some(digest.as_ref().to_vec())
    }

    fn matching(&self, name: &Name) -> bool {
        self.hash(name)
            .is_some_and(|hash| self.records.iter().any(|(owner, _)| *owner == hash))
    }

    /// The NSEC3 whose span holds the hash of `name` (not matching it).
    fn covering(&self, name: &Name) -> Option<&'a NSEC3> {
        let hash = self.hash(name)?;
        self.records.iter().find_map(|(owner, nsec3)| {
            let next = nsec3.next_hashed_owner_name();
            let inside = if owner.as_slice() < next {
                *owner < hash && hash.as_slice() < next
            } else {
                // The last NSEC3 of the chain wraps around to the first.
                *owner < hash || hash.as_slice() < next
            };
            inside.then_some(*nsec3)
        })
    }
}

/// Base32 with the extended hex alphabet (RFC 4648 7), as NSEC3 owner labels are written.
fn base32hex_decode(label: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(label.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &c in label {
        let value = match c.to_ascii_lowercase() {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'v' => c - b'a' + 10,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::dnssec::rdata::{SigInput, RRSIG};
    use hickory_proto::dnssec::Algorithm;
    use hickory_proto::rr::rdata::{A, CNAME};
    use hickory_proto::rr::SerialNumber;
    use std::net::Ipv4Addr;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn secure(mut record: Record) -> Record {
        record.proof = Proof::Secure;
        record
    }

    fn a(owner: &str) -> Record {
        secure(Record::from_rdata(
            name(owner),
            300,
            RData::A(A(Ipv4Addr::LOCALHOST)),
        ))
    }

    fn rrsig(owner: &str, covered: RecordType, labels: u8, signer: &str) -> Record {
        let input = SigInput {
            type_covered: covered,
            algorithm: Algorithm::ED25519,
            num_labels: labels,
            original_ttl: 300,
            sig_expiration: SerialNumber::new(2_000_000_000),
            sig_inception: SerialNumber::new(1),
            key_tag: 1,
            signer_name: name(signer),
        };
        let sig = RRSIG::from_sig(input, vec![0; 64]);
        secure(Record::from_rdata(
            name(owner),
            300,
            RData::DNSSEC(DNSSECRData::RRSIG(sig)),
        ))
    }

    fn nsec(owner: &str, next: &str, types: &[RecordType]) -> Record {
        let data = NSEC::new(name(next), types.iter().copied());
        secure(Record::from_rdata(
            name(owner),
            300,
            RData::DNSSEC(DNSSECRData::NSEC(data)),
        ))
    }

    #[test]
    fn unexpanded_answer_ignores_denial_records() {
        let answers = [
            a("mx.example.test."),
            rrsig("mx.example.test.", RecordType::A, 3, "example.test."),
        ];
        // A stray NSEC that would "prove" the name absent: irrelevant to a positive answer.
        let authorities = [nsec(
            "example.test.",
            "zz.example.test.",
            &[RecordType::SOA],
        )];
        assert_eq!(
            positive(
                &name("mx.example.test."),
                RecordType::A,
                &answers,
                &authorities
            ),
            Some(Proof::Secure)
        );
    }

    #[test]
    fn one_label_wildcard_expansion_with_wrapping_nsec_is_secure() {
        // Zone wild.test: apex and `*`; the NSEC of `*` wraps to the apex and covers any.wild.test.
        let answers = [
            a("any.wild.test."),
            rrsig("any.wild.test.", RecordType::A, 2, "wild.test."),
        ];
        let proof = [nsec("*.wild.test.", "wild.test.", &[RecordType::A])];
        let qname = name("any.wild.test.");
        assert_eq!(
            positive(&qname, RecordType::A, &answers, &proof),
            Some(Proof::Secure)
        );
        // Without the proof, or with one that does not cover the name, it stays bogus.
        assert_eq!(positive(&qname, RecordType::A, &answers, &[]), None);
        let elsewhere = [nsec("*.wild.test.", "aa.wild.test.", &[RecordType::A])];
        assert_eq!(positive(&qname, RecordType::A, &answers, &elsewhere), None);
        // An NSEC that covers the name but points at a deeper encloser is the wrong wildcard.
        let deeper = [nsec("a.wild.test.", "x.any.wild.test.", &[RecordType::A])];
        assert_eq!(positive(&qname, RecordType::A, &answers, &deeper), None);
        // An NSEC hickory could not validate proves nothing.
        let mut unsigned = proof.clone();
        unsigned[0].proof = Proof::Bogus;
        assert_eq!(positive(&qname, RecordType::A, &answers, &unsigned), None);
        // A proof from another zone proves nothing either.
        let other_zone = [nsec("*.other.test.", "other.test.", &[RecordType::A])];
        assert_eq!(positive(&qname, RecordType::A, &answers, &other_zone), None);
    }

    #[test]
    fn cname_chain_into_a_wildcard_needs_the_proof_of_the_expanded_link() {
        let mut cname = Record::from_rdata(
            name("alias.example.test."),
            300,
            RData::CNAME(CNAME(name("any.wild.test."))),
        );
        cname.proof = Proof::Secure;
        let answers = [
            cname,
            rrsig("alias.example.test.", RecordType::CNAME, 3, "example.test."),
            a("any.wild.test."),
            rrsig("any.wild.test.", RecordType::A, 2, "wild.test."),
        ];
        let qname = name("alias.example.test.");
        let proof = [nsec("*.wild.test.", "wild.test.", &[RecordType::A])];
        assert_eq!(
            positive(&qname, RecordType::A, &answers, &proof),
            Some(Proof::Secure)
        );
        assert_eq!(positive(&qname, RecordType::A, &answers, &[]), None);
        let mut insecure_link = answers.clone();
        insecure_link[0].proof = Proof::Insecure;
        assert_eq!(
            positive(&qname, RecordType::A, &insecure_link, &proof),
            Some(Proof::Insecure)
        );
        let mut bogus_target = answers.clone();
        bogus_target[2].proof = Proof::Bogus;
        assert_eq!(positive(&qname, RecordType::A, &bogus_target, &proof), None);
    }

    #[test]
    fn name_error_rules_follow_unbound() {
        let nsec_of = |next: &str, types: &[RecordType]| NSEC::new(name(next), types.to_vec());
        let owner = name("b.test.");
        let plain = nsec_of("d.test.", &[RecordType::A]);
        assert!(proves_name_error(&owner, &plain, &name("c.test.")));
        assert!(proves_name_error(&owner, &plain, &name("x.b.test.")));
        assert!(!proves_name_error(&owner, &plain, &name("b.test.")));
        assert!(!proves_name_error(&owner, &plain, &name("e.test.")));
        let cut = nsec_of("d.test.", &[RecordType::NS]);
        assert!(!proves_name_error(&owner, &cut, &name("x.b.test.")));
        let only = nsec_of("test.", &[RecordType::SOA]);
        assert!(proves_name_error(&name("test."), &only, &name("x.test.")));
        assert_eq!(
            closest_encloser(&name("*.w.test."), &name("w.test."), &name("a.w.test.")),
            name("w.test.")
        );
    }

    /// An NSEC3 chain over `names` of `zone` (SHA-1, no salt), every record secure.
    fn nsec3_chain(zone: &str, names: &[&str], iterations: u16, opt_out: bool) -> Vec<Record> {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
        let encode = |bytes: &[u8]| -> String {
            let bits: Vec<bool> = bytes
                .iter()
                .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1))
                .collect();
            bits.chunks(5)
                .map(|c| {
                    let v = c
                        .iter()
                        .fold(0usize, |acc, &bit| acc << 1 | usize::from(bit));
                    ALPHABET[v << (5 - c.len())] as char
                })
                .collect()
        };
        let mut hashes: Vec<Vec<u8>> = names
            .iter()
            .map(|n| {
                let digest = Nsec3HashAlgorithm::SHA1.hash(&[], &name(n), iterations);
                digest.unwrap().as_ref().to_vec()
            })
            .collect();
        hashes.sort();
        (0..hashes.len())
            .map(|i| {
                let next = hashes[(i + 1) % hashes.len()].clone();
                let data = NSEC3::new(
                    Nsec3HashAlgorithm::SHA1,
                    opt_out,
                    iterations,
                    Vec::new(),
                    next,
                    [RecordType::A],
                );
                let owner = format!("{}.{zone}", encode(&hashes[i]));
                secure(Record::from_rdata(
                    name(&owner),
                    300,
                    RData::DNSSEC(DNSSECRData::NSEC3(data)),
                ))
            })
            .collect()
    }

    const NAMES: [&str; 4] = ["z.test.", "mx.z.test.", "w.z.test.", "*.w.z.test."];

    #[test]
    fn nsec3_wildcard_expansion_follows_opt_out_and_iterations() {
        let answers = [
            a("a.w.z.test."),
            rrsig("a.w.z.test.", RecordType::A, 3, "z.test."),
        ];
        let qname = name("a.w.z.test.");
        let judge = |iterations, opt_out| {
            let chain = nsec3_chain("z.test.", &NAMES, iterations, opt_out);
            positive(&qname, RecordType::A, &answers, &chain)
        };
        assert_eq!(judge(0, false), Some(Proof::Secure));
        assert_eq!(judge(150, false), Some(Proof::Secure));
        assert_eq!(judge(0, true), Some(Proof::Insecure));
        assert_eq!(judge(151, false), Some(Proof::Insecure));
        // A chain of another zone proves nothing.
        let other = nsec3_chain("y.test.", &["y.test.", "a.y.test."], 0, false);
        assert_eq!(positive(&qname, RecordType::A, &answers, &other), None);
    }

    #[test]
    fn nsec3_denials_in_opt_out_spans() {
        let nxdomain = name("nope.z.test.");
        let plain = nsec3_chain("z.test.", &NAMES, 0, false);
        let opt_out = nsec3_chain("z.test.", &NAMES, 0, true);
        assert!(!denial_in_opt_out(&nxdomain, &plain));
        assert!(denial_in_opt_out(&nxdomain, &opt_out));
        // Deeper below a missing name: the next closer name is still nope.z.test.
        assert!(denial_in_opt_out(&name("a.b.nope.z.test."), &opt_out));
        // A name with its own NSEC3 (NODATA) rests on no span.
        assert!(!denial_in_opt_out(&name("mx.z.test."), &opt_out));
        // Records hickory did not validate, or of another zone, count for nothing.
        let mut unvalidated = opt_out.clone();
        unvalidated.iter_mut().for_each(|r| r.proof = Proof::Bogus);
        assert!(!denial_in_opt_out(&nxdomain, &unvalidated));
        assert!(!denial_in_opt_out(&name("nope.y.test."), &opt_out));
        // Above the iteration limit hickory already says insecure; nothing is hashed here.
        let costly = nsec3_chain("z.test.", &NAMES, 200, true);
        assert!(!denial_in_opt_out(&nxdomain, &costly));
    }

    #[test]
    fn base32hex_decodes_nsec3_labels() {
        // RFC 5155 appendix A: H(example) = 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.
        let decoded = base32hex_decode(b"0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM").unwrap();
        let expected = Nsec3HashAlgorithm::SHA1
            .hash(&hex::decode("aabbccdd").unwrap(), &name("example."), 12)
            .unwrap();
        assert_eq!(decoded, expected.as_ref());
        assert_eq!(base32hex_decode(b"w"), None);
    }
}
