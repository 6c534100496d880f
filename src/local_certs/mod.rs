//! Local certificate files (the live one Postfix loads, a staged next one) against the published
//! TLSA records: is the next key already published, for how long, is it safe to deploy, and does
//! the file on disk still match anything before a reload makes it live (issue 7, item 3).
//!
//! Data flow: the configuration names files per MX host of an inbound target
//! (`crate::config::CertificateSpec`). After each probe of such a target the scheduler's runner
//! calls [`attach`]: it feeds the report to the exporter's [`PublicationLog`] (state across rounds),
//! reads every file afresh (`files.rs`: bounded, typed errors, never a panic on bad PEM), then
//! [`evaluate`] (pure) checks each chain with the same DANE rules as a presented chain
//! (`crate::dane`), against the MX host's TLSA RRset of this very probe, and fills in
//! `DomainReport::local_certificates` and warnings. `crate::metrics` exposes them per MX host and
//! slot (`live`, `staged`); `dane_exporter check` prints them.
//!
//! Safe to deploy (RFC 7671 section 8.1): a record matching the file's chain has been published,
//! as first seen by our probes, for at least two TTLs of the TLSA RRset. Unknown TTL: not safe.
//!
//! With the authoritative checks (`crate::consistency`, issue 7 item 1) a record's clock starts
//! only once every nameserver of the TLSA zone agrees, and a file is not safe to deploy while they
//! disagree ([`FileMatch::consistent_everywhere`]). Without them (disabled, or outbound) the
//! resolver's view is all there is.

mod files;
mod publication;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::{CertificateSource, CertificateSpec};
use crate::dane::{
    self, describe_certificate, CertificateInfo, EndpointInput, EndpointOutcome, RecordState,
};
use crate::dns::{DnssecStatus, UnixSeconds};
use crate::key_algorithms::{leaf_key_algorithm, KeyAlgorithm, KeyAlgorithmState};
use crate::report::{DomainReport, Finding, HostDane, MxHostReport};

pub use files::{lineage_files, parse_pem_chain, read_chain, MAX_FILE_BYTES};
pub use publication::{PublicationLog, Seen};

/// Which certificate of an MX host a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    /// What Postfix serves, or serves after its next reload.
    Live,
    /// The next certificate, not deployed yet.
    Staged,
}

impl Slot {
    /// Stable snake_case name: the `slot` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Live => "live",
            Slot::Staged => "staged",
        }
    }
}

/// Why a certificate file gave no chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum LocalCertError {
    /// No such file (or directory).
    #[error("no such file")]
    NotFound,
    /// A directory or device where a file was expected.
    #[error("not a regular file")]
    NotAFile,
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("file of {0} bytes is larger than the {MAX_FILE_BYTES} bytes accepted")]
    TooLarge(u64),
    /// Reading failed (permissions...).
    #[error("cannot read: {0}")]
    Io(String),
    /// No PEM `CERTIFICATE` block in the file.
    #[error("no PEM CERTIFICATE block")]
    NoCertificate,
    /// A PEM block that does not decode, or too many certificates.
    #[error("bad PEM: {0}")]
    BadPem(String),
    /// The first certificate is not a parsable X.509 certificate.
    #[error("the first certificate does not parse: {0}")]
    BadCertificate(String),
    /// A certbot lineage that does not look like one.
    #[error("certbot lineage: {0}")]
    Lineage(String),
    /// Reading took longer than the probe's step timeout (a hung network filesystem).
    #[error("reading took longer than {0:?}")]
    Timeout(Duration),
}

/// One certificate file and what it means for the MX host's TLSA records.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocalCertReport {
    /// The MX host the file belongs to.
    pub mx: String,
    /// Live or staged.
    pub slot: Slot,
    /// The file read.
    pub path: PathBuf,
    /// Why it gave no chain, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<LocalCertError>,
    /// Its leaf, when it parsed.
    pub leaf: Option<CertificateInfo>,
    /// The leaf's key algorithm (`None` for other kinds): one MX host may have an ECDSA and an
    /// RSA certificate, each its own entry.
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Against the TLSA RRset, when DANE applies to the MX host and the file was read.
    pub tlsa: Option<FileMatch>,
    /// Whether every endpoint of the MX host presents this leaf key (in any key algorithm's
    /// chain); `None` when no endpoint presented anything. A live file not served is a pending
    /// reload.
    pub served: Option<bool>,
}

