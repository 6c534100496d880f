//! The local-certificate check's inputs and results: which files (per MX host, live and staged,
//! or a certbot lineage), what was read, and what each file means for the MX host's TLSA records.
//!
//! The `certificates` key of an inbound target:
//!
//! ```yaml
//! inbound:
//!   - domain: example.org
//!     certificates:
//!       - mx: mx1.example.org
//!         live: /etc/postfix/tls/mx1.pem          # what smtpd_tls_chain_files loads: PEM, leaf first
//!         staged: /etc/postfix/tls/mx1.next.pem   # optional: the next certificate, not yet deployed
//!       - mx: mx2.example.org
//!         lineage: /etc/letsencrypt/live/mx2.example.org   # a certbot lineage directory
//! ```
//!
//! `mx` must be an MX host name of the domain (checked at probe time, when the MX RRset is known);
//! exactly one of `live` and `lineage`; `staged` only beside `live`. One MX host may have several
//! entries (a dual ECDSA+RSA server has a chain file per key), each file once; their reports and
//! metrics are told apart by the leaf's key algorithm. Relative paths are relative
//! to the config file's directory. The files are not read here: they change under the running
//! exporter (renewals), so they are read afresh every round and their problems reported as
//! findings, not as configuration errors.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::{CertificateInfo, KeyAlgorithm, UnixSeconds};

/// Largest certificate file read. A PEM chain of a few certificates is 2-10 KiB; a combined
/// key+chain file a little more. Anything far bigger is not what Postfix loads.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;

/// Local certificate files of one MX host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSpec {
    /// The MX host name, normalised.
    pub mx: String,
    /// Where the files are.
    pub source: CertificateSource,
}

/// How the live and staged certificates are found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateSource {
    /// Named files (PEM, leaf first, then the chain as served).
    Files {
        /// The certificate Postfix serves, or will serve after its next reload.
        live: PathBuf,
        /// The next certificate, staged but not deployed.
        staged: Option<PathBuf>,
    },
    /// A certbot lineage directory (`/etc/letsencrypt/live/NAME`): live is its `fullchain.pem`;
    /// staged is a higher-numbered `fullchainN.pem` in the archive directory its symlink points
    /// into, when there is one (see `super::files::lineage_files`).
    Lineage(PathBuf),
}

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

/// Whether two certificate reports would have the same metric labels.
pub fn same_series(a: &LocalCertReport, b: &LocalCertReport) -> bool {
    a.mx == b.mx && a.slot == b.slot && a.key_algorithm == b.key_algorithm
}

/// The `key_algorithm` label value of a file's leaf.
pub fn algorithm_label(algorithm: Option<KeyAlgorithm>) -> &'static str {
    algorithm.map_or("other", KeyAlgorithm::as_str)
}

/// When a record was first seen and the TTL that bounds caches of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// First probe that saw the record (Unix time of its start).
    pub first_seen: UnixSeconds,
    /// Largest TTL of the RRset answered from the round before `first_seen` on.
    pub max_ttl: Option<u32>,
}
