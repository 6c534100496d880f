//! The services part of `dane_exporter check`'s human report: per service its DANE state, per
//! address the TLS session, each TLSA record's state and the outcome, then its findings.
//!
//! Called by `crate::check::render` after the MX part, with the same helpers for RRsets and
//! times; `--json` prints the `ServiceReport`s themselves.

use std::fmt::Write as _;

use super::{ServiceReport, TlsMode};
use crate::check::{leaf_line, record_state_text, rrset_line};
use crate::dane::EndpointOutcome;
use crate::dns::UnixSeconds;
use crate::verdict::host_dane_text;

/// Appends the services section to `out` (nothing when there are no services).
pub(crate) fn render(out: &mut String, services: &[ServiceReport], now: UnixSeconds) {
    for service in services {
        let _ = writeln!(
            out,
            "\n  SERVICE {}:{} ({}, {}): {}, {}",
            service.host,
            service.port,
            service.protocol.as_str(),
            match service.tls_mode {
                TlsMode::Implicit => "implicit TLS",
                TlsMode::Starttls => "STARTTLS",
            },
            service.verdict.as_str().to_uppercase(),
            host_dane_text(service.dane)
        );
        for lookup in service.address_lookups.iter().chain(&service.tlsa_lookups) {
            let _ = writeln!(
                out,
                "    {:<6}{}",
                lookup.rtype.as_str(),
                rrset_line(lookup, now)
            );
        }
        for endpoint in &service.endpoints {
            let _ = write!(out, "    [{}] ", endpoint.address);
            match (&endpoint.tls, &endpoint.error) {
                (Some(tls), _) => {
                    let _ = writeln!(out, "TLS ok, {} {}", tls.version, tls.cipher_suite);
                }
                (None, Some(error)) => {
                    let _ = writeln!(out, "{error} ({})", error.reason());
                }
                (None, None) => {
                    let _ = writeln!(out, "not probed");
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
            let outcome = match &evaluation.outcome {
                EndpointOutcome::Authenticated { usage, .. } => {
                    format!("authenticated by a usage-{usage} record")
                }
                EndpointOutcome::NoUsableRecords => "no usable TLSA record".to_string(),
                EndpointOutcome::Failed(failure) => format!("FAILED: {}", failure.reason()),
            };
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
