//! Every key algorithm a server offers, each chain checked against the TLSA RRset on its own.
//!
//! A host may hold an RSA and an ECDSA certificate (Postfix: `smtpd_tls_chain_files` with two
//! key+chain pairs) and present whichever the client's ClientHello and the server's preference
//! select. A sender that offers both (Postfix, through OpenSSL's defaults) sees one of them; a
//! sender restricted to the other, or the same sender after the server's preference changes, sees
//! the other. RFC 7671 section 8 asks TLSA publishers to match every certificate chain the server
//! may present, so a chain no record authenticates is a delivery failure waiting for a trigger.
//!
//! Data flow: the MX check runs the normal STARTTLS session first; its leaf's key algorithm is
//! read (`crate::dane::leaf_key_algorithm`) and that session stands for its algorithm (no second
//! connection). For each other algorithm in `KeyAlgorithm::ALL` `run` makes one more session
//! through `crate::smtp::probe_starttls_restricted` (signature schemes and TLS 1.2 suites of that
//! algorithm only), under the same step timeouts, and only where DANE applies and the normal
//! session succeeded. Each chain goes through the same pure rules (`crate::dane`). The result is a
//! `KeyAlgorithmReport` per algorithm on the `EndpointReport`; `judge` (pure) turns latent
//! mismatches into warnings; `series` exposes them with a `key_algorithm` label; `text` prints
//! them under each endpoint.
//!
//! Cost: one extra SMTP session per endpoint (two algorithms, one covered by the normal session),
//! shared between domains through the session cache like the normal one. Only targets
//! whose direction `global.key_algorithm_checks` covers get it (inbound by default, as for the
//! authoritative checks: an outbound target's servers are another organisation's, and a latent
//! mismatch there is theirs to fix); the configuration resolves it per target
//! (`crate::target::Target::key_algorithms`); `dane_exporter check` makes it unless
//! `--no-key-algorithms`.

mod judge;
mod run;
mod series;
mod text;

pub use judge::{judge, judge_endpoint};
pub use run::run;
pub use series::add as add_series;
pub use text::lines;
