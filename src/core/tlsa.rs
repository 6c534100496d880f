//! The TLSA record (RFC 6698 section 2.1) as the DANE rules see it.
//!
//! Records come from the DNS layer (`crate::dns`), which turns wire RDATA into a [`TlsaRecord`], or
//! from the command line and tests in presentation form (`"3 1 1 <hex>"`). Unknown field values are
//! kept, not rejected: RFC 7672 section 3.1.3 says such records are *unusable*, and a report must
//! still be able to show them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Certificate usage field (RFC 6698 2.1.1, RFC 7218 acronyms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertUsage {
    /// 0: PKIX-TA. Unusable for SMTP (RFC 7672 3.1.3).
    PkixTa,
    /// 1: PKIX-EE. Unusable for SMTP (RFC 7672 3.1.3).
    PkixEe,
    /// 2: DANE-TA, a trust anchor that must certify the presented chain.
    DaneTa,
    /// 3: DANE-EE, the server's own certificate or key.
    DaneEe,
    /// Any other value: unusable.
    Unknown(u8),
}

/// Selector field (RFC 6698 2.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// 0: the whole certificate, DER.
    FullCertificate,
    /// 1: the SubjectPublicKeyInfo, DER.
    SubjectPublicKeyInfo,
    /// Any other value: unusable.
    Unknown(u8),
}

/// Matching type field (RFC 6698 2.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchingType {
    /// 0: exact match of the selected data.
    Full,
    /// 1: SHA-256 of the selected data.
    Sha256,
    /// 2: SHA-512 of the selected data.
    Sha512,
    /// Any other value: unusable.
    Unknown(u8),
}

/// One TLSA record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsaRecord {
    /// Certificate usage.
    pub usage: CertUsage,
    /// Which part of the certificate is matched.
    pub selector: Selector,
    /// How it is matched.
    pub matching: MatchingType,
    /// Certificate association data.
    pub data: Vec<u8>,
}

impl From<u8> for CertUsage {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::PkixTa,
            1 => Self::PkixEe,
            2 => Self::DaneTa,
            3 => Self::DaneEe,
            other => Self::Unknown(other),
        }
    }
}

impl From<CertUsage> for u8 {
    fn from(v: CertUsage) -> u8 {
        match v {
            CertUsage::PkixTa => 0,
            CertUsage::PkixEe => 1,
            CertUsage::DaneTa => 2,
            CertUsage::DaneEe => 3,
            CertUsage::Unknown(other) => other,
        }
    }
}

impl From<u8> for Selector {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::FullCertificate,
            1 => Self::SubjectPublicKeyInfo,
            other => Self::Unknown(other),
        }
    }
}

impl From<Selector> for u8 {
    fn from(v: Selector) -> u8 {
        match v {
            Selector::FullCertificate => 0,
            Selector::SubjectPublicKeyInfo => 1,
            Selector::Unknown(other) => other,
        }
    }
}

impl From<u8> for MatchingType {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Full,
            1 => Self::Sha256,
            2 => Self::Sha512,
            other => Self::Unknown(other),
        }
    }
}

impl From<MatchingType> for u8 {
    fn from(v: MatchingType) -> u8 {
        match v {
            MatchingType::Full => 0,
            MatchingType::Sha256 => 1,
            MatchingType::Sha512 => 2,
            MatchingType::Unknown(other) => other,
        }
    }
}

/// Hex digits in [`TlsaRecord::digest_label`]: 48 bits tell the few records of one host apart.
pub const DIGEST_LABEL_HEX: usize = 12;

impl TlsaRecord {
    /// Builds a record from the three numeric fields and the association data.
    pub fn new(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Self {
        Self {
            usage: usage.into(),
            selector: selector.into(),
            matching: matching.into(),
            data,
        }
    }

    /// A short name for the association data in metric labels (`digest`), bounded whatever the
    /// record holds: the first [`DIGEST_LABEL_HEX`] hex digits of the data when it is a digest
    /// (matching types 1 and 2: what the zone file shows), else of the data's SHA-256 (a whole
    /// certificate or key starts with the same DER header as any other).
    pub fn digest_label(&self) -> String {
        let mut hex = match self.matching {
            MatchingType::Sha256 | MatchingType::Sha512 => hex::encode(&self.data),
            _ => hex::encode(ring::digest::digest(&ring::digest::SHA256, &self.data)),
        };
        hex.truncate(DIGEST_LABEL_HEX);
        hex
    }

    /// The three numeric fields, e.g. `(3, 1, 1)`.
    pub fn params(&self) -> (u8, u8, u8) {
        (
            self.usage.into(),
            self.selector.into(),
            self.matching.into(),
        )
    }
}

/// Presentation form, as in a zone file: `3 1 1 0a1b...` (lower-case hex).
impl fmt::Display for TlsaRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (u, s, m) = self.params();
        write!(f, "{u} {s} {m} {}", hex::encode(&self.data))
    }
}

