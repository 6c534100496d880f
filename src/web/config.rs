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
use std::path::Path;
use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use rustls::ServerConfig;
use saphyr::{LoadableYamlNode, MarkedYaml};

use super::config_problem::{Checked, WebConfigError, WebProblem};
use super::tls_config::{read_bounded, tls_config};
use crate::yaml::{boolean, mapping, string, Field, Invalid, Loc, Node};

const TOP_KEYS: &[&str] = &[
    "tls_server_config",
    "http_server_config",
    "basic_auth_users",
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