/// A file's chain against the published TLSA RRset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileMatch {
    /// A DANE sender would accept this chain (a usable record authenticates it, or the RRset has
    /// no usable record at all).
    pub matches: bool,
    /// The records that authenticate it (`3 1 1 hex`).
    pub matched_records: Vec<String>,
    /// The DANE failure reason when it does not match (`tlsa_mismatch`, `dane_ta_...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When the earliest published of those records was first seen by our probes.
    pub published_since: Option<UnixSeconds>,
    /// Seconds from `published_since` to this probe.
    pub published_seconds: Option<u64>,
    /// Two TTLs of the TLSA RRset (RFC 7671 section 8.1), when the TTL is known.
    pub required_seconds: Option<u64>,
    /// Whether every authoritative nameserver of the TLSA zone serves the same data; `None`
    /// when the authoritative checks did not run.
    pub consistent_everywhere: Option<bool>,
    /// Matches, published for at least `required_seconds` and not contradicted by a lagging
    /// nameserver (or already served by every address, so deploying it changes nothing).
    pub safe_to_deploy: bool,
}

/// A file read for one slot: path and chain or error.
#[derive(Clone, Debug)]
pub struct LoadedFile {
    /// MX host.
    pub mx: String,
    /// Slot.
    pub slot: Slot,
    /// Path read.
    pub path: PathBuf,
    /// The chain, DER, or why not.
    pub chain: Result<Vec<Vec<u8>>, LocalCertError>,
}

/// Reads every configured file (blocking pool, under `limit`), records the report in `log`, and
/// fills in `report.local_certificates` and the warnings. Never fails: every problem is a
/// finding.
pub async fn attach(
    report: &mut DomainReport,
    specs: &[CertificateSpec],
    log: &PublicationLog,
    limit: Duration,
) {
    if specs.is_empty() {
        return;
    }
    log.observe(report);
    let owned: Arc<Vec<CertificateSpec>> = Arc::new(specs.to_vec());
    let reader = Arc::clone(&owned);
    let loaded = match tokio::time::timeout(
        limit,
        tokio::task::spawn_blocking(move || load_all(&reader)),
    )
    .await
    {
        Ok(Ok(loaded)) => loaded,
        // A panic in the reader (it should not happen) or a hung filesystem: every file of
        // this round is reported unread, each with the same cause.
        Ok(Err(join)) => unread(&owned, LocalCertError::Io(format!("reader failed: {join}"))),
        Err(_) => unread(&owned, LocalCertError::Timeout(limit)),
    };
    let domain = report.domain.clone();
    let lookup = |mx: &str, record: &str| log.seen(&domain, mx, record);
    let (certs, warnings) = evaluate(report, specs, &loaded, &lookup);
    report.local_certificates = certs;
    report.warnings.extend(warnings);
}

/// Every file of `specs`, in order: live then staged per MX host.
fn load_all(specs: &[CertificateSpec]) -> Vec<LoadedFile> {
    let mut out = Vec::new();
    for spec in specs {
        let (live, staged) = match &spec.source {
            CertificateSource::Files { live, staged } => (Ok(live.clone()), staged.clone()),
            CertificateSource::Lineage(dir) => match lineage_files(dir) {
                Ok((live, staged)) => (Ok(live), staged),
                Err(e) => (Err(e), None),
            },
        };
        let live = match live {
            Ok(path) => LoadedFile {
                chain: read_chain(&path),
                mx: spec.mx.clone(),
                slot: Slot::Live,
                path,
            },
            Err(e) => LoadedFile {
                mx: spec.mx.clone(),
                slot: Slot::Live,
                path: source_path(&spec.source).to_path_buf(),
                chain: Err(e),
            },
        };
        out.push(live);
        if let Some(path) = staged {
            out.push(LoadedFile {
                chain: read_chain(&path),
                mx: spec.mx.clone(),
                slot: Slot::Staged,
                path,
            });
        }
    }
    out
}

