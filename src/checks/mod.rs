//! One folder per check, each the same shape:
//!
//! - `run`: the check's I/O (DNS, SMTP, HTTPS, files), through `crate::dns`, `crate::smtp`,
//!   `crate::tls`; never fails, every problem is a fact of its result;
//! - `judge`: pure, from the facts to findings (and a verdict where the check has one);
//! - `series`: its metric series, written to a `crate::core::Sink`;
//! - `text`: its part of the human report of `dane_exporter check`.
//!
//! The MX check ([`mx`]) runs first: every other check reads the facts it gathered
//! (`crate::core::MxReport`). No check imports another; the probe (`crate::probe`) runs them in
//! order and assembles one report from their outputs.
//!
//! - [`mx`]: MX, addresses, TLSA and STARTTLS per address: the DANE verdict.
//! - [`key_algorithms`]: every key algorithm a server offers, each chain checked on its own.
//! - [`services`]: TLSA for the domain's other TLS services (submission, IMAP, POP3, HTTPS).
//! - [`mta_sts`]: MTA-STS and TLS-RPT beside DANE.
//! - [`authoritative`]: the zones' nameservers asked directly, and TLSA/DNSSEC hygiene.
//! - [`local_certs`]: local certificate files against the published TLSA records.

pub mod authoritative;
pub mod key_algorithms;
pub mod local_certs;
pub mod mta_sts;
pub mod mx;
pub mod services;
