//! The services part of `dane_exporter check`'s human report: per service its DANE state, per
//! address the TLS session, each TLSA record's state and the outcome, then its findings.
//!
//! Called by `crate::text` after the MX part, with the same helpers for RRsets and times
//! (`crate::core::text`); `--json` prints the `ServiceReport`s themselves.

use std::fmt::Write as _;

use super::report::{ServiceReport, ServiceSession};
use super::spec::TlsMode;
use crate::core::text::{leaf_line, outcome_text, record_state_text, rrset_line};
use crate::core::UnixSeconds;

/// Appends the services section to `out` (nothing when there are no services).
pub fn render(out: &mut String, services: &[ServiceReport], now: UnixSeconds) {
    for service in services {
        let facts = &service.facts;
        let _ = writeln!(
            out,
            "\n  SERVICE {}:{} ({}, {}): {}, {}",
            facts.host,
            facts.port,
            facts.protocol.as_str(),
            match facts.tls_mode {
                TlsMode::Implicit => "implicit TLS",
                TlsMode::Starttls => "STARTTLS",
            },
            service.verdict.as_str().to_uppercase(),
            facts.dane.text()
        );
        for lookup in facts.address_lookups.iter().chain(&facts.tlsa_lookups) {
            let _ = writeln!(
                out,
                "    {:<6}{}",
                lookup.rtype.as_str(),
                rrset_line(lookup, now)
            );
        }
        for endpoint in &facts.endpoints {
            let _ = write!(out, "    [{}] ", endpoint.address);
            match &endpoint.session {
                ServiceSession::Tls { tls, .. } => {
                    let _ = writeln!(out, "TLS ok, {} {}", tls.version, tls.cipher_suite);
                }
                ServiceSession::Failed(error) => {
                    let _ = writeln!(out, "{error} ({})", error.reason());
                }
            }
            if let Some(leaf) = endpoint.chain.first() {
                leaf_line(out, leaf, now);
            }
            let Some(evaluation) = &endpoint.evaluation else {
                continue;
            };
            for result in &evaluation.records {
                let _ = writeln!(
                    out,
                    "      TLSA {}: {}",
                    result.record,
                    record_state_text(&result.state)
                );
            }
            let outcome = outcome_text(&evaluation.outcome, "no usable TLSA record");
            let _ = writeln!(out, "      => {outcome}");
        }
        for (title, findings) in [
            ("failure", &service.failures),
            ("warning", &service.warnings),
        ] {
            for finding in findings {
                let _ = writeln!(out, "    {title}: [{}] {}", finding.reason, finding.message);
            }
        }
    }
}
