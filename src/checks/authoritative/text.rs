//! The authoritative check's part of `dane_exporter check`: per zone whether its nameservers
//! agree, one line per nameserver address, the DNSKEYs and the DS records.

use std::fmt::Write as _;

use super::hygiene::algorithm_name;
use super::judge::why_inconsistent;
use super::report::ZoneReport;

/// The authoritative nameservers of each zone, one line per address.
pub fn render(out: &mut String, zones: &[ZoneReport]) {
    for zone in zones {
        let state = if zone.consistent {
            "all nameservers agree".to_string()
        } else if let Some(error) = &zone.error {
            format!("not checked: {error}")
        } else {
            "NAMESERVERS NOT CONSISTENT".to_string()
        };
        let _ = writeln!(out, "\n  zone {}: {state}", zone.zone);
        for n in &zone.nameservers {
            let serial = n
                .serial
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into());
            let verdict = if let Some(skipped) = &n.skipped {
                format!("not asked: {skipped}")
            } else if n.consistent {
                "ok".to_string()
            } else {
                why_inconsistent(n)
            };
            let _ = writeln!(
                out,
                "    {} [{}] serial {serial}: {verdict}",
                n.nameserver, n.address
            );
        }
        let keys: Vec<String> = zone
            .dnskeys
            .iter()
            .map(|k| {
                format!(
                    "{} {}{}",
                    k.key_tag,
                    algorithm_name(k.algorithm),
                    if k.sep { " (SEP)" } else { "" }
                )
            })
            .collect();
        if !keys.is_empty() {
            let _ = writeln!(out, "    DNSKEY {}", keys.join(", "));
        }
        if let Some(ds) = &zone.ds {
            let list: Vec<String> = ds
                .iter()
                .map(|d| {
                    format!(
                        "{} digest {}{}",
                        d.key_tag,
                        d.digest_type,
                        if d.matches.is_some() {
                            ""
                        } else {
                            " (matches no DNSKEY)"
                        }
                    )
                })
                .collect();
            if !list.is_empty() {
                let _ = writeln!(out, "    DS     {}", list.join(", "));
            }
        }
    }
}
