//! The TLS-RPT record at `_smtp._tls.<domain>` (RFC 8460 3): where senders send their daily
//! reports of TLS failures (DANE and MTA-STS alike). Pure: TXT strings in, record or error out.
//!
//! Input comes from `crate::dns` (via `super::run`); output goes into the report's
//! `tls_rpt` section and the `dane_tls_rpt_*` metrics.

use serde::Serialize;

use super::record::{check_extension, shown, single, split_fields, RecordError};

/// The version tag a TLS-RPT record starts with (case-sensitive).
pub const TLSRPT_VERSION: &str = "v=TLSRPTv1";

/// Most `rua` URIs accepted; a longer list is almost surely garbage.
const MAX_URIS: usize = 32;

/// A valid TLS-RPT record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsRptRecord {
    /// Where reports go: `mailto:` and `https:` URIs, in order.
    pub rua: Vec<String>,
}

/// The TLS-RPT record in force among the TXT records at `_smtp._tls.<domain>`: exactly one
/// record starting with `v=TLSRPTv1`, else senders assume the domain wants no reports.
pub fn select_tls_rpt_record(texts: &[String]) -> Result<TlsRptRecord, RecordError> {
    let text = single(texts, TLSRPT_VERSION)?;
    parse_tls_rpt_record(text).map_err(|detail| RecordError::Syntax { detail })
}

/// Parses `v=TLSRPTv1; rua=<uri>[,<uri>...] [; ext=value ...] [;]`.
pub fn parse_tls_rpt_record(text: &str) -> Result<TlsRptRecord, String> {
    let mut rua = None;
    for (name, value) in split_fields(text, TLSRPT_VERSION)? {
        if name == "rua" {
            if rua.is_some() {
                return Err("rua appears more than once".into());
            }
            let uris = value
                .split(',')
                .map(|u| u.trim_matches([' ', '\t']))
                .map(check_uri)
                .collect::<Result<Vec<String>, String>>()?;
            if uris.len() > MAX_URIS {
                return Err(format!("rua lists more than {MAX_URIS} URIs"));
            }
            rua = Some(uris);
        } else {
            check_extension(name, value)?;
        }
    }
    match rua {
        Some(rua) => Ok(TlsRptRecord { rua }),
        None => Err("no rua field".into()),
    }
}

/// A report URI: `mailto:` with an address, or `https:` with a host (RFC 8460 3). Schemes are
/// case-insensitive (RFC 3986 3.1); the URI is kept as written.
fn check_uri(uri: &str) -> Result<String, String> {
    let lower = uri.to_ascii_lowercase();
    let uri_chars = uri.bytes().all(|b| {
        b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
    });
    if !uri_chars {
        return Err(format!(
            "rua URI {} holds characters a URI cannot",
            shown(uri)
        ));
    }
    if let Some(address) = lower.strip_prefix("mailto:") {
        // The address before any `?` header part: local@domain, both non-empty.
        let address = address.split('?').next().unwrap_or("");
        match address.rsplit_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.') =>
            {
                Ok(uri.to_string())
            }
            _ => Err(format!("rua URI {} has no valid mail address", shown(uri))),
        }
    } else if let Some(rest) = lower.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        if host.is_empty() {
            Err(format!("rua URI {} has no host", shown(uri)))
        } else {
            Ok(uri.to_string())
        }
    } else {
        Err(format!(
            "rua URI {} is neither mailto: nor https:",
            shown(uri)
        ))
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
        let r = parse_tls_rpt_record("v=TLSRPTv1; rua=mailto:reports@example.com").unwrap();
        assert_eq!(r.rua, vec!["mailto:reports@example.com"]);
        let r = parse_tls_rpt_record(
            "v=TLSRPTv1;rua=mailto:a@example.com , https://reporting.example.com/v1/tlsrpt?x=1;",
        )
        .unwrap();
        assert_eq!(r.rua.len(), 2);
        assert!(parse_tls_rpt_record("v=TLSRPTv1; rua=MAILTO:a@example.com; ext=1").is_ok());
    }

    #[test]
    fn invalid_records() {
        for bad in [
            "v=TLSRPTv1",
            "v=TLSRPTv1;",
            "v=TLSRPTv1; rua=",
            "v=TLSRPTv1; rua=http://example.com/report",
            "v=TLSRPTv1; rua=mailto:",
            "v=TLSRPTv1; rua=mailto:nobody",
            "v=TLSRPTv1; rua=https://",
            "v=TLSRPTv1; rua=mailto:a@example.com,",
            "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
            "v=TLSRPTv1; rua=mailto:a b@example.com",
            "v=TLSRPTv1 rua=mailto:a@example.com",
            "rua=mailto:a@example.com; v=TLSRPTv1",
        ] {
            assert!(parse_tls_rpt_record(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn exactly_one_record_counts() {
        let ok = texts(&["v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com"]);
        assert!(select_tls_rpt_record(&ok).is_ok());
        let two = texts(&[
            "v=TLSRPTv1; rua=mailto:a@example.com",
            "v=TLSRPTv1; rua=mailto:b@example.com",
        ]);
        assert!(matches!(
            select_tls_rpt_record(&two),
            Err(RecordError::Multiple { count: 2, .. })
        ));
        assert!(matches!(
            select_tls_rpt_record(&texts(&["v=spf1"])),
            Err(RecordError::Missing { .. })
        ));
    }
}
