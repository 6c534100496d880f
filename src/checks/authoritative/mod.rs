//! The authoritative check: operational health of the DNS a DANE deployment stands on.
//!
//! - `run`: every zone holding a TLSA or the MX RRset, each of its authoritative nameservers
//!   asked directly (serial, RRsets, RRSIG validity against the served DNSKEYs), the parent's DS
//!   (`report`: the result types).
//! - `judge`: whether the nameservers of a zone agree, and the domain's findings from its zones.
//! - `hygiene`: TLSA RRsets that work today but make the next rollover fragile, DNSKEY/DS sets
//!   that weaken the chain of trust, and stale records (pure rules).
//! - `series`, `text`: its metrics and its part of `dane_exporter check`.
//!
//! Warnings only: the verdict stays the MX check's. Hygiene runs for every target; the
//! nameservers are asked only for targets whose direction `authoritative_checks` covers.

mod hygiene;
mod judge;
mod report;
mod run;
mod series;
mod text;

pub use hygiene::{
    algorithm_name, dnssec_findings, stale_findings, tlsa_findings, tlsa_hygiene,
    unmatched_everywhere, DsFact, HygieneLimits, KeyFact, ZoneKeys,
};
pub use judge::{judge, judge_zone, why_inconsistent};
pub use report::{
    tlsa_zone_consistent, AuthoritativeSettings, NameserverReport, RrsetKey, ServedRrset,
    ZoneReport, MAX_PARALLEL, MAX_SERVERS, MAX_ZONES,
};
pub use run::run;
pub use series::add as add_series;
pub use text::render;
