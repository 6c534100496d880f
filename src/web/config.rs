//! The web config file (`--web.config.file`), in the format of Prometheus' exporter-toolkit: TLS,
//! HTTP/2 and extra response headers, and basic auth users with bcrypt hashes.
//!
//! [`WebConfig::load`] reads the YAML with `saphyr` (which keeps the line of every key), checks
//! every key, and loads the certificate, key and client CA files right away, so that a bad file
//! stops the exporter at start instead of failing the first TLS handshake. Relative paths are
//! resolved against the web config file's directory. Every error names file, line and key
//! (`web.yml:4: tls_server_config.key_file: ...`), like the main config file's errors.
//!
//! Keys supported (anything else is refused as an unknown key):
//!
//! - `tls_server_config`: `cert_file`, `key_file` (both required), `client_auth_type`
//!   (`NoClientCert` (default), `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`; the
//!   non-verifying `RequestClientCert` and `RequireAnyClientCert` are refused), `client_ca_file`
//!   (required by, and only allowed with, the verifying types), `min_version` / `max_version`
//!   (`TLS12`, `TLS13`; defaults TLS12..TLS13; `TLS10`/`TLS11` are refused: rustls has no such
//!   versions), `cipher_suites` (Go names of the TLS 1.2 ECDHE AEAD suites, in server preference
//!   order; TLS 1.3 suite names are accepted and, as in Go, have no effect), `curve_preferences`
//!   (`X25519`, `CurveP256`, `CurveP384`), `prefer_server_cipher_suites` (default true).
//!   `client_allowed_sans` is recognised and refused as not supported.
//! - `http_server_config`: `http2` (default true; offered over TLS through ALPN, plain HTTP is
//!   HTTP/1.1 only, as in Go), `headers` (name -> value, added to every response; headers that the
//!   server itself owns, such as `Content-Type` or `WWW-Authenticate`, are refused).
//! - `basic_auth_users`: user name -> bcrypt hash. Empty or absent: no authentication.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{CipherSuite, NamedGroup, RootCertStore, ServerConfig, SupportedProtocolVersion};
use saphyr::{LoadableYamlNode, MarkedYaml};

use crate::yaml::{
    boolean, mapping, scalar_string, sequence, string, Field, FileProblem, Invalid, Loc, Node,
    TreeProblem, YamlFileError,
};

/// The largest web config, certificate, key or CA file read; all are small text files, so a
/// bigger one is a mistake (or a device file) rather than something to read to the end.
const MAX_FILE_SIZE: u64 = 1024 * 1024;

const TOP_KEYS: &[&str] = &[
    "tls_server_config",
    "http_server_config",
    "basic_auth_users",
];
const TLS_KEYS: &[&str] = &[
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "client_allowed_sans",
    "min_version",
    "max_version",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
];
const HTTP_KEYS: &[&str] = &["http2", "headers"];

/// Response headers that the server sets itself (framing, content type, authentication): a
/// configured value would be wrong or would break the response.
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "date",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "www-authenticate",
    "allow",
];

/// A loaded web config: what [`super::serve`] needs to set up TLS, HTTP/2, headers and auth.
#[derive(Clone)]
pub struct WebConfig {
    pub(crate) tls: Option<Arc<ServerConfig>>,
    pub(crate) http2: bool,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// User name -> bcrypt hash, each hash checked to parse.
    pub(crate) users: BTreeMap<String, String>,
}

impl Default for WebConfig {
    /// No TLS, HTTP/2 allowed (only matters with TLS), no extra headers, no auth.
    fn default() -> Self {
        WebConfig {
            tls: None,
            http2: true,
            headers: Vec::new(),
            users: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for WebConfig {
    // By hand: the rustls config is long, and hashes have no place in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("http2", &self.http2)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks the web config file at `path`, loading the TLS files it names.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = read_bounded(path).map_err(|source| WebConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Checks web config `text`; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
        let docs = MarkedYaml::load_from_str(text).map_err(|e| WebConfigError::Syntax {
            file: path.to_path_buf(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        document(&docs, base_dir).map_err(|Invalid { loc, problem }| WebConfigError::Invalid {
            file: path.to_path_buf(),
            line: loc.line,
            key: loc.key,
            problem,
        })
    }

    /// Whether connections are served over TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether requests need basic auth.
    pub fn basic_auth_enabled(&self) -> bool {
        !self.users.is_empty()
    }
}

/// Reads at most [`MAX_FILE_SIZE`] bytes; a longer file is an error, not a truncated read.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_FILE_SIZE + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_SIZE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_SIZE} bytes"
        )));
    }
    Ok(text)
}

