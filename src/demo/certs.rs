//! Certificates made at start for the demo's mail servers and for the tests' fixtures: a
//! certificate chain with the leaf's private key ([`Identity`]), self-signed (the DANE-EE case)
//! or issued by a private [`Authority`] (the DANE-TA case), as PEM for the files a demo user
//! points `dane_exporter tlsa` at.
//!
//! Keys are ECDSA P-256 (rcgen on ring cannot make RSA keys; the tests make RSA keys with
//! openssl and sign them with rcgen). Validity is rcgen's default (1975-4096) unless set with
//! [`Authority::issue_with`] or [`self_signed_with`]: the demo sets a Let's Encrypt-like window
//! around now, so that expiry gauges read like a real server's.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};

/// A certificate could not be made (a name rcgen refuses, a signing failure).
#[derive(Debug, thiserror::Error)]
#[error("certificate generation: {0}")]
pub struct CertError(#[from] rcgen::Error);

/// A certificate chain and the leaf's private key, as a server presents them.
#[derive(Clone, Debug)]
pub struct Identity {
    /// DER certificates the server sends, leaf first. Tests may edit it (drop the CA, add junk)
    /// before starting a server.
    pub chain: Vec<Vec<u8>>,
    /// SubjectPublicKeyInfo DER of each certificate in `chain`, same order (for `x 1 x` TLSA
    /// records).
    pub spki: Vec<Vec<u8>>,
    /// The leaf's private key, PKCS#8 DER.
    pub key_pkcs8: Vec<u8>,
}

impl Identity {
    /// The leaf certificate DER (for `3 0 x` records).
    pub fn leaf_der(&self) -> &[u8] {
        &self.chain[0]
    }

    /// The leaf SubjectPublicKeyInfo DER (for `3 1 x` records).
    pub fn leaf_spki(&self) -> &[u8] {
        &self.spki[0]
    }

    /// The data of a `3 1 1` record for the leaf: SHA-256 of its SPKI, hex.
    pub fn leaf_3_1_1(&self) -> String {
        hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            self.leaf_spki(),
        ))
    }

    /// The chain as PEM, leaf first (what `smtpd_tls_chain_files` and certbot's
    /// `fullchain.pem` hold).
    pub fn chain_pem(&self) -> String {
        pem_chain(&self.chain)
    }

    /// The private key as PKCS#8 PEM (certbot's `privkey.pem`).
    pub fn key_pem(&self) -> String {
        pem_block("PRIVATE KEY", &self.key_pkcs8)
    }
}

/// A self-signed leaf for the given DNS names (the first is also the CN): the DANE-EE case.
pub fn self_signed(names: &[&str]) -> Result<Identity, CertError> {
    self_signed_with(names, |_| {})
}

/// [`self_signed`], letting the caller change the parameters first (validity period...).
pub fn self_signed_with(
    names: &[&str],
    customize: impl FnOnce(&mut CertificateParams),
) -> Result<Identity, CertError> {
    leaf(names, customize, |params, key| params.self_signed(key), &[])
}

/// A fresh key and a leaf for `names`, signed by `sign`, followed by the `above` chain
/// (certificate and SPKI of each CA, nearest first).
fn leaf(
    names: &[&str],
    customize: impl FnOnce(&mut CertificateParams),
    sign: impl FnOnce(CertificateParams, &KeyPair) -> Result<rcgen::Certificate, rcgen::Error>,
    above: &[(Vec<u8>, Vec<u8>)],
) -> Result<Identity, CertError> {
    let key = KeyPair::generate()?;
    let mut params = leaf_params(names)?;
    customize(&mut params);
    let cert = sign(params, &key)?;
    let mut identity = Identity {
        chain: vec![cert.der().to_vec()],
        spki: vec![key.subject_public_key_info()],
        key_pkcs8: key.serialize_der(),
    };
    for (der, spki) in above {
        identity.chain.push(der.clone());
        identity.spki.push(spki.clone());
    }
    Ok(identity)
}

/// A fresh root CA and a leaf it issued; the chain sent is `[leaf, root]`: the DANE-TA case.
pub fn ca_signed(names: &[&str]) -> Result<(Authority, Identity), CertError> {
    let ca = Authority::root("Fixture Test Root")?;
    let cert = ca.issue(names)?;
    Ok((ca, cert))
}

/// A certificate authority that can issue leaves and intermediates.
pub struct Authority {
    /// This CA's certificate, DER.
    pub der: Vec<u8>,
    /// This CA's SubjectPublicKeyInfo DER (for `2 1 x` records).
    pub spki: Vec<u8>,
    /// DER and SPKI of the CAs above this one, nearest first; empty for a root.
    above: Vec<(Vec<u8>, Vec<u8>)>,
    params: CertificateParams,
    key: KeyPair,
}

impl Authority {
    /// A self-signed root CA.
    pub fn root(common_name: &str) -> Result<Authority, CertError> {
        let key = KeyPair::generate()?;
        let params = ca_params(common_name);
        let cert = params.self_signed(&key)?;
        Ok(Authority {
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
            above: Vec::new(),
            params,
            key,
        })
    }

    /// An intermediate CA signed by this one. Leaves it issues carry the whole chain up to the
    /// root.
    pub fn intermediate(&self, common_name: &str) -> Result<Authority, CertError> {
        let key = KeyPair::generate()?;
        let params = ca_params(common_name);
        let cert = params.signed_by(&key, &Issuer::from_params(&self.params, &self.key))?;
        let mut above = vec![(self.der.clone(), self.spki.clone())];
        above.extend(self.above.iter().cloned());
        Ok(Authority {
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
            above,
            params,
            key,
        })
    }

    /// A leaf for `names`; chain `[leaf, this CA, CAs above...]`.
    pub fn issue(&self, names: &[&str]) -> Result<Identity, CertError> {
        self.issue_with(names, |_| {})
    }

    /// Like [`Authority::issue`], letting the caller change the leaf's parameters first
    /// (validity period, key usages, names...).
    pub fn issue_with(
        &self,
        names: &[&str],
        customize: impl FnOnce(&mut CertificateParams),
    ) -> Result<Identity, CertError> {
        let issuer = Issuer::from_params(&self.params, &self.key);
        let mut above = vec![(self.der.clone(), self.spki.clone())];
        above.extend(self.above.iter().cloned());
        leaf(
            names,
            customize,
            |params, key| params.signed_by(key, &issuer),
            &above,
        )
    }
}

/// Leaf parameters for `names`, the first also the CN; public for the tests that sign keys of
/// their own making (RSA from openssl) with rcgen.
pub fn leaf_params(names: &[&str]) -> Result<CertificateParams, CertError> {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    if let Some(first) = names.first() {
        params.distinguished_name.push(DnType::CommonName, *first);
    }
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    params
}

/// PEM text of a chain, leaf first.
pub fn pem_chain(chain: &[Vec<u8>]) -> String {
    chain
        .iter()
        .map(|der| pem_block("CERTIFICATE", der))
        .collect()
}

/// One PEM block, base64 in lines of 64 characters.
fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    // Base64 is ASCII, so every 64-byte chunk is whole characters.
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_through_the_exporters_reader() {
        let (ca, leaf) = ca_signed(&["mx.example"]).unwrap();
        let chain =
            crate::checks::local_certs::parse_pem_chain(leaf.chain_pem().as_bytes()).unwrap();
        assert_eq!(chain, leaf.chain);
        assert_eq!(chain[1], ca.der);
        assert!(leaf.key_pem().starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert_eq!(leaf.leaf_3_1_1().len(), 64);
    }
}
