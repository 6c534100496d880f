//! TLS for the STARTTLS probe: two client engines and their handshakes.
//!
//! `crate::smtp` hands over the TCP stream right after the server's 220 to STARTTLS; this module
//! runs the handshake and gives back the stream plus the facts `crate::core::TlsSession` reports
//! (version, cipher suite, presented chain). The chain then goes to `crate::dane`, which alone
//! decides whether it is trusted: the certificate verifiers accept any chain, but the handshake
//! signature is still checked, so a server cannot present a certificate whose key it does not hold.
//!
//! - This file: rustls (ring provider), the engine every handshake starts with: one shared client
//!   configuration, the verifier, the handshake, and configurations restricted to one key
//!   algorithm (`crate::checks::key_algorithms`).
//! - [`legacy`]: the system OpenSSL with Postfix 3.7's settings, for the servers rustls cannot
//!   speak to (CBC suites, RSA or DHE key exchange, P-521, leaves rustls refuses). The SMTP
//!   dialogue falls back to it when the rustls handshake fails, on a fresh connection: what
//!   Postfix negotiates, the probe negotiates too.

pub mod legacy;

use std::sync::{Arc, OnceLock};

use crate::core::smtp::KeyAlgorithm;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, OtherError, ProtocolVersion,
    SignatureAlgorithm, SignatureScheme, SupportedCipherSuite,
};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Most certificates accepted in a presented chain, leaf included.
///
/// rustls already caps the Certificate message at 64 KiB, but that still fits hundreds of tiny
/// certificates, each of which `crate::dane` would parse and hash. Real SMTP chains have 1 to 4;
/// 20 is far above any sane deployment and keeps the downstream work small.
pub(crate) const MAX_CHAIN_CERTS: usize = 20;

/// The client configuration every probe shares, built on first use.
///
/// Building it (provider, cipher suites, verifier) once matters because the exporter runs many
/// probes; an `Arc` clone per probe is all it costs afterwards. The verifier is stateless, so
/// sharing it across concurrent probes is safe: the chain is read from the connection afterwards
/// (see [`session_facts`]) instead of being stashed by the verifier.
pub(crate) fn client_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, rustls::Error>> = OnceLock::new();
    CONFIG.get_or_init(build_client_config).clone()
}

/// The client configuration of a handshake restricted to one key algorithm (see
/// `crate::checks::key_algorithms`), built once per algorithm and shared like [`client_config`].
pub(crate) fn restricted_client_config(
    algorithm: KeyAlgorithm,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    static ECDSA: OnceLock<Result<Arc<ClientConfig>, rustls::Error>> = OnceLock::new();
    static RSA: OnceLock<Result<Arc<ClientConfig>, rustls::Error>> = OnceLock::new();
    let slot = match algorithm {
        KeyAlgorithm::Ecdsa => &ECDSA,
        KeyAlgorithm::Rsa => &RSA,
    };
    slot.get_or_init(|| build_config(Some(algorithm))).clone()
}

fn build_client_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    build_config(None)
}

/// The shared configuration; `only` restricts it to one server key algorithm. TLS 1.3 servers
/// pick their certificate by the client's `signature_algorithms` (which rustls takes from the
/// verifier's `supported_verify_schemes`), TLS 1.2 servers by the cipher suite's authentication
/// (ECDHE_ECDSA vs ECDHE_RSA) together with that list: both are narrowed to the one algorithm,
/// so a server with no key of that kind has nothing it may present and must fail the handshake.
fn build_config(only: Option<KeyAlgorithm>) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(algorithm) = only {
        provider
            .cipher_suites
            .retain(|suite| suite.usable_for_signature_algorithm(signature_algorithm(algorithm)));
    }
    let provider = Arc::new(provider);
    let verifier = Arc::new(AcceptAnyChain {
        algorithms: provider.signature_verification_algorithms,
        only,
    });
    let mut config =
        ClientConfig::builder_with_provider(Arc::clone(&provider) as Arc<CryptoProvider>)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
    // With resumption a repeated probe would skip the Certificate message: no chain to check, and
    // a key change on the server would go unseen.
    config.resumption = Resumption::disabled();
    // SMTP has no ALPN protocol id; offering none is what MTAs do.
    config.alpn_protocols.clear();
    config.enable_sni = true;
    Ok(Arc::new(config))
}