impl Serialize for TlsaRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a presentation-form TLSA record could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlsaParseError {
    /// Fewer than four fields.
    #[error("a TLSA record needs four fields: usage selector matching-type data")]
    MissingField,
    /// A numeric field is not 0..=255.
    #[error("TLSA field {field} is not a number from 0 to 255: {value:?}")]
    BadNumber {
        /// Which field.
        field: &'static str,
        /// The text found.
        value: String,
    },
    /// The association data is not hexadecimal.
    #[error("TLSA association data is not hexadecimal")]
    BadHex,
}

impl FromStr for TlsaRecord {
    type Err = TlsaParseError;

    /// Parses `usage selector matching hex...`; the hex may be split by white space as in zone files.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fields = s.split_whitespace();
        let mut number = |field: &'static str| -> Result<u8, TlsaParseError> {
            let value = fields.next().ok_or(TlsaParseError::MissingField)?;
            value.parse::<u8>().map_err(|_| TlsaParseError::BadNumber {
                field,
                value: value.to_string(),
            })
        };
        let usage = number("usage")?;
        let selector = number("selector")?;
        let matching = number("matching type")?;
        let hex_text: String = fields.collect();
        if hex_text.is_empty() {
            return Err(TlsaParseError::MissingField);
        }
        let data = hex::decode(hex_text).map_err(|_| TlsaParseError::BadHex)?;
        Ok(Self::new(usage, selector, matching, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_label_is_short_and_tells_records_apart() {
        let sha256: TlsaRecord = format!("3 1 1 {}", "ab12".repeat(16)).parse().unwrap();
        assert_eq!(sha256.digest_label(), "ab12ab12ab12");
        // Two whole certificates share their DER header: the label hashes them instead.
        let header = "3082".repeat(8);
        let a: TlsaRecord = format!("3 0 0 {header}01").parse().unwrap();
        let b: TlsaRecord = format!("3 0 0 {header}02").parse().unwrap();
        assert_eq!(a.digest_label().len(), DIGEST_LABEL_HEX);
        assert_ne!(a.digest_label(), b.digest_label());
        assert!(!a.digest_label().starts_with("3082"));
        let big = TlsaRecord::new(2, 0, 0, vec![0x30; 4096]);
        assert_eq!(big.digest_label().len(), DIGEST_LABEL_HEX);
    }

    #[test]
    fn presentation_form_round_trips() {
        let rec: TlsaRecord = "3 1 1 0A0b 0c".parse().expect("valid record");
        assert_eq!(rec.usage, CertUsage::DaneEe);
        assert_eq!(rec.selector, Selector::SubjectPublicKeyInfo);
        assert_eq!(rec.matching, MatchingType::Sha256);
        assert_eq!(rec.data, vec![0x0a, 0x0b, 0x0c]);
        assert_eq!(rec.to_string(), "3 1 1 0a0b0c");
    }

    #[test]
    fn unknown_values_are_kept() {
        let rec: TlsaRecord = "4 7 9 00".parse().expect("valid syntax");
        assert_eq!(rec.usage, CertUsage::Unknown(4));
        assert_eq!(rec.selector, Selector::Unknown(7));
        assert_eq!(rec.matching, MatchingType::Unknown(9));
        assert_eq!(rec.params(), (4, 7, 9));
    }

    #[test]
    fn bad_input_is_rejected() {
        assert_eq!(
            "3 1".parse::<TlsaRecord>(),
            Err(TlsaParseError::MissingField)
        );
        assert_eq!(
            "3 1 1".parse::<TlsaRecord>(),
            Err(TlsaParseError::MissingField)
        );
        assert!(matches!(
            "3 1 300 00".parse::<TlsaRecord>(),
            Err(TlsaParseError::BadNumber {
                field: "matching type",
                ..
            })
        ));
        assert_eq!(
            "3 1 1 zz".parse::<TlsaRecord>(),
            Err(TlsaParseError::BadHex)
        );
    }
}
