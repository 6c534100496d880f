//! What can be wrong in a web config file, each problem named with its file, line and key.

use std::path::PathBuf;

use crate::yaml::{FileProblem, Invalid, TreeProblem, YamlFileError};

/// Why the web config was not loaded. Renders as `FILE:LINE: KEY: PROBLEM`.
pub type WebConfigError = YamlFileError<WebProblem>;

impl FileProblem for WebProblem {
    const FILE: &'static str = "web config file";
}

/// What is wrong at one place of a web config file.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebProblem {
    /// More than one YAML document.
    #[error("expected one YAML document, found {0}")]
    MultipleDocuments(usize),
    /// A key this section does not have.
    #[error("unknown key; expected one of: {}", .expected.join(", "))]
    UnknownKey {
        /// The keys allowed here.
        expected: &'static [&'static str],
    },
    /// An exporter-toolkit key that this exporter does not implement.
    #[error("not supported by this exporter")]
    Unsupported,
    /// A mapping key that is not a string.
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
    /// A YAML tag (`!foo`).
    #[error("YAML tags are not supported")]
    Tagged,
    /// A file named by the config could not be read.
    #[error("cannot read \"{}\": {reason}", .path.display())]
    Unreadable {
        /// As written.
        path: PathBuf,
        /// What the OS said.
        reason: String,
    },
    /// A PEM file without the expected item, or with broken PEM.
    #[error("\"{}\": {reason}", .path.display())]
    BadPem {
        /// As written.
        path: PathBuf,
        /// What is missing or broken.
        reason: String,
    },
    /// rustls refused the certificate, key or client CA.
    #[error("{0}")]
    Tls(String),
    /// Not a known `client_auth_type`.
    #[error("unknown client_auth_type \"{0}\"; expected NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert")]
    UnknownClientAuth(String),
    /// A `client_auth_type` that accepts unverified certificates.
    #[error("client_auth_type \"{0}\" (certificates not verified) is not supported; use VerifyClientCertIfGiven or RequireAndVerifyClientCert")]
    UnverifiedClientAuth(String),
    /// A verifying `client_auth_type` without `client_ca_file`.
    #[error("client_auth_type {0} needs client_ca_file")]
    ClientCaMissing(String),
    /// `client_ca_file` with `NoClientCert`, where it would be silently ignored.
    #[error("client_ca_file is set but client_auth_type is NoClientCert; set client_auth_type to VerifyClientCertIfGiven or RequireAndVerifyClientCert")]
    ClientCaUnused,
    /// Not a known TLS version name.
    #[error("unknown TLS version \"{0}\"; expected TLS12 or TLS13")]
    UnknownTlsVersion(String),
    /// A TLS version that exists but that rustls does not implement.
    #[error("{0} is not supported: only TLS12 and TLS13 are implemented")]
    UnsupportedTlsVersion(String),
    /// `min_version` above `max_version`.
    #[error("min_version {min} is above max_version {max}")]
    VersionRange {
        /// As written.
        min: String,
        /// As written.
        max: String,
    },
    /// A cipher suite name that is unknown or not offered by this TLS library.
    #[error("unsupported cipher suite \"{0}\"; supported: TLS_ECDHE_{{ECDSA,RSA}}_WITH_{{AES_128_GCM_SHA256,AES_256_GCM_SHA384,CHACHA20_POLY1305_SHA256}}")]
    UnsupportedCipherSuite(String),
    /// The cipher suite list leaves no TLS 1.2 suite while TLS 1.2 is allowed.
    #[error("no TLS 1.2 cipher suite left; list one or set min_version: TLS13")]
    NoCipherSuite,
    /// A curve name that is unknown or not offered by this TLS library.
    #[error("unsupported curve \"{0}\"; expected X25519, CurveP256 or CurveP384")]
    UnsupportedCurve(String),
    /// An empty `curve_preferences` list.
    #[error("curve_preferences must not be empty")]
    NoCurve,
    /// Not a valid HTTP header name.
    #[error("invalid header name \"{0}\"")]
    BadHeaderName(String),
    /// A header the server sets itself.
    #[error("header \"{0}\" is set by the server and cannot be configured")]
    ReservedHeader(String),
    /// Not a valid HTTP header value.
    #[error("invalid header value (control characters are not allowed)")]
    BadHeaderValue,
    /// A user name that cannot appear in `Authorization: Basic`.
    #[error("user name \"{0}\" must not contain ':'")]
    BadUserName(String),
    /// Not a bcrypt hash.
    #[error("invalid bcrypt hash: {0}")]
    BadHash(String),
}

// ---- Reading the YAML tree ----

/// A value read from the web config, or where and why it is wrong.
pub(super) type Checked<T> = Result<T, Invalid<WebProblem>>;

impl TreeProblem for WebProblem {
    fn unknown_key(expected: &'static [&'static str]) -> Self {
        WebProblem::UnknownKey { expected }
    }
    fn non_string_key(found: &'static str) -> Self {
        WebProblem::NonStringKey(found)
    }
    fn wrong_type(expected: &'static str, found: &'static str) -> Self {
        WebProblem::WrongType { expected, found }
    }
    fn tagged() -> Self {
        WebProblem::Tagged
    }
}
