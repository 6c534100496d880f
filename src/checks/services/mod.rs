//! The services check: TLSA for the other TLS services of a mail domain: submission (465/587),
//! IMAP (993/143), POP3 (995/110) and HTTPS (443), each against its own `_<port>._tcp.<host>`
//! TLSA RRset (RFC 6698, RFC 7671 section 7).
//!
//! - `spec`: which services, as the configuration or `check --service` names them.
//! - `run`: lookups, one TLS session per address (`session`, `imap`, `pop3`, `dialogue`,
//!   `lines`), the DANE evaluation under the service profile.
//! - `judge`: a DANE client's verdict per service (pure); `report`: the result types.
//! - `series`: the `dane_service_*` series; `text`: its part of `dane_exporter check`.
//!
//! Which host: the configuration names it (`host:`), because submission and IMAP hosts are
//! usually not the MX hosts. Discovery through SRV records (RFC 6186) is not implemented.
//!
//! A service's verdict is its own: it never changes the domain's mail verdict
//! (`dane_probe_success`), which stays about delivery to the MX hosts.

mod dialogue;
mod imap;
mod judge;
mod lines;
mod pop3;
mod report;
mod run;
mod series;
mod session;
mod spec;
mod text;

pub use judge::{judge, ServiceJudgement};
pub use report::{
    ServiceEndpointReport, ServiceError, ServiceFacts, ServiceReport, ServiceSession, ServiceStage,
    ServiceTls,
};
pub use run::{run, ServiceSettings};
pub use series::add as add_series;
pub use spec::{parse_spec, well_known, ServiceProtocol, ServiceSpec, TlsMode};
pub use text::render;
