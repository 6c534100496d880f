//! The key-algorithm check's I/O: per endpoint where DANE applies and the normal session
//! succeeded, one more STARTTLS session restricted to each other key algorithm
//! (`crate::smtp::probe_starttls_restricted`), each chain judged by the same DANE rules.
//!
//! The normal session stands for its own leaf's algorithm (no second connection). Sessions are
//! shared between domains through the session cache, like the normal ones.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use futures_util::future::join_all;

use crate::core::{
    EndpointEvaluation, EndpointReport, HostDane, KeyAlgorithm, KeyAlgorithmReport,
    KeyAlgorithmState, MxHostReport, MxReport, RestrictedError, TlsSession,
};
use crate::dane::{self, leaf_key_algorithm, EndpointInput};
use crate::smtp::{probe_starttls_restricted, HostLimits, SessionCache, SmtpSettings};

/// The key-algorithm reports of every endpoint of `mx`, by host and endpoint index (empty where
/// DANE does not apply or the normal session failed). Each session waits for the address's cap
/// in `limits`, like the MX check's.
pub async fn run(
    mx: &MxReport,
    smtp: &SmtpSettings,
    sessions: Option<&SessionCache>,
    limits: &HostLimits,
) -> Vec<Vec<Vec<KeyAlgorithmReport>>> {
    let shared = Shared {
        smtp,
        sessions,
        limits,
    };
    join_all(mx.hosts.iter().map(|host| async move {
        join_all(
            host.endpoints
                .iter()
                .map(|endpoint| endpoint_reports(mx, host, endpoint, shared)),
        )
        .await
    }))
    .await
}

/// How the sessions are made: settings, the shared sessions, the per-address cap.
#[derive(Clone, Copy)]
struct Shared<'a> {
    smtp: &'a SmtpSettings,
    sessions: Option<&'a SessionCache>,
    limits: &'a HostLimits,
}

/// One report per key algorithm for one endpoint.
async fn endpoint_reports(
    mx: &MxReport,
    host: &MxHostReport,
    endpoint: &EndpointReport,
    shared: Shared<'_>,
) -> Vec<KeyAlgorithmReport> {
    let (Some(main), Some(main_evaluation)) = (endpoint.session.tls(), &endpoint.evaluation) else {
        return Vec::new();
    };
    if host.dane != HostDane::Applies || !endpoint.dane {
        return Vec::new();
    }
    let reference_names = dane::mx_reference_names(
        host.tlsa_base_domain.as_deref(),
        &mx.domain,
        mx.mx_owner(),
        mx.implicit_mx,
    );
    let signature_expiration = host
        .tlsa_lookup_in_force()
        .and_then(|l| l.signature_expiration);
    let evaluate = |chain: &[Vec<u8>]| {
        dane::evaluate_endpoint(&EndpointInput {
            tlsa: &host.tlsa_records,
            chain,
            reference_names: &reference_names,
            tlsa_signature_expiration: signature_expiration,
            now: mx.checked_at,
        })
    };
    let sni = host.tlsa_base_domain.as_deref().unwrap_or(&host.name);
    let main_algorithm = main.chain.first().and_then(|der| leaf_key_algorithm(der));
    let mut reports = Vec::with_capacity(KeyAlgorithm::ALL.len());
    for algorithm in KeyAlgorithm::ALL {
        if main_algorithm == Some(algorithm) {
            reports.push(from_main_session(algorithm, main_evaluation));
            continue;
        }
        let (result, duration_seconds) =
            restricted_session(endpoint.address, sni, shared, algorithm).await;
        reports.push(KeyAlgorithmReport {
            key_algorithm: algorithm,
            state: state_of(result, &evaluate),
            from_main_session: false,
            duration_seconds,
        });
    }
    reports
}

/// The normal session's chain stands for its leaf's algorithm.
fn from_main_session(
    algorithm: KeyAlgorithm,
    evaluation: &EndpointEvaluation,
) -> KeyAlgorithmReport {
    KeyAlgorithmReport {
        key_algorithm: algorithm,
        state: KeyAlgorithmState::Offered {
            leaf: evaluation.leaf.clone(),
            evaluation: Some(Box::new(evaluation.clone())),
        },
        from_main_session: true,
        duration_seconds: 0.0,
    }
}

fn state_of(
    result: Result<TlsSession, RestrictedError>,
    evaluate: &dyn Fn(&[Vec<u8>]) -> EndpointEvaluation,
) -> KeyAlgorithmState {
    match result {
        Ok(session) => {
            let evaluation = evaluate(&session.chain);
            KeyAlgorithmState::Offered {
                leaf: evaluation.leaf.clone(),
                evaluation: Some(Box::new(evaluation)),
            }
        }
        Err(RestrictedError::NotOffered { detail }) => KeyAlgorithmState::NotOffered { detail },
        Err(RestrictedError::Smtp(error)) => KeyAlgorithmState::Failed { error },
    }
}

/// One STARTTLS session restricted to `algorithm`, shared through the session cache.
async fn restricted_session(
    address: IpAddr,
    sni: &str,
    shared: Shared<'_>,
    algorithm: KeyAlgorithm,
) -> (Result<TlsSession, RestrictedError>, f64) {
    let socket = SocketAddr::new(address, shared.smtp.port);
    let run = async {
        let _permit = shared.limits.acquire(socket).await;
        let started = Instant::now();
        let result = probe_starttls_restricted(socket, sni, shared.smtp, algorithm).await;
        (result, started.elapsed().as_secs_f64())
    };
    match shared.sessions {
        Some(cache) => cache.restricted(socket, sni, algorithm, run).await,
        None => run.await,
    }
}
