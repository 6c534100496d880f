//! RFC 8914 Extended DNS Errors: why a resolver answered SERVFAIL.
use serde::Serialize;

/// An Extended DNS Error (EDNS option 15).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExtendedDnsError {
    /// INFO-CODE.
    pub code: u16,
    /// EXTRA-TEXT, when sent.
    pub text: Option<String>,
}

impl ExtendedDnsError {
    /// True for the codes that mean DNSSEC validation failed (1, 2, 5-12).
    pub fn is_dnssec_failure(&self) -> bool {
        matches!(self.code, 1 | 2 | 5..=12)
    }
}

impl std::fmt::Display for ExtendedDnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EDE {}", self.code)
    }
}
