//! The MX check: what a DANE-enforcing sender does to deliver to the domain (RFC 7672 section 2),
//! and whether it would.
//!
//! - `run`: the MX lookup, per MX host its addresses and TLSA RRset, one STARTTLS session per
//!   address, each chain judged by `crate::dane` ([`MxReport`](crate::core::MxReport)).
//! - `judge`: pass / fail / not applicable, "fully protected", divergence, findings (pure).
//! - `series`: its metric series.
//! - `text`: its part of `dane_exporter check`.
//!
//! Every other check reads the facts this one gathers; the probe (`crate::probe`) runs it first.

mod judge;
mod run;
mod series;
mod text;

pub use judge::{judge, EndpointJudge, MxJudgement};
pub use run::{run, MxProbe};
pub use series::add as add_series;
pub use text::{hosts as host_lines, mx_lines, EndpointLines};
