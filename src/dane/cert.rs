//! What the DANE rules read from a DER certificate, and the TLSA "selected data" and digests
//! (RFC 6698 sections 2.1.2 and 2.1.3).
//!
//! Certificate bytes come from the network, so everything here is fallible and never panics: a
//! certificate that x509-parser cannot read, or that carries bytes after its outer SEQUENCE, is
//! "not a certificate" and matches no TLSA record. (A real TLS stack would have rejected it before
//! DANE ever saw it; treating it as unmatchable keeps us in line with OpenSSL/Postfix.)

use std::borrow::Cow;

use ring::digest;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::core::{CertificateInfo, KeyAlgorithm, MatchingType, Selector, TlsaRecord};

/// The key algorithm of a DER certificate's subject key; `None` when it does not parse or is
/// another kind (Ed25519, DSA...).
pub fn leaf_key_algorithm(der: &[u8]) -> Option<KeyAlgorithm> {
    use x509_parser::oid_registry::{
        OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS,
    };
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let oid = &cert.tbs_certificate.subject_pki.algorithm.algorithm;
    if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        Some(KeyAlgorithm::Ecdsa)
    } else if *oid == OID_PKCS1_RSAENCRYPTION || *oid == OID_PKCS1_RSASSAPSS {
        Some(KeyAlgorithm::Rsa)
    } else {
        None
    }
}

/// The smallest RSA modulus OpenSSL accepts from a peer at security level 1 (80 bits of
/// security), the level Postfix sets on every connection that must authenticate
/// (`tls_client.c`). Under DANE-EE nothing else about the leaf is judged, but OpenSSL still
/// refuses a smaller key (`X509_V_ERR_EE_KEY_TOO_SMALL`): posttls-finger says "Untrusted".
pub const MIN_RSA_BITS: usize = 1024;

/// The RSA modulus size of `cert`'s key when it is below [`MIN_RSA_BITS`].
pub(super) fn rsa_key_too_small(cert: &X509Certificate<'_>) -> Option<usize> {
    use x509_parser::public_key::PublicKey;
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => Some(rsa.key_size()).filter(|bits| *bits < MIN_RSA_BITS),
        _ => None,
    }
}

/// A certificate that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("certificate does not parse: {0}")]
pub struct CertificateError(pub String);

/// Parses one DER certificate, rejecting trailing bytes after the outer SEQUENCE: the TLS
/// Certificate message delimits each certificate, so extra bytes mean a malformed certificate.
pub(super) fn parse(der: &[u8]) -> Result<X509Certificate<'_>, CertificateError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(CertificateError(format!(
            "{} bytes after the certificate",
            rest.len()
        ))),
        Err(e) => Err(CertificateError(e.to_string())),
    }
}

/// Parses a DER SubjectPublicKeyInfo (selector 1 data), rejecting trailing bytes.
pub(super) fn parse_spki(der: &[u8]) -> Option<x509_parser::x509::SubjectPublicKeyInfo<'_>> {
    match x509_parser::x509::SubjectPublicKeyInfo::from_der(der) {
        Ok(([], spki)) => Some(spki),
        _ => None,
    }
}

/// Reads the facts a report shows from a DER certificate.
pub fn describe_certificate(der: &[u8]) -> Result<CertificateInfo, CertificateError> {
    let cert = parse(der)?;
    Ok(describe_parsed(&cert))
}

