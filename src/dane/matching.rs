//! TLSA record usability, matching, and the per-endpoint verdict (RFC 6698 2.1, RFC 7672 3.1,
//! RFC 7671 sections 5, 8 and 9).
//!
//! Decisions, following OpenSSL's DANE code (`ssl/ssl_lib.c` `dane_tlsa_add`,
//! `crypto/x509/x509_vfy.c` `dane_match`, `check_dane_issuer`, `check_dane_pkeys`) as Postfix
//! uses it:
//!
//! - **Usability** (RFC 7672 3.1.3): usages 0 and 1 are unusable for SMTP (under the service
//!   profile they are usable and judged by `pkix.rs`); unknown usage, selector
//!   or matching type are unusable; a SHA-256 or SHA-512 record whose data is not 32 or 64 bytes is
//!   unusable (OpenSSL's `dane_tlsa_add` rejects it with "bad digest length"). Checked in that
//!   order; the first reason found is reported.
//! - **Digest agility** (RFC 7671 section 9): within one (usage, selector) pair, only the records
//!   of the strongest digest present are used: SHA-512 hides SHA-256. Like OpenSSL, whose default
//!   ordinals are Full 0, SHA-256 1, SHA-512 2 but whose `dane_match` never skips a "Full" record
//!   ("ignore all mtypes with lower ordinals other than Full"), matching type 0 is *not* subject
//!   to agility: an exact match is not a weaker digest, it is no digest at all. Records already
//!   unusable for another reason (e.g. a bad digest length) do not count, because OpenSSL never
//!   loads them.
//! - **DANE-EE(3)** (RFC 7672 3.1.1): compared with the leaf only; no name, expiry or chain check.
//! - **DANE-TA(2)** (RFC 7672 3.1.2): compared with the presented certificates at depth >= 1 only.
//!   OpenSSL's `check_dane_issuer` returns "untrusted" at depth 0, so a TA record for the leaf
//!   itself (e.g. a self-signed server certificate) never authenticates; RFC 7671 5.2.2 tells
//!   operators to use DANE-EE for that. For every depth that matches, the chain from that
//!   certificate down to the leaf is verified (`chain.rs`); the first depth that verifies wins.
//! - **TA not sent** (RFC 7672 3.1.2): when no presented certificate matches a `2 1 0` record,
//!   the published key may still have signed a presented certificate (the server left out the TA
//!   certificate, which 3.1.2 allows when the full key is published). As in `check_dane_pkeys`,
//!   the record then counts as matched, and the chain is verified with the key as the anchor.
//!   OpenSSL also accepts a `2 0 0` record carrying the whole TA certificate that was not sent
//!   (`dane_tlsa_add` adds it to the chain-building certificates), so that works here too. A
//!   digest record (`2 x 1`, `2 x 2`) for an unsent TA cannot match: there is nothing to hash.
//!   The reported depth is where the TA would sit had it been sent (1 + the certificates below
//!   it). Because OpenSSL does the same, a self-signed leaf whose own key is published as
//!   `2 1 0` is authenticated (with the name check) at depth 1; `2 1 1` of it is not.
//! - **Exact-data records** (matching type 0) whose data is not a DER certificate or SPKI are
//!   unusable (`MalformedData`): `dane_tlsa_add` refuses them.
//! - **Certificates that do not parse** match nothing: a TLS stack would not have accepted them.
//! - **Outcome**: the first record in RRset order whose state is `Matched` is reported as the one
//!   that authenticated (RRset order is what the operator published; there is no preference for
//!   DANE-EE, any usable match is dispositive in RFC 7672 3.1).

use x509_parser::certificate::X509Certificate;

use super::cert;
use super::chain::{self, Anchor};
use super::input::{DaneProfile, EndpointInput};
use super::pkix;
use crate::core::{
    CertUsage, DivergenceCause, EndpointEvaluation, EndpointOutcome, MatchFailure, MatchingType,
    RecordResult, RecordState, Selector, TlsaRecord, UnixSeconds, UnusableReason,
};

