//! Syntax of the names a config file holds: mail domains, domain patterns of the `/probe`
//! allow-list, Prometheus label names and nameserver addresses. Pure functions over text.

use std::net::{IpAddr, SocketAddr};

pub use crate::core::names::{normalize_domain, DomainError};

/// Port of a nameserver given as a bare IP address.
const DNS_PORT: u16 = 53;

/// Labels the exporter's own metrics use, or Prometheus attaches: an extra label of a target must
/// not take one of these names (names starting with `__` are reserved too).
pub const RESERVED_LABELS: &[&str] = &[
    "address",
    "direction",
    "domain",
    "instance",
    "job",
    "key_algorithm",
    "le",
    // dane_mta_sts_mode's state label.
    "mode",
    "mx",
    "name",
    "nameserver",
    "reason",
    "record",
    "slot",
    "state",
    "status",
    "type",
    "verdict",
    "version",
    // The `dane_service_*` series (crate::checks::services).
    "host",
    "port",
    "protocol",
    "zone",
];

/// An entry of the `/probe` allow-list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainPattern {
    /// `example.org`: this domain only.
    Exact(String),
    /// `*.example.org`: any domain below this one, at any depth, but not the domain itself.
    Subdomains(String),
}

impl DomainPattern {
    /// Parses `example.org` or `*.example.org`; the domain part is checked and normalised like a
    /// target domain.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match text.strip_prefix("*.") {
            Some(base) => normalize_domain(base).map(DomainPattern::Subdomains),
            None => normalize_domain(text).map(DomainPattern::Exact),
        }
    }

    /// Whether a normalised domain (see [`normalize_domain`]) matches this pattern.
    pub fn matches(&self, domain: &str) -> bool {
        match self {
            DomainPattern::Exact(name) => domain == name,
            DomainPattern::Subdomains(base) => domain
                .strip_suffix(base.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }
}

impl std::fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DomainPattern::Exact(name) => f.write_str(name),
            DomainPattern::Subdomains(base) => write!(f, "*.{base}"),
        }
    }
}

/// Why a name cannot be an extra label of a target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelNameError {
    /// Not `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name \"{0}\": must match [a-zA-Z_][a-zA-Z0-9_]*")]
    Invalid(String),
    /// A label the exporter or Prometheus sets itself.
    #[error("label name \"{0}\" is reserved")]
    Reserved(String),
}

/// Checks an extra label name: Prometheus syntax, and none of [`RESERVED_LABELS`] nor `__*`.
pub fn check_label_name(name: &str) -> Result<(), LabelNameError> {
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !valid_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(LabelNameError::Invalid(name.to_string()));
    }
    if name.starts_with("__") || RESERVED_LABELS.contains(&name) {
        return Err(LabelNameError::Reserved(name.to_string()));
    }
    Ok(())
}

/// Parses a nameserver: `IP`, `IP:PORT` or `[IPv6]:PORT`; a bare IP gets port 53.
pub fn parse_nameserver(text: &str) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    text.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised() {
        assert_eq!(normalize_domain("Example.ORG."), Ok("example.org".into()));
        assert_eq!(
            normalize_domain("_25._tcp.mx1.example.net"),
            Ok("_25._tcp.mx1.example.net".into())
        );
        assert_eq!(normalize_domain("localhost"), Ok("localhost".into()));
    }

    #[test]
    fn bad_domains_are_rejected() {
        assert_eq!(normalize_domain(""), Err(DomainError::Empty));
        assert_eq!(normalize_domain("."), Err(DomainError::Empty));
        assert_eq!(normalize_domain("a..b"), Err(DomainError::EmptyLabel));
        assert_eq!(normalize_domain(".a"), Err(DomainError::EmptyLabel));
        assert_eq!(
            normalize_domain("exa mple.org"),
            Err(DomainError::InvalidChar(' '))
        );
        assert_eq!(
            normalize_domain("-a.org"),
            Err(DomainError::HyphenAtEdge("-a".into()))
        );
        assert_eq!(
            normalize_domain("a-.org"),
            Err(DomainError::HyphenAtEdge("a-".into()))
        );
        assert_eq!(normalize_domain("192.0.2.1"), Err(DomainError::Numeric));
        let long_label = "a".repeat(64);
        assert_eq!(
            normalize_domain(&format!("{long_label}.org")),
            Err(DomainError::LabelTooLong(long_label))
        );
        let at_limit = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(at_limit.len(), 253);
        assert!(normalize_domain(&at_limit).is_ok());
        assert_eq!(
            normalize_domain(&format!("{at_limit}e")),
            Err(DomainError::TooLong(254))
        );
    }

    #[test]
    fn patterns_match_exactly_or_below() {
        let exact = DomainPattern::parse("Example.net").unwrap();
        assert!(exact.matches("example.net"));
        assert!(!exact.matches("mx.example.net"));
        let below = DomainPattern::parse("*.example.org").unwrap();
        assert_eq!(below.to_string(), "*.example.org");
        assert!(below.matches("a.example.org"));
        assert!(below.matches("a.b.example.org"));
        assert!(!below.matches("example.org"));
        assert!(!below.matches("badexample.org"));
        assert!(DomainPattern::parse("*example.org").is_err());
        assert!(DomainPattern::parse("a.*.org").is_err());
    }

    #[test]
    fn label_names() {
        assert_eq!(check_label_name("team"), Ok(()));
        assert_eq!(check_label_name("_x9"), Ok(()));
        assert_eq!(
            check_label_name("9x"),
            Err(LabelNameError::Invalid("9x".into()))
        );
        assert_eq!(
            check_label_name("a-b"),
            Err(LabelNameError::Invalid("a-b".into()))
        );
        assert_eq!(
            check_label_name(""),
            Err(LabelNameError::Invalid("".into()))
        );
        assert_eq!(
            check_label_name("domain"),
            Err(LabelNameError::Reserved("domain".into()))
        );
        assert_eq!(
            check_label_name("__meta"),
            Err(LabelNameError::Reserved("__meta".into()))
        );
    }

    #[test]
    fn nameservers() {
        assert_eq!(
            parse_nameserver("127.0.0.1"),
            Some("127.0.0.1:53".parse().unwrap())
        );
        assert_eq!(
            parse_nameserver("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_nameserver("::1"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(
            parse_nameserver("[::1]:5353"),
            Some("[::1]:5353".parse().unwrap())
        );
        assert_eq!(parse_nameserver("dns.example"), None);
        assert_eq!(parse_nameserver("127.0.0.1:99999"), None);
    }
}
