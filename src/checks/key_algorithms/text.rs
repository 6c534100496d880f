//! The key-algorithm check's lines in `dane_exporter check`: one per algorithm, under the
//! endpoint's outcome.

use crate::core::{EndpointOutcome, KeyAlgorithmReport, KeyAlgorithmState};

/// Lines for `dane_exporter check`: one per key algorithm, indented under the endpoint.
pub fn lines(reports: &[KeyAlgorithmReport]) -> Vec<String> {
    reports
        .iter()
        .map(|report| {
            let name = report.key_algorithm.as_str().to_uppercase();
            let how = if report.from_main_session {
                " (the normal handshake)"
            } else {
                ""
            };
            match &report.state {
                KeyAlgorithmState::Offered { leaf, evaluation } => {
                    let key = leaf
                        .as_ref()
                        .map(|l| format!(", key 3 1 1 {}", l.spki_sha256))
                        .unwrap_or_default();
                    let verdict = match evaluation.as_ref().map(|e| &e.outcome) {
                        Some(EndpointOutcome::Authenticated { .. }) => "matches the TLSA records",
                        Some(EndpointOutcome::NoUsableRecords) => "no usable TLSA record",
                        Some(EndpointOutcome::Failed(_)) => "NO TLSA RECORD MATCHES",
                        None => "not evaluated",
                    };
                    format!("key algorithm {name}: offered{how}{key}: {verdict}")
                }
                KeyAlgorithmState::NotOffered { .. } => {
                    format!("key algorithm {name}: not offered")
                }
                KeyAlgorithmState::Failed { error } => format!(
                    "key algorithm {name}: probe failed ({}): unknown",
                    error.reason()
                ),
            }
        })
        .collect()
}
