//! How long each TLSA record has been published, as our probes saw it: the state across probe
//! rounds that "safe to deploy" needs (RFC 7671 section 8.1: publish the next key's record at
//! least two TTLs before the switch, so every cache that holds the old RRset has expired).
//!
//! The exporter keeps one [`PublicationLog`] for its whole life (across reloads); the scheduler's
//! runner feeds it every report of a target with `certificates` ([`PublicationLog::observe`]),
//! and `super::attach` reads it back. The DANE rules stay pure: only this type holds state.
//!
//! "First seen" is when a probe first got the record in a secure TLSA answer while every
//! authoritative nameserver of its zone agreed (when those checks run, `crate::consistency`):
//! never earlier than its publication everywhere, so the wait it gives is on the safe side. The TTL is the largest one answered
//! since the round before the record appeared (a caching resolver answers with a TTL counting
//! down, and the RRset cached before the change is what has to expire).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::dns::UnixSeconds;
use crate::report::{DomainReport, HostDane, MxHostReport};

/// When a record was first seen and the TTL that bounds caches of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// First probe that saw the record (Unix time of its start).
    pub first_seen: UnixSeconds,
    /// Largest TTL of the RRset answered from the round before `first_seen` on.
    pub max_ttl: Option<u32>,
}

#[derive(Debug, Default)]
struct HostState {
    /// Record presentation text -> when seen.
    records: HashMap<String, Seen>,
    /// TTL of the last answer, for records that appear in the next round.
    last_ttl: Option<u32>,
}

/// Publication history per (domain, MX host).
#[derive(Debug, Default)]
pub struct PublicationLog {
    hosts: Mutex<HashMap<(String, String), HostState>>,
}

impl PublicationLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records what `report` saw. Hosts whose TLSA lookup did not give a secure RRset this round
    /// keep their history (a transient failure must not restart the clock); records gone from a
    /// secure RRset are forgotten (withdrawn, so their clock restarts if they come back); MX hosts
    /// gone from a successful MX lookup are forgotten.
    pub fn observe(&self, report: &DomainReport) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if report.mx_lookup.error.is_none() && report.mx_lookup.outcome != "unfinished" {
            hosts.retain(|(domain, mx), _| {
                domain != &report.domain || report.hosts.iter().any(|h| &h.name == mx)
            });
        }
        for host in &report.hosts {
            if host.dane != HostDane::Applies {
                continue;
            }
            let ttl = tlsa_ttl(host);
            // While the TLSA zone's nameservers disagree, a resolver may still get the old RRset:
            // a record that appears now is not published everywhere, so its clock does not start.
            let lagging = tlsa_zone_consistent(report, host) == Some(false);
            let state = hosts
                .entry((report.domain.clone(), host.name.clone()))
                .or_default();
            let current: Vec<String> = host.tlsa_records.iter().map(|r| r.to_string()).collect();
            state.records.retain(|record, _| current.contains(record));
            let before = state.last_ttl;
            for record in current {
                if lagging && !state.records.contains_key(&record) {
                    continue;
                }
                let seen = state.records.entry(record).or_insert(Seen {
                    first_seen: report.checked_at,
                    max_ttl: before,
                });
                seen.max_ttl = max_opt(seen.max_ttl, ttl);
            }
            state.last_ttl = ttl;
        }
    }

    /// When `record` (presentation text) was first seen at `mx` of `domain`.
    pub fn seen(&self, domain: &str, mx: &str, record: &str) -> Option<Seen> {
        let hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .get(&(domain.to_string(), mx.to_string()))?
            .records
            .get(record)
            .copied()
    }

    /// Forgets every domain not in `domains` (after a reload removed targets).
    pub fn retain_domains(&self, domains: &[&str]) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.retain(|(domain, _), _| domains.contains(&domain.as_str()));
    }
}

/// The TLSA lookup in force: the one that found records.
fn tlsa_lookup(host: &MxHostReport) -> Option<&crate::report::RrsetReport> {
    host.tlsa_lookups
        .iter()
        .rev()
        .find(|l| l.outcome == "records")
}

/// The TTL of the TLSA RRset in force.
fn tlsa_ttl(host: &MxHostReport) -> Option<u32> {
    tlsa_lookup(host).and_then(|l| l.ttl)
}

/// Whether every authoritative nameserver of the zone holding the host's TLSA RRset serves the
/// same data (`crate::consistency`, issue 7 item 1); `None` when those checks did not run for it.
pub fn tlsa_zone_consistent(report: &DomainReport, host: &MxHostReport) -> Option<bool> {
    let owner = &tlsa_lookup(host)?.name;
    report
        .zones
        .iter()
        .find(|zone| {
            zone.rrsets
                .iter()
                .any(|key| key.rtype == "TLSA" && &key.name == owner)
        })
        .map(|zone| zone.consistent)
}