/// Judges one presented chain against a TLSA RRset.
pub(super) fn evaluate(input: &EndpointInput<'_>, profile: DaneProfile<'_>) -> EndpointEvaluation {
    let usability = usability(input.tlsa, profile);
    let parsed: Vec<Option<X509Certificate<'_>>> = input
        .chain
        .iter()
        .map(|der| cert::parse(der).ok())
        .collect();
    let leaf = parsed.first().and_then(Option::as_ref);

    // Per record: its state, and for a match the moment the binding is expected to break.
    let mut records = Vec::with_capacity(input.tlsa.len());
    let mut bounds: Vec<Option<(UnixSeconds, DivergenceCause)>> =
        Vec::with_capacity(input.tlsa.len());
    // WebPKI validation of the chain, done once and only when a usable PKIX record needs it.
    let mut pkix_path: Option<Result<pkix::ValidPath, String>> = None;
    for (record, unusable) in input.tlsa.iter().zip(&usability) {
        let (state, bound) = match (unusable, profile) {
            (Some(reason), _) => (RecordState::Unusable { reason: *reason }, None),
            (None, DaneProfile::Service { pkix: trust })
                if matches!(record.usage, CertUsage::PkixTa | CertUsage::PkixEe) =>
            {
                let path = pkix_path.get_or_insert_with(|| {
                    pkix::validate(trust, input.chain, input.reference_names, input.now)
                });
                pkix::judge(record, input.chain, path)
            }
            (None, _) => judge_record(record, input, &parsed),
        };
        records.push(RecordResult {
            record: record.clone(),
            state,
        });
        bounds.push(bound);
    }

    // Parsed a second time only to keep the parser's words for the report.
    let leaf_error = input.chain.first().and_then(|der| cert::parse(der).err());
    let outcome = outcome(&records, input.chain.is_empty(), leaf_error);
    let authenticated = matches!(outcome, EndpointOutcome::Authenticated { .. });

    let (divergence, divergence_cause) = if authenticated {
        divergence(&bounds, input.tlsa_signature_expiration)
    } else {
        (None, None)
    };

    // RFC 7671 section 8: a DANE-TA (or PKIX-TA) binding survives leaf key changes; a DANE-EE
    // binding survives them only when a record for the next key is already published (a usable
    // record that matches nothing presented now).
    let rollover_ready = authenticated
        && records.iter().any(|r| match r.state {
            RecordState::Matched { .. } => {
                matches!(r.record.usage, CertUsage::DaneTa | CertUsage::PkixTa)
            }
            RecordState::NoMatch => true,
            _ => false,
        });

    EndpointEvaluation {
        records,
        outcome,
        leaf: leaf.map(cert::describe_parsed),
        divergence,
        divergence_cause,
        rollover_ready,
    }
}

/// The overall outcome from the record states (see the module documentation).
fn outcome(
    records: &[RecordResult],
    chain_empty: bool,
    leaf_error: Option<cert::CertificateError>,
) -> EndpointOutcome {
    let mut any_usable = false;
    let mut first_rejection: Option<&MatchFailure> = None;
    for (index, r) in records.iter().enumerate() {
        match &r.state {
            RecordState::Matched { .. } => {
                return EndpointOutcome::Authenticated {
                    record: index,
                    usage: r.record.usage.into(),
                }
            }
            RecordState::MatchedButRejected { failure, .. } => {
                any_usable = true;
                first_rejection = first_rejection.or(Some(failure));
            }
            RecordState::NoMatch => any_usable = true,
            RecordState::Unusable { .. } => {}
        }
    }
    if !any_usable {
        // RFC 7672 2.2 / 3.1.3: TLS is mandatory, nothing to authenticate with.
        return EndpointOutcome::NoUsableRecords;
    }
    // Every usable record needs the leaf (DANE-EE compares it, DANE-TA verifies down to it), so
    // a missing or unreadable leaf explains the failure better than any record state.
    let failure = if chain_empty {
        MatchFailure::NoCertificate
    } else if let Some(e) = leaf_error {
        MatchFailure::BadCertificate(e.0)
    } else {
        first_rejection.cloned().unwrap_or(MatchFailure::NoMatch)
    };
    EndpointOutcome::Failed(failure)
}

