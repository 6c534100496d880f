//! Runs `dane::evaluate_endpoint` on an arbitrary chain against fixed TLSA records. Input layout:
//! 32 bytes of association data (used by `3 1 1` and `2 0 1`), 8 bytes of "now" (big-endian
//! seconds), then blobs each prefixed by a 2-byte big-endian length: the chain, leaf first; the
//! last blob is also used as the data of a `2 1 0` record and of a `3 0 0` record. Checks: no
//! panic, one result per TLSA record.
#![no_main]
use dane_exporter::core::TlsaRecord;
use dane_exporter::dane::{evaluate_endpoint, EndpointInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 40 {
        return;
    }
    let (digest, rest) = data.split_at(32);
    let (now, mut rest) = rest.split_at(8);
    let now = i64::from_be_bytes(now.try_into().expect("8 bytes"));
    let mut chain = Vec::new();
    while let [hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        chain.push(tail[..len].to_vec());
        rest = &tail[len..];
        if chain.len() == 8 {
            break;
        }
    }
    let last = chain.last().cloned().unwrap_or_default();
    let tlsa = [
        TlsaRecord::new(3, 1, 1, digest.to_vec()),
        TlsaRecord::new(2, 0, 1, digest.to_vec()),
        TlsaRecord::new(2, 1, 0, last.clone()),
        TlsaRecord::new(3, 0, 0, last),
    ];
    let names = ["mx.example.com".to_string(), "example.com".to_string()];
    let input = EndpointInput {
        tlsa: &tlsa,
        chain: &chain,
        reference_names: &names,
        tlsa_signature_expiration: Some(now.saturating_add(86_400)),
        now,
    };
    let evaluation = evaluate_endpoint(&input);
    assert_eq!(evaluation.records.len(), tlsa.len());
    let _ = evaluation.passes();
});
