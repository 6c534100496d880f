//! The `certificates` key of an inbound target: local certificate files per MX host, whose keys
//! `crate::local_certs` compares with the published TLSA records every probe round (issue 7,
//! "staged next certificate").
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
    /// into, when there is one (see `crate::local_certs`).
    Lineage(PathBuf),
}