/// When the working binding is expected to break. Each authenticating record has its own bound;
/// the endpoint keeps authenticating until the *last* of them breaks, so the maximum is taken.
/// The RRSIG expiration bounds every record at once, so it caps the result. On a tie the
/// certificate-side cause is reported (it is the one an operator acts on first).
fn divergence(
    bounds: &[Option<(UnixSeconds, DivergenceCause)>],
    signature_expiration: Option<UnixSeconds>,
) -> (Option<UnixSeconds>, Option<DivergenceCause>) {
    let binding =
        bounds
            .iter()
            .flatten()
            .copied()
            .fold(
                None::<(UnixSeconds, DivergenceCause)>,
                |best, b| match best {
                    Some(best) if best.0 >= b.0 => Some(best),
                    _ => Some(b),
                },
            );
    let result = match (binding, signature_expiration) {
        (Some(b), Some(sig)) if sig < b.0 => Some((sig, DivergenceCause::SignatureExpiry)),
        (Some(b), _) => Some(b),
        (None, Some(sig)) => Some((sig, DivergenceCause::SignatureExpiry)),
        (None, None) => None,
    };
    (result.map(|r| r.0), result.map(|r| r.1))
}

/// State of one usable record, plus its divergence bound when it authenticates.
fn judge_record(
    record: &TlsaRecord,
    input: &EndpointInput<'_>,
    parsed: &[Option<X509Certificate<'_>>],
) -> (RecordState, Option<(UnixSeconds, DivergenceCause)>) {
    let chain = input.chain;
    match record.usage {
        CertUsage::DaneEe => {
            // RFC 7672 3.1.1: the leaf only, nothing else is checked; but the key must be one
            // Postfix's OpenSSL accepts at all.
            match (chain.first(), parsed.first().and_then(Option::as_ref)) {
                (Some(der), Some(leaf)) if cert::record_matches_cert(record, der, leaf) => {
                    match cert::rsa_key_too_small(leaf) {
                        Some(bits) => (
                            RecordState::MatchedButRejected {
                                depth: 0,
                                failure: MatchFailure::KeyTooSmall { bits },
                            },
                            None,
                        ),
                        None => (
                            RecordState::Matched { depth: 0 },
                            Some((
                                leaf.validity().not_after.timestamp(),
                                DivergenceCause::CertificateExpiry,
                            )),
                        ),
                    }
                }
                _ => (RecordState::NoMatch, None),
            }
        }
        CertUsage::DaneTa => judge_dane_ta(record, input, parsed),
        // Filtered out by `usability`; unusable if they ever get here.
        CertUsage::PkixTa | CertUsage::PkixEe => (
            RecordState::Unusable {
                reason: UnusableReason::PkixUsage,
            },
            None,
        ),
        CertUsage::Unknown(_) => (
            RecordState::Unusable {
                reason: UnusableReason::UnknownUsage,
            },
            None,
        ),
    }
}

/// DANE-TA(2): match at depth >= 1, then verify the chain down to the leaf and its names.
fn judge_dane_ta(
    record: &TlsaRecord,
    input: &EndpointInput<'_>,
    parsed: &[Option<X509Certificate<'_>>],
) -> (RecordState, Option<(UnixSeconds, DivergenceCause)>) {
    let chain = input.chain;
    let Some((leaf_der, rest)) = chain.split_first() else {
        return (RecordState::NoMatch, None);
    };
    let others: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
    let verify = |anchor: Anchor<'_>| {
        chain::verify(anchor, leaf_der, &others, input.reference_names, input.now)
    };

    let mut first_rejection: Option<(usize, MatchFailure)> = None;
    for (depth, (der, parsed)) in chain.iter().zip(parsed).enumerate().skip(1) {
        let Some(c) = parsed else { continue };
        if !cert::record_matches_cert(record, der, c) {
            continue;
        }
        match verify(Anchor::Certificate(der)) {
            Ok(v) => return matched_ta(depth, v.min_not_after),
            Err(failure) => {
                first_rejection.get_or_insert((depth, failure));
            }
        }
    }
    if let Some((depth, failure)) = first_rejection {
        return (RecordState::MatchedButRejected { depth, failure }, None);
    }

    // `2 1 0` (or `2 0 0`) with the TA certificate left out: does the published key sign a
    // presented certificate? OpenSSL accepts both forms (`dane_tlsa_add` keeps the key of a
    // `2 1 0` for `check_dane_pkeys`, and adds the certificate of a `2 0 0` to the untrusted
    // certificates used for chain building).
    if record.matching == MatchingType::Full {
        let (anchor, key) = match record.selector {
            Selector::SubjectPublicKeyInfo => {
                (Anchor::PublicKey(&record.data), Some(&record.data[..]))
            }
            Selector::FullCertificate => (
                Anchor::Certificate(&record.data),
                cert::parse(&record.data).ok().map(|c| cert::spki_der(&c)),
            ),
            Selector::Unknown(_) => return (RecordState::NoMatch, None),
        };
        let signed = key.and_then(|key| {
            parsed
                .iter()
                .position(|c| c.as_ref().is_some_and(|c| chain::key_signed(key, c)))
        });
        if let Some(signed_depth) = signed {
            return match verify(anchor) {
                Ok(v) => matched_ta(v.certificates_below_anchor, v.min_not_after),
                Err(failure) => (
                    RecordState::MatchedButRejected {
                        depth: signed_depth.saturating_add(1),
                        failure,
                    },
                    None,
                ),
            };
        }
    }
    (RecordState::NoMatch, None)
}

/// A verified DANE-TA match. Its bound is the earliest notAfter on the verified path, reported as
/// `ChainExpiry` even when that is the leaf's own: with DANE-TA the whole path must stay valid,
/// so the cause names the path, and the report shows the leaf's notAfter separately.
fn matched_ta(
    depth: usize,
    min_not_after: UnixSeconds,
) -> (RecordState, Option<(UnixSeconds, DivergenceCause)>) {
    (
        RecordState::Matched { depth },
        Some((min_not_after, DivergenceCause::ChainExpiry)),
    )
}

/// Why each record is unusable, if it is (RFC 7672 3.1.3, RFC 7671 section 9).
fn usability(tlsa: &[TlsaRecord], profile: DaneProfile<'_>) -> Vec<Option<UnusableReason>> {
    let mut reasons: Vec<Option<UnusableReason>> = tlsa
        .iter()
        .map(|record| intrinsic_reason(record, profile))
        .collect();
    // Digest agility: per (usage, selector), the strongest digest among usable records wins.
    for (i, record) in tlsa.iter().enumerate() {
        let Some(strength) = digest_strength(record.matching) else {
            continue; // Full (or unknown): never hidden by agility.
        };
        if reasons.get(i).copied().flatten().is_some() {
            continue;
        }
        let stronger_exists = tlsa.iter().zip(&reasons).any(|(other, reason)| {
            reason.is_none()
                && other.usage == record.usage
                && other.selector == record.selector
                && digest_strength(other.matching).is_some_and(|s| s > strength)
        });
        if stronger_exists {
            if let Some(slot) = reasons.get_mut(i) {
                *slot = Some(UnusableReason::WeakerDigest);
            }
        }
    }
    reasons
}

/// Rank of a digest matching type for agility (OpenSSL's default ordinals); `None` for Full and
/// unknown types, which agility does not touch.
fn digest_strength(matching: MatchingType) -> Option<u8> {
    match matching {
        MatchingType::Sha256 => Some(1),
        MatchingType::Sha512 => Some(2),
        MatchingType::Full | MatchingType::Unknown(_) => None,
    }
}

/// Reasons a record is unusable on its own, before agility is considered.
fn intrinsic_reason(record: &TlsaRecord, profile: DaneProfile<'_>) -> Option<UnusableReason> {
    match (record.usage, profile) {
        // RFC 7672 3.1.3: not for SMTP. Other services use them (RFC 6698 2.1.1).
        (CertUsage::PkixTa | CertUsage::PkixEe, DaneProfile::Smtp) => {
            return Some(UnusableReason::PkixUsage)
        }
        (CertUsage::PkixTa | CertUsage::PkixEe, DaneProfile::Service { .. }) => {}
        (CertUsage::Unknown(_), _) => return Some(UnusableReason::UnknownUsage),
        (CertUsage::DaneTa | CertUsage::DaneEe, _) => {}
    }
    if let Selector::Unknown(_) = record.selector {
        return Some(UnusableReason::UnknownSelector);
    }
    let expected_len = match record.matching {
        MatchingType::Unknown(_) => return Some(UnusableReason::UnknownMatchingType),
        MatchingType::Full => None,
        MatchingType::Sha256 => Some(32),
        MatchingType::Sha512 => Some(64),
    };
    match expected_len {
        Some(len) if record.data.len() != len => Some(UnusableReason::BadDigestLength),
        Some(_) => None,
        // Exact data must be what the selector names, as OpenSSL's `dane_tlsa_add` demands.
        None => {
            let well_formed = match record.selector {
                Selector::FullCertificate => cert::parse(&record.data).is_ok(),
                _ => cert::parse_spki(&record.data).is_some(),
            };
            (!well_formed).then_some(UnusableReason::MalformedData)
        }
    }
}

#[cfg(test)]
#[path = "matching_tests.rs"]
mod tests;