fn read_bounded_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_SIZE} bytes"
        )));
    }
    Ok(bytes)
}

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

type Checked<T> = Result<T, Invalid<WebProblem>>;

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

/// A list of strings, each with its place.
fn strings<'n>(field: &Field<'n, '_>) -> Checked<Vec<(Loc, &'n str)>> {
    sequence(field)?
        .into_iter()
        .map(|(loc, node)| scalar_string(node, &loc).map(|text| (loc, text)))
        .collect()
}

// ---- The sections ----

fn document(docs: &[Node<'_>], base_dir: &Path) -> Checked<WebConfig> {
    let root = match docs {
        [] => return Ok(WebConfig::default()),
        [root] => root,
        [_, second, ..] => {
            let loc = Loc {
                line: second.span.start.line(),
                key: String::new(),
            };
            return loc.fail(WebProblem::MultipleDocuments(docs.len()));
        }
    };
    let top = mapping(root, &Loc::root(), Some(TOP_KEYS))?;
    let mut config = WebConfig::default();
    if let Some(http) = top.get("http_server_config") {
        let fields = mapping(http.value, &http.loc, Some(HTTP_KEYS))?;
        if let Some(f) = fields.get("http2") {
            config.http2 = boolean(f)?;
        }
        if let Some(f) = fields.get("headers") {
            config.headers = headers(f)?;
        }
    }
    if let Some(tls) = top.get("tls_server_config") {
        config.tls = Some(Arc::new(tls_config(tls, base_dir, config.http2)?));
    }
    if let Some(users) = top.get("basic_auth_users") {
        for user in mapping(users.value, &users.loc, None)?.0 {
            if user.name.contains(':') {
                return user
                    .loc
                    .fail(WebProblem::BadUserName(user.name.to_string()));
            }
            let hash = string(&user)?;
            if let Err(e) = hash.parse::<bcrypt::HashParts>() {
                return user.loc.fail(WebProblem::BadHash(e.to_string()));
            }
            config.users.insert(user.name.to_string(), hash.to_string());
        }
    }
    Ok(config)
}

fn headers(field: &Field<'_, '_>) -> Checked<Vec<(HeaderName, HeaderValue)>> {
    let mut out = Vec::new();
    for entry in mapping(field.value, &field.loc, None)?.0 {
        let Ok(name) = HeaderName::from_bytes(entry.name.as_bytes()) else {
            return entry
                .loc
                .fail(WebProblem::BadHeaderName(entry.name.to_string()));
        };
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return entry
                .loc
                .fail(WebProblem::ReservedHeader(entry.name.to_string()));
        }
        let Ok(value) = HeaderValue::from_str(string(&entry)?) else {
            return entry.loc.fail(WebProblem::BadHeaderValue);
        };
        out.push((name, value));
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    Tls12,
    Tls13,
}

fn version(field: &Field<'_, '_>) -> Checked<Version> {
    match string(field)? {
        "TLS12" => Ok(Version::Tls12),
        "TLS13" => Ok(Version::Tls13),
        old @ ("TLS10" | "TLS11") => field
            .loc
            .fail(WebProblem::UnsupportedTlsVersion(old.to_string())),
        other => field
            .loc
            .fail(WebProblem::UnknownTlsVersion(other.to_string())),
    }
}

/// Go's names of the TLS 1.2 suites that rustls' ring provider offers (Go also accepts the
/// short CHACHA20 names).
fn tls12_suite(name: &str) -> Option<CipherSuite> {
    Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => {
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        }
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => {
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        }
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => {
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => {
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        }
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
            CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        _ => return None,
    })
}

/// TLS 1.3 suites: Go does not let them be configured, and neither do we, but the names are
/// accepted so that a config written for Go loads.
const TLS13_SUITE_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

