//! The `_mta-sts.<domain>` TXT record (RFC 8461 3.1) and the `key=value; ...` field syntax it
//! shares with the TLS-RPT record (RFC 8460 3). Pure: text in, typed record or error out.
//!
//! Input is the TXT strings `crate::dns` returned (each record's character-strings already joined);
//! output goes to `super::judge`. Every byte comes from the network, so nothing here may
//! panic on any input (`fuzz/fuzz_targets/mta_sts_policy.rs` feeds it garbage).

use serde::Serialize;

/// The version tag an STS record starts with (case-sensitive, RFC 8461 3.1 `%s"v=STSv1"`).
pub const STS_VERSION: &str = "v=STSv1";

/// Longest policy id (RFC 8461 3.1: `1*32(ALPHA / DIGIT)`).
pub const MAX_ID_LEN: usize = 32;

/// A syntactically valid STS TXT record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StsRecord {
    /// The policy id: changes whenever the policy does, so senders refetch.
    pub id: String,
    /// Extension fields, in order (senders ignore them).
    pub extensions: Vec<(String, String)>,
}

/// Why no STS record is in force. Each of these makes a sender act as if the domain had no policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RecordError {
    /// No TXT record starts with the version tag.
    #[error("no TXT record starting with {version:?}")]
    Missing {
        /// The version tag looked for.
        version: &'static str,
    },
    /// More than one does: RFC 8461 3.1 and RFC 8460 3 say to assume none.
    #[error("{count} TXT records start with {version:?}; exactly one is allowed")]
    Multiple {
        /// How many.
        count: usize,
        /// The version tag.
        version: &'static str,
    },
    /// The one record is not well-formed.
    #[error("malformed record: {detail}")]
    Syntax {
        /// What was wrong.
        detail: String,
    },
}

/// The records of an RRset that belong to a protocol: those starting with `version` followed by
/// optional white space and `;` or the end. RFC 8461 3.1 and RFC 8460 3 discard the others
/// (SPF, site verification tokens, ...) before counting.
pub(crate) fn candidates<'a>(texts: &'a [String], version: &str) -> Vec<&'a str> {
    texts
        .iter()
        .map(String::as_str)
        .filter(|text| match text.strip_prefix(version) {
            Some(rest) => {
                let rest = rest.trim_start_matches([' ', '\t']);
                rest.is_empty() || rest.starts_with(';')
            }
            None => false,
        })
        .collect()
}

/// Exactly one candidate record, or why not.
pub(crate) fn single<'a>(
    texts: &'a [String],
    version: &'static str,
) -> Result<&'a str, RecordError> {
    match candidates(texts, version).as_slice() {
        [] => Err(RecordError::Missing { version }),
        [one] => Ok(one),
        many => Err(RecordError::Multiple {
            count: many.len(),
            version,
        }),
    }
}

/// The STS record in force among the TXT records at `_mta-sts.<domain>`.
pub fn select_sts_record(texts: &[String]) -> Result<StsRecord, RecordError> {
    let text = single(texts, STS_VERSION)?;
    parse_sts_record(text).map_err(|detail| RecordError::Syntax { detail })
}

/// Parses one STS record: `v=STSv1; id=<1-32 alphanumerics> [; ext=value ...] [;]`.
pub fn parse_sts_record(text: &str) -> Result<StsRecord, String> {
    let fields = split_fields(text, STS_VERSION)?;
    let mut fields = fields.into_iter();
    // RFC 8461 3.1's grammar puts `id` right after the version.
    let id = match fields.next() {
        Some(("id", value)) => value,
        Some((name, _)) => {
            return Err(format!(
                "the field after {STS_VERSION} must be id, not {}",
                shown(name)
            ))
        }
        None => return Err("no id field".into()),
    };
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "id {} must be 1 to {MAX_ID_LEN} letters and digits",
            shown(id)
        ));
    }
    let mut extensions = Vec::new();
    for (name, value) in fields {
        if name == "id" {
            return Err("id appears more than once".into());
        }
        check_extension(name, value)?;
        extensions.push((name.to_string(), value.to_string()));
    }
    Ok(StsRecord {
        id: id.to_string(),
        extensions,
    })
}