fn max_opt(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{DnssecStatus, RecordType};
    use crate::report::RrsetReport;

    const A: &str = "3 1 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "3 1 1 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    /// A report of example.org at `at` whose MX host mx.example.org has `records` (secure, TTL
    /// `ttl`), or a failed TLSA lookup when `records` is `None`.
    fn report(at: UnixSeconds, records: Option<&[&str]>, ttl: u32) -> DomainReport {
        let mut report = DomainReport::unfinished("example.org", at, 0.0, "x", String::new());
        report.mx_lookup.outcome = "records";
        let lookup = RrsetReport {
            name: "_25._tcp.mx.example.org".into(),
            rtype: RecordType::Tlsa,
            dnssec: DnssecStatus::Secure,
            outcome: if records.is_some() {
                "records"
            } else {
                "failed"
            },
            cname_chain: vec![],
            signature_expiration: None,
            ttl: records.map(|_| ttl),
            error: None,
        };
        report.hosts = vec![MxHostReport {
            name: "mx.example.org".into(),
            preference: 10,
            dane: if records.is_some() {
                HostDane::Applies
            } else {
                HostDane::TlsaLookupFailed
            },
            tlsa_base_domain: Some("mx.example.org".into()),
            tlsa_lookups: vec![lookup],
            tlsa_records: records
                .unwrap_or_default()
                .iter()
                .map(|r| r.parse().expect("record"))
                .collect(),
            address_lookups: vec![],
            endpoints: vec![],
            rollover_ready: None,
        }];
        report
    }

    #[test]
    fn first_seen_survives_failures_and_restarts_after_withdrawal() {
        let log = PublicationLog::new();
        let seen = |r: &str| log.seen("example.org", "mx.example.org", r);
        log.observe(&report(100, Some(&[A]), 300));
        log.observe(&report(400, Some(&[A, B]), 300));
        assert_eq!(seen(A).map(|s| s.first_seen), Some(100));
        assert_eq!(
            seen(B),
            Some(Seen {
                first_seen: 400,
                max_ttl: Some(300)
            })
        );
        // A failed lookup keeps the history.
        log.observe(&report(700, None, 0));
        assert_eq!(seen(B).map(|s| s.first_seen), Some(400));
        // B withdrawn, then back: its clock restarts.
        log.observe(&report(1000, Some(&[A]), 300));
        assert_eq!(seen(B), None);
        log.observe(&report(1300, Some(&[A, B]), 300));
        assert_eq!(seen(B).map(|s| s.first_seen), Some(1300));
        // The MX host is gone from a successful MX lookup: forgotten.
        let mut gone = report(1600, Some(&[A]), 300);
        gone.hosts.clear();
        log.observe(&gone);
        assert_eq!(seen(A), None);
    }

    #[test]
    fn a_record_counts_only_once_every_nameserver_serves_it() {
        let zone = |consistent: bool| crate::consistency::ZoneReport {
            zone: "example.org".into(),
            rrsets: vec![crate::consistency::RrsetKey {
                name: "_25._tcp.mx.example.org".into(),
                rtype: "TLSA".into(),
            }],
            error: None,
            nameservers: vec![],
            newest_serial: Some(2),
            consistent,
            dnskeys: vec![],
            ds: None,
            warnings: vec![],
        };
        let log = PublicationLog::new();
        let seen = |r: &str| log.seen("example.org", "mx.example.org", r);
        let mut first = report(100, Some(&[A]), 300);
        first.zones = vec![zone(true)];
        log.observe(&first);
        // B is on the primary, a secondary lags: not published everywhere yet.
        let mut lagging = report(400, Some(&[A, B]), 300);
        lagging.zones = vec![zone(false)];
        assert_eq!(
            tlsa_zone_consistent(&lagging, &lagging.hosts[0]),
            Some(false)
        );
        log.observe(&lagging);
        assert_eq!(seen(B), None);
        assert_eq!(
            seen(A).map(|s| s.first_seen),
            Some(100),
            "A was everywhere before"
        );
        let mut caught_up = report(700, Some(&[A, B]), 300);
        caught_up.zones = vec![zone(true)];
        log.observe(&caught_up);
        assert_eq!(seen(B).map(|s| s.first_seen), Some(700));
        // Without the authoritative checks: unknown, the resolver's view counts.
        assert_eq!(
            tlsa_zone_consistent(
                &report(0, Some(&[A]), 1),
                &report(0, Some(&[A]), 1).hosts[0]
            ),
            None
        );
    }

    #[test]
    fn ttl_bound_covers_the_rrset_cached_before_the_record_appeared() {
        let log = PublicationLog::new();
        // Before: TTL 3600 (what caches may hold); the operator lowers it to 60 with the new record.
        log.observe(&report(0, Some(&[A]), 3600));
        log.observe(&report(100, Some(&[A, B]), 60));
        let b = log.seen("example.org", "mx.example.org", B).expect("seen");
        assert_eq!(b.max_ttl, Some(3600));
        // A record that appears while the TTL is low gets the low bound.
        log.observe(&report(200, Some(&[A]), 60));
        log.observe(&report(300, Some(&[A, B]), 60));
        let b = log.seen("example.org", "mx.example.org", B).expect("seen");
        assert_eq!(b.max_ttl, Some(60));
        log.retain_domains(&["example.net"]);
        assert_eq!(log.seen("example.org", "mx.example.org", A), None);
    }
}