/// The SNI to send: the TLSA base domain (RFC 7672 3.3). Only DNS names qualify; rustls would
/// silently send no SNI for an IP address. One trailing dot is accepted and dropped.
pub(crate) fn server_name(sni: &str) -> Result<ServerName<'static>, String> {
    match ServerName::try_from(sni.to_string()) {
        Ok(name @ ServerName::DnsName(_)) => Ok(name),
        // Debug formatting escapes control characters; the cut keeps the message short.
        _ => Err(format!(
            "SNI {:?} is not a valid DNS name",
            sni.chars().take(100).collect::<String>()
        )),
    }
}

/// Runs the TLS handshake on a stream that just got 220 to STARTTLS. No timeout here: the caller
/// runs this under the handshake step's timeout.
pub(crate) async fn handshake(
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    tcp: TcpStream,
) -> std::io::Result<TlsStream<TcpStream>> {
    TlsConnector::from(config).connect(name, tcp).await
}

/// Describes a handshake failure. tokio-rustls wraps rustls errors in `io::Error`; our own
/// verifier errors are unwrapped so the message reads "... 21 certificates ..." rather than a
/// debug dump.
pub(crate) fn handshake_error_detail(error: &std::io::Error) -> String {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls_error) => error_words(tls_error),
        None => error.to_string(),
    }
}

/// A rustls error in plain words, without the library's variant syntax
/// (`Other(OtherError(CaUsedAsEndEntity))` reads "the server presents a CA certificate as its
/// own (leaf)").
pub fn error_words(error: &rustls::Error) -> String {
    fn said(what: &str, e: &impl std::fmt::Debug) -> String {
        format!(
            "{what}: {}",
            crate::core::text::variant_words(&format!("{e:?}"))
        )
    }
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            match inner.downcast_ref::<webpki::Error>() {
                Some(e) => crate::dane::webpki_error(e),
                None => inner.to_string(),
            }
        }
        rustls::Error::InvalidCertificate(e) => said("invalid certificate", e),
        rustls::Error::AlertReceived(alert) => said("the server ended the handshake", alert),
        rustls::Error::PeerIncompatible(e) => said("nothing in common with the server", e),
        rustls::Error::PeerMisbehaved(e) => said("the server broke the TLS protocol", e),
        rustls::Error::InvalidMessage(e) => said("the server sent something that is not TLS", e),
        other => other.to_string(),
    }
}

/// True when the server ended the handshake with a handshake_failure alert: for a ClientHello
/// restricted to one key algorithm, its way of saying it has no certificate of that kind
/// (OpenSSL: "no shared cipher" in TLS 1.2, "no suitable signature algorithm" in TLS 1.3).
pub(crate) fn is_handshake_failure_alert(error: &std::io::Error) -> bool {
    matches!(
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure
        ))
    )
}

/// What a finished handshake established.
#[derive(Debug)]
pub(crate) struct SessionFacts {
    /// `TLSv1.3` or `TLSv1.2`.
    pub(crate) version: String,
    /// IANA cipher suite name.
    pub(crate) cipher_suite: String,
    /// The chain as presented, DER, leaf first.
    pub(crate) chain: Vec<Vec<u8>>,
}

/// Reads version, suite and chain off a finished handshake.
///
/// rustls sets the peer certificates only after the verifier accepted the chain and the handshake
/// signature checked out, and keeps them in the order received, so this is exactly the presented
/// chain of a server that proved possession of the leaf key.
pub(crate) fn session_facts(stream: &TlsStream<TcpStream>) -> Result<SessionFacts, String> {
    let (_, conn) = stream.get_ref();
    let version = match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        other => return Err(format!("unexpected protocol version {other:?}")),
    };
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .map(iana_suite_name)
        .ok_or("no cipher suite negotiated")?;
    let chain: Vec<Vec<u8>> = conn
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|cert| cert.as_ref().to_vec())
        .collect();
    if chain.is_empty() {
        return Err("server presented no certificate".to_string());
    }
    Ok(SessionFacts {
        version,
        cipher_suite,
        chain,
    })
}

/// The IANA registry name of a suite. rustls names TLS 1.3 suites `TLS13_AES_128_GCM_SHA256`
/// where IANA says `TLS_AES_128_GCM_SHA256`; TLS 1.2 names already agree.
fn iana_suite_name(suite: SupportedCipherSuite) -> String {
    let id = suite.suite();
    match id.as_str() {
        Some(name) => match name.strip_prefix("TLS13_") {
            Some(rest) => format!("TLS_{rest}"),
            None => name.to_string(),
        },
        None => format!("0x{:04X}", u16::from(id)),
    }
}

