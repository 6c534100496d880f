//! Every key algorithm a server offers, each chain checked against the TLSA RRset on its own.
//!
//! A host may hold an RSA and an ECDSA certificate (Postfix: `smtpd_tls_chain_files` with two
//! key+chain pairs) and present whichever the client's ClientHello and the server's preference
//! select. A sender that offers both (Postfix, through OpenSSL's defaults) sees one of them; a
//! sender restricted to the other, or the same sender after the server's preference changes, sees
//! the other. RFC 7671 section 8 asks TLSA publishers to match every certificate chain the server
//! may present, so a chain no record authenticates is a delivery failure waiting for a trigger.
//!
//! Data flow: `crate::probe` runs the normal STARTTLS session first; its leaf's key algorithm is
//! read here ([`leaf_key_algorithm`]) and that session stands for its algorithm (no second
//! connection). For each other algorithm in [`KeyAlgorithm::ALL`] the probe runs one more session
//! through `crate::smtp::probe_starttls_restricted` (signature schemes and TLS 1.2 suites of that
//! algorithm only), under the same step timeouts, and only where DANE applies and the normal
//! session succeeded. Each chain goes through the same pure rules (`crate::dane`). The result is a
//! [`KeyAlgorithmReport`] per algorithm on the `EndpointReport`; [`judge_endpoint`] (pure, called
//! by `crate::verdict`) turns latent mismatches into warnings; `crate::metrics` exposes them with a
//! `key_algorithm` label.
//!
//! Cost: one extra SMTP session per endpoint (two algorithms, one covered by the normal session),
//! shared between domains through the prober's endpoint cache like the normal one. Only targets
//! whose direction `global.key_algorithm_checks` covers get it (inbound by default, as for the
//! authoritative checks: an outbound target's servers are another organisation's, and a latent
//! mismatch there is theirs to fix); the scheduler's prober sets it per target
//! (`crate::probe::Prober::with_key_algorithms`), `dane_exporter check` always makes it.

use serde::Serialize;
use x509_parser::oid_registry::{
    OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS,
};
use x509_parser::prelude::FromDer;

use crate::dane::{CertificateInfo, EndpointEvaluation, EndpointOutcome};
use crate::report::{EndpointReport, Finding, MxHostReport};
use crate::smtp::SmtpError;

pub use crate::tls::KeyAlgorithm;

/// What probing one key algorithm on one endpoint found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyAlgorithmReport {
    /// The algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Offered (with its chain's evaluation), not offered, or the probe failed.
    #[serde(flatten)]
    pub state: KeyAlgorithmState,
    /// True when the normal (unrestricted) session already presented this algorithm's chain and
    /// no extra session was made.
    pub from_main_session: bool,
    /// Seconds the extra session took (0 when `from_main_session`).
    pub duration_seconds: f64,
}

/// The outcome for one key algorithm.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum KeyAlgorithmState {
    /// The server presented a chain whose leaf has a key of this algorithm.
    Offered {
        /// The leaf, when it parsed.
        leaf: Option<CertificateInfo>,
        /// The DANE evaluation of this chain against the host's TLSA RRset (boxed: it is large
        /// next to the other states).
        evaluation: Option<Box<EndpointEvaluation>>,
    },
    /// The server refused a handshake restricted to this algorithm: it has no such key.
    NotOffered {
        /// The TLS error as received.
        detail: String,
    },
    /// The restricted session failed otherwise (timeout, connection lost, ...): unknown.
    Failed {
        /// The failure.
        error: SmtpError,
    },
}

impl KeyAlgorithmReport {
    /// `Some(true)` offered, `Some(false)` not offered, `None` unknown (the probe failed).
    pub fn offered(&self) -> Option<bool> {
        match self.state {
            KeyAlgorithmState::Offered { .. } => Some(true),
            KeyAlgorithmState::NotOffered { .. } => Some(false),
            KeyAlgorithmState::Failed { .. } => None,
        }
    }

    /// The chain's evaluation, when offered and DANE applies.
    pub fn evaluation(&self) -> Option<&EndpointEvaluation> {
        match &self.state {
            KeyAlgorithmState::Offered { evaluation, .. } => evaluation.as_deref(),
            _ => None,
        }
    }
}

