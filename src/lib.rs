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
//! - [`consistency`]: asks every authoritative nameserver of the zones holding the TLSA and MX
//!   RRsets directly, and compares their answers (serial, RRsets, signatures, DNSKEY/DS health).
//! - [`hygiene`]: operational warnings about TLSA RRsets and DNSKEY/DS sets; pure.
//! - [`verdict`]: turns per-endpoint facts into a domain verdict with stable reasons; pure.
//! - [`report`]: the result types a probe produces, serialisable as JSON.
//! - [`check`]: renders a report for humans (`dane_exporter check`).
//! - [`scheduler`]: probes every configured target on its interval, with jitter and a cap.
//! - [`store`]: the latest report per target, read at scrape time.
//! - [`stale`]: since when each TLSA record matched nothing, across probes (stale warnings).
//! - [`metrics`]: renders the latest reports as Prometheus metric families.
//! - [`config`]: the YAML config file: targets by direction, global defaults, per-target overrides.
//! - [`web`]: the HTTP side: /metrics, /probe, health, reload; TLS and basic auth from a web config.
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
pub mod metrics;
pub mod probe;
pub mod report;
pub mod scheduler;
pub mod smtp;
pub mod stale;
pub mod store;
mod tls;
pub mod verdict;
pub mod web;
pub mod yaml;
