//! The local-certificate check's judgement: each file's chain through the same DANE rules as a
//! presented chain (`crate::dane`), against the MX host's TLSA RRset of this very probe; served or
//! not; how long its matching records have been published; safe to deploy or not. Pure: the
//! publication history and the zones' consistency come in through [`CertificateContext`].

use super::report::{
    algorithm_label, same_series, CertificateSpec, FileMatch, LoadedFile, LocalCertError,
    LocalCertReport, Seen, Slot,
};
use crate::core::{
    EndpointOutcome, Finding, HostDane, KeyAlgorithmState, MxHostReport, MxReport, Reason,
    RecordState,
};
use crate::dane::{self, describe_certificate, leaf_key_algorithm, EndpointInput};

/// What the local-certificate check needs to know beyond this round's facts.
pub struct CertificateContext<'a> {
    /// When a TLSA record (MX host, record text) was first seen published, from the history
    /// across rounds.
    pub seen: &'a dyn Fn(&str, &str) -> Option<Seen>,
    /// Whether every authoritative nameserver of the zone holding a TLSA RRset (by owner name)
    /// serves the same data; `None` when the authoritative checks did not run for it.
    pub zone_consistent: &'a dyn Fn(&str) -> Option<bool>,
}

/// The reports and warnings for `loaded` against the TLSA RRsets of `report`. Pure.
pub fn judge(
    report: &MxReport,
    specs: &[CertificateSpec],
    loaded: &[LoadedFile],
    context: &CertificateContext<'_>,
) -> (Vec<LocalCertReport>, Vec<Finding>) {
    let mut warnings = Vec::new();
    let finding =
        |reason: Reason, mx: &str, message: String| Finding::new(reason, message).at_mx(mx);
    for spec in specs {
        if !report.hosts.iter().any(|h| h.name == spec.mx) && report.mx_lookup.error.is_none() {
            warnings.push(finding(
                Reason::LocalCertificateMxNotFound,
                &spec.mx,
                format!(
                    "certificate files are configured for {}, which is not an MX host of {}",
                    spec.mx, report.domain
                ),
            ));
        }
    }
    let mut out = Vec::new();
    for file in loaded {
        let host = report.hosts.iter().find(|h| h.name == file.mx);
        let mut cert = LocalCertReport {
            mx: file.mx.clone(),
            slot: file.slot,
            path: file.path.clone(),
            error: None,
            leaf: None,
            key_algorithm: None,
            tlsa: None,
            served: None,
        };
        // The chain and its parsed leaf, or why the file gives none.
        let read = file.chain.as_ref().map_err(Clone::clone).and_then(|chain| {
            let leaf = chain.first().ok_or(LocalCertError::NoCertificate)?;
            describe_certificate(leaf)
                .map(|leaf| (chain, leaf))
                .map_err(|e| LocalCertError::BadCertificate(e.0))
        });
        let (chain, leaf) = match read {
            Ok(read) => read,
            Err(error) => {
                warnings.push(finding(
                    Reason::LocalCertificateUnreadable,
                    &file.mx,
                    format!(
                        "the {} certificate file {} of {} gives no certificate: {error}",
                        file.slot.as_str(),
                        file.path.display(),
                        file.mx
                    ),
                ));
                cert.error = Some(error);
                out.push(cert);
                continue;
            }
        };
        cert.leaf = Some(leaf);
        cert.key_algorithm = chain.first().and_then(|der| leaf_key_algorithm(der));
        if let (Some(host), Some(leaf)) = (host, &cert.leaf) {
            cert.served = served(host, &leaf.spki_sha256);
            if host.dane == HostDane::Applies {
                let mut matched = file_match(report, host, chain, context);
                // Already served everywhere and accepted: reloading it changes nothing.
                if matched.matches && cert.served == Some(true) {
                    matched.safe_to_deploy = true;
                }
                if !matched.matches {
                    let (reason, what) = match file.slot {
                        Slot::Live => (
                            Reason::LocalCertificateUnpublished,
                            "reloading or restarting Postfix makes DANE senders defer mail",
                        ),
                        Slot::Staged => (
                            Reason::StagedCertificateUnpublished,
                            "publish its record at least two TTLs before deploying it (RFC 7671 section 8.1)",
                        ),
                    };
                    warnings.push(finding(
                        reason,
                        &file.mx,
                        format!(
                            "no published TLSA record of {} matches the {} certificate {} (key 3 1 1 {}): {what}",
                            file.mx,
                            file.slot.as_str(),
                            file.path.display(),
                            leaf.spki_sha256
                        ),
                    ));
                }
                cert.tlsa = Some(matched);
            }
        }
        out.push(cert);
    }
    // Two files of one MX host and slot with the same key algorithm would be two series with the
    // same labels: the first is measured, the others are named in a warning.
    for (i, cert) in out.iter().enumerate() {
        if cert.leaf.is_none() {
            continue;
        }
        if let Some(first) = out[..i]
            .iter()
            .find(|c| c.leaf.is_some() && same_series(c, cert))
        {
            warnings.push(finding(
                Reason::LocalCertificateAmbiguous,
                &cert.mx,
                format!(
                    "{} and {} are both {} certificates of {} with {} keys: only the first is measured",
                    first.path.display(),
                    cert.path.display(),
                    cert.slot.as_str(),
                    cert.mx,
                    algorithm_label(cert.key_algorithm)
                ),
            ));
        }
    }
    (out, warnings)
}