/// The key algorithm of a DER certificate's subject key; `None` when it does not parse or is
/// another kind (Ed25519, DSA...).
pub fn leaf_key_algorithm(der: &[u8]) -> Option<KeyAlgorithm> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let oid = &cert.tbs_certificate.subject_pki.algorithm.algorithm;
    if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        Some(KeyAlgorithm::Ecdsa)
    } else if *oid == OID_PKCS1_RSAENCRYPTION || *oid == OID_PKCS1_RSASSAPSS {
        Some(KeyAlgorithm::Rsa)
    } else {
        None
    }
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
pub fn judge_endpoint(host: &MxHostReport, endpoint: &EndpointReport, warnings: &mut Vec<Finding>) {
    let passes_now = endpoint.evaluation.as_ref().is_some_and(|e| e.passes());
    for report in &endpoint.key_algorithms {
        let finding = |reason: &str, message: String| Finding {
            reason: reason.to_string(),
            mx: Some(host.name.clone()),
            address: Some(endpoint.address),
            message,
        };
        let name = report.key_algorithm.as_str().to_uppercase();
        match &report.state {
            KeyAlgorithmState::Offered {
                evaluation: Some(evaluation),
                ..
            } if passes_now && !evaluation.passes() => {
                let key = match &evaluation.outcome {
                    EndpointOutcome::Failed(failure) => failure.reason(),
                    _ => "tlsa_mismatch",
                };
                warnings.push(finding(
                    "tlsa_mismatch_key_algorithm",
                    format!(
                        "{} [{}] also presents an {name} certificate that no TLSA record authenticates ({key}): senders limited to {name}, or all senders once the server prefers {name}, will defer mail (RFC 7671 section 8)",
                        host.name, endpoint.address
                    ),
                ));
            }
            KeyAlgorithmState::Failed { error } => warnings.push(finding(
                "key_algorithm_probe_failed",
                format!(
                    "{} [{}]: the handshake limited to {name} failed ({error}); whether that chain matches the TLSA records is unknown",
                    host.name, endpoint.address
                ),
            )),
            _ => {}
        }
    }
}

/// Lines for `dane_exporter check`: one per key algorithm, indented under the endpoint.
pub fn render_lines(reports: &[KeyAlgorithmReport]) -> Vec<String> {
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

/// The series of one endpoint's key algorithms: `dane_key_algorithm_offered` and
/// `dane_key_algorithm_tlsa_match`, labelled `key_algorithm`, after the endpoint's labels `at`.
/// `gauge` is `crate::metrics`' collector (name, labels, value).
pub fn add_metrics(
    at: &[(&str, &str)],
    reports: &[KeyAlgorithmReport],
    gauge: &mut crate::metrics::GaugeSink<'_>,
) {
    for report in reports {
        let mut labels = at.to_vec();
        labels.push(("key_algorithm", report.key_algorithm.as_str()));
        if let Some(offered) = report.offered() {
            gauge(
                "dane_key_algorithm_offered",
                &labels,
                if offered { 1.0 } else { 0.0 },
            );
        }
        if let Some(evaluation) = report.evaluation() {
            gauge(
                "dane_key_algorithm_tlsa_match",
                &labels,
                if evaluation.passes() { 1.0 } else { 0.0 },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_key_algorithm_reads_the_spki() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        assert_eq!(leaf_key_algorithm(cert.der()), Some(KeyAlgorithm::Ecdsa));
        assert_eq!(leaf_key_algorithm(b"not a certificate"), None);
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .expect("params")
            .self_signed(&ed)
            .expect("cert");
        assert_eq!(leaf_key_algorithm(cert.der()), None);
    }

    #[test]
    fn schemes_map_to_their_algorithm() {
        use rustls::SignatureScheme as S;
        assert_eq!(
            KeyAlgorithm::of_scheme(S::ECDSA_NISTP256_SHA256),
            Some(KeyAlgorithm::Ecdsa)
        );
        assert_eq!(
            KeyAlgorithm::of_scheme(S::RSA_PSS_SHA256),
            Some(KeyAlgorithm::Rsa)
        );
        assert_eq!(
            KeyAlgorithm::of_scheme(S::RSA_PKCS1_SHA256),
            Some(KeyAlgorithm::Rsa)
        );
        assert_eq!(KeyAlgorithm::of_scheme(S::ED25519), None);
    }
}
