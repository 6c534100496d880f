//! The local-certificate check's lines in `dane_exporter check`: each file and its standing.

use super::report::LocalCertReport;

/// Lines for `dane_exporter check`: each certificate file and its standing.
pub fn lines(certs: &[LocalCertReport]) -> Vec<String> {
    let mut lines = Vec::new();
    for cert in certs {
        lines.push(format!(
            "{} {} {}{}",
            cert.mx,
            cert.slot.as_str(),
            cert.path.display(),
            cert.key_algorithm
                .map(|a| format!(" ({})", a.as_str().to_uppercase()))
                .unwrap_or_default()
        ));
        if let Some(error) = &cert.error {
            lines.push(format!("  UNREADABLE: {error}"));
            continue;
        }
        if let Some(leaf) = &cert.leaf {
            lines.push(format!(
                "  {}, key 3 1 1 {}",
                leaf.subject, leaf.spki_sha256
            ));
        }
        match cert.served {
            Some(true) => lines.push("  served by every address".to_string()),
            Some(false) => {
                lines.push("  not served (yet): a reload or deployment is pending".to_string())
            }
            None => {}
        }
        match &cert.tlsa {
            None => {
                lines.push("  DANE does not apply to this MX host: nothing to match".to_string())
            }
            Some(m) if !m.matches => lines.push(format!(
                "  NO PUBLISHED TLSA RECORD MATCHES ({})",
                m.failure.as_deref().unwrap_or("tlsa_mismatch")
            )),
            Some(m) => {
                lines.push(format!("  matched by: {}", m.matched_records.join(", ")));
                let published = m
                    .published_seconds
                    .map(|s| format!("{s} s (first seen by this process)"))
                    .unwrap_or_else(|| "unknown".to_string());
                let required = m
                    .required_seconds
                    .map(|s| format!("{s} s"))
                    .unwrap_or_else(|| "unknown (no TTL)".to_string());
                let nameservers = match m.consistent_everywhere {
                    Some(true) => "; every authoritative nameserver agrees",
                    Some(false) => "; AUTHORITATIVE NAMESERVERS DISAGREE",
                    None => "",
                };
                lines.push(format!(
                    "  published for {published}; two TTLs = {required}{nameservers}; safe to deploy: {}",
                    if m.safe_to_deploy { "yes" } else { "not yet" }
                ));
            }
        }
    }
    lines
}
