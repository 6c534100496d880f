//! dane_exporter: watches the DANE (RFC 7672) health of mail domains for Prometheus.
//!
//! # Layout
//!
//! Data flows one way:
//!
//! ```text
//! dns (MX, TLSA, A/AAAA + DNSSEC) ─┐
//!                                  ├─> probe ─> dane (pure rules) ─> verdict ─> report ─> check (CLI)
//! smtp + tls (STARTTLS, chain) ────┘
//! ```
//!
//! - [`dns`]: lookups with their DNSSEC status, in two modes (trust the resolver's AD bit, or
//!   validate here).
//! - [`smtp`], `tls`: the SMTP dialogue up to a finished TLS handshake, capturing the chain.
//! - [`dane`]: RFC 6698/7671/7672 matching, name checks, DANE-TA chains; pure functions.
//! - [`probe`]: the lookup order of RFC 7672 section 2: MX, then per host TLSA and addresses, then
//!   one STARTTLS session per address. The only module that sequences I/O.
//! - [`key_algorithms`]: every key algorithm's chain per address (one restricted extra session),
//!   each judged by the DANE rules; latent mismatches become warnings.
//! - [`local_certs`]: local certificate files (live, staged, certbot lineages) against the TLSA
//!   records, with the publication history "safe to deploy" needs.
//! - [`consistency`]: asks every authoritative nameserver of the zones holding the TLSA and MX
//!   RRsets directly, and compares their answers (serial, RRsets, signatures, DNSKEY/DS health).
//! - [`hygiene`]: operational warnings about TLSA RRsets and DNSKEY/DS sets; pure.
//! - [`verdict`]: turns per-endpoint facts into a domain verdict with stable reasons; pure.
//! - [`report`]: the result types a probe produces, serialisable as JSON.
//! - [`check`]: renders a report for humans (`dane_exporter check`).
//! - [`service`]: TLSA for the domain's other TLS services (submission, IMAP, POP3, HTTPS), with
//!   the PKIX usages those may use.
//! - [`scheduler`]: probes every configured target on its interval, with jitter and a cap.
//! - [`store`]: the latest report per target, read at scrape time.
//! - [`stale`]: since when each TLSA record matched nothing, across probes (stale warnings).
//! - [`metrics`]: renders the latest reports as Prometheus metric families.
//! - [`config`]: the YAML config file: targets by direction, global defaults, per-target overrides.
//! - [`web`]: the HTTP side: /metrics, /probe, health, reload; TLS and basic auth from a web config.
//! - [`mta_sts`], [`tls_rpt`]: MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) beside DANE: records,
//!   the policy over HTTPS, MX coverage, WebPKI validation of the MX certificates; own findings.
//! - [`yaml`]: what the config and web config readers share: the error naming file, line and key.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod config;
pub mod consistency;
pub mod dane;
pub mod dns;
pub mod exporter;
pub mod hygiene;
pub mod key_algorithms;
pub mod local_certs;
pub mod metrics;
pub mod mta_sts;
pub mod probe;
pub mod report;
pub mod scheduler;
pub mod service;
pub mod smtp;
pub mod stale;
pub mod store;
mod tls;
pub mod tls_rpt;
pub mod verdict;
pub mod web;
pub mod yaml;
