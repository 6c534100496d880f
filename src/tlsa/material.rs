//! The keys `dane_exporter tlsa` computes records for, read from where the postmaster has them:
//! a PEM file (a certificate chain, leaf first, or a bare public or private key), a certbot
//! lineage (live and staged), or the chain a live server presents after STARTTLS.
//!
//! Files are read bounded (`checks::local_certs::read_bounded`, the reader the exporter's
//! certificate check uses); keys are opened with the system OpenSSL, as `openssl pkey` would, and
//! only their public half is kept. The records themselves come from `crate::dane`'s
//! association data, the same code the exporter matches with.

use std::path::{Path, PathBuf};

use crate::checks::local_certs::{parse_pem_chain, read_bounded, LocalCertError};
use crate::core::{CertUsage, CertificateInfo, TlsaRecord};
use crate::dane::{
    association_data, certificate_spki, describe_certificate, AssociationError, TlsaSubject,
};

/// The three numeric fields of the records to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Certificate usage: 3 (DANE-EE, the leaf) or 2 (DANE-TA, the issuer); 0 and 1 are
    /// computed like 2 and 3 but are unusable for SMTP (RFC 7672 3.1.3).
    pub usage: u8,
    /// Selector: 1 (SubjectPublicKeyInfo) or 0 (the whole certificate).
    pub selector: u8,
    /// Matching type: 1 (SHA-256), 2 (SHA-512) or 0 (the data itself).
    pub matching: u8,
}

impl Default for Params {
    /// `3 1 1`, what RFC 7671 section 5.1 recommends for SMTP.
    fn default() -> Self {
        Self {
            usage: 3,
            selector: 1,
            matching: 1,
        }
    }
}

impl Params {
    /// Whether the record names the issuer (usages 0 and 2) rather than the leaf.
    pub fn names_issuer(self) -> bool {
        matches!(
            CertUsage::from(self.usage),
            CertUsage::PkixTa | CertUsage::DaneTa
        )
    }
}

/// One key: where it came from, its chain when there is one, its public key.
#[derive(Clone, Debug)]
pub struct Material {
    /// Where it was read: a path, or `HOST port N (STARTTLS)`.
    pub origin: String,
    /// The certificate chain, leaf first; empty for a bare key.
    pub chain: Vec<Vec<u8>>,
    /// The leaf's (or the bare key's) SubjectPublicKeyInfo DER: what stays the same across
    /// renewals that keep the key.
    pub spki: Vec<u8>,
    /// The leaf, described; `None` for a bare key.
    pub leaf: Option<CertificateInfo>,
}

/// Why a key could not be read or a record not computed.
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    /// The file could not be read (missing, too large, not a file).
    #[error("{}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: LocalCertError,
    },
    /// The file holds neither a certificate nor a key OpenSSL can read.
    #[error("{}: neither a PEM certificate nor a PEM public or private key", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The leaf certificate does not parse.
    #[error("{origin}: {detail}")]
    BadCertificate {
        /// Where it came from.
        origin: String,
        /// What the parser said.
        detail: String,
    },
    /// A usage naming the issuer, for a file without the issuer's certificate.
    #[error(
        "{origin}: usage {usage} names the issuer, and there is no certificate after the leaf \
         (give the full chain, e.g. a lineage's fullchain.pem)"
    )]
    NoIssuer {
        /// Where the leaf came from.
        origin: String,
        /// The usage asked for.
        usage: u8,
    },
    /// The selector or matching type cannot be computed for this key.
    #[error("{origin}: {error}")]
    Association {
        /// Where the key came from.
        origin: String,
        /// Why.
        error: AssociationError,
    },
}

