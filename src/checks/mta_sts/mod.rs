//! The MTA-STS check: MTA-STS (RFC 8461) and TLS-RPT (RFC 8460), the transport security a domain
//! offers senders that do not validate DNSSEC, checked beside DANE.
//!
//! - `run`: the `_mta-sts` and `_smtp._tls` TXT records, the addresses of `mta-sts.<domain>`, the
//!   policy over HTTPS (`fetch`, `webpki`); concurrent with the MX probing.
//! - `judge`: record and policy parsed (`record`, `policy`, `tls_rpt`), every MX host covered by
//!   a pattern, each MX endpoint's certificate (as the STARTTLS session of the MX check captured
//!   it) under WebPKI validation, and the comparison with the previous round (a policy that
//!   changed while its TXT id did not). Pure apart from CPU-only certificate checks.
//! - `report`: the result types; `series` and `text`: its metrics and its part of `check`.
//!
//! Its findings never change the DANE verdict.

mod fetch;
mod judge;
pub mod policy;
pub mod record;
mod report;
mod run;
mod series;
mod text;
pub mod tls_rpt;
pub mod webpki;

pub use fetch::{FetchError, Fetched};
pub use judge::{carry_over, judge, TransportSecurity};
pub use policy::{Mode, MxPattern, Policy, PolicyError};
pub use record::{RecordError, StsRecord};
pub use report::{
    Carried, MtaStsEndpoint, MtaStsHost, MtaStsReport, MtaStsSettings, StaleId, TlsRptReport,
};
pub use run::{policy_host, run, Gathered};
pub use series::add as add_series;
pub use text::render;
pub use tls_rpt::TlsRptRecord;
pub use webpki::{TrustError, WebPki};
