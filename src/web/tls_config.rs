//! The `tls_server_config` section of the web config: versions, TLS 1.2 suites, curves, the
//! certificate, key and client CA files, turned into a rustls server configuration.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{CipherSuite, NamedGroup, RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::config_problem::{Checked, WebProblem};
use crate::yaml::{boolean, mapping, scalar_string, sequence, string, Field, Loc};

/// The largest web config, certificate, key or CA file read; all are small text files, so a
/// bigger one is a mistake (or a device file) rather than something to read to the end.
pub(super) const MAX_FILE_SIZE: u64 = 1024 * 1024;

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
/// A list of strings, each with its place.
fn strings<'n>(field: &Field<'n, '_>) -> Checked<Vec<(Loc, &'n str)>> {
    sequence(field)?
        .into_iter()
        .map(|(loc, node)| scalar_string(node, &loc).map(|text| (loc, text)))
        .collect()
}

/// Reads at most [`MAX_FILE_SIZE`] bytes; a longer file is an error, not a truncated read.
pub(super) fn read_bounded(path: &Path) -> std::io::Result<String> {
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

pub(super) fn tls_config(
    section: &Field<'_, '_>,
    base_dir: &Path,
    http2: bool,
) -> Checked<ServerConfig> {
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
