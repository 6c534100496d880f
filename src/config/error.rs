//! What can be wrong with a config file, and where: [`ConfigError`] names the file, the line, the
//! key path (`inbound[1].interval`) and the [`Problem`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::names::{DomainError, LabelNameError};
use crate::yaml::{FileProblem, YamlFileError};

/// Why a config file was not loaded. Renders as `FILE:LINE: KEY: PROBLEM`, e.g.
/// `dane_exporter.yml:12: inbound[1].interval: invalid duration "5 minutez": expected a number and a
/// unit, e.g. "5m"`.
pub type ConfigError = YamlFileError<Problem>;

impl FileProblem for Problem {
    const FILE: &'static str = "config file";
}

/// A duration as humantime writes it (`5m`, `1m 30s`), for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// What is wrong at one place of a config file.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// More than one YAML document (`---`) in the file.
    #[error("expected one YAML document, found {0}")]
    MultipleDocuments(usize),
    /// A key this section does not have (a typo, or an option that is not supported here).
    #[error("unknown key; expected one of: {}", .expected.join(", "))]
    UnknownKey {
        /// The keys allowed at this place.
        expected: &'static [&'static str],
    },
    /// A mapping key that is not a plain string.
    #[error("mapping keys must be strings, got {0}")]
    NonStringKey(&'static str),
    /// A required key is absent.
    #[error("missing required key \"{0}\"")]
    MissingKey(&'static str),
    /// A value of the wrong YAML type.
    #[error("expected {expected}, got {found}")]
    WrongType {
        /// What this key takes.
        expected: &'static str,
        /// What the file has.
        found: &'static str,
    },
    /// A YAML tag (`!foo`), which this format does not use.
    #[error("YAML tags are not supported")]
    Tagged,
    /// Not a humantime duration.
    #[error("invalid duration \"{0}\": expected a number and a unit, e.g. \"5m\" or \"90s\"")]
    InvalidDuration(String),
    /// A zero duration.
    #[error("must be greater than zero")]
    ZeroDuration,
    /// A probe interval below [`super::MIN_INTERVAL`].
    #[error("interval {} is below the minimum of {}", Human(*.interval), Human(*.minimum))]
    IntervalTooShort {
        /// The configured interval.
        interval: Duration,
        /// The smallest allowed.
        minimum: Duration,
    },
    /// A probe deadline longer than the interval between probes.
    #[error("timeout {} must not exceed interval {}", Human(*.timeout), Human(*.interval))]
    TimeoutExceedsInterval {
        /// Effective whole-probe timeout.
        timeout: Duration,
        /// Effective interval.
        interval: Duration,
    },
    /// A step timeout longer than the whole-probe timeout.
    #[error("step_timeout {} must not exceed timeout {}", Human(*.step_timeout), Human(*.timeout))]
    StepTimeoutExceedsTimeout {
        /// Effective per-step timeout.
        step_timeout: Duration,
        /// Effective whole-probe timeout.
        timeout: Duration,
    },
    /// An integer outside its range.
    #[error("{value} is out of range {min}..={max}")]
    OutOfRange {
        /// The configured number.
        value: i64,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// Not a known DNSSEC mode.
    #[error("unknown DNSSEC mode \"{0}\"; expected \"trust-resolver\" or \"validate\"")]
    InvalidDnssecMode(String),
    /// Not one of the accepted words.
    #[error("invalid value \"{text}\"; expected one of: {}", .expected.join(", "))]
    InvalidChoice {
        /// As written.
        text: String,
        /// The accepted words.
        expected: &'static [&'static str],
    },
    /// Not an IP address with optional port.
    #[error("invalid nameserver \"{0}\": expected IP, IP:PORT or [IPv6]:PORT")]
    InvalidNameserver(String),
    /// Not a valid domain name.
    #[error("invalid domain \"{text}\": {reason}")]
    InvalidDomain {
        /// As written.
        text: String,
        /// What is wrong with it.
        reason: DomainError,
    },
    /// Not a valid `/probe` allow-list pattern.
    #[error("invalid domain pattern \"{text}\" (expected \"example.org\" or \"*.example.org\"): {reason}")]
    InvalidPattern {
        /// As written.
        text: String,
        /// What is wrong with its domain part.
        reason: DomainError,
    },
    /// A module named like a built-in one.
    #[error("\"{0}\" is a built-in module; choose another name")]
    BuiltInModule(String),
    /// A module name that does not fit in a URL parameter as is.
    #[error("invalid module name \"{0}\": use letters, digits, \"_\" and \"-\"")]
    InvalidModuleName(String),
    /// The same domain twice in one direction.
    #[error("duplicate domain \"{domain}\", first listed at line {first_line}")]
    DuplicateDomain {
        /// The normalised domain.
        domain: String,
        /// Line of the first occurrence.
        first_line: usize,
    },
    /// A bad extra label name.
    #[error("{0}")]
    LabelName(LabelNameError),
    /// An empty label value (Prometheus treats it as no label at all).
    #[error("label value must not be empty")]
    EmptyLabelValue,
    /// Two keys that exclude each other (`live` and `lineage` of a certificate entry).
    #[error("\"{key}\" and \"{other}\" exclude each other")]
    ConflictingKeys {
        /// The key found second.
        key: &'static str,
        /// The one it conflicts with.
        other: &'static str,
    },
    /// Neither of two alternative keys is present.
    #[error("missing required key: \"{0}\" or \"{1}\"")]
    MissingEither(&'static str, &'static str),
    /// The same certificate file (or lineage) twice for one MX host in a target's `certificates`.
    #[error("MX host \"{mx}\" has this certificate file already, listed at line {first_line}")]
    DuplicateCertificate {
        /// The normalised host name.
        mx: String,
        /// Line of the first occurrence.
        first_line: usize,
    },
    /// An empty file or directory path.
    #[error("path must not be empty")]
    EmptyPath,
    /// The trust anchor file does not exist.
    #[error("trust anchor file \"{}\" does not exist", .0.display())]
    TrustAnchorMissing(PathBuf),
    /// The trust anchor file exists but cannot be used.
    #[error("trust anchor file \"{}\" cannot be used: {reason}", .path.display())]
    TrustAnchorUnusable {
        /// As written.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `services[].protocol` is not a known protocol.
    #[error(
        "unknown service protocol \"{0}\"; expected \"smtp\", \"imap\", \"pop3\" or \"https\""
    )]
    InvalidServiceProtocol(String),
    /// `services[].tls` is not a known mode.
    #[error("unknown TLS mode \"{0}\"; expected \"implicit\" or \"starttls\"")]
    InvalidTlsMode(String),
    /// A service on a port that is not well known, without `protocol` and `tls`.
    #[error("port {port} is not a well-known service port (465, 587, 993, 143, 995, 110, 443): set \"protocol\" and \"tls\"")]
    ServiceModeRequired {
        /// The port.
        port: u16,
    },
    /// HTTPS with STARTTLS.
    #[error("https has no STARTTLS; use tls: implicit")]
    HttpsStarttls,
    /// The same host and port twice in one target.
    #[error("duplicate service {host}:{port}, first listed at line {first_line}")]
    DuplicateService {
        /// Host name, normalised.
        host: String,
        /// Port.
        port: u16,
        /// Line of the first occurrence.
        first_line: usize,
    },
    /// The service CA bundle cannot be read or is not a PEM bundle of CA certificates.
    #[error("service CA file \"{}\" cannot be used: {reason}", .path.display())]
    ServiceCaUnusable {
        /// As written.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A domain list file cannot be read, or is too large.
    #[error("domain list \"{}\" cannot be used: {reason}", .path.display())]
    ListUnusable {
        /// The file, resolved against the config file's directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A problem at one line of a domain list file.
    #[error("{}:{line}: {problem}", .path.display())]
    InList {
        /// The list file, resolved against the config file's directory.
        path: PathBuf,
        /// 1-based line in it.
        line: usize,
        /// What is wrong there.
        problem: Box<Problem>,
    },
    /// The same domain twice in one direction, once at least in a domain list.
    #[error("duplicate domain \"{domain}\", first listed at {first}")]
    DuplicateListed {
        /// The normalised domain.
        domain: String,
        /// Where it was first listed: `line N` of the config file or `FILE:LINE` of a list.
        first: String,
    },
    /// The MTA-STS CA file cannot be read or holds no PEM certificate.
    #[error("CA file \"{}\" cannot be used: {reason}", .path.display())]
    CaFileUnusable {
        /// As written.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}