fn curve(name: &str) -> Option<NamedGroup> {
    match name {
        "X25519" => Some(NamedGroup::X25519),
        "CurveP256" => Some(NamedGroup::secp256r1),
        "CurveP384" => Some(NamedGroup::secp384r1),
        _ => None,
    }
}

/// Loads a PEM file named by `field`, relative to `base_dir`.
fn pem_file(field: &Field<'_, '_>, base_dir: &Path) -> Checked<(PathBuf, Vec<u8>)> {
    let written = PathBuf::from(string(field)?);
    match read_bounded_bytes(&base_dir.join(&written)) {
        Ok(bytes) => Ok((written, bytes)),
        Err(e) => field.loc.fail(WebProblem::Unreadable {
            path: written,
            reason: e.to_string(),
        }),
    }
}

fn certificates(field: &Field<'_, '_>, base_dir: &Path) -> Checked<Vec<CertificateDer<'static>>> {
    let (path, bytes) = pem_file(field, base_dir)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    match certs {
        Ok(certs) if certs.is_empty() => field.loc.fail(WebProblem::BadPem {
            path,
            reason: "no PEM certificate found".to_string(),
        }),
        Ok(certs) => Ok(certs),
        Err(e) => field.loc.fail(WebProblem::BadPem {
            path,
            reason: e.to_string(),
        }),
    }
}

