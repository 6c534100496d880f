//! The authoritative check's judgement: whether the nameservers of a zone agree (newest serial,
//! same RRsets, valid signatures), and the domain's findings from its zones. Pure.

use std::collections::BTreeMap;

use super::report::{NameserverReport, ServedRrset, ZoneReport};
use crate::core::{Finding, Reason};

/// The domain-level findings of the authoritative checks: `authoritative_check_failed` when they
/// stopped, else one finding per zone warning reason, naming every zone, so that each is one
/// `dane_probe_warning_info` series.
pub fn judge(zones: &Result<Vec<ZoneReport>, String>) -> Vec<Finding> {
    let zones = match zones {
        Ok(zones) => zones,
        Err(error) => {
            return vec![Finding::new(
                Reason::AuthoritativeCheckFailed,
                format!("the authoritative checks stopped: {error}"),
            )]
        }
    };
    // In the order of the reasons' texts.
    let mut by_reason: BTreeMap<&str, (Reason, Vec<String>)> = BTreeMap::new();
    for zone in zones {
        for warning in &zone.warnings {
            by_reason
                .entry(warning.reason.as_str())
                .or_insert_with(|| (warning.reason, Vec::new()))
                .1
                .push(warning.message.clone());
        }
    }
    by_reason
        .into_values()
        .map(|(reason, messages)| Finding::new(reason, messages.join(" / ")))
        .collect()
}

/// The `nameserver_inconsistent` warning of a zone whose asked servers disagree, if they do.
pub fn inconsistency(zone: &ZoneReport) -> Option<Finding> {
    if zone.consistent || zone.nameservers.iter().all(|n| n.skipped.is_some()) {
        return None;
    }
    let bad: Vec<String> = zone
        .nameservers
        .iter()
        .filter(|n| !n.consistent && n.skipped.is_none())
        .map(|n| format!("{} [{}]: {}", n.nameserver, n.address, why_inconsistent(n)))
        .collect();
    Some(Finding::new(
        Reason::NameserverInconsistent,
        format!(
            "not every authoritative nameserver of {} serves the newest serial, the same RRsets and valid signatures; hold any TLSA change until they do: {}",
            zone.zone,
            bad.join("; ")
        ),
    ))
}

/// A short reason why a nameserver is not consistent, for messages.
pub fn why_inconsistent(n: &NameserverReport) -> String {
    if let Some(error) = &n.error {
        return error.clone();
    }
    let mut parts = Vec::new();
    if !n.serial_current {
        parts.push(format!(
            "serial {} is behind",
            n.serial.map(|s| s.to_string()).unwrap_or_default()
        ));
    }
    for rrset in n.rrsets.iter().filter(|r| !r.matches) {
        parts.push(format!("different {} {}", rrset.key.rtype, rrset.key.name));
    }
    if !n.signatures_valid {
        let problems: Vec<String> = n
            .rrsets
            .iter()
            .filter_map(|r| r.signature_problem.clone())
            .collect();
        parts.push(if problems.is_empty() {
            "signatures invalid".to_string()
        } else {
            format!("signatures: {}", problems.join(", "))
        });
    }
    parts.join(", ")
}

