//! Placeholder, replaced by the DANE rules work.
use super::{EndpointEvaluation, EndpointInput, EndpointOutcome, MatchFailure};
pub(super) fn evaluate(_input: &EndpointInput<'_>) -> EndpointEvaluation {
    EndpointEvaluation {
        records: vec![],
        outcome: EndpointOutcome::Failed(MatchFailure::NoMatch),
        leaf: None,
        divergence: None,
        divergence_cause: None,
        rollover_ready: false,
    }
}
