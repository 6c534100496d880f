//! How many SMTP sessions this process made, by result: `dane_exporter_smtp_sessions_total`.
//!
//! Counted where every session starts ([`super::probe_starttls`] and
//! [`super::probe_starttls_restricted`]), so a session shared by many domains through the cache
//! (`cache.rs`) counts once, as it was made once. Process-wide, like the process collector's
//! figures: one exporter per process, and a count that survives reloads.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::core::{Reason, RestrictedError, SmtpError, TlsSession};

/// Every `result` label value, in exposition order: `ok` (the TLS handshake completed),
/// `key_algorithm_not_offered` (a session restricted to one key algorithm the server has no key
/// for), then the failure reasons of [`SmtpError::reason`].
pub const SESSION_RESULTS: [&str; 16] = [
    "ok",
    "key_algorithm_not_offered",
    "smtp_connect_failed",
    "smtp_no_route",
    "smtp_connect_timeout",
    "smtp_banner_timeout",
    "smtp_ehlo_timeout",
    "smtp_starttls_timeout",
    "tls_handshake_timeout",
    "smtp_connection_lost",
    "smtp_greeting_rejected",
    "smtp_ehlo_rejected",
    "starttls_not_offered",
    "starttls_rejected",
    "smtp_protocol_error",
    "tls_handshake_failed",
];

static SESSIONS: [AtomicU64; SESSION_RESULTS.len()] =
    [const { AtomicU64::new(0) }; SESSION_RESULTS.len()];

fn count(result: &str) {
    if let Some(i) = SESSION_RESULTS.iter().position(|r| *r == result) {
        SESSIONS[i].fetch_add(1, Ordering::Relaxed);
    }
}

fn failure(error: &SmtpError) -> &'static str {
    let reason: Reason = error.reason();
    reason.as_str()
}

/// Counts one unrestricted session.
pub(super) fn record(result: &Result<TlsSession, SmtpError>) {
    count(match result {
        Ok(_) => "ok",
        Err(error) => failure(error),
    });
}

/// Counts one session restricted to a key algorithm.
pub(super) fn record_restricted(result: &Result<TlsSession, RestrictedError>) {
    count(match result {
        Ok(_) => "ok",
        Err(RestrictedError::NotOffered { .. }) => "key_algorithm_not_offered",
        Err(RestrictedError::Smtp(error)) => failure(error),
    });
}

/// The sessions made so far by result, every result of [`SESSION_RESULTS`].
pub fn session_counts() -> Vec<(&'static str, u64)> {
    SESSION_RESULTS
        .iter()
        .zip(SESSIONS.iter())
        .map(|(result, n)| (*result, n.load(Ordering::Relaxed)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every failure reason has its label value (a new SmtpError variant must be added here and
    /// to SESSION_RESULTS).
    #[test]
    fn every_result_is_counted_under_its_label() {
        use crate::core::SmtpStage;
        let detail = String::new;
        let mut errors = vec![
            SmtpError::Connect { detail: detail() },
            SmtpError::NoRoute { detail: detail() },
            SmtpError::Io {
                stage: SmtpStage::Banner,
                detail: detail(),
            },
            SmtpError::Greeting { reply: detail() },
            SmtpError::EhloRejected { reply: detail() },
            SmtpError::StarttlsNotOffered,
            SmtpError::StarttlsRejected { reply: detail() },
            SmtpError::Protocol {
                stage: SmtpStage::Ehlo,
                detail: detail(),
            },
            SmtpError::Handshake { detail: detail() },
        ];
        for stage in [
            SmtpStage::Connect,
            SmtpStage::Banner,
            SmtpStage::Ehlo,
            SmtpStage::Starttls,
            SmtpStage::TlsHandshake,
        ] {
            errors.push(SmtpError::Timeout { stage });
        }
        for error in errors {
            let result = failure(&error);
            assert!(SESSION_RESULTS.contains(&result), "{result}");
            let before = session_counts();
            record(&Err(error));
            let after = session_counts();
            let grew: Vec<_> = before
                .iter()
                .zip(&after)
                .filter(|(b, a)| a.1 > b.1)
                .map(|(_, a)| a.0)
                .collect();
            // Other tests may count concurrently; this result grew in any case.
            assert!(grew.contains(&result), "{result}: {grew:?}");
        }
    }
}
