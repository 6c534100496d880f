//! WebPKI trust for MTA-STS (RFC 8461 3.3 and 4.2): the roots the policy host's HTTPS certificate
//! and every MX host's SMTP certificate must chain to, and the name checks.
//!
//! Roots are Mozilla's list (`webpki-roots`), plus the certificates of an optional PEM file
//! (`mta_sts_ca_file` in the configuration: a private CA for tests or for an internal deployment).
//! The checks themselves are rustls' WebPKI verifier: chain building, signatures, validity dates,
//! key usage (server authentication), and the DNS name (SAN; a wildcard matches one leftmost
//! label). Used by `super::fetch` (HTTPS client configuration) and `super::judge` (the
//! chains `crate::tls` captured during STARTTLS: no second connection).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, RootCertStore};

use crate::tls::MAX_CHAIN_CERTS;

/// Why the trust store could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The extra CA file could not be read or holds no usable certificate.
    #[error("CA file {path}: {detail}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// rustls refused the configuration.
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// The roots, the verifier over them, and the HTTPS client configuration using it.
pub struct WebPki {
    verifier: Arc<WebPkiServerVerifier>,
    client: Arc<ClientConfig>,
}

impl std::fmt::Debug for WebPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebPki")
    }
}

/// Reads the certificates of a PEM file; at least one is required.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let fail = |detail: String| TrustError::CaFile {
        path: path.to_path_buf(),
        detail,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certificates.is_empty() {
        return Err(fail("no PEM certificate in the file".into()));
    }
    Ok(certificates)
}

impl WebPki {
    /// Mozilla's roots plus those of `extra_ca_file`.
    pub fn new(extra_ca_file: Option<&Path>) -> Result<Self, TrustError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = extra_ca_file {
            for certificate in read_ca_file(path)? {
                roots.add(certificate).map_err(|e| TrustError::CaFile {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| TrustError::Tls(e.to_string()))?;
        let mut client = ClientConfig::builder_with_provider(provider as Arc<CryptoProvider>)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TrustError::Tls(e.to_string()))?
            .with_webpki_verifier(Arc::clone(&verifier))
            .with_no_client_auth();
        // Each probe must see the certificate the server serves now, not skip it by resumption.
        client.resumption = Resumption::disabled();
        client.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            verifier,
            client: Arc::new(client),
        })
    }

    /// The HTTPS client configuration for the policy host.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.client)
    }

    /// Whether `chain` (DER, leaf first, as presented) passes MTA-STS validation for MX host
    /// `host` at `now` (RFC 8461 4.2): a chain to a trusted root and the host name in the leaf.
    pub fn check_mx_certificate(
        &self,
        chain: &[Vec<u8>],
        host: &str,
        now_unix: u64,
    ) -> Result<(), String> {
        let Some((leaf, rest)) = chain.split_first() else {
            return Err("no certificate presented".into());
        };
        let host = host.trim_end_matches('.');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("{host:?} is not a DNS name"))?;
        let leaf = CertificateDer::from(leaf.as_slice());
        let intermediates: Vec<CertificateDer<'_>> = rest
            .iter()
            .take(MAX_CHAIN_CERTS)
            .map(|der| CertificateDer::from(der.as_slice()))
            .collect();
        self.verifier
            .verify_server_cert(
                &leaf,
                &intermediates,
                &name,
                &[],
                UnixTime::since_unix_epoch(std::time::Duration::from_secs(now_unix)),
            )
            .map(|_| ())
            .map_err(|e| crate::tls::error_words(&e))
    }
}