impl Material {
    /// A chain as a server presents it or a file holds it, leaf first.
    pub fn from_chain(origin: String, chain: Vec<Vec<u8>>) -> Result<Self, MaterialError> {
        let bad = |detail: String| MaterialError::BadCertificate {
            origin: origin.clone(),
            detail,
        };
        let leaf = chain.first().ok_or_else(|| bad("no certificate".into()))?;
        let info = describe_certificate(leaf).map_err(|e| bad(e.to_string()))?;
        let spki = certificate_spki(leaf).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            origin,
            chain,
            spki,
            leaf: Some(info),
        })
    }

    /// A PEM file: its certificates when it has any (a combined key+chain file counts as its
    /// chain), else its public or private key.
    pub fn read(path: &Path) -> Result<Self, MaterialError> {
        let file_error = |error| MaterialError::File {
            path: path.to_path_buf(),
            error,
        };
        let bytes = read_bounded(path).map_err(file_error)?;
        let origin = path.display().to_string();
        match parse_pem_chain(&bytes) {
            Ok(chain) => Self::from_chain(origin, chain),
            Err(LocalCertError::NoCertificate) => {
                let spki = public_key_der(&bytes).ok_or_else(|| MaterialError::NoKey {
                    path: path.to_path_buf(),
                })?;
                Ok(Self {
                    origin,
                    chain: Vec::new(),
                    spki,
                    leaf: None,
                })
            }
            Err(error) => Err(file_error(error)),
        }
    }

    /// The record with `params` for this key (the leaf, or for usages 0 and 2 the issuer: the
    /// certificate after the leaf).
    pub fn record(&self, params: Params) -> Result<TlsaRecord, MaterialError> {
        let subject = if params.names_issuer() {
            let issuer = self.chain.get(1).ok_or_else(|| MaterialError::NoIssuer {
                origin: self.origin.clone(),
                usage: params.usage,
            })?;
            TlsaSubject::Certificate(issuer)
        } else {
            self.subject()
        };
        let data = association_data(subject, params.selector.into(), params.matching.into())
            .map_err(|error| MaterialError::Association {
                origin: self.origin.clone(),
                error,
            })?;
        Ok(TlsaRecord::new(
            params.usage,
            params.selector,
            params.matching,
            data,
        ))
    }

    /// Whether `record` is a usable SMTP record (RFC 7672 3.1) for this key: a DANE-EE record of
    /// the leaf (or bare key), or a DANE-TA record of a certificate above the leaf. Whether a
    /// DANE-TA chain verifies is the exporter's and `check`'s business; for a rollover the
    /// question is only whether the key is pinned.
    pub fn covered_by(&self, record: &TlsaRecord) -> bool {
        let matches = |subject| {
            association_data(subject, record.selector, record.matching)
                .is_ok_and(|data| data == record.data)
        };
        match record.usage {
            CertUsage::DaneEe => matches(self.subject()),
            CertUsage::DaneTa => self
                .chain
                .iter()
                .skip(1)
                .any(|der| matches(TlsaSubject::Certificate(der))),
            _ => false,
        }
    }

    /// Whether `other` has the same key (a renewal that kept the key is the same key).
    pub fn same_key(&self, other: &Material) -> bool {
        self.spki == other.spki
    }

    /// The first DNS name of the leaf, the natural TLSA base name when none is given.
    pub fn first_name(&self) -> Option<&str> {
        self.leaf
            .as_ref()
            .and_then(|leaf| leaf.dns_names.first())
            .map(String::as_str)
    }

    fn subject(&self) -> TlsaSubject<'_> {
        match self.chain.first() {
            Some(leaf) => TlsaSubject::Certificate(leaf),
            None => TlsaSubject::PublicKey(&self.spki),
        }
    }
}

/// The SubjectPublicKeyInfo DER of a PEM public key or private key (PKCS#8, or the
/// traditional RSA/EC forms), as `openssl pkey -pubout -outform DER` writes it. Encrypted keys
/// are not opened (no passphrase is asked for).
fn public_key_der(pem: &[u8]) -> Option<Vec<u8>> {
    use openssl::pkey::PKey;
    if let Ok(key) = PKey::public_key_from_pem(pem) {
        return key.public_key_to_der().ok();
    }
    let key = PKey::private_key_from_pem_callback(pem, |_| Ok(0)).ok()?;
    key.public_key_to_der().ok()
}
