//! The key-algorithm check's judgement: latent mismatches and failed restricted sessions become
//! warnings. Pure.

use crate::core::{
    EndpointOutcome, EndpointReport, Finding, KeyAlgorithmState, MxHostReport, MxReport, Reason,
};

/// The warnings of every endpoint of `mx` (see [`judge_endpoint`]).
pub fn judge(mx: &MxReport) -> Vec<Finding> {
    mx.hosts
        .iter()
        .flat_map(|host| host.endpoints.iter().flat_map(|e| judge_endpoint(host, e)))
        .collect()
}

/// Warnings for one endpoint of a host where DANE applies. Pure.
///
/// - `tlsa_mismatch_key_algorithm`: the endpoint authenticates with the chain it prefers, but
///   another offered chain matches no usable TLSA record. A sender offering both algorithms
///   (Postfix) delivers today; one restricted to that algorithm defers, and so does everyone the
///   day the server's preference changes (RFC 7671 section 8: every chain must match). When the
///   endpoint already fails, its failure says enough and nothing is added.
/// - `key_algorithm_probe_failed`: the extra session for an algorithm failed for another reason
///   than "no such key", so whether that chain matches is unknown.
pub fn judge_endpoint(host: &MxHostReport, endpoint: &EndpointReport) -> Vec<Finding> {
    let mut warnings = Vec::new();
    let passes_now = endpoint.evaluation.as_ref().is_some_and(|e| e.passes());
    for report in &endpoint.key_algorithms {
        let finding = |reason: Reason, message: String| {
            Finding::new(reason, message)
                .at_mx(&host.name)
                .at_address(endpoint.address)
        };
        let name = report.key_algorithm.as_str().to_uppercase();
        match &report.state {
            KeyAlgorithmState::Offered {
                evaluation: Some(evaluation),
                ..
            } if passes_now && !evaluation.passes() => {
                let key = match &evaluation.outcome {
                    EndpointOutcome::Failed(failure) => failure.reason(),
                    _ => Reason::TlsaMismatch,
                };
                warnings.push(finding(
                    Reason::TlsaMismatchKeyAlgorithm,
                    format!(
                        "{} [{}] also presents an {name} certificate that no TLSA record authenticates ({key}): senders limited to {name}, or all senders once the server prefers {name}, will defer mail (RFC 7671 section 8)",
                        host.name, endpoint.address
                    ),
                ));
            }
            KeyAlgorithmState::Failed { error } => warnings.push(finding(
                Reason::KeyAlgorithmProbeFailed,
                format!(
                    "{} [{}]: the handshake limited to {name} failed ({error}); whether that chain matches the TLSA records is unknown",
                    host.name, endpoint.address
                ),
            )),
            _ => {}
        }
    }
    warnings
}