/// RFC 1982 serial comparison: true when `a` is newer than `b`.
fn serial_newer(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

/// Compares the servers of `zone`: the newest serial (RFC 1982), the RRsets served at it (by the
/// first server that has it), and per server whether it agrees. Pure.
pub fn judge_zone(zone: &mut ZoneReport) {
    let newest = zone
        .nameservers
        .iter()
        .filter(|n| n.error.is_none() && n.skipped.is_none())
        .filter_map(|n| n.serial)
        .reduce(|a, b| if serial_newer(b, a) { b } else { a });
    zone.newest_serial = newest;
    let reference: Option<Vec<ServedRrset>> = zone
        .nameservers
        .iter()
        .find(|n| {
            n.error.is_none() && n.skipped.is_none() && n.serial.is_some() && n.serial == newest
        })
        .map(|n| n.rrsets.clone());
    for n in &mut zone.nameservers {
        n.serial_current =
            n.error.is_none() && n.skipped.is_none() && n.serial.is_some() && n.serial == newest;
        for rrset in &mut n.rrsets {
            rrset.matches = reference.as_ref().is_some_and(|reference| {
                reference
                    .iter()
                    .any(|r| r.key == rrset.key && r.records == rrset.records)
            });
        }
        n.consistent = n.error.is_none()
            && n.skipped.is_none()
            && n.serial_current
            && n.signatures_valid
            && n.rrsets.iter().all(|r| r.matches);
    }
    let mut asked = zone
        .nameservers
        .iter()
        .filter(|n| n.skipped.is_none())
        .peekable();
    zone.consistent = asked.peek().is_some() && asked.all(|n| n.consistent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    use super::super::report::RrsetKey;

    fn served(
        name: &str,
        serial: Option<u32>,
        tlsa: &[&str],
        error: Option<&str>,
    ) -> NameserverReport {
        NameserverReport {
            nameserver: name.into(),
            address: IpAddr::from([127, 0, 0, 1]),
            error: error.map(str::to_string),
            skipped: None,
            serial,
            rrsets: vec![ServedRrset {
                key: RrsetKey {
                    name: "_25._tcp.mx.example.test".into(),
                    rtype: "TLSA".into(),
                },
                records: tlsa.iter().map(|s| s.to_string()).collect(),
                matches: false,
                signature_problem: None,
            }],
            signatures_valid: error.is_none(),
            serial_current: false,
            consistent: false,
        }
    }

    fn zone(nameservers: Vec<NameserverReport>) -> ZoneReport {
        let mut zone = ZoneReport {
            zone: "example.test".into(),
            rrsets: vec![],
            error: None,
            nameservers,
            newest_serial: None,
            consistent: false,
            dnskeys: vec![],
            ds: None,
            warnings: vec![],
        };
        judge_zone(&mut zone);
        zone
    }

    /// name, servers, expected per-server consistency, zone consistent, newest serial.
    type JudgeCase = (
        &'static str,
        Vec<NameserverReport>,
        Vec<bool>,
        bool,
        Option<u32>,
    );

    fn verdicts(zone: &ZoneReport) -> Vec<bool> {
        zone.nameservers.iter().map(|n| n.consistent).collect()
    }

    #[test]
    fn judge_table() {
        let new = ["3 1 1 aa", "3 1 1 bb"];
        let old = ["3 1 1 aa"];
        // name, servers, expected per-server consistency, zone consistent, newest serial
        let cases: Vec<JudgeCase> = vec![
            (
                "agree",
                vec![
                    served("a", Some(2), &new, None),
                    served("b", Some(2), &new, None),
                ],
                vec![true, true],
                true,
                Some(2),
            ),
            (
                "lagging secondary",
                vec![
                    served("a", Some(2), &new, None),
                    served("b", Some(1), &old, None),
                ],
                vec![true, false],
                false,
                Some(2),
            ),
            (
                "lagging first in the list",
                vec![
                    served("b", Some(1), &old, None),
                    served("a", Some(2), &new, None),
                ],
                vec![false, true],
                false,
                Some(2),
            ),
            (
                "same serial, other data",
                vec![
                    served("a", Some(2), &new, None),
                    served("b", Some(2), &old, None),
                ],
                vec![true, false],
                false,
                Some(2),
            ),
            (
                "unreachable",
                vec![
                    served("a", Some(2), &new, None),
                    served("b", None, &[], Some("timeout")),
                ],
                vec![true, false],
                false,
                Some(2),
            ),
            (
                "serial wraps (RFC 1982)",
                vec![
                    served("a", Some(u32::MAX), &old, None),
                    served("b", Some(1), &new, None),
                ],
                vec![false, true],
                false,
                Some(1),
            ),
            (
                "none answers",
                vec![served("a", None, &[], Some("timeout"))],
                vec![false],
                false,
                None,
            ),
            ("no servers", vec![], vec![], false, None),
        ];
        for (name, servers, expected, consistent, newest) in cases {
            let judged = zone(servers);
            assert_eq!(verdicts(&judged), expected, "{name}");
            assert_eq!(judged.consistent, consistent, "{name}");
            assert_eq!(judged.newest_serial, newest, "{name}");
        }
    }

    #[test]
    fn servers_without_a_route_from_here_are_left_out() {
        let mut v6 = served("b", None, &[], None);
        v6.skipped = Some("no route".into());
        let judged = zone(vec![served("a", Some(2), &["3 1 1 aa"], None), v6.clone()]);
        assert!(judged.consistent, "the asked server agrees with itself");
        assert!(!judged.nameservers[1].consistent);
        let judged = zone(vec![v6]);
        assert!(!judged.consistent, "nothing asked, nothing known");
    }

    #[test]
    fn bad_signatures_make_a_server_inconsistent() {
        let mut bad = served("b", Some(2), &["3 1 1 aa"], None);
        bad.signatures_valid = false;
        bad.rrsets[0].signature_problem = Some("every RRSIG is expired or not yet valid".into());
        let judged = zone(vec![served("a", Some(2), &["3 1 1 aa"], None), bad]);
        assert_eq!(verdicts(&judged), vec![true, false]);
        assert!(why_inconsistent(&judged.nameservers[1]).contains("expired"));
    }
}
