//! The reference-identifier check of DANE-TA (RFC 7672 section 3.2.2, RFC 6125 section 6.4).
//!
//! Only DANE-TA(2) chains get a name check; DANE-EE(3) binds the key directly and RFC 7672 3.2.2
//! says the names are not checked. The rules follow what Postfix asks of OpenSSL's
//! `X509_check_host` (flags `X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS`, no "always check subject"):
//!
//! - DNS-ID subjectAltName entries are compared ASCII case-insensitively, a trailing dot ignored.
//! - A wildcard is a whole leftmost label `*` and matches exactly one non-empty label
//!   (RFC 6125 6.4.3): `*.example.com` matches `mx.example.com`, not `a.b.example.com` nor
//!   `example.com`. Partial wildcards (`m*.example.com`) never match. Like OpenSSL, the wildcard
//!   needs at least two labels after it (`*.com` matches nothing).
//! - The subject CN is looked at only when the certificate has no DNS-ID at all (RFC 6125 6.4.4;
//!   OpenSSL counts only dNSName entries when deciding whether SANs are "present"). Every CN is
//!   tried, with the same wildcard rules.
//!
//! Reference names arrive normalised (lower case, no trailing dot, IDNs as A-labels); they are
//! normalised again here, cheaply, so the function is safe to call with raw input.

use x509_parser::certificate::X509Certificate;

use super::cert;

/// The reference identifiers a DANE-TA (and, for services, PKIX) chain must name for an MX host
/// (RFC 7672 3.2.2), as Postfix 3.7 sets them (`dane_init` in `smtp_tls_policy.c`): the TLSA base
/// domain; with an MX RRset, the next-hop domain (the domain whose MX was asked) and, when that
/// domain was itself an alias, the owner of the MX RRset it led to. The MX host name as written
/// counts only as the TLSA base domain: when the TLSA records came from its CNAME target, the
/// original name is not one. For an implicit MX (no MX RRset) the base domain is all.
pub fn mx_reference_names(
    tlsa_base_domain: Option<&str>,
    next_hop: &str,
    mx_owner: Option<&str>,
    implicit_mx: bool,
) -> Vec<String> {
    let mut names: Vec<String> = tlsa_base_domain.map(str::to_string).into_iter().collect();
    if !implicit_mx {
        for name in std::iter::once(next_hop).chain(mx_owner) {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// True when the certificate's names include one of `reference_names`. A certificate that does
/// not parse, or whose subjectAltName extension is malformed, matches nothing (fail closed).
pub fn name_matches(cert_der: &[u8], reference_names: &[String]) -> bool {
    cert::parse(cert_der)
        .map(|c| parsed_name_matches(&c, reference_names))
        .unwrap_or(false)
}

/// [`name_matches`] for a certificate that is already parsed.
pub(super) fn parsed_name_matches(cert: &X509Certificate<'_>, reference_names: &[String]) -> bool {
    let Ok(sans) = cert::dns_sans(cert) else {
        return false;
    };
    let presented: Vec<String> = if sans.is_empty() {
        // RFC 6125 6.4.4: the CN only when there is no DNS-ID.
        cert.subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok().map(str::to_string))
            .collect()
    } else {
        sans
    };
    reference_names.iter().any(|reference| {
        presented
            .iter()
            .any(|name| presented_matches_reference(name, reference))
    })
}

/// Lower-cases ASCII and drops one trailing dot (an absolute name is the same name).
fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// One presented identifier against one reference identifier (RFC 6125 6.4.1 and 6.4.3).
fn presented_matches_reference(presented: &str, reference: &str) -> bool {
    let presented = normalise(presented);
    let reference = normalise(reference);
    if presented.is_empty() || reference.is_empty() {
        return false;
    }
    match presented.strip_prefix("*.") {
        None => {
            // Any other '*' is a partial wildcard or garbage: never a match.
            !presented.contains('*') && presented == reference
        }
        Some(parent) => {
            // Exactly one leftmost label, non-empty, and at least two labels after the star.
            if parent.contains('*') || parent.split('.').count() < 2 {
                return false;
            }
            if parent.split('.').any(str::is_empty) {
                return false;
            }
            match reference.split_once('.') {
                Some((first, rest)) => !first.is_empty() && rest == parent,
                None => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn cert_with(sans: &[&str], cn: Option<&str>) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn presented_vs_reference_table() {
        let cases = [
            ("mx.example.com", "mx.example.com", true),
            ("MX.Example.COM", "mx.example.com", true),
            ("mx.example.com.", "mx.example.com", true),
            ("mx.example.com", "mx.example.com.", true),
            ("mx.example.com", "mx2.example.com", false),
            ("mx.example.com", "example.com", false),
            ("*.example.com", "mx.example.com", true),
            ("*.Example.com", "MX.example.com", true),
            ("*.example.com", "a.b.example.com", false),
            ("*.example.com", "example.com", false),
            ("*.example.com", ".example.com", false),
            ("m*.example.com", "mx.example.com", false),
            ("*x.example.com", "mx.example.com", false),
            ("mx.*.com", "mx.example.com", false),
            ("*.*.com", "a.b.com", false),
            ("*.com", "example.com", false),
            ("*", "example", false),
            ("*.xn--bcher-kva.example", "mx.xn--bcher-kva.example", true),
            ("", "mx.example.com", false),
            ("mx.example.com", "", false),
        ];
        for (presented, reference, want) in cases {
            assert_eq!(
                presented_matches_reference(presented, reference),
                want,
                "{presented} vs {reference}"
            );
        }
    }

    #[test]
    fn certificate_names_table() {
        let refs = vec!["mx.example.com".to_string(), "example.net".to_string()];
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            ("SAN exact", cert_with(&["mx.example.com"], None), true),
            ("second reference", cert_with(&["example.net"], None), true),
            ("SAN other", cert_with(&["other.example.com"], None), false),
            ("SAN wildcard", cert_with(&["*.example.com"], None), true),
            (
                "wildcard one label only",
                cert_with(&["*.com", "*.b.mx.example.com"], None),
                false,
            ),
            (
                "CN when no SAN",
                cert_with(&[], Some("mx.example.com")),
                true,
            ),
            (
                "CN wildcard when no SAN",
                cert_with(&[], Some("*.example.com")),
                true,
            ),
            (
                "CN ignored when SANs exist",
                cert_with(&["other.example.com"], Some("mx.example.com")),
                false,
            ),
            ("no names at all", cert_with(&[], None), false),
            ("garbage", vec![0x30, 0x03, 0x02, 0x01, 0x00], false),
        ];
        for (name, der, want) in cases {
            assert_eq!(name_matches(&der, &refs), want, "{name}");
        }
    }

    #[test]
    fn no_reference_names_never_match() {
        assert!(!name_matches(&cert_with(&["mx.example.com"], None), &[]));
    }
}
