//! dane_exporter: watches the DANE (RFC 7672) health of mail domains for Prometheus.
//!
//! # Layout
//!
//! Imports only go down this list; `tests/integration/layers.rs` fails on an upward import or a
//! module cycle.
//!
//! ```text
//! main.rs (binary)   flags -> a Config (the exporter) or one Target (`check`); same path after
//! demo  cli          `dane_exporter demo`: signed zone, mail servers, the exporter, on loopback |
//!                    the subcommands `check` and `tlsa` (flags, run, exit status) and what
//!                    they share (network flags, status line)
//! exporter           the running exporter: config in force, scheduler, store, own metrics
//!   retained ingest  its database side (history restored, TLS-RPT totals) | `tlsrpt ingest`
//! config             the YAML file -> fully resolved Targets (every setting resolved once)
//! web                HTTP: /metrics, /probe, health, reload; TLS and basic auth (web config);
//!                    the TLS-RPT listener (POST /tlsrpt)
//! scheduler          every target on its interval; run_one: one probe under its deadline
//! store  database    the latest series per target, read at scrape time | the SQLite file:
//!                    target states, verdict history, TLS-RPT reports, on a writer thread
//! metrics  text      the metric table and the encoder | the human report of `check`
//! logging            log lines as Prometheus writes them; `check`'s status line
//! probe  tlsa        runs the checks of one target, assembles and judges one report; unknown
//!                    when the exporter cannot see (sight), expectations (expect) | the
//!                    `tlsa` command: records to publish, where a key rollover stands
//! history  report    what crosses rounds | DomainReport: every check's output
//! target             one target with every setting resolved
//! checks/            one folder per check, each: run (I/O), judge (pure), series, text
//!   mx key_algorithms services mta_sts authoritative local_certs
//! dns  smtp  tls     I/O: lookups with their DNSSEC state, resolver health; the SMTP dialogue,
//!                    its egress; the handshake
//! dane  tlsrpt       the DANE rules, pure | TLS-RPT reports (RFC 8460): parse, validate, add up
//! core  yaml         the types every layer speaks (facts, findings, reasons, sink) | YAML walk
//! ```
//!
//! - [`core`]: time, names, DNS answers, TLSA records, certificates, DANE evaluations, SMTP
//!   sessions, the MX facts, [`core::Finding`] and [`core::Reason`], the [`core::Sink`] of series.
//! - [`dane`]: RFC 6698/7671/7672 matching, name checks, DANE-TA chains; pure functions.
//! - [`tlsrpt`]: RFC 8460 reports: bounded decoding, validation, the senders' view, correlation.
//! - [`dns`], [`smtp`], [`tls`]: the I/O, each bounded and under a timeout.
//! - [`checks`]: what is checked, one folder per check.
//! - [`target`], [`report`], [`history`], [`probe`]: one probe of one target.
//! - [`tlsa`]: the `tlsa` command (records for the current and next key, `--check`).
//! - [`metrics`], [`text`]: a report as series and as text.
//! - [`store`], [`database`], [`scheduler`], [`web`], [`config`], [`exporter`], [`retained`],
//!   [`ingest`]: the running exporter, what it keeps across restarts, and `tlsrpt ingest`.
//! - [`demo`]: the exporter against an in-process world of signed zones and mail servers; its
//!   servers are the tests' fixtures too.
//! - [`cli`]: the subcommands `check` and `tlsa` (clap flags, run, exit status) and what they
//!   share, so that `main.rs` stays wiring.
//! - [`yaml`]: what the config and web config readers share: the error naming file, line and key.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checks;
pub mod cli;
pub mod config;
pub mod core;
pub mod dane;
pub mod database;
#[cfg(feature = "demo")]
pub mod demo;
pub mod dns;
pub mod exporter;
pub mod history;
pub mod ingest;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod report;
pub mod retained;
pub mod scheduler;
pub mod smtp;
pub mod store;
pub mod target;
pub mod text;
pub mod tls;
pub mod tlsa;
pub mod tlsrpt;
pub mod web;
pub mod yaml;