/// A chain longer than [`MAX_CHAIN_CERTS`].
#[derive(Debug, thiserror::Error)]
#[error("certificate chain has {0} certificates, more than the {MAX_CHAIN_CERTS} accepted")]
struct ChainTooLong(usize);

/// Accepts any certificate chain (DANE judges it later) but verifies handshake signatures with the
/// leaf's key, using the provider's algorithms; `only` narrows the schemes offered and accepted to
/// one key algorithm.
#[derive(Debug)]
struct AcceptAnyChain {
    algorithms: WebPkiSupportedAlgorithms,
    only: Option<KeyAlgorithm>,
}

impl AcceptAnyChain {
    /// A signature with a scheme outside the restriction: rustls already refuses schemes it did
    /// not offer, this keeps the rule in our hands too.
    fn check_scheme(&self, scheme: SignatureScheme) -> Result<(), rustls::Error> {
        match self.only {
            Some(only) if key_algorithm_of_scheme(scheme) != Some(only) => {
                Err(rustls::Error::PeerMisbehaved(
                    rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
                ))
            }
            _ => Ok(()),
        }
    }
}

impl ServerCertVerifier for AcceptAnyChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let count = intermediates.len() + 1;
        if count > MAX_CHAIN_CERTS {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(ChainTooLong(count))),
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check_scheme(dss.scheme)?;
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check_scheme(dss.scheme)?;
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let mut schemes = self.algorithms.supported_schemes();
        if let Some(only) = self.only {
            schemes.retain(|s| key_algorithm_of_scheme(*s) == Some(only));
        }
        schemes
    }
}

/// The rustls signature algorithm of a key algorithm.
fn signature_algorithm(algorithm: KeyAlgorithm) -> SignatureAlgorithm {
    match algorithm {
        KeyAlgorithm::Ecdsa => SignatureAlgorithm::ECDSA,
        KeyAlgorithm::Rsa => SignatureAlgorithm::RSA,
    }
}

/// The key algorithm a handshake signature scheme belongs to (`None` for EdDSA and others).
pub(crate) fn key_algorithm_of_scheme(scheme: SignatureScheme) -> Option<KeyAlgorithm> {
    use SignatureScheme::*;
    match scheme {
        ECDSA_NISTP256_SHA256
        | ECDSA_NISTP384_SHA384
        | ECDSA_NISTP521_SHA512
        | ECDSA_SHA1_Legacy => Some(KeyAlgorithm::Ecdsa),
        RSA_PKCS1_SHA1 | RSA_PKCS1_SHA256 | RSA_PKCS1_SHA384 | RSA_PKCS1_SHA512
        | RSA_PSS_SHA256 | RSA_PSS_SHA384 | RSA_PSS_SHA512 => Some(KeyAlgorithm::Rsa),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_built_once_and_shared() {
        let a = client_config().unwrap();
        let b = client_config().unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.alpn_protocols.is_empty());
    }

    #[test]
    fn sni_must_be_a_dns_name() {
        assert!(server_name("mx.example.com").is_ok());
        assert!(server_name("mx.example.com.").is_ok());
        assert!(server_name("192.0.2.1").is_err());
        assert!(server_name("::1").is_err());
        assert!(server_name("bad name").is_err());
        assert!(server_name("").is_err());
    }

    #[test]
    fn suite_names_follow_iana() {
        let provider = rustls::crypto::ring::default_provider();
        let names: Vec<String> = provider
            .cipher_suites
            .iter()
            .map(|s| iana_suite_name(*s))
            .collect();
        assert!(names.contains(&"TLS_AES_128_GCM_SHA256".to_string()));
        assert!(names.contains(&"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".to_string()));
        assert!(names.iter().all(|n| !n.starts_with("TLS13_")));
    }

    #[test]
    fn schemes_map_to_their_algorithm() {
        use rustls::SignatureScheme as S;
        assert_eq!(
            key_algorithm_of_scheme(S::ECDSA_NISTP256_SHA256),
            Some(KeyAlgorithm::Ecdsa)
        );
        assert_eq!(
            key_algorithm_of_scheme(S::RSA_PSS_SHA256),
            Some(KeyAlgorithm::Rsa)
        );
        assert_eq!(
            key_algorithm_of_scheme(S::RSA_PKCS1_SHA256),
            Some(KeyAlgorithm::Rsa)
        );
        assert_eq!(key_algorithm_of_scheme(S::ED25519), None);
    }
}