/// The file's chain through the DANE rules, and how long its matching records have been out.
fn file_match(
    report: &MxReport,
    host: &MxHostReport,
    chain: &[Vec<u8>],
    context: &CertificateContext<'_>,
) -> FileMatch {
    // Reference identifiers as for a presented chain (RFC 7672 3.2.2).
    let names = dane::mx_reference_names(
        host.tlsa_base_domain.as_deref(),
        &report.domain,
        report.mx_owner(),
        report.implicit_mx,
    );
    let evaluation = dane::evaluate_endpoint(&EndpointInput {
        tlsa: &host.tlsa_records,
        chain,
        reference_names: &names,
        tlsa_signature_expiration: None,
        now: report.checked_at,
    });
    let matched_records: Vec<String> = evaluation
        .records
        .iter()
        .filter(|r| matches!(r.state, RecordState::Matched { .. }))
        .map(|r| r.record.to_string())
        .collect();
    let failure = match &evaluation.outcome {
        EndpointOutcome::Failed(f) => Some(f.reason().as_str().to_string()),
        _ => None,
    };
    let matches = evaluation.passes();
    let sightings: Vec<Seen> = matched_records
        .iter()
        .filter_map(|r| (context.seen)(&host.name, r))
        .collect();
    let published_since = sightings.iter().map(|s| s.first_seen).min();
    let max_ttl = sightings.iter().filter_map(|s| s.max_ttl).max();
    let published_seconds =
        published_since.map(|t| u64::try_from(report.checked_at - t).unwrap_or(0));
    let required_seconds = max_ttl.map(|ttl| 2 * u64::from(ttl));
    // With no usable record at all, no key is pinned: any certificate may be deployed.
    let nothing_pinned = matches!(evaluation.outcome, EndpointOutcome::NoUsableRecords);
    let consistent_everywhere = host
        .tlsa_lookup_in_force()
        .and_then(|lookup| (context.zone_consistent)(&lookup.name));
    let safe_to_deploy = matches
        && consistent_everywhere != Some(false)
        && (nothing_pinned
            || matches!((published_seconds, required_seconds), (Some(p), Some(r)) if p >= r));
    FileMatch {
        consistent_everywhere,
        matches,
        matched_records,
        failure,
        published_since,
        published_seconds,
        required_seconds,
        safe_to_deploy,
    }
}

/// Whether every endpoint that presented a chain presents `spki` as a leaf key.
fn served(host: &MxHostReport, spki: &str) -> Option<bool> {
    let mut any = false;
    let mut all = true;
    for endpoint in &host.endpoints {
        let mut leaves: Vec<&str> = endpoint
            .chain
            .first()
            .map(|c| c.spki_sha256.as_str())
            .into_iter()
            .collect();
        for k in &endpoint.key_algorithms {
            if let KeyAlgorithmState::Offered { leaf: Some(l), .. } = &k.state {
                leaves.push(&l.spki_sha256);
            }
        }
        if leaves.is_empty() {
            continue;
        }
        any = true;
        all &= leaves.contains(&spki);
    }
    any.then_some(all)
}
