//! The local-certificate check: local certificate files (the live one Postfix loads, a staged
//! next one, or a certbot lineage) against the published TLSA records: is the next key already
//! published, for how long, is it safe to deploy, and does the file on disk still match anything
//! before a reload makes it live.
//!
//! - `run`: every file read afresh each round (`files`).
//! - `judge`: each chain through the DANE rules against this round's TLSA RRset (pure; the
//!   publication history comes from `crate::history`).
//! - `report`: inputs and results; `series`, `text`: its metrics and its part of `check`.
//!
//! Safe to deploy (RFC 7671 section 8.1): a record matching the file's chain has been published,
//! as first seen by our probes, for at least two TTLs of the TLSA RRset. Unknown TTL: not safe.
//! With the authoritative checks a record's clock starts only once every nameserver of the TLSA
//! zone agrees, and a file is not safe to deploy while they disagree
//! (`FileMatch::consistent_everywhere`). Without them (disabled, or outbound) the resolver's view
//! is all there is.

mod files;
mod judge;
mod report;
mod run;
mod series;
mod text;

pub use files::{lineage_files, parse_pem_chain, read_bounded, read_chain, MAX_CERTIFICATES};
pub use judge::{judge, CertificateContext};
pub use report::{
    CertificateSource, CertificateSpec, FileMatch, LoadedFile, LocalCertError, LocalCertReport,
    Seen, Slot, MAX_FILE_BYTES,
};
pub use run::run;
pub use series::add as add_series;
pub use text::lines;
