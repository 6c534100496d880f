//! RFC 8914 Extended DNS Errors: why a resolver answered SERVFAIL (or REFUSED).
//!
//! Input: the payload of EDNS option 15 as the trust-resolver backend (`crate::dns`) finds
//! it in the OPT record of a response; hickory does not know the option and hands its bytes over
//! as an unknown option. Output: an [`ExtendedDnsError`] carried by
//! [`LookupError::ServFail`](super::dns::LookupError::ServFail) / `Refused`, which the probe turns into a
//! reason (`bogus` when the code is a DNSSEC failure) and the report prints with [`std::fmt::Display`].
//!
//! The bytes come from the network, so parsing is total: it never panics and bounds the text it
//! keeps.
use serde::Serialize;

/// EDNS option code of Extended DNS Errors (RFC 8914 section 2).
pub const EDE_OPTION_CODE: u16 = 15;

/// Longest EXTRA-TEXT kept, in bytes. Resolvers send a short sentence; anything longer is cut so
/// that a hostile resolver cannot blow up labels or logs.
pub const MAX_EXTRA_TEXT: usize = 256;

/// An Extended DNS Error (EDNS option 15).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExtendedDnsError {
    /// INFO-CODE.
    pub code: u16,
    /// EXTRA-TEXT, when sent.
    pub text: Option<String>,
}

/// Why option bytes are not an Extended DNS Error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EdeParseError {
    /// Fewer than the two bytes of INFO-CODE.
    #[error("EDE option of {0} bytes is shorter than its 2-byte INFO-CODE")]
    Truncated(usize),
}

impl ExtendedDnsError {
    /// True for the codes that mean DNSSEC validation failed (1, 2, 5-12).
    pub fn is_dnssec_failure(&self) -> bool {
        matches!(self.code, 1 | 2 | 5..=12)
    }

    /// Parses the option data (not including the option code and length): a 2-byte INFO-CODE then
    /// EXTRA-TEXT.
    ///
    /// RFC 8914 says EXTRA-TEXT is UTF-8 and not NUL-terminated; real resolvers sometimes send
    /// garbage or a trailing NUL anyway. Invalid UTF-8 is replaced rather than rejected because the
    /// code alone is the useful part, and an empty text is reported as none.
    pub fn parse(data: &[u8]) -> Result<Self, EdeParseError> {
        let (code, rest) = match data {
            [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
            _ => return Err(EdeParseError::Truncated(data.len())),
        };
        let rest = &rest[..rest.len().min(MAX_EXTRA_TEXT)];
        // Control characters (NUL included) go first, so that text made only of them is none.
        let text: String = String::from_utf8_lossy(rest)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        let text = text.trim();
        let text = (!text.is_empty()).then(|| text.to_string());
        Ok(Self { code, text })
    }

    /// The RFC 8914 / IANA registry name of the INFO-CODE, if it has one.
    pub fn code_name(&self) -> Option<&'static str> {
        Some(match self.code {
            0 => "Other Error",
            1 => "Unsupported DNSKEY Algorithm",
            2 => "Unsupported DS Digest Type",
            3 => "Stale Answer",
            4 => "Forged Answer",
            5 => "DNSSEC Indeterminate",
            6 => "DNSSEC Bogus",
            7 => "Signature Expired",
            8 => "Signature Not Yet Valid",
            9 => "DNSKEY Missing",
            10 => "RRSIGs Missing",
            11 => "No Zone Key Bit Set",
            12 => "NSEC Missing",
            13 => "Cached Error",
            14 => "Not Ready",
            15 => "Blocked",
            16 => "Censored",
            17 => "Filtered",
            18 => "Prohibited",
            19 => "Stale NXDomain Answer",
            20 => "Not Authoritative",
            21 => "Not Supported",
            22 => "No Reachable Authority",
            23 => "Network Error",
            24 => "Invalid Data",
            25 => "Signature Expired before Valid",
            26 => "Too Early",
            27 => "Unsupported NSEC3 Iterations Value",
            28 => "Unable to conform to policy",
            29 => "Synthesized",
            30 => "Invalid Query Type",
            _ => return None,
        })
    }
}

