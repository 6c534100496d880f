//! The exporter's configuration file: which mail domains to watch, how often, and how to probe them.
//!
//! The exporter reads a YAML file (`--config.file`) when it starts, on SIGHUP and on
//! `POST /-/reload`; `--config.check` only validates it. [`load`] and [`parse`] are pure: they
//! read the file (and look whether a configured trust anchor file exists) and return a [`Config`]
//! or a [`ConfigError`], so a bad file on reload leaves the running configuration in place.
//! The scheduler takes [`Config::targets`]: one [`Target`] per watched domain and direction, with
//! every setting resolved here, once: the global defaults and the target's overrides merged, the
//! direction-dependent defaults applied (MTA-STS, authoritative checks, key-algorithm sessions).
//! The `/probe` endpoint uses [`Config::probe_allowed`] and [`Config::adhoc_target`];
//! `dane_exporter check` resolves its one domain with [`Config::resolve`].
//!
//! # Format
//!
//! ```yaml
//! global:                       # every key optional; defaults shown
//!   interval: 5m                # between two probes of a target (humantime; at least 10s)
//!   timeout: 2m                 # whole-probe deadline; at most interval
//!   step_timeout: 10s           # each DNS lookup, TCP connect, TLS handshake; at most timeout
//!   smtp_reply_timeout: 1m      # each SMTP reply (greeting, EHLO, STARTTLS): greet-pausing
//!                               # servers are normal; a target's is at most its timeout
//!   concurrency: 64             # probes running at once, 1..=10000
//!   host_concurrency: 4         # SMTP connections open at once to one MX host address, 1..=1000
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
//!   expect: ~                   # dane or any; absent: dane inbound, any outbound
//!   canary_secure_name: "."     # the resolver canary: must validate (AD)
//!   canary_bogus_name: dnssec-failed.org  # must fail validation (SERVFAIL); "" skips it
//! probe_allow: ["*.example.org", "example.net"]  # absent: /probe takes the targets only
//! modules:                      # /probe?module=quick, beside inbound and outbound
//!   quick: {direction: outbound, timeout: 20s, mta_sts: false}
//! inbound:                      # our domains (others send to us)
//!   - domain: example.org
//!     labels: {team: mail}
//!     interval: 1m              # overrides: interval, timeout, step_timeout, dnssec_mode,
//!                               # nameservers, trust_anchor_file, expect
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
//!     metrics: full             # full (default) or summary: a few series per domain
//!   - domains_file: recipients.txt  # one domain per line, `#` comments; relative to this file
//!     labels: {list: recipients}    # labels and overrides for every domain of the list
//!     metrics: summary          # the default for a list
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
mod lists;
mod model;
mod names;
mod operations;
mod reader;
mod shard;
#[cfg(test)]
mod tests;
mod values;

use std::path::Path;

pub use crate::checks::local_certs::{CertificateSource, CertificateSpec};
pub use crate::target::{Target, TargetSettings};
pub use error::{ConfigError, Human, Problem};
pub use model::{Config, Global, Module, Overrides, TargetSpec, MAX_CONCURRENCY, MIN_INTERVAL};
pub use names::{
    check_label_name, normalize_domain, parse_nameserver, DomainError, DomainPattern,
    LabelNameError, RESERVED_LABELS,
};
pub use operations::{DirectionScope, OperationsConfig};
pub use shard::{shard_hash, Shard, ShardError};
pub use values::read_service_ca;

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