/// [`describe_certificate`] for an already parsed certificate.
pub(super) fn describe_parsed(cert: &X509Certificate<'_>) -> CertificateInfo {
    CertificateInfo {
        subject: rfc4514(cert.subject()),
        issuer: rfc4514(cert.issuer()),
        dns_names: dns_sans(cert).unwrap_or_default(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        spki_sha256: hex::encode(digest::digest(&digest::SHA256, spki_der(cert)).as_ref()),
    }
}

/// RFC 4514 string form: RDNs in reverse order of the encoding (most specific first), joined by
/// `,`, attribute short names where known (dotted OID otherwise), multi-valued RDNs joined by `+`.
/// String values get the RFC 4514 section 2.4 backslash escapes; non-string values are shown as
/// `#` and the hex of their content octets (display only: this text is never parsed back).
fn rfc4514(name: &x509_parser::x509::X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let key = x509_parser::objects::oid2abbrev(atv.attr_type(), registry)
                        .map(str::to_string)
                        .unwrap_or_else(|_| atv.attr_type().to_id_string());
                    let value = atv
                        .as_str()
                        .map(escape_rfc4514)
                        .unwrap_or_else(|_| format!("#{}", hex::encode(atv.as_slice())));
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// RFC 4514 section 2.4 escaping of an attribute value.
fn escape_rfc4514(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i == last && c == ' ');
        if c == '\0' {
            out.push_str("\\00");
            continue;
        }
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The dNSName entries of the subjectAltName extension, in certificate order. `Ok(empty)` when the
/// extension is absent or has no DNS names; `Err` when it is malformed or duplicated.
pub(super) fn dns_sans(cert: &X509Certificate<'_>) -> Result<Vec<String>, CertificateError> {
    let san = cert
        .subject_alternative_name()
        .map_err(|e| CertificateError(format!("subjectAltName: {e}")))?;
    Ok(san
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|gn| match gn {
                    GeneralName::DNSName(name) => Some((*name).to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The SubjectPublicKeyInfo DER (outer SEQUENCE included), the data of selector 1. This is what
/// OpenSSL's `i2d_X509_PUBKEY` gives for DANE (RFC 6698 2.1.2), checked in the feasibility notes.
pub(super) fn spki_der<'a>(cert: &X509Certificate<'a>) -> &'a [u8] {
    cert.tbs_certificate.subject_pki.raw
}

/// The selected data of RFC 6698 2.1.2: the full DER for selector 0, the SPKI for selector 1.
/// `None` for an unknown selector.
pub(super) fn selected_data<'a>(
    selector: Selector,
    der: &'a [u8],
    cert: &X509Certificate<'a>,
) -> Option<&'a [u8]> {
    match selector {
        Selector::FullCertificate => Some(der),
        Selector::SubjectPublicKeyInfo => Some(spki_der(cert)),
        Selector::Unknown(_) => None,
    }
}

/// The value compared with the association data (RFC 6698 2.1.3): the data itself for matching
/// type 0, its SHA-256 or SHA-512 otherwise. `None` for an unknown matching type.
pub(super) fn association_value(matching: MatchingType, data: &[u8]) -> Option<Cow<'_, [u8]>> {
    match matching {
        MatchingType::Full => Some(Cow::Borrowed(data)),
        MatchingType::Sha256 => Some(Cow::Owned(
            digest::digest(&digest::SHA256, data).as_ref().to_vec(),
        )),
        MatchingType::Sha512 => Some(Cow::Owned(
            digest::digest(&digest::SHA512, data).as_ref().to_vec(),
        )),
        MatchingType::Unknown(_) => None,
    }
}

/// True when `record`'s association data matches the certificate (usage is not looked at).
pub(super) fn record_matches_cert(
    record: &TlsaRecord,
    der: &[u8],
    cert: &X509Certificate<'_>,
) -> bool {
    selected_data(record.selector, der, cert)
        .and_then(|data| association_value(record.matching, data))
        .is_some_and(|value| value.as_ref() == record.data.as_slice())
}

/// What a TLSA record's association data is computed from, as `dane_exporter tlsa` reads it:
/// a certificate (either selector), or only a public key (selector 1), e.g. a next key
/// generated before its certificate exists.
#[derive(Clone, Copy, Debug)]
pub enum TlsaSubject<'a> {
    /// A DER certificate.
    Certificate(&'a [u8]),
    /// A DER SubjectPublicKeyInfo.
    PublicKey(&'a [u8]),
}

/// Why no association data could be computed for a [`TlsaSubject`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssociationError {
    /// The certificate does not parse.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The public key is not a DER SubjectPublicKeyInfo.
    #[error("not a DER SubjectPublicKeyInfo")]
    BadPublicKey,
    /// Selector 0 selects the whole certificate, which a bare key does not have.
    #[error("selector 0 (the full certificate) needs a certificate, not a key")]
    NeedsCertificate,
    /// A selector RFC 6698 does not define.
    #[error("selector {0} is not defined (0 full certificate, 1 SubjectPublicKeyInfo)")]
    UnknownSelector(u8),
    /// A matching type RFC 6698 does not define.
    #[error("matching type {0} is not defined (0 exact, 1 SHA-256, 2 SHA-512)")]
    UnknownMatchingType(u8),
}

/// The association data of a record with `selector` and `matching` for `subject` (RFC 6698
/// 2.1.2 and 2.1.3): what `openssl x509 -pubkey | openssl pkey -pubin -outform DER | sha256sum`
/// gives for `x 1 1`. Selector 1 of a certificate is its SubjectPublicKeyInfo, so a
/// certificate and its key give the same `x 1 y` data.
pub fn association_data(
    subject: TlsaSubject<'_>,
    selector: Selector,
    matching: MatchingType,
) -> Result<Vec<u8>, AssociationError> {
    if let MatchingType::Unknown(m) = matching {
        return Err(AssociationError::UnknownMatchingType(m));
    }
    let parsed;
    let data = match (subject, selector) {
        (_, Selector::Unknown(s)) => return Err(AssociationError::UnknownSelector(s)),
        (TlsaSubject::PublicKey(_), Selector::FullCertificate) => {
            return Err(AssociationError::NeedsCertificate)
        }
        (TlsaSubject::PublicKey(spki), Selector::SubjectPublicKeyInfo) => {
            parse_spki(spki).ok_or(AssociationError::BadPublicKey)?;
            spki
        }
        (TlsaSubject::Certificate(der), selector) => {
            parsed = parse(der)?;
            selected_data(selector, der, &parsed)
                .ok_or(AssociationError::UnknownSelector(u8::from(selector)))?
        }
    };
    association_value(matching, data)
        .map(|value| value.into_owned())
        .ok_or(AssociationError::UnknownMatchingType(u8::from(matching)))
}

/// The SubjectPublicKeyInfo DER of a DER certificate: what identifies its key across renewals.
pub fn certificate_spki(der: &[u8]) -> Result<Vec<u8>, CertificateError> {
    Ok(spki_der(&parse(der)?).to_vec())
}

/// Splits one DER TLV with the given tag and returns its contents, requiring that the TLV fills
/// `der` exactly. webpki's `TrustAnchor` wants the *contents* of the subject Name and SPKI
/// SEQUENCEs, while x509-parser and TLSA data give whole TLVs. Definite lengths only (DER).
pub(super) fn der_contents(der: &[u8], tag: u8) -> Option<&[u8]> {
    let (&first, rest) = der.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (usize::from(len0), rest)
    } else {
        let n = usize::from(len0 & 0x7f);
        // 0x80 is the BER indefinite form; more than 4 length bytes is absurd for a certificate.
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    (rest.len() == len).then_some(rest)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::core::KeyAlgorithm;

    #[test]
    fn leaf_key_algorithm_reads_the_spki() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        assert_eq!(leaf_key_algorithm(cert.der()), Some(KeyAlgorithm::Ecdsa));
        assert_eq!(leaf_key_algorithm(b"not a certificate"), None);
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
        let cert = rcgen::CertificateParams::new(vec!["mx.example".to_string()])
            .expect("params")
            .self_signed(&ed)
            .expect("cert");
        assert_eq!(leaf_key_algorithm(cert.der()), None);
    }

    use rcgen::{CertificateParams, DnType, KeyPair};

    #[test]
    fn describes_a_certificate() {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["mx.example.com".into(), "MX2.Example.com".into()])
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "mx.example.com");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        params.not_before = rcgen::date_time_ymd(2026, 1, 1);
        params.not_after = rcgen::date_time_ymd(2027, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let info = describe_certificate(cert.der()).unwrap();
        assert_eq!(info.subject, "O=Example,CN=mx.example.com");
        assert_eq!(info.issuer, info.subject);
        assert_eq!(info.dns_names, vec!["mx.example.com", "MX2.Example.com"]);
        assert_eq!(info.not_before, 1_767_225_600);
        assert_eq!(info.not_after, 1_798_761_600);
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        assert_eq!(
            info.spki_sha256,
            hex::encode(digest::digest(&digest::SHA256, &spki).as_ref())
        );
    }

    #[test]
    fn garbage_does_not_parse() {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["a.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        let mut trailing = der.clone();
        trailing.push(0);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("one byte", vec![0x30]),
            (
                "random",
                (0..200u32).map(|i| (i * 73 % 251) as u8).collect(),
            ),
            ("truncated", der[..der.len() / 2].to_vec()),
            ("trailing byte", trailing),
            ("1 MB of 0x30", vec![0x30; 1 << 20]),
        ];
        for (name, bytes) in cases {
            assert!(describe_certificate(&bytes).is_err(), "{name}");
        }
    }

    #[test]
    fn der_contents_table() {
        let long = {
            let mut v = vec![0x30, 0x81, 200];
            v.extend(std::iter::repeat_n(7u8, 200));
            v
        };
        let cases: Vec<(&str, Vec<u8>, Option<usize>)> = vec![
            ("short form", vec![0x30, 2, 1, 2], Some(2)),
            ("long form", long, Some(200)),
            ("wrong tag", vec![0x31, 1, 0], None),
            ("too short", vec![0x30, 3, 1], None),
            ("trailing", vec![0x30, 1, 1, 9], None),
            ("indefinite", vec![0x30, 0x80, 0, 0], None),
            (
                "huge length",
                vec![0x30, 0x88, 1, 2, 3, 4, 5, 6, 7, 8],
                None,
            ),
            ("empty", vec![], None),
        ];
        for (name, der, want) in cases {
            assert_eq!(der_contents(&der, 0x30).map(<[u8]>::len), want, "{name}");
        }
    }

    #[test]
    fn association_data_of_a_certificate_and_of_its_key() {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["mx.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        let of = |subject, s: u8, m: u8| association_data(subject, s.into(), m.into());
        let (c, k) = (
            TlsaSubject::Certificate(cert.der()),
            TlsaSubject::PublicKey(&spki),
        );
        assert_eq!(of(c, 1, 1), of(k, 1, 1));
        assert_eq!(of(c, 1, 2), of(k, 1, 2));
        assert_eq!(of(k, 1, 0).unwrap(), spki);
        assert_eq!(of(c, 0, 0).unwrap(), cert.der().to_vec());
        assert_eq!(
            of(c, 0, 1).unwrap(),
            digest::digest(&digest::SHA256, cert.der()).as_ref()
        );
        assert_eq!(of(k, 0, 1), Err(AssociationError::NeedsCertificate));
        assert_eq!(of(c, 2, 1), Err(AssociationError::UnknownSelector(2)));
        assert_eq!(of(c, 1, 3), Err(AssociationError::UnknownMatchingType(3)));
        assert_eq!(
            of(TlsaSubject::PublicKey(b"junk"), 1, 1),
            Err(AssociationError::BadPublicKey)
        );
        assert!(matches!(
            of(TlsaSubject::Certificate(b"junk"), 1, 1),
            Err(AssociationError::Certificate(_))
        ));
        assert_eq!(certificate_spki(cert.der()).unwrap(), spki);
    }

    #[test]
    fn association_values() {
        let data = b"abc";
        let cases = [
            (MatchingType::Full, Some(3usize)),
            (MatchingType::Sha256, Some(32)),
            (MatchingType::Sha512, Some(64)),
            (MatchingType::Unknown(3), None),
        ];
        for (mt, len) in cases {
            assert_eq!(association_value(mt, data).map(|v| v.len()), len, "{mt:?}");
        }
    }
}
