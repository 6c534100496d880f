//! A TLS-RPT report delivered by mail (RFC 8460 section 5.3): one RFC 5322 message whose top
//! part is `multipart/report; report-type=tlsrpt` and which carries the report as an
//! `application/tlsrpt+gzip` or `application/tlsrpt+json` part, base64 or otherwise encoded.
//! `mail-parser` does the MIME work; this module only finds the one part and bounds what it takes.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::{Limits, MediaType, ReportError};

/// The report part of `message`: its media type and its decoded bytes.
pub fn report_part(message: &[u8], limits: &Limits) -> Result<(MediaType, Vec<u8>), ReportError> {
    if message.len() > limits.max_message_bytes {
        return Err(ReportError::TooLarge {
            bytes: message.len(),
            limit: limits.max_message_bytes,
        });
    }
    let parsed = MessageParser::default()
        .parse(message)
        .ok_or(ReportError::NotAMessage)?;
    let top = parsed
        .root_part()
        .content_type()
        .ok_or(ReportError::NotAReportMessage)?;
    let is_report = top.ctype().eq_ignore_ascii_case("multipart")
        && top
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && top
            .attribute("report-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("tlsrpt"));
    if !is_report {
        return Err(ReportError::NotAReportMessage);
    }
    if parsed.parts.len() > limits.max_mime_parts {
        return Err(ReportError::TooMany {
            what: "MIME parts",
            limit: limits.max_mime_parts,
        });
    }
    let mut found = None;
    for part in &parsed.parts {
        let Some(kind) = part.content_type() else {
            continue;
        };
        let full = format!("{}/{}", kind.ctype(), kind.subtype().unwrap_or(""));
        let Some(media) = MediaType::from_content_type(&full) else {
            continue;
        };
        let bytes = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b.as_ref(),
            PartType::Text(t) => t.as_bytes(),
            _ => continue,
        };
        if found.is_some() {
            return Err(ReportError::SeveralReportParts);
        }
        found = Some((media, bytes.to_vec()));
    }
    found.ok_or(ReportError::NoReportPart)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(top: &str, part_type: &str, encoding: &str, body: &str) -> Vec<u8> {
        format!(
            "From: reports@sender.example\r\nTo: tlsrpt@example.org\r\n\
             Subject: Report Domain: example.org Submitter: sender.example Report-ID: <1@x>\r\n\
             MIME-Version: 1.0\r\nContent-Type: {top}; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain\r\n\r\nThis is a TLS report.\r\n\
             --b1\r\nContent-Type: {part_type}\r\nContent-Transfer-Encoding: {encoding}\r\n\
             Content-Disposition: attachment; filename=\"r.json\"\r\n\r\n{body}\r\n--b1--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn finds_the_report_part_and_refuses_other_messages() {
        let limits = Limits::default();
        let top = "multipart/report; report-type=tlsrpt";
        let (media, bytes) = report_part(
            &message(top, "application/tlsrpt+json", "base64", "eyJhIjogMX0="),
            &limits,
        )
        .unwrap();
        assert_eq!(media, MediaType::Json);
        assert_eq!(bytes, br#"{"a": 1}"#);
        let (media, _) = report_part(
            &message(
                top,
                "application/tlsrpt+gzip",
                "base64",
                "H4sIAAAAAAAAA6uuBQBDv6ajAgAAAA==",
            ),
            &limits,
        )
        .unwrap();
        assert_eq!(media, MediaType::Gzip);
        assert_eq!(
            report_part(
                &message("multipart/mixed", "application/tlsrpt+json", "7bit", "{}"),
                &limits
            ),
            Err(ReportError::NotAReportMessage)
        );
        assert_eq!(
            report_part(&message(top, "application/json", "7bit", "{}"), &limits),
            Err(ReportError::NoReportPart)
        );
        assert!(matches!(
            report_part(&vec![b'a'; limits.max_message_bytes + 1], &limits),
            Err(ReportError::TooLarge { .. })
        ));
    }
}
