//! The exporter's configuration file: which mail domains to watch, how often, and how to probe them.
//!
//! The exporter reads a YAML file (`--config.file`) when it starts, on SIGHUP and on
//! `POST /-/reload`; `--config.check` only validates it. [`load`] and [`parse`] are pure: they
//! read the file (and look whether a configured trust anchor file exists) and return a [`Config`]
//! or a [`ConfigError`], so a bad file on reload leaves the running configuration in place.
//! The scheduler takes [`Config::targets`]: one [`Target`] per watched domain and direction, with
//! the global defaults and the target's overrides already merged into the [`DnsSettings`] and
//! [`SmtpSettings`] that `crate::probe` consumes. The `/probe` endpoint uses
//! [`Config::probe_allowed`] and [`Config::adhoc_target`].
//!
//! # Format
//!
//! ```yaml
//! global:                       # every key optional; defaults shown
//!   interval: 5m                # between two probes of a target (humantime; at least 10s)
//!   timeout: 30s                # whole-probe deadline; at most interval
//!   step_timeout: 10s           # each DNS lookup and SMTP step; at most timeout
//!   concurrency: 64             # probes running at once, 1..=10000
//!   dnssec_mode: trust-resolver # or validate
//!   nameservers: []             # IP, IP:PORT or [IPv6]:PORT; empty: /etc/resolv.conf
//!   trust_anchor_file: ~        # DNSKEY file replacing the built-in root anchor (validate mode)
//!   ehlo_name: dane-exporter.invalid
//!   smtp_port: 25               # for tests only; the TLSA name follows it
//!   service_ca_file: ~          # PEM CAs trusted (besides Mozilla's roots) for PKIX TLSA usages
//!   mta_sts_ca_file: ~          # PEM roots trusted for MTA-STS besides Mozilla's (private CA)
//!   https_port: 443             # MTA-STS policy host port; for tests only
//!   authoritative_checks: inbound  # none, inbound or all: whose zones' nameservers are asked
//!   authoritative_port: 53      # for tests only: NS records carry no port
//!   key_algorithm_checks: inbound  # none, inbound or all: whose endpoints get one more STARTTLS
//!                               # session for the other key algorithm (RSA/ECDSA)
//!   tlsa_max_records: 12        # warn above this many TLSA records
//!   tlsa_max_ttl: 1d            # warn above this TLSA TTL
//!   tlsa_stale_after: 90d       # warn when a record matched nothing this long
//! probe_allow: ["*.example.org", "example.net"]  # absent: /probe takes any domain
//! inbound:                      # our domains (others send to us)
//!   - domain: example.org
//!     labels: {team: mail}
//!     interval: 1m              # overrides: interval, timeout, step_timeout, dnssec_mode,
//!                               # nameservers, trust_anchor_file
//!     services:                 # other TLS services, each against _PORT._tcp.HOST TLSA
//!       - host: imap.example.org
//!         port: 993             # protocol and tls inferred for 465 587 993 143 995 110 443
//!       - {host: mail.example.org, port: 10143, protocol: imap, tls: starttls}
//!     mta_sts: true             # check MTA-STS; default true inbound, false outbound
//!     tls_rpt: true             # check TLS-RPT; default true inbound, false outbound
//!     certificates:             # inbound only: local certificate files (certificates.rs)
//!       - {mx: mx.example.org, live: /etc/postfix/mx.pem, staged: /etc/postfix/mx.next.pem}
//! outbound:                     # domains we send to
//!   - domain: gmail.com
//! ```
//!
//! Rules: unknown keys are errors; domains are checked and normalised (lower case, no trailing
//! dot); a domain appears at most once per direction; extra label names follow Prometheus syntax
//! and must not be one the exporter sets (see [`RESERVED_LABELS`]); relative `trust_anchor_file`
//! paths are relative to the config file's directory, and the file must exist. An empty file (or
//! one with only comments) is a valid configuration with the defaults and no targets, as in
//! Prometheus: the exporter then only serves `/probe`. Only the first error is reported.
//!
//! The YAML is read with `saphyr` into a tree that keeps the position of every node, so that each
//! error, including those found after parsing (a duplicate domain, a timeout above its interval),
//! names the line of its key.

mod certificates;
mod error;
mod names;
mod operations;
mod reader;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::dane::PkixTrust;
use crate::service::ServiceSpec;

use crate::dns::{DnsSettings, DnssecMode};
use crate::mta_sts::MtaStsSettings;
use crate::report::Direction;
use crate::smtp::SmtpSettings;

pub use certificates::{CertificateSource, CertificateSpec};
pub use error::{ConfigError, Human, Problem};
pub use names::{
    check_label_name, normalize_domain, parse_nameserver, DomainError, DomainPattern,
    LabelNameError, RESERVED_LABELS,
};
pub use operations::{DirectionScope, OperationsConfig};

