//! Whether a probe could see: its verdict becomes `unknown` when the exporter's own resolver
//! does not validate DNSSEC or does not answer (`crate::dns::Sight`), whatever the checks found.
//! Pure: the probe (`super`) reads the sight before and after its lookups and asks here.
//!
//! - Before: a blindness a check confirmed within the last minute ends the probe at once (a
//!   resolver that does not validate makes every "insecure" meaningless; one that does not answer
//!   would only make every lookup wait for its timeout).
//! - After: a resolver that does not validate makes the report unknown; one that does not answer
//!   makes it unknown only when the probe's own lookups failed for want of an answer (timeout,
//!   network error, REFUSED). A SERVFAIL is an answer: the domain's DNS is broken, and
//!   `mx_lookup_failed` keeps meaning that.

use crate::core::{Finding, LookupError, MxReport, Reason};
use crate::dns::{Blindness, Sight};

/// The finding that makes a verdict unknown.
pub fn finding(blindness: &Blindness) -> Finding {
    match blindness {
        Blindness::NotValidating { detail } => Finding::new(
            Reason::ResolverNotValidating,
            format!(
                "the resolver does not validate DNSSEC ({detail}): nothing about the domain's DNSSEC can be known; use a validating resolver or dnssec_mode: validate"
            ),
        ),
        Blindness::Unavailable { detail } => Finding::new(
            Reason::ResolverUnavailable,
            format!(
                "no resolver answers ({detail}): the domain could not be looked up; the problem is this exporter's, not the domain's"
            ),
        ),
    }
}

/// Before the probe: why not to look at all, if the blindness is confirmed and recent.
pub fn before(sight: &Sight) -> Option<Finding> {
    let blindness = sight.blindness()?;
    sight.fresh().then(|| finding(&blindness))
}

/// After the probe: why its facts say nothing about the domain, if so.
pub fn after(sight: &Sight, mx: &MxReport) -> Option<Finding> {
    match sight.blindness()? {
        blindness @ Blindness::NotValidating { .. } => Some(finding(&blindness)),
        blindness @ Blindness::Unavailable { .. } => {
            lookups_unanswered(mx).then(|| finding(&blindness))
        }
    }
}

/// Whether a lookup failed for want of any answer from the resolver (timeout, network error,
/// REFUSED), as opposed to an answer that says the domain's DNS is broken.
pub fn unanswered(error: Option<&LookupError>) -> bool {
    matches!(
        error,
        Some(
            LookupError::Timeout { .. } | LookupError::Network { .. } | LookupError::Refused { .. }
        )
    )
}

/// Whether a lookup of the MX facts got no answer from the resolver at all.
fn lookups_unanswered(mx: &MxReport) -> bool {
    unanswered(mx.mx_lookup.error.as_ref())
        || mx.hosts.iter().any(|host| {
            host.address_lookups
                .iter()
                .chain(&host.tlsa_lookups)
                .any(|lookup| unanswered(lookup.error.as_ref()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{DnssecStatus, RecordType, RrsetOutcome};
    use crate::dns::ServerSight;

    fn server(up: Option<bool>, validating: Option<bool>, fresh: bool) -> ServerSight {
        ServerSight {
            address: "127.0.0.1:53".parse().unwrap(),
            up,
            validating,
            detail: Some("detail".into()),
            fresh,
        }
    }

    fn mx(error: Option<LookupError>) -> MxReport {
        let mut mx = MxReport::unfinished("example.test", 0);
        mx.mx_lookup.outcome = RrsetOutcome::Failed;
        mx.mx_lookup.dnssec = DnssecStatus::Indeterminate;
        mx.mx_lookup.rtype = RecordType::Mx;
        mx.mx_lookup.error = error;
        mx
    }

    #[test]
    fn a_resolver_that_does_not_validate_makes_every_probe_unknown() {
        let sight = Sight {
            servers: vec![server(Some(true), Some(false), true)],
        };
        let found = after(&sight, &mx(None)).expect("unknown");
        assert_eq!(found.reason, Reason::ResolverNotValidating);
        assert!(
            found.message.contains("dnssec_mode: validate"),
            "{}",
            found.message
        );
        assert_eq!(
            before(&sight).map(|f| f.reason),
            Some(Reason::ResolverNotValidating)
        );
        // Not confirmed lately: the probe looks for itself.
        let stale = Sight {
            servers: vec![server(Some(true), Some(false), false)],
        };
        assert_eq!(before(&stale), None);
    }

    #[test]
    fn a_dead_resolver_is_blamed_only_for_lookups_it_did_not_answer() {
        let dead = Sight {
            servers: vec![server(Some(false), None, true)],
        };
        let timeout = mx(Some(LookupError::Timeout { millis: 5 }));
        assert_eq!(
            after(&dead, &timeout).map(|f| f.reason),
            Some(Reason::ResolverUnavailable)
        );
        let refused = mx(Some(LookupError::Refused { ede: None }));
        assert_eq!(
            after(&dead, &refused).map(|f| f.reason),
            Some(Reason::ResolverUnavailable)
        );
        // SERVFAIL is an answer: the domain's DNS is broken.
        let servfail = mx(Some(LookupError::ServFail { ede: None }));
        assert_eq!(after(&dead, &servfail), None);
        // A resolver that answers is never blamed for a timeout: the domain's servers are slow.
        let alive = Sight {
            servers: vec![server(Some(true), Some(true), true)],
        };
        assert_eq!(after(&alive, &timeout), None);
        // One of two answering is enough.
        let one_alive = Sight {
            servers: vec![
                server(Some(false), None, true),
                server(Some(true), None, true),
            ],
        };
        assert_eq!(after(&one_alive, &timeout), None);
        // Not known yet: never blind.
        let unknown = Sight {
            servers: vec![server(None, None, false)],
        };
        assert_eq!(after(&unknown, &timeout), None);
    }
}
