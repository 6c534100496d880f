//! The MTA-STS policy file (RFC 8461 3.2) and its MX patterns (RFC 8461 4.1). Pure.
//!
//! Input is the body `super::fetch` read from `https://mta-sts.<domain>/.well-known/
//! mta-sts.txt` (already capped at [`MAX_POLICY_BYTES`]); output is a typed [`Policy`] for
//! `super::judge`. The body is hostile input: every path returns an error, none panics.

use serde::Serialize;

use super::record::{is_ext_name, shown};

/// Largest policy body accepted, in bytes. RFC 8461 leaves the limit to the sender; real policies
/// are a few hundred bytes, and 64 KiB is the figure senders commonly use, so a larger body is a
/// policy some senders will refuse.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Largest `max_age` (RFC 8461 3.2: 31557600 seconds, about one year).
pub const MAX_MAX_AGE: u64 = 31_557_600;

/// The policy mode (RFC 8461 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Senders refuse delivery to MX hosts that fail validation.
    Enforce,
    /// Senders deliver anyway and only report failures (TLS-RPT).
    Testing,
    /// The domain withdraws its policy.
    None,
}

impl Mode {
    /// Every mode, in the order metrics list them.
    pub const ALL: [Mode; 3] = [Mode::Enforce, Mode::Testing, Mode::None];

    /// The value as written in the policy, and the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// One `mx:` pattern: a host name, or `*.` and a parent whose direct children it matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MxPattern {
    /// True for `*.<domain>`.
    pub wildcard: bool,
    /// The name after `*.`, or the whole name; lower case, no trailing dot.
    pub domain: String,
}

impl MxPattern {
    /// Whether MX host `host` is covered (RFC 8461 4.1): the same name, or for a wildcard, the
    /// parent domain with exactly one more label in front. Case-insensitive.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if !self.wildcard {
            return host == self.domain;
        }
        match host.split_once('.') {
            Some((label, parent)) => !label.is_empty() && parent == self.domain,
            None => false,
        }
    }
}

impl std::fmt::Display for MxPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.wildcard {
            write!(f, "*.{}", self.domain)
        } else {
            f.write_str(&self.domain)
        }
    }
}

/// A valid policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// enforce, testing or none.
    pub mode: Mode,
    /// Seconds a sender may cache the policy.
    pub max_age: u64,
    /// Allowed MX hosts, in file order.
    pub mx: Vec<MxPattern>,
    /// Fields this version does not know (senders ignore them), in file order.
    pub extensions: Vec<(String, String)>,
}

impl Policy {
    /// The first pattern covering `host`, if any.
    pub fn covering(&self, host: &str) -> Option<&MxPattern> {
        self.mx.iter().find(|p| p.matches(host))
    }
}

/// Why a body is not a valid policy. Every one of these means senders have no policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PolicyError {
    /// Larger than [`MAX_POLICY_BYTES`].
    #[error("the policy is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Not UTF-8 text.
    #[error("the policy is not UTF-8 text")]
    NotText,
    /// A line breaks the grammar.
    #[error("line {line}: {detail}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        detail: String,
    },
    /// A required field is absent.
    #[error("the policy has no {field} field")]
    Missing {
        /// `version`, `mode`, `max_age` or `mx`.
        field: &'static str,
    },
}

/// Parses a policy body: `key: value` lines ended by LF or CRLF (RFC 8461 3.2). `version`,
/// `mode` and `max_age` appear once; `mx` once or more unless the mode is `none`.
pub fn parse_policy(body: &[u8]) -> Result<Policy, PolicyError> {
    if body.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge {
            limit: MAX_POLICY_BYTES,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| PolicyError::NotText)?;
    // The grammar allows one final line terminator; tolerate trailing blank lines too, which
    // editors add and which carry no field.
    let text = text.trim_end_matches(['\r', '\n']);
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    let mut extensions = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let bad = |detail: String| PolicyError::Line { line, detail };
        let content = raw.strip_suffix('\r').unwrap_or(raw);
        let Some((key, value)) = content.split_once(':') else {
            return Err(bad(format!("{} is not \"key: value\"", shown(content))));
        };
        if !is_ext_name(key) {
            return Err(bad(format!("field name {} is not valid", shown(key))));
        }
        let value = value.trim_matches([' ', '\t']);
        // RFC 8461 3.2 allows UTF-8 in values (extension fields); known fields check their own.
        if value.is_empty() || value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(bad(format!(
                "value of {key} ({}) is not valid",
                shown(value)
            )));
        }
        let once = |seen: bool| {
            if seen {
                Err(bad(format!("{key} appears more than once")))
            } else {
                Ok(())
            }
        };
        match key {
            "version" => {
                once(version.is_some())?;
                if value != "STSv1" {
                    return Err(bad(format!("version {} is not STSv1", shown(value))));
                }
                version = Some(());
            }
            "mode" => {
                once(mode.is_some())?;
                mode = Some(match value {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => {
                        return Err(bad(format!(
                            "mode {} is not enforce, testing or none",
                            shown(other)
                        )))
                    }
                });
            }
            "max_age" => {
                once(max_age.is_some())?;
                max_age = Some(parse_max_age(value).map_err(bad)?);
            }
            "mx" => mx.push(parse_mx_pattern(value).map_err(bad)?),
            other => extensions.push((other.to_string(), value.to_string())),
        }
    }
    if version.is_none() {
        return Err(PolicyError::Missing { field: "version" });
    }
    let mode = mode.ok_or(PolicyError::Missing { field: "mode" })?;
    let max_age = max_age.ok_or(PolicyError::Missing { field: "max_age" })?;
    if mx.is_empty() && mode != Mode::None {
        return Err(PolicyError::Missing { field: "mx" });
    }
    Ok(Policy {
        mode,
        max_age,
        mx,
        extensions,
    })
}

