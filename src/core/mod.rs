//! The bottom layer: the types every other module speaks, and nothing that does I/O.
//!
//! It imports nothing of the crate. The I/O layers (`crate::dns`, `crate::smtp`, `crate::tls`)
//! produce these facts, the pure DANE rules (`crate::dane`) produce evaluations, the checks
//! (`crate::checks`) judge them into findings, and everything above carries and renders them.
//!
//! - `time`: Unix seconds and their human forms.
//! - `names`: domain names, checked and normalised.
//! - `dns`, `ede`: a lookup's answer, DNSSEC state and typed failure (with RFC 8914 reasons).
//! - `tlsa`: the TLSA record.
//! - `certificate`, `evaluation`: a certificate as reported, and what the DANE rules concluded.
//! - `smtp`: an SMTP session's facts (TLS session, failure, key algorithm).
//! - `facts`: what probing the MX hosts found (per host, per address), direction and verdict.
//! - `expect`: what a target is expected to be (DANE, or anything that delivers).
//! - `finding`: one finding type and the enum of every stable reason.
//! - `sink`: the trait a check's metric series are written to.
//! - `text`: human-report lines shared by several checks.

pub mod certificate;
pub mod dns;
pub mod ede;
pub mod evaluation;
pub mod expect;
pub mod facts;
pub mod finding;
pub mod names;
pub mod sink;
pub mod smtp;
pub mod text;
pub mod time;
pub mod tlsa;

pub use certificate::CertificateInfo;
pub use dns::{Answer, DnssecStatus, LookupError, MxRecord, RecordSet, RecordType, Response};
pub use ede::ExtendedDnsError;
pub use evaluation::{
    DivergenceCause, EndpointEvaluation, EndpointOutcome, MatchFailure, RecordResult, RecordState,
    UnusableReason,
};
pub use expect::Expectation;
pub use facts::{
    Direction, EndpointReport, EndpointSession, HostDane, KeyAlgorithmReport, KeyAlgorithmState,
    MxHostReport, MxReport, RrsetOutcome, RrsetReport, TargetKey, Verdict,
};
pub use finding::{Finding, Reason};
pub use names::{normalize_domain, normalize_name, DomainError};
pub use sink::Sink;
pub use smtp::{
    KeyAlgorithm, Reachability, RestrictedError, SmtpError, SmtpStage, TlsEngine, TlsSession,
};
pub use time::{unix_now, UnixSeconds};

/// The `tracing` target of the events that say what a probe is doing now (a lookup, a connection,
/// a wait for a reply), at debug level: `dane_exporter check` shows them as a status line on a
/// terminal; the exporter logs them with `--log.level=debug`.
pub const PROGRESS: &str = "dane_exporter::progress";
pub use tlsa::{CertUsage, MatchingType, Selector, TlsaParseError, TlsaRecord};