impl std::fmt::Display for ExtendedDnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EDE {}", self.code)?;
        if let Some(name) = self.code_name() {
            write!(f, " ({name})")?;
        }
        if let Some(text) = &self.text {
            write!(f, ": {text}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_code_and_text() {
        let mut data = vec![0, 7];
        data.extend_from_slice(b"signature expired for example.com");
        let ede = ExtendedDnsError::parse(&data).unwrap();
        assert_eq!(ede.code, 7);
        assert_eq!(
            ede.text.as_deref(),
            Some("signature expired for example.com")
        );
        assert!(ede.is_dnssec_failure());
        assert_eq!(
            ede.to_string(),
            "EDE 7 (Signature Expired): signature expired for example.com"
        );
    }

    #[test]
    fn code_without_text() {
        let ede = ExtendedDnsError::parse(&[0, 9]).unwrap();
        assert_eq!(
            ede,
            ExtendedDnsError {
                code: 9,
                text: None
            }
        );
        assert_eq!(ede.to_string(), "EDE 9 (DNSKEY Missing)");
    }

    #[test]
    fn truncated_option_is_an_error() {
        assert_eq!(
            ExtendedDnsError::parse(&[]),
            Err(EdeParseError::Truncated(0))
        );
        assert_eq!(
            ExtendedDnsError::parse(&[6]),
            Err(EdeParseError::Truncated(1))
        );
    }

    #[test]
    fn non_utf8_text_is_replaced_not_rejected() {
        let ede = ExtendedDnsError::parse(&[0, 6, b'b', 0xff, 0xfe, b'd']).unwrap();
        assert_eq!(ede.code, 6);
        assert_eq!(ede.text.as_deref(), Some("b\u{fffd}\u{fffd}d"));
    }

    #[test]
    fn trailing_nul_and_control_characters_are_dropped() {
        let ede = ExtendedDnsError::parse(b"\x00\x06bad\nsig\x00").unwrap();
        assert_eq!(ede.text.as_deref(), Some("badsig"));
        let only_nul = ExtendedDnsError::parse(b"\x00\x06\x00").unwrap();
        assert_eq!(only_nul.text, None);
    }

    #[test]
    fn text_of_only_control_characters_is_none() {
        // Found by fuzz/fuzz_targets/ede.rs: was `Some("")`.
        let ede = ExtendedDnsError::parse(b"\x0a\x0e\x0e").unwrap();
        assert_eq!(ede.text, None);
        let ede = ExtendedDnsError::parse(b"\x00\x06\x01 \x02 x\x7f").unwrap();
        assert_eq!(ede.text.as_deref(), Some("x"));
    }

    #[test]
    fn unknown_code_has_no_name() {
        let ede = ExtendedDnsError::parse(&[0xff, 0x00, b'x']).unwrap();
        assert_eq!(ede.code, 0xff00);
        assert_eq!(ede.code_name(), None);
        assert!(!ede.is_dnssec_failure());
        assert_eq!(ede.to_string(), "EDE 65280: x");
    }

    #[test]
    fn long_text_is_bounded() {
        let mut data = vec![0, 0];
        data.extend(std::iter::repeat_n(b'a', 10_000));
        let ede = ExtendedDnsError::parse(&data).unwrap();
        assert_eq!(ede.text.map(|t| t.len()), Some(MAX_EXTRA_TEXT));
    }

    #[test]
    fn dnssec_failure_codes() {
        let failing: Vec<u16> = (0..40)
            .filter(|&code| ExtendedDnsError { code, text: None }.is_dnssec_failure())
            .collect();
        assert_eq!(failing, vec![1, 2, 5, 6, 7, 8, 9, 10, 11, 12]);
    }
}