fn source_path(source: &CertificateSource) -> &Path {
    match source {
        CertificateSource::Files { live, .. } => live,
        CertificateSource::Lineage(dir) => dir,
    }
}

fn unread(specs: &[CertificateSpec], error: LocalCertError) -> Vec<LoadedFile> {
    specs
        .iter()
        .map(|spec| LoadedFile {
            mx: spec.mx.clone(),
            slot: Slot::Live,
            path: source_path(&spec.source).to_path_buf(),
            chain: Err(error.clone()),
        })
        .collect()
}

/// The reports and warnings for `loaded` against `report`'s TLSA RRsets. Pure: the publication
/// history comes in through `seen` (MX host, record text).
pub fn evaluate(
    report: &DomainReport,
    specs: &[CertificateSpec],
    loaded: &[LoadedFile],
    seen: &dyn Fn(&str, &str) -> Option<Seen>,
) -> (Vec<LocalCertReport>, Vec<Finding>) {
    let mut warnings = Vec::new();
    let finding = |reason: &str, mx: &str, message: String| Finding {
        reason: reason.to_string(),
        mx: Some(mx.to_string()),
        address: None,
        message,
    };
    let mx_secure = report.mx_lookup.dnssec == DnssecStatus::Secure;
    for spec in specs {
        if !report.hosts.iter().any(|h| h.name == spec.mx) && report.mx_lookup.error.is_none() {
            warnings.push(finding(
                "local_certificate_mx_not_found",
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
                    "local_certificate_unreadable",
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
                let mut matched = file_match(report, host, chain, mx_secure, seen);
                // Already served everywhere and accepted: reloading it changes nothing.
                if matched.matches && cert.served == Some(true) {
                    matched.safe_to_deploy = true;
                }
                if !matched.matches {
                    let (reason, what) = match file.slot {
                        Slot::Live => (
                            "local_certificate_unpublished",
                            "reloading or restarting Postfix makes DANE senders defer mail",
                        ),
                        Slot::Staged => (
                            "staged_certificate_unpublished",
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
                "local_certificate_ambiguous",
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

/// Whether two certificate reports would have the same metric labels.
fn same_series(a: &LocalCertReport, b: &LocalCertReport) -> bool {
    a.mx == b.mx && a.slot == b.slot && a.key_algorithm == b.key_algorithm
}

/// The `key_algorithm` label value of a file's leaf.
fn algorithm_label(algorithm: Option<KeyAlgorithm>) -> &'static str {
    algorithm.map_or("other", KeyAlgorithm::as_str)
}

/// The file's chain through the DANE rules, and how long its matching records have been out.
fn file_match(
    report: &DomainReport,
    host: &MxHostReport,
    chain: &[Vec<u8>],
    mx_secure: bool,
    seen: &dyn Fn(&str, &str) -> Option<Seen>,
) -> FileMatch {
    // Reference identifiers as for a presented chain (RFC 7672 3.2.2).
    let mut names: Vec<String> = host.tlsa_base_domain.iter().cloned().collect();
    if mx_secure && !names.contains(&host.name) {
        names.push(host.name.clone());
    }
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
        EndpointOutcome::Failed(f) => Some(f.reason().to_string()),
        _ => None,
    };
    let matches = evaluation.passes();
    let sightings: Vec<Seen> = matched_records
        .iter()
        .filter_map(|r| seen(&host.name, r))
        .collect();
    let published_since = sightings.iter().map(|s| s.first_seen).min();
    let max_ttl = sightings.iter().filter_map(|s| s.max_ttl).max();
    let published_seconds =
        published_since.map(|t| u64::try_from(report.checked_at - t).unwrap_or(0));
    let required_seconds = max_ttl.map(|ttl| 2 * u64::from(ttl));
    // With no usable record at all, no key is pinned: any certificate may be deployed.
    let nothing_pinned = matches!(evaluation.outcome, EndpointOutcome::NoUsableRecords);
    let consistent_everywhere = publication::tlsa_zone_consistent(report, host);
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

/// Lines for `dane_exporter check`: each certificate file and its standing.
pub fn render_lines(certs: &[LocalCertReport]) -> Vec<String> {
    let mut lines = Vec::new();
    for cert in certs {
        lines.push(format!(
            "{} {} {}{}",
            cert.mx,
            cert.slot.as_str(),
            cert.path.display(),
            cert.key_algorithm
                .map(|a| format!(" ({})", a.as_str().to_uppercase()))
                .unwrap_or_default()
        ));
        if let Some(error) = &cert.error {
            lines.push(format!("  UNREADABLE: {error}"));
            continue;
        }
        if let Some(leaf) = &cert.leaf {
            lines.push(format!(
                "  {}, key 3 1 1 {}",
                leaf.subject, leaf.spki_sha256
            ));
        }
        match cert.served {
            Some(true) => lines.push("  served by every address".to_string()),
            Some(false) => {
                lines.push("  not served (yet): a reload or deployment is pending".to_string())
            }
            None => {}
        }
        match &cert.tlsa {
            None => {
                lines.push("  DANE does not apply to this MX host: nothing to match".to_string())
            }
            Some(m) if !m.matches => lines.push(format!(
                "  NO PUBLISHED TLSA RECORD MATCHES ({})",
                m.failure.as_deref().unwrap_or("tlsa_mismatch")
            )),
            Some(m) => {
                lines.push(format!("  matched by: {}", m.matched_records.join(", ")));
                let published = m
                    .published_seconds
                    .map(|s| format!("{s} s (first seen by this process)"))
                    .unwrap_or_else(|| "unknown".to_string());
                let required = m
                    .required_seconds
                    .map(|s| format!("{s} s"))
                    .unwrap_or_else(|| "unknown (no TTL)".to_string());
                let nameservers = match m.consistent_everywhere {
                    Some(true) => "; every authoritative nameserver agrees",
                    Some(false) => "; AUTHORITATIVE NAMESERVERS DISAGREE",
                    None => "",
                };
                lines.push(format!(
                    "  published for {published}; two TTLs = {required}{nameservers}; safe to deploy: {}",
                    if m.safe_to_deploy { "yes" } else { "not yet" }
                ));
            }
        }
    }
    lines
}

/// The series of one report's local certificates, labelled `mx` and `slot` after `base`.
/// `gauge` is `crate::metrics`' collector (name, labels, value).
pub fn add_metrics(
    base: &[(&str, &str)],
    certs: &[LocalCertReport],
    gauge: &mut crate::metrics::GaugeSink<'_>,
) {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    for (i, cert) in certs.iter().enumerate() {
        // Unreadable files have no series; of two with the same labels the first counts (see the
        // `local_certificate_ambiguous` warning).
        if cert.leaf.is_none()
            || certs[..i]
                .iter()
                .any(|c| c.leaf.is_some() && same_series(c, cert))
        {
            continue;
        }
        let mut labels = base.to_vec();
        labels.push(("mx", &cert.mx));
        labels.push(("slot", cert.slot.as_str()));
        labels.push(("key_algorithm", algorithm_label(cert.key_algorithm)));
        if let Some(leaf) = &cert.leaf {
            gauge(
                "dane_local_certificate_not_after_timestamp_seconds",
                &labels,
                leaf.not_after as f64,
            );
        }
        if let Some(served) = cert.served {
            gauge("dane_local_certificate_served", &labels, flag(served));
        }
        let Some(tlsa) = &cert.tlsa else { continue };
        gauge(
            "dane_local_certificate_tlsa_match",
            &labels,
            flag(tlsa.matches),
        );
        gauge(
            "dane_local_certificate_safe_to_deploy",
            &labels,
            flag(tlsa.safe_to_deploy),
        );
        if let Some(seconds) = tlsa.published_seconds {
            gauge(
                "dane_local_certificate_published_seconds",
                &labels,
                seconds as f64,
            );
        }
        if let Some(seconds) = tlsa.required_seconds {
            gauge(
                "dane_local_certificate_required_publication_seconds",
                &labels,
                seconds as f64,
            );
        }
    }
}
