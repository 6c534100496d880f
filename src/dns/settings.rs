//! How the DNS side is set up: the DNSSEC mode, the nameservers, the trust anchor, the lookup
//! timeout; and why a client could not be built. `crate::config` fills these in for each target.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// How DNSSEC security is established.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnssecMode {
    /// Trust the AD bit of a validating resolver (what Postfix does).
    #[default]
    TrustResolver,
    /// Validate every RRset here, against trust anchors.
    Validate,
}

impl DnssecMode {
    /// The name in the config file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            DnssecMode::TrustResolver => "trust-resolver",
            DnssecMode::Validate => "validate",
        }
    }
}

/// Everything needed to build a [`super::DnsClient`].
#[derive(Clone, Debug)]
pub struct DnsSettings {
    /// How DNSSEC security is established.
    pub mode: DnssecMode,
    /// Nameservers to ask; empty means those of `/etc/resolv.conf`.
    pub nameservers: Vec<SocketAddr>,
    /// DNSKEY records (zone-file lines) that replace the built-in root trust anchor in
    /// [`DnssecMode::Validate`].
    pub trust_anchor_file: Option<PathBuf>,
    /// Time allowed for one lookup, retries included.
    pub timeout: Duration,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            mode: DnssecMode::TrustResolver,
            nameservers: Vec::new(),
            trust_anchor_file: None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why a [`super::DnsClient`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DnsSetupError {
    /// The trust-anchor file could not be read or holds no usable DNSKEY.
    #[error("trust anchor file {path}: {detail}")]
    TrustAnchor {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// `/etc/resolv.conf` could not be read or names no nameserver.
    #[error("system resolver configuration: {0}")]
    SystemConfig(String),
    /// The resolver library refused the configuration.
    #[error("resolver setup: {0}")]
    Resolver(String),
}