/// Shortest allowed probe interval: probing more often only loads the remote mail servers.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Largest allowed `concurrency`.
pub const MAX_CONCURRENCY: usize = 10_000;

/// Settings that apply to every target unless it overrides them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// Time between the starts of two probes of one target.
    pub interval: Duration,
    /// Deadline of one whole probe (all MX hosts and addresses).
    pub timeout: Duration,
    /// Deadline of each DNS lookup and each SMTP step.
    pub step_timeout: Duration,
    /// How many probes may run at once.
    pub concurrency: usize,
    /// How DNSSEC security is established.
    pub dnssec_mode: DnssecMode,
    /// Nameservers to ask; empty means those of `/etc/resolv.conf`.
    pub nameservers: Vec<SocketAddr>,
    /// DNSKEY file replacing the built-in root trust anchor in validate mode; resolved against the
    /// config file's directory.
    pub trust_anchor_file: Option<PathBuf>,
    /// Our name in EHLO.
    pub ehlo_name: String,
    /// SMTP port; 25 except in tests.
    pub smtp_port: u16,
    /// PEM bundle of extra CAs trusted, next to Mozilla's roots, for the PKIX usages (0, 1) of
    /// the services' TLSA records; resolved against the config file's directory.
    pub service_ca_file: Option<PathBuf>,
    /// Its content, read and checked when the file was loaded.
    pub service_ca_pem: Option<Vec<u8>>,
    /// PEM roots trusted for MTA-STS besides Mozilla's; resolved against the config file's
    /// directory.
    pub mta_sts_ca_file: Option<PathBuf>,
    /// Port of MTA-STS policy hosts; 443 except in tests.
    pub https_port: u16,
    /// Authoritative consistency, hygiene and key-algorithm settings (`authoritative_checks`,
    /// `authoritative_port`, `key_algorithm_checks`, `tlsa_max_records`, `tlsa_max_ttl`,
    /// `tlsa_stale_after`).
    pub operations: OperationsConfig,
}

impl Default for Global {
    fn default() -> Self {
        let smtp = SmtpSettings::default();
        Self {
            interval: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            step_timeout: smtp.step_timeout,
            concurrency: 64,
            dnssec_mode: DnssecMode::default(),
            nameservers: Vec::new(),
            trust_anchor_file: None,
            ehlo_name: smtp.ehlo_name,
            smtp_port: smtp.port,
            service_ca_file: None,
            service_ca_pem: None,
            mta_sts_ca_file: None,
            https_port: 443,
            operations: OperationsConfig::default(),
        }
    }
}

/// Per-target replacements of [`Global`] settings; `None` keeps the global value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Replaces [`Global::interval`].
    pub interval: Option<Duration>,
    /// Replaces [`Global::timeout`].
    pub timeout: Option<Duration>,
    /// Replaces [`Global::step_timeout`].
    pub step_timeout: Option<Duration>,
    /// Replaces [`Global::dnssec_mode`].
    pub dnssec_mode: Option<DnssecMode>,
    /// Replaces [`Global::nameservers`] (an empty list means `/etc/resolv.conf`).
    pub nameservers: Option<Vec<SocketAddr>>,
    /// Replaces [`Global::trust_anchor_file`].
    pub trust_anchor_file: Option<PathBuf>,
    /// Check MTA-STS; `None`: yes for inbound, no for outbound.
    pub mta_sts: Option<bool>,
    /// Check TLS-RPT; `None`: yes for inbound, no for outbound.
    pub tls_rpt: Option<bool>,
}

/// One entry of `inbound` or `outbound`, as written (after validation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSpec {
    /// The mail domain, normalised.
    pub domain: String,
    /// Extra labels on this target's metrics.
    pub labels: BTreeMap<String, String>,
    /// Settings replacing the global ones.
    pub overrides: Overrides,
    /// Other TLS services of the domain to check against their TLSA records (`crate::service`).
    pub services: Vec<ServiceSpec>,
    /// Local certificate files per MX host (inbound only; see `certificates.rs`).
    pub certificates: Vec<CertificateSpec>,
}

/// A validated configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Defaults for every target.
    pub global: Global,
    /// Domains `/probe` may be asked for; `None` (key absent) allows any domain, an empty list none.
    pub probe_allow: Option<Vec<DomainPattern>>,
    /// Our own domains: others send to us.
    pub inbound: Vec<TargetSpec>,
    /// Domains we send to.
    pub outbound: Vec<TargetSpec>,
}

