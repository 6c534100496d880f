//! In-process STARTTLS server for the integration tests, with rcgen certificates: the demo's
//! listener and certificates (`dane_exporter::demo::{starttls, certs}`, one copy for both) under
//! the names the tests use, panicking where a test would be broken.
//!
//! The `smtp` tests probe it directly; the `probe` tests put its address and the TLSA records of
//! its certificate into the DNS fixture. It speaks just enough SMTP for a prober (greeting, EHLO,
//! STARTTLS, QUIT, NOOP, RSET), then TLS via tokio-rustls with the ring provider, and records what
//! each client did so tests can check it (commands, SNI, TLS version).
//!
//! ```ignore
//! let cert = smtp_server::self_signed(&["mx.example.test"]);      // DANE-EE: pin cert.leaf_spki()
//! let (ca, cert) = smtp_server::ca_signed(&["mx.example.test"]);  // DANE-TA: pin ca.spki
//! let fixture = SmtpFixture::start(FixtureConfig::new(cert)).await;
//! probe_starttls(fixture.addr(), "mx.example.test", &SmtpSettings { port: fixture.port(), .. })
//! ```
//!
//! Certificates are ECDSA P-256 (rcgen with ring cannot make RSA keys: [`rsa_self_signed`] has
//! openssl make one), valid 1975-4096 unless a test changes that with [`TestCa::issue_with`].

// A shared fixture: each test module uses a different part of it.
#![allow(dead_code)]

use std::net::SocketAddr;

use dane_exporter::demo::certs::{self, Authority};
use dane_exporter::demo::starttls::StartTlsServer;
use rcgen::{CertificateParams, KeyPair, PublicKeyData};

pub use dane_exporter::demo::certs::pem_chain;
pub use dane_exporter::demo::starttls::{ListenerConfig as FixtureConfig, Starttls, TlsVersions};

/// A certificate chain and the leaf's private key, as the server presents them.
pub type TestCert = certs::Identity;

/// A self-signed leaf for the given DNS names (the first is also the CN): the DANE-EE case.
pub fn self_signed(names: &[&str]) -> TestCert {
    certs::self_signed(names).expect("self-signed certificate")
}

/// A fresh root CA and a leaf it issued; the chain sent is `[leaf, root]`: the DANE-TA case.
pub fn ca_signed(names: &[&str]) -> (TestCa, TestCert) {
    let ca = TestCa::root("Fixture Test Root");
    let cert = ca.issue(names);
    (ca, cert)
}

/// A certificate authority that can issue leaves and intermediates (its `der` and `spki`
/// through `Deref`).
pub struct TestCa(Authority);

impl std::ops::Deref for TestCa {
    type Target = Authority;
    fn deref(&self) -> &Authority {
        &self.0
    }
}

impl TestCa {
    /// A self-signed root CA.
    pub fn root(common_name: &str) -> TestCa {
        TestCa(Authority::root(common_name).expect("root CA"))
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, common_name: &str) -> TestCa {
        TestCa(self.0.intermediate(common_name).expect("intermediate CA"))
    }

    /// A leaf for `names`; chain `[leaf, this CA, CAs above...]`.
    pub fn issue(&self, names: &[&str]) -> TestCert {
        self.0.issue(names).expect("leaf certificate")
    }

    /// Like [`TestCa::issue`], letting the test change the leaf's parameters first.
    pub fn issue_with(
        &self,
        names: &[&str],
        customize: impl FnOnce(&mut CertificateParams),
    ) -> TestCert {
        self.0
            .issue_with(names, customize)
            .expect("leaf certificate")
    }
}

/// A running fixture. Stops (listener and all connections) when dropped.
pub struct SmtpFixture(StartTlsServer);

impl std::ops::Deref for SmtpFixture {
    type Target = StartTlsServer;
    fn deref(&self) -> &StartTlsServer {
        &self.0
    }
}

impl SmtpFixture {
    /// Binds `config.bind` and starts serving. Panics when it cannot (tests only).
    pub async fn start(config: FixtureConfig) -> SmtpFixture {
        SmtpFixture(
            StartTlsServer::start(config)
                .await
                .expect("STARTTLS fixture starts"),
        )
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }
}

/// A self-signed RSA-2048 leaf for `names` (rcgen with ring cannot generate RSA keys, so openssl
/// makes the key; rcgen signs with it).
pub fn rsa_self_signed(names: &[&str]) -> TestCert {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .expect("running openssl genpkey (tests/stack/install-deps.sh installs it)");
    assert!(out.status.success(), "openssl genpkey failed");
    let pem = String::from_utf8(out.stdout).expect("PEM");
    let key = KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let cert = certs::leaf_params(names)
        .expect("names")
        .self_signed(&key)
        .expect("self-sign RSA");
    TestCert {
        chain: vec![cert.der().to_vec()],
        spki: vec![key.subject_public_key_info()],
        key_pkcs8: key.serialize_der(),
    }
}