fn tls_config(section: &Field<'_, '_>, base_dir: &Path, http2: bool) -> Checked<ServerConfig> {
    let fields = mapping(section.value, &section.loc, Some(TLS_KEYS))?;
    if let Some(f) = fields.get("client_allowed_sans") {
        return f.loc.fail(WebProblem::Unsupported);
    }
    let Some(cert_field) = fields.get("cert_file") else {
        return section.loc.fail(WebProblem::MissingKey("cert_file"));
    };
    let Some(key_field) = fields.get("key_file") else {
        return section.loc.fail(WebProblem::MissingKey("key_file"));
    };
    let chain = certificates(cert_field, base_dir)?;
    let (key_path, key_bytes) = pem_file(key_field, base_dir)?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).or_else(|e| {
        key_field.loc.fail(WebProblem::BadPem {
            path: key_path,
            reason: match e {
                rustls::pki_types::pem::Error::NoItemsFound => {
                    "no PEM private key (PKCS#8, PKCS#1 or SEC1) found".to_string()
                }
                e => e.to_string(),
            },
        })
    })?;

    // Versions.
    let min = fields.get("min_version").map(version).transpose()?;
    let max = fields.get("max_version").map(version).transpose()?;
    let (min, max) = (min.unwrap_or(Version::Tls12), max.unwrap_or(Version::Tls13));
    if min > max {
        let at = fields.get("min_version").unwrap_or(section);
        let name = |v| match v {
            Version::Tls12 => "TLS12".to_string(),
            Version::Tls13 => "TLS13".to_string(),
        };
        return at.loc.fail(WebProblem::VersionRange {
            min: name(min),
            max: name(max),
        });
    }
    let mut versions: Vec<&'static SupportedProtocolVersion> = Vec::new();
    if max >= Version::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if min <= Version::Tls12 {
        versions.push(&rustls::version::TLS12);
    }

    // Cipher suites and curves: a provider with ours, in the configured order.
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(f) = fields.get("cipher_suites") {
        let mut wanted = Vec::new();
        for (loc, name) in strings(f)? {
            if TLS13_SUITE_NAMES.contains(&name) {
                continue;
            }
            match tls12_suite(name) {
                Some(suite) => wanted.push(suite),
                None => return loc.fail(WebProblem::UnsupportedCipherSuite(name.to_string())),
            }
        }
        if !wanted.is_empty() {
            let all = std::mem::take(&mut provider.cipher_suites);
            let (tls13, tls12): (Vec<_>, Vec<_>) =
                all.into_iter().partition(|s| s.tls13().is_some());
            provider.cipher_suites = tls13;
            for name in wanted {
                if let Some(s) = tls12.iter().find(|s| s.suite() == name) {
                    provider.cipher_suites.push(*s);
                }
            }
        } else if max == Version::Tls12 {
            return f.loc.fail(WebProblem::NoCipherSuite);
        }
    }
    if let Some(f) = fields.get("curve_preferences") {
        let mut groups = Vec::new();
        for (loc, name) in strings(f)? {
            let found = curve(name)
                .and_then(|g| provider.kx_groups.iter().find(|k| k.name() == g).copied());
            match found {
                Some(group) => groups.push(group),
                None => return loc.fail(WebProblem::UnsupportedCurve(name.to_string())),
            }
        }
        if groups.is_empty() {
            return f.loc.fail(WebProblem::NoCurve);
        }
        provider.kx_groups = groups;
    }
    let provider = Arc::new(provider);

    // Client certificates.
    let auth_field = fields.get("client_auth_type");
    let auth = auth_field
        .map(string)
        .transpose()?
        .unwrap_or("NoClientCert");
    let ca_field = fields.get("client_ca_file");
    let auth_loc = auth_field.map_or(&section.loc, |f| &f.loc);
    let verify = match auth {
        "NoClientCert" | "" => None,
        "VerifyClientCertIfGiven" => Some(false),
        "RequireAndVerifyClientCert" => Some(true),
        "RequestClientCert" | "RequireAnyClientCert" => {
            return auth_loc.fail(WebProblem::UnverifiedClientAuth(auth.to_string()))
        }
        other => return auth_loc.fail(WebProblem::UnknownClientAuth(other.to_string())),
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .or_else(|e| section.loc.fail(WebProblem::Tls(e.to_string())))?;
    let builder = match (verify, ca_field) {
        (None, None) => builder.with_no_client_auth(),
        (None, Some(ca)) => return ca.loc.fail(WebProblem::ClientCaUnused),
        (Some(_), None) => return auth_loc.fail(WebProblem::ClientCaMissing(auth.to_string())),
        (Some(required), Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca, base_dir)? {
                roots
                    .add(cert)
                    .or_else(|e| ca.loc.fail(WebProblem::Tls(format!("client CA: {e}"))))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider);
            let verifier = if required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .or_else(|e| ca.loc.fail(WebProblem::Tls(format!("client CA: {e}"))))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).or_else(|e| {
        let reason = match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                "the private key does not belong to the certificate".to_string()
            }
            e => e.to_string(),
        };
        key_field.loc.fail(WebProblem::Tls(format!(
            "cannot use certificate and key: {reason}"
        )))
    })?;
    config.ignore_client_order = fields
        .get("prefer_server_cipher_suites")
        .map(boolean)
        .transpose()?
        .unwrap_or(true);
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match WebConfig::parse(text, Path::new("/nonexistent/web.yml")) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_file_is_default() {
        let c = WebConfig::parse("", Path::new("web.yml")).unwrap();
        assert!(!c.tls_enabled() && !c.basic_auth_enabled() && c.http2);
    }

    #[test]
    fn headers_and_users() {
        let text = "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n\
                    basic_auth_users:\n  alice: $2y$04$tx6R1fKzfgT9.kmTV3m9Q.OHr3iOM8nmH6SOtqDpFvLbAZRDq0Ls6\n";
        let c = WebConfig::parse(text, Path::new("web.yml")).unwrap();
        assert!(!c.http2);
        assert_eq!(c.headers[0].0.as_str(), "x-frame-options");
        assert!(c.basic_auth_enabled());
    }

    #[test]
    fn errors_name_line_and_key() {
        assert_eq!(
            err("http_server_config:\n  headers:\n    Content-Type: x\n"),
            "/nonexistent/web.yml:3: http_server_config.headers.Content-Type: header \"Content-Type\" is set by the server and cannot be configured"
        );
        assert_eq!(
            err("http_server_config:\n  http2: yes please\n"),
            "/nonexistent/web.yml:2: http_server_config.http2: expected true or false, got a string"
        );
        assert_eq!(
            err("basic_auth_users:\n  a:b: x\n"),
            "/nonexistent/web.yml:2: basic_auth_users.a:b: user name \"a:b\" must not contain ':'"
        );
        assert_eq!(
            err("tls_server_config:\n  key_file: k\n"),
            "/nonexistent/web.yml:1: tls_server_config: missing required key \"cert_file\""
        );
    }
}