/// Splits `version *( *WSP ";" *WSP name "=" value ) [ *WSP ";" *WSP ]` into its fields after the
/// version, which must come first and be exactly `version`. Values are returned raw (trimmed of
/// white space); each caller checks the values of the fields it knows.
pub(crate) fn split_fields<'a>(
    text: &'a str,
    version: &str,
) -> Result<Vec<(&'a str, &'a str)>, String> {
    if !text.is_ascii() {
        return Err("the record holds characters that are not ASCII".into());
    }
    let mut parts = text.split(';').map(|p| p.trim_matches([' ', '\t']));
    match parts.next() {
        Some(first) if first == version => {}
        _ => return Err(format!("the record must start with {version}")),
    }
    let parts: Vec<&str> = parts.collect();
    let mut fields = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        if part.is_empty() {
            // One trailing separator is allowed; an empty field elsewhere is not.
            if index + 1 == parts.len() {
                break;
            }
            return Err("empty field between two ';'".into());
        }
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("field {} is not name=value", shown(part)));
        };
        fields.push((name, value));
    }
    Ok(fields)
}

/// RFC 8461 3.1 / RFC 8460 3 extension fields: `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" /
/// ".")` "=" `1*(%x21-3A / %x3C / %x3E-7E)`.
pub(crate) fn check_extension(name: &str, value: &str) -> Result<(), String> {
    if !is_ext_name(name) {
        return Err(format!("field name {} is not valid", shown(name)));
    }
    let value_ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b';' && b != b'=');
    if !value_ok {
        return Err(format!("value of {name} ({}) is not valid", shown(value)));
    }
    Ok(())
}

/// `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`, the extension name of both RFCs and
/// the field name of the policy file.
pub(crate) fn is_ext_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Network text for a message: quoted, control characters escaped, at most 64 characters.
pub(crate) fn shown(text: &str) -> String {
    let cut: String = text.chars().take(64).collect();
    if cut.len() < text.len() {
        format!("{cut:?}...")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn valid_records() {
        let r = parse_sts_record("v=STSv1; id=20160831085700Z;").unwrap();
        assert_eq!(r.id, "20160831085700Z");
        let r = parse_sts_record("v=STSv1;id=abc").unwrap();
        assert_eq!(r.id, "abc");
        let r = parse_sts_record("v=STSv1 ;\tid=A1 ; ext.x=y-z").unwrap();
        assert_eq!(r.extensions, vec![("ext.x".into(), "y-z".into())]);
        assert!(parse_sts_record(&format!("v=STSv1; id={}", "a".repeat(32))).is_ok());
    }

    #[test]
    fn invalid_records() {
        for bad in [
            "v=STSv1",
            "v=STSv1;",
            "v=STSv1; id=",
            &format!("v=STSv1; id={}", "a".repeat(33)),
            "v=STSv1; id=abc-def",
            "v=STSv1; foo=bar; id=abc",
            "v=STSv1; id=abc; id=def",
            "v=STSv1; id=abc;; x=y",
            "v=STSv1; id=abc; x",
            "v=STSv1; id=abc; _x=y",
            "v=STSv1; id=abc; x=a b",
            "v=STSv1; id=abc; x=",
            "v=stsv1; id=abc",
            "v=STSv1; id=ab\u{e9}",
        ] {
            assert!(parse_sts_record(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn exactly_one_record_counts() {
        let one = texts(&["v=spf1 -all", "v=STSv1; id=1", "google-site-verification=x"]);
        assert_eq!(select_sts_record(&one).unwrap().id, "1");
        let two = texts(&["v=STSv1; id=1", "v=STSv1; id=2"]);
        assert_eq!(
            select_sts_record(&two),
            Err(RecordError::Multiple {
                count: 2,
                version: STS_VERSION
            })
        );
        assert!(matches!(
            select_sts_record(&texts(&["v=spf1 -all"])),
            Err(RecordError::Missing { .. })
        ));
        assert!(matches!(
            select_sts_record(&[]),
            Err(RecordError::Missing { .. })
        ));
        // `v=STSv10` is another version, not a candidate.
        assert!(matches!(
            select_sts_record(&texts(&["v=STSv10; id=1"])),
            Err(RecordError::Missing { .. })
        ));
        // A candidate that is malformed still counts, and makes the result an error.
        assert!(matches!(
            select_sts_record(&texts(&["v=STSv1; id=!"])),
            Err(RecordError::Syntax { .. })
        ));
    }
}
