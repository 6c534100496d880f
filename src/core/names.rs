//! Domain names as the crate handles them: lower case text without the trailing dot.
//!
//! Names come from the configuration, the command line, `/probe` requests and DNS answers;
//! [`normalize_domain`] checks what a user typed, [`normalize_name`] only normalises what DNS
//! returned (the wire already bounds it). The backends in `crate::dns` add the trailing dot on
//! the wire.

/// Longest domain name in text form, without the trailing dot (RFC 1035 section 2.3.4).
const MAX_DOMAIN_LEN: usize = 253;
/// Longest label of a domain name (RFC 1035 section 2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Why a text is not a usable mail domain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Nothing, or only a dot.
    #[error("empty domain name")]
    Empty,
    /// More than 253 characters.
    #[error("longer than {MAX_DOMAIN_LEN} characters ({0})")]
    TooLong(usize),
    /// Two dots in a row, or a leading dot.
    #[error("empty label")]
    EmptyLabel,
    /// A label of more than 63 characters.
    #[error("label \"{0}\" is longer than {MAX_LABEL_LEN} characters")]
    LabelTooLong(String),
    /// A character other than a letter, digit, hyphen or underscore.
    #[error("invalid character {0:?}; only letters, digits, '-' and '_' are allowed")]
    InvalidChar(char),
    /// A label that starts or ends with a hyphen.
    #[error("label \"{0}\" starts or ends with '-'")]
    HyphenAtEdge(String),
    /// An all-numeric last label: an IP address, not a domain.
    #[error("looks like an IP address, not a domain name")]
    Numeric,
}

/// Checks a mail domain and returns it normalised: lower case, without the trailing dot.
///
/// Labels are 1 to 63 letters, digits, hyphens or underscores, not starting or ending with a
/// hyphen; the whole name is at most 253 characters; the last label is not all digits.
pub fn normalize_domain(text: &str) -> Result<String, DomainError> {
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() {
        return Err(DomainError::Empty);
    }
    let len = name.chars().count();
    if len > MAX_DOMAIN_LEN {
        return Err(DomainError::TooLong(len));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(DomainError::EmptyLabel);
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(DomainError::InvalidChar(bad));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(DomainError::LabelTooLong(label.to_string()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(DomainError::HyphenAtEdge(label.to_string()));
        }
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.chars().all(|c| c.is_ascii_digit()) {
        return Err(DomainError::Numeric);
    }
    Ok(name.to_ascii_lowercase())
}

/// Normalises a domain name: lower case, no trailing dot, surrounding white space removed.
pub fn normalize_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}