/// `1*10(DIGIT)`, at most [`MAX_MAX_AGE`].
fn parse_max_age(value: &str) -> Result<u64, String> {
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("max_age {} is not 1 to 10 digits", shown(value)));
    }
    let seconds: u64 = value
        .parse()
        .map_err(|_| format!("max_age {} is not a number", shown(value)))?;
    if seconds > MAX_MAX_AGE {
        return Err(format!(
            "max_age {seconds} is above the maximum of {MAX_MAX_AGE} seconds"
        ));
    }
    Ok(seconds)
}

/// `["*."] Domain`: a wildcard only as the whole leftmost label.
fn parse_mx_pattern(value: &str) -> Result<MxPattern, String> {
    let (wildcard, name) = match value.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if !is_host_name(name) {
        return Err(format!(
            "mx {} is not a host name or *.domain",
            shown(value)
        ));
    }
    Ok(MxPattern {
        wildcard,
        domain: name.to_ascii_lowercase(),
    })
}

/// LDH labels of 1 to 63 characters, no hyphen at either end, 253 characters at most: RFC 5321's
/// `Domain`, which RFC 8461 3.2 uses (a single label is grammatical, so it is accepted).
fn is_host_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";

    #[test]
    fn rfc_example_parses() {
        let p = parse_policy(GOOD.as_bytes()).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        let shown: Vec<String> = p.mx.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            shown,
            ["mail.example.com", "*.example.net", "backupmx.example.com"]
        );
        // LF only, no final newline, white space after the colon, unknown field.
        let lf = "version:STSv1\nmode:\ttesting\nmx: MX.Example.COM\nmax_age: 0\nfoo: bar baz";
        let p = parse_policy(lf.as_bytes()).unwrap();
        assert_eq!(p.mode, Mode::Testing);
        assert_eq!(p.mx[0].domain, "mx.example.com");
        assert_eq!(p.extensions, vec![("foo".into(), "bar baz".into())]);
        let utf8 = "version: STSv1\nmode: none\nmax_age: 1\nnote: gr\u{fc}n\n";
        assert!(parse_policy(utf8.as_bytes()).is_ok());
        let control = "version: STSv1\nmode: none\nmax_age: 1\nnote: a\u{7}b\n";
        assert!(parse_policy(control.as_bytes()).is_err());
        // A single label is grammatical (RFC 5321 Domain).
        assert!(
            parse_policy(b"version: STSv1\nmode: testing\nmx: localhost\nmax_age: 1\n").is_ok()
        );
        // mode none needs no mx.
        assert!(parse_policy(b"version: STSv1\nmode: none\nmax_age: 86400\n").is_ok());
        assert!(parse_policy(format!("{GOOD}\r\n\r\n").as_bytes()).is_ok());
    }

    #[test]
    fn broken_policies_are_rejected() {
        let cases: &[(&str, &str)] = &[
            ("mode: enforce\nmx: a.example\nmax_age: 1\n", "no version"),
            ("version: STSv1\nmx: a.example\nmax_age: 1\n", "no mode"),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\n",
                "no max_age",
            ),
            ("version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx"),
            (
                "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                "version",
            ),
            (
                "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n",
                "mode case",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n",
                "max_age",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
                "negative",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n",
                "11 digits",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: mail.*.example\nmax_age: 1\n",
                "inner wildcard",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: *mail.example\nmax_age: 1\n",
                "partial wildcard",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n",
                "two wildcards",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: mail..example\nmax_age: 1\n",
                "empty label",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: -mail.example\nmax_age: 1\n",
                "leading hyphen",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n",
                "bare wildcard",
            ),
            (
                "version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1\n",
                "twice",
            ),
            (
                "version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                "blank line",
            ),
            (
                "version STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                "no colon",
            ),
            (
                " version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                "leading space",
            ),
            ("<html><body>Not found</body></html>", "html"),
            ("", "empty"),
        ];
        for (body, what) in cases {
            assert!(parse_policy(body.as_bytes()).is_err(), "{what}: accepted");
        }
        assert_eq!(parse_policy(&[0xff, 0xfe]), Err(PolicyError::NotText));
        let big = vec![b'a'; MAX_POLICY_BYTES + 1];
        assert!(matches!(
            parse_policy(&big),
            Err(PolicyError::TooLarge { .. })
        ));
    }

    #[test]
    fn wildcards_match_exactly_one_label() {
        let w = parse_mx_pattern("*.example.com").unwrap();
        assert!(w.matches("mail.example.com"));
        assert!(w.matches("MAIL.Example.com."));
        assert!(!w.matches("example.com"));
        assert!(!w.matches("foo.mail.example.com"));
        assert!(!w.matches("mail.example.com.evil"));
        assert!(!w.matches(".example.com"));
        let exact = parse_mx_pattern("mail.example.com").unwrap();
        assert!(exact.matches("mail.example.com"));
        assert!(!exact.matches("x.mail.example.com"));
        assert!(!exact.matches("ail.example.com"));
    }
}
