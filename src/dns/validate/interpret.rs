//! From what hickory's resolver returned to a [`Response`] or a [`LookupError`]: the proofs of
//! the records an answer is built from reduced to one [`DnssecStatus`] (the weakest wins), denials
//! and errors turned into [`RecordSet`] kinds and [`LookupError`]s, and the corrections of
//! `proofs.rs` applied where hickory's own verdict is not unbound's (see `validate.rs`).
use hickory_proto::dnssec::Proof;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType as WireType};
use hickory_resolver::net::{DnsError, NetError, NoRecords};

use super::super::answer::{self, Denial};
use super::proofs;
use crate::core::{DnssecStatus, LookupError, RecordSet, Response};

pub(super) fn status_of(proof: Proof) -> Result<DnssecStatus, LookupError> {
    match proof {
        Proof::Secure => Ok(DnssecStatus::Secure),
        Proof::Insecure => Ok(DnssecStatus::Insecure),
        Proof::Bogus => Err(LookupError::Bogus {
            detail: "a record of the answer failed validation".into(),
        }),
        Proof::Indeterminate => Err(LookupError::Indeterminate {
            detail: "a record of the answer has no validation result".into(),
        }),
    }
}

/// The weakest of `proofs` (hickory orders Proof from Indeterminate up to Secure).
fn weakest(proofs: impl IntoIterator<Item = Proof>) -> Option<Proof> {
    proofs.into_iter().min()
}

fn denial_of(code: ResponseCode) -> Denial {
    if code == ResponseCode::NXDomain {
        Denial::NxDomain
    } else {
        Denial::NoData
    }
}

/// Status of a denial from the proofs of its authority records: the NSEC/NSEC3 records when there
/// are any (they are the proof), otherwise the SOA (an insecure zone proves nothing, its SOA
/// comes back `Insecure`).
fn denial_status(authorities: &[Record]) -> Result<DnssecStatus, LookupError> {
    let non_sig = || {
        authorities
            .iter()
            .filter(|r| r.record_type() != WireType::RRSIG)
    };
    let nsecs = weakest(
        non_sig()
            .filter(|r| matches!(r.record_type(), WireType::NSEC | WireType::NSEC3))
            .map(|r| r.proof),
    );
    match nsecs.or_else(|| weakest(non_sig().map(|r| r.proof))) {
        Some(proof) => status_of(proof),
        None => Err(LookupError::Indeterminate {
            detail: "denial of existence without authority records".into(),
        }),
    }
}

pub(super) fn interpret<T>(
    outcome: Result<hickory_resolver::lookup::Lookup, NetError>,
    qname: &Name,
    qtype: WireType,
    convert: fn(&RData) -> Option<T>,
    timeout_millis: u64,
) -> Result<Response<T>, LookupError> {
    match outcome {
        Ok(lookup) => {
            let assembled = answer::assemble(
                qname,
                qtype,
                lookup.answers(),
                lookup.authorities(),
                Denial::NoData,
                convert,
            )?;
            let mut status = match weakest(assembled.proofs.iter().copied()) {
                Some(proof) => status_of(proof)?,
                // NOERROR without any usable record: hickory normally reports that as
                // NoRecordsFound; treat a stray empty answer as unproven.
                None => {
                    return Err(LookupError::Indeterminate {
                        detail: "empty answer without denial".into(),
                    })
                }
            };
            // A wildcard expansion hickory accepted can still rest on an NSEC3 opt-out span or
            // too many iterations: insecure, as unbound says. Only ever lowered here.
            let judged = proofs::positive(qname, qtype, lookup.answers(), lookup.authorities());
            if status == DnssecStatus::Secure && judged == Some(Proof::Insecure) {
                status = DnssecStatus::Insecure;
            }
            Ok(assembled.into_response(status))
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(no_records))) => {
            denial(qname, qtype, &no_records, convert)
        }
        Err(NetError::Dns(DnsError::Nsec {
            proof, response, ..
        })) => {
            // hickory returns this for a denial it could not call secure; an insecure one is a
            // valid answer, anything weaker is a failure. It also returns it for a positive
            // answer whose denial records it judged insecure (NSEC3 above the iteration limit):
            // that answer is judged on its own RRsets.
            let assembled = answer::assemble(
                qname,
                qtype,
                &response.answers,
                &response.authorities,
                denial_of(response.response_code),
                convert,
            )?;
            let proof = match assembled.set {
                RecordSet::Records(_) => {
                    proofs::positive(qname, qtype, &response.answers, &response.authorities)
                        .unwrap_or(Proof::Bogus)
                }
                RecordSet::NxDomain | RecordSet::NoData => proof,
            };
            Ok(assembled.into_response(status_of(proof)?))
        }
        Err(NetError::Dns(DnsError::DnssecBogus)) => Err(LookupError::Bogus {
            // hickory 0.26 gives no reason for a bogus answer.
            detail: "answer failed DNSSEC validation".into(),
        }),
        Err(NetError::Dns(DnsError::ResponseCode(code))) => Err(match code {
            ResponseCode::ServFail => LookupError::ServFail { ede: None },
            ResponseCode::Refused => LookupError::Refused { ede: None },
            other => LookupError::Rcode {
                rcode: other.to_string(),
            },
        }),
        Err(NetError::Timeout) => Err(LookupError::Timeout {
            millis: timeout_millis,
        }),
        Err(e @ (NetError::Io(_) | NetError::NoConnections | NetError::Busy)) => {
            Err(LookupError::Network {
                detail: e.to_string(),
            })
        }
        Err(NetError::Proto(e)) => Err(LookupError::Malformed {
            detail: e.to_string(),
        }),
        Err(other) => Err(LookupError::Indeterminate {
            detail: other.to_string(),
        }),
    }
}

fn denial<T>(
    qname: &Name,
    qtype: WireType,
    no_records: &NoRecords,
    convert: fn(&RData) -> Option<T>,
) -> Result<Response<T>, LookupError> {
    let authorities: &[Record] = no_records.authorities.as_deref().unwrap_or_default();
    let mut status = denial_status(authorities)?;
    // The name hickory's proof is about: the query name, or the end of its CNAME chain.
    if status == DnssecStatus::Secure
        && proofs::denial_in_opt_out(no_records.query.name(), authorities)
    {
        status = DnssecStatus::Insecure;
    }
    let assembled = answer::assemble(
        qname,
        qtype,
        &[],
        authorities,
        denial_of(no_records.response_code),
        convert,
    )?;
    debug_assert!(matches!(
        assembled.set,
        RecordSet::NxDomain | RecordSet::NoData
    ));
    Ok(assembled.into_response(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weakest_proof_wins() {
        assert_eq!(
            weakest([Proof::Secure, Proof::Insecure]),
            Some(Proof::Insecure)
        );
        assert_eq!(
            weakest([Proof::Secure, Proof::Bogus, Proof::Insecure]),
            Some(Proof::Bogus)
        );
        assert_eq!(weakest([]), None);
        assert!(matches!(
            status_of(Proof::Bogus),
            Err(LookupError::Bogus { .. })
        ));
        assert!(matches!(
            status_of(Proof::Indeterminate),
            Err(LookupError::Indeterminate { .. })
        ));
    }
}