/// A domain to probe on a schedule, with every setting resolved.
#[derive(Clone, Debug)]
pub struct Target {
    /// The mail domain, normalised.
    pub domain: String,
    /// Which list it came from.
    pub direction: Direction,
    /// Extra labels on its metrics.
    pub labels: BTreeMap<String, String>,
    /// Time between the starts of two probes.
    pub interval: Duration,
    /// Deadline of one whole probe.
    pub timeout: Duration,
    /// How to do its DNS lookups.
    pub dns: DnsSettings,
    /// How to talk SMTP to its MX hosts.
    pub smtp: SmtpSettings,
    /// Other TLS services to probe with the domain.
    pub services: Vec<ServiceSpec>,
    /// Roots for those services' PKIX usages: Mozilla's plus `global.service_ca_file`.
    pub service_trust: Arc<PkixTrust>,
    /// Whether and how MTA-STS and TLS-RPT are checked.
    pub mta_sts: MtaStsSettings,
    /// Local certificate files to compare with the TLSA records (inbound only).
    pub certificates: Vec<CertificateSpec>,
    /// Authoritative consistency and hygiene settings (global only).
    pub operations: OperationsConfig,
}

impl Config {
    /// Every target, inbound first, in file order, with global defaults and overrides merged.
    pub fn targets(&self) -> Vec<Target> {
        let inbound = self.inbound.iter().map(|t| (t, Direction::Inbound));
        let outbound = self.outbound.iter().map(|t| (t, Direction::Outbound));
        let trust = self.service_trust();
        inbound
            .chain(outbound)
            .map(|(spec, direction)| self.resolve(spec, direction, &trust))
            .collect()
    }

    /// Mozilla's roots plus the configured service CA bundle (checked when it was loaded).
    pub fn service_trust(&self) -> Arc<PkixTrust> {
        let roots = PkixTrust::public_roots();
        let trust = match &self.global.service_ca_pem {
            Some(pem) => roots.clone().with_pem_bundle(pem).unwrap_or(roots),
            None => roots,
        };
        Arc::new(trust)
    }

    /// Whether `/probe` may probe this domain (normalise it first with [`normalize_domain`]).
    pub fn probe_allowed(&self, domain: &str) -> bool {
        match &self.probe_allow {
            None => true,
            Some(patterns) => patterns.iter().any(|p| p.matches(domain)),
        }
    }

    /// A target with the global settings only and no extra labels, for a `/probe` request. The
    /// domain should be normalised and allowed (see [`Config::probe_allowed`]).
    pub fn adhoc_target(&self, domain: &str, direction: Direction) -> Target {
        let spec = TargetSpec {
            domain: domain.to_string(),
            labels: BTreeMap::new(),
            overrides: Overrides::default(),
            services: Vec::new(),
            certificates: Vec::new(),
        };
        self.resolve(&spec, direction, &Arc::new(PkixTrust::empty()))
    }

    fn resolve(&self, spec: &TargetSpec, direction: Direction, trust: &Arc<PkixTrust>) -> Target {
        let global = &self.global;
        let over = &spec.overrides;
        let step_timeout = over.step_timeout.unwrap_or(global.step_timeout);
        Target {
            domain: spec.domain.clone(),
            direction,
            labels: spec.labels.clone(),
            interval: over.interval.unwrap_or(global.interval),
            timeout: over.timeout.unwrap_or(global.timeout),
            dns: DnsSettings {
                mode: over.dnssec_mode.unwrap_or(global.dnssec_mode),
                nameservers: over
                    .nameservers
                    .clone()
                    .unwrap_or_else(|| global.nameservers.clone()),
                trust_anchor_file: over
                    .trust_anchor_file
                    .clone()
                    .or_else(|| global.trust_anchor_file.clone()),
                timeout: step_timeout,
            },
            smtp: SmtpSettings {
                port: global.smtp_port,
                ehlo_name: global.ehlo_name.clone(),
                step_timeout,
            },
            services: spec.services.clone(),
            service_trust: Arc::clone(trust),
            // Our own domains get MTA-STS and TLS-RPT checked unless told otherwise: they are ours
            // to fix. For domains we send to, it is opt-in.
            mta_sts: MtaStsSettings {
                mta_sts: over.mta_sts.unwrap_or(direction == Direction::Inbound),
                tls_rpt: over.tls_rpt.unwrap_or(direction == Direction::Inbound),
                ca_file: global.mta_sts_ca_file.clone(),
                https_port: global.https_port,
            },
            certificates: spec.certificates.clone(),
            operations: global.operations,
        }
    }
}

/// Reads and validates the config file at `path`. Pure apart from reading: nothing is changed.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Validates config text. `path` names the file in errors, and its directory is the base of
/// relative `trust_anchor_file` paths (whose existence is checked).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    reader::read(text, path)
}
