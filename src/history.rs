//! What the exporter learns across probe rounds, per target: since when each TLSA record has
//! matched nothing (the `tlsa_record_stale` clock), since when each record has been published (the
//! "safe to deploy" clock of local certificates), and the previous round's MTA-STS section (a
//! policy that changed while its id did not).
//!
//! A single probe cannot tell a stale record from a moment's mismatch, nor how long a record has
//! been out; only rounds can. The probe (`crate::probe`) reads and updates a [`History`] while it
//! assembles a report; the rules themselves stay pure in the checks
//! (`crate::checks::authoritative::stale_findings`, `crate::checks::local_certs::judge`,
//! `crate::checks::mta_sts::carry_over`). The exporter keeps one history for its whole life, across
//! reloads (targets no longer configured are forgotten); `dane_exporter check` and `/probe` start
//! from an empty one. State is in memory only: a restart starts the clocks again, which errs on
//! the quiet side.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::checks::authoritative::{stale_findings, unmatched_everywhere, HygieneLimits};
use crate::checks::local_certs::Seen;
use crate::checks::mta_sts::MtaStsReport;
use crate::core::{Finding, HostDane, MxHostReport, MxReport, RrsetOutcome, TargetKey};

/// The history of every target.
#[derive(Debug, Default)]
pub struct History {
    targets: Mutex<HashMap<TargetKey, TargetHistory>>,
}

/// What one target's rounds left behind.
#[derive(Debug, Default)]
struct TargetHistory {
    /// Per MX host: record (presentation form) -> first round that saw it match nothing.
    unmatched: HashMap<String, HashMap<String, i64>>,
    /// Per MX host: when each record was first seen published.
    published: HashMap<String, Publication>,
    /// The MTA-STS section of the last round that had one.
    mta_sts: Option<MtaStsReport>,
}

/// When the records of one MX host were first seen, and the TTL of the last answer.
#[derive(Debug, Default)]
struct Publication {
    /// Record presentation text -> when seen.
    records: HashMap<String, Seen>,
    /// TTL of the last answer, for records that appear in the next round.
    last_ttl: Option<u32>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TargetKey, TargetHistory>> {
        // A panic elsewhere while holding the lock leaves whole entries only.
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every target `keep` refuses (after a reload).
    pub fn retain(&self, keep: impl Fn(&TargetKey) -> bool) {
        self.lock().retain(|key, _| keep(key));
    }

    /// The MTA-STS section of the target's previous round, if any.
    pub fn previous_mta_sts(&self, key: &TargetKey) -> Option<MtaStsReport> {
        self.lock().get(key)?.mta_sts.clone()
    }

    /// Keeps this round's MTA-STS section for the next round.
    pub fn remember_mta_sts(&self, key: &TargetKey, report: &MtaStsReport) {
        self.lock().entry(key.clone()).or_default().mta_sts = Some(report.clone());
    }

    /// Updates the first-unmatched times from `mx` and returns its `tlsa_record_stale` warnings.
    /// A record that matched (or disappeared) starts over; a host without evaluated endpoints
    /// (the SMTP side failed) keeps its times untouched, since it said nothing new.
    pub fn stale_findings(
        &self,
        key: &TargetKey,
        mx: &MxReport,
        limits: &HygieneLimits,
    ) -> Vec<Finding> {
        let mut targets = self.lock();
        let hosts = &mut targets.entry(key.clone()).or_default().unmatched;
        hosts.retain(|name, _| mx.hosts.iter().any(|h| &h.name == name));
        let mut findings = Vec::new();
        for host in &mx.hosts {
            if !host.endpoints.iter().any(|e| e.evaluation.is_some()) {
                continue;
            }
            let unmatched: Vec<String> = unmatched_everywhere(host)
                .iter()
                .map(ToString::to_string)
                .collect();
            let times = hosts.entry(host.name.clone()).or_default();
            times.retain(|record, _| unmatched.contains(record));
            for record in unmatched {
                times.entry(record).or_insert(mx.checked_at);
            }
            findings.extend(stale_findings(host, times, mx.checked_at, limits));
        }
        findings
    }

    /// Records which TLSA records `mx` saw published. `zone_consistent` says, by TLSA owner name,
    /// whether the zone's nameservers agree (`None` when they were not asked).
    ///
    /// Hosts whose TLSA lookup did not give a secure RRset this round keep their history (a
    /// transient failure must not restart the clock); records gone from a secure RRset are
    /// forgotten (withdrawn, so their clock restarts if they come back); MX hosts gone from a
    /// successful MX lookup are forgotten. "First seen" is when a probe first got the record in a
    /// secure TLSA answer while every authoritative nameserver of its zone agreed: never earlier
    /// than its publication everywhere, so the wait it gives is on the safe side. The TTL is the
    /// largest one answered since the round before the record appeared (a caching resolver
    /// answers with a TTL counting down, and the RRset cached before the change is what has to
    /// expire).
    pub fn observe_publications(
        &self,
        key: &TargetKey,
        mx: &MxReport,
        zone_consistent: &dyn Fn(&str) -> Option<bool>,
    ) {
        let mut targets = self.lock();
        let hosts = &mut targets.entry(key.clone()).or_default().published;
        if mx.mx_lookup.error.is_none() && mx.mx_lookup.outcome != RrsetOutcome::Unfinished {
            hosts.retain(|name, _| mx.hosts.iter().any(|h| &h.name == name));
        }
        for host in &mx.hosts {
            if host.dane != HostDane::Applies {
                continue;
            }
            let in_force = host.tlsa_lookup_in_force();
            let ttl = in_force.and_then(|l| l.ttl);
            // While the TLSA zone's nameservers disagree, a resolver may still get the old RRset:
            // a record that appears now is not published everywhere, so its clock does not start.
            let lagging = in_force.and_then(|l| zone_consistent(&l.name)) == Some(false);
            let state = hosts.entry(host.name.clone()).or_default();
            observe_host(state, host, ttl, lagging, mx.checked_at);
        }
    }

    /// When `record` (presentation text) was first seen published at MX host `mx`.
    pub fn published(&self, key: &TargetKey, mx: &str, record: &str) -> Option<Seen> {
        self.lock()
            .get(key)?
            .published
            .get(mx)?
            .records
            .get(record)
            .copied()
    }
}

fn observe_host(
    state: &mut Publication,
    host: &MxHostReport,
    ttl: Option<u32>,
    lagging: bool,
    now: i64,
) {
    let current: Vec<String> = host.tlsa_records.iter().map(|r| r.to_string()).collect();
    state.records.retain(|record, _| current.contains(record));
    let before = state.last_ttl;
    for record in current {
        if lagging && !state.records.contains_key(&record) {
            continue;
        }
        let seen = state.records.entry(record).or_insert(Seen {
            first_seen: now,
            max_ttl: before,
        });
        seen.max_ttl = max_opt(seen.max_ttl, ttl);
    }
    state.last_ttl = ttl;
}

fn max_opt(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::checks::authoritative::{tlsa_zone_consistent, RrsetKey, ZoneReport};
    use crate::core::{
        Direction, DnssecStatus, EndpointEvaluation, EndpointOutcome, EndpointReport,
        EndpointSession, RecordResult, RecordState, RecordType, RrsetReport, TlsEngine, TlsSession,
        TlsaRecord,
    };

    const A: &str = "3 1 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "3 1 1 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const OWNER: &str = "_25._tcp.mx.example.org";

    fn key() -> TargetKey {
        TargetKey {
            direction: Direction::Inbound,
            domain: "example.org".into(),
        }
    }

    fn record(text: &str) -> TlsaRecord {
        text.parse().expect("record")
    }

    /// The MX facts of example.org at `at` whose MX host mx.example.org has `records` (secure,
    /// TTL `ttl`), or a failed TLSA lookup when `records` is `None`; its one endpoint's record
    /// states are `states` when given.
    fn facts(
        at: i64,
        records: Option<&[&str]>,
        ttl: u32,
        states: Option<&[RecordState]>,
    ) -> MxReport {
        let mut mx = MxReport::unfinished("example.org", at);
        mx.mx_lookup.outcome = RrsetOutcome::Records;
        let tlsa: Vec<TlsaRecord> = records
            .unwrap_or_default()
            .iter()
            .map(|r| record(r))
            .collect();
        let endpoints = states
            .map(|states| {
                vec![EndpointReport {
                    address: std::net::IpAddr::from([127, 0, 0, 1]),
                    dane: true,
                    session: EndpointSession::Tls(TlsSession {
                        version: "TLSv1.3".into(),
                        cipher_suite: "TLS_AES_128_GCM_SHA256".into(),
                        engine: TlsEngine::Rustls,
                        chain: vec![vec![0]],
                        banner: String::new(),
                    }),
                    chain: vec![],
                    evaluation: Some(EndpointEvaluation {
                        records: tlsa
                            .iter()
                            .zip(states)
                            .map(|(record, state)| RecordResult {
                                record: record.clone(),
                                state: state.clone(),
                            })
                            .collect(),
                        outcome: EndpointOutcome::Authenticated {
                            record: 0,
                            usage: 3,
                        },
                        leaf: None,
                        divergence: None,
                        divergence_cause: None,
                        rollover_ready: true,
                    }),
                    duration_seconds: 0.0,
                    key_algorithms: vec![],
                }]
            })
            .unwrap_or_default();
        mx.hosts = vec![MxHostReport {
            name: "mx.example.org".into(),
            preference: 10,
            dane: if records.is_some() {
                HostDane::Applies
            } else {
                HostDane::TlsaLookupFailed
            },
            tlsa_base_domain: Some("mx.example.org".into()),
            tlsa_lookups: vec![RrsetReport {
                name: OWNER.into(),
                rtype: RecordType::Tlsa,
                dnssec: DnssecStatus::Secure,
                outcome: if records.is_some() {
                    RrsetOutcome::Records
                } else {
                    RrsetOutcome::Failed
                },
                cname_chain: vec![],
                signature_expiration: None,
                ttl: records.map(|_| ttl),
                error: None,
            }],
            tlsa_records: tlsa,
            address_lookups: vec![],
            endpoints,
            rollover_ready: None,
        }];
        mx
    }

    fn published(at: i64, records: Option<&[&str]>, ttl: u32) -> MxReport {
        facts(at, records, ttl, None)
    }

    fn unknown(_: &str) -> Option<bool> {
        None
    }

    #[test]
    fn first_seen_survives_failures_and_restarts_after_withdrawal() {
        let history = History::new();
        let seen = |r: &str| history.published(&key(), "mx.example.org", r);
        history.observe_publications(&key(), &published(100, Some(&[A]), 300), &unknown);
        history.observe_publications(&key(), &published(400, Some(&[A, B]), 300), &unknown);
        assert_eq!(seen(A).map(|s| s.first_seen), Some(100));
        assert_eq!(
            seen(B),
            Some(Seen {
                first_seen: 400,
                max_ttl: Some(300)
            })
        );
        // A failed lookup keeps the history.
        history.observe_publications(&key(), &published(700, None, 0), &unknown);
        assert_eq!(seen(B).map(|s| s.first_seen), Some(400));
        // B withdrawn, then back: its clock restarts.
        history.observe_publications(&key(), &published(1000, Some(&[A]), 300), &unknown);
        assert_eq!(seen(B), None);
        history.observe_publications(&key(), &published(1300, Some(&[A, B]), 300), &unknown);
        assert_eq!(seen(B).map(|s| s.first_seen), Some(1300));
        // The MX host is gone from a successful MX lookup: forgotten.
        let mut gone = published(1600, Some(&[A]), 300);
        gone.hosts.clear();
        history.observe_publications(&key(), &gone, &unknown);
        assert_eq!(seen(A), None);
    }

    #[test]
    fn a_record_counts_only_once_every_nameserver_serves_it() {
        let zone = |consistent: bool| ZoneReport {
            zone: "example.org".into(),
            rrsets: vec![RrsetKey {
                name: OWNER.into(),
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
        let history = History::new();
        let seen = |r: &str| history.published(&key(), "mx.example.org", r);
        let observe = |mx: &MxReport, zones: Vec<ZoneReport>| {
            history.observe_publications(&key(), mx, &|owner| tlsa_zone_consistent(&zones, owner))
        };
        observe(&published(100, Some(&[A]), 300), vec![zone(true)]);
        // B is on the primary, a secondary lags: not published everywhere yet.
        assert_eq!(tlsa_zone_consistent(&[zone(false)], OWNER), Some(false));
        observe(&published(400, Some(&[A, B]), 300), vec![zone(false)]);
        assert_eq!(seen(B), None);
        assert_eq!(
            seen(A).map(|s| s.first_seen),
            Some(100),
            "A was everywhere before"
        );
        observe(&published(700, Some(&[A, B]), 300), vec![zone(true)]);
        assert_eq!(seen(B).map(|s| s.first_seen), Some(700));
        // Without the authoritative checks: unknown, the resolver's view counts.
        assert_eq!(tlsa_zone_consistent(&[], OWNER), None);
    }

    #[test]
    fn ttl_bound_covers_the_rrset_cached_before_the_record_appeared() {
        let history = History::new();
        let observe = |mx: MxReport| history.observe_publications(&key(), &mx, &unknown);
        // Before: TTL 3600 (what caches may hold); the operator lowers it to 60 with the new record.
        observe(published(0, Some(&[A]), 3600));
        observe(published(100, Some(&[A, B]), 60));
        let b = history
            .published(&key(), "mx.example.org", B)
            .expect("seen");
        assert_eq!(b.max_ttl, Some(3600));
        // A record that appears while the TTL is low gets the low bound.
        observe(published(200, Some(&[A]), 60));
        observe(published(300, Some(&[A, B]), 60));
        let b = history
            .published(&key(), "mx.example.org", B)
            .expect("seen");
        assert_eq!(b.max_ttl, Some(60));
        history.retain(|k| k.domain == "example.net");
        assert_eq!(history.published(&key(), "mx.example.org", A), None);
    }

    #[test]
    fn stale_clock_remembers_across_probes_and_starts_over_after_a_match() {
        const M0: RecordState = RecordState::Matched { depth: 0 };
        const NO: RecordState = RecordState::NoMatch;
        let limits = HygieneLimits {
            stale_after: Duration::from_secs(100),
            ..HygieneLimits::default()
        };
        let history = History::new();
        let stale_at = |t: i64, states: &[RecordState]| {
            let mx = facts(t, Some(&[A, B]), 600, Some(states));
            history
                .stale_findings(&key(), &mx, &limits)
                .iter()
                .any(|f| f.reason.as_str() == "tlsa_record_stale")
        };
        assert!(!stale_at(1_000, &[M0, NO]), "first sight");
        assert!(!stale_at(1_099, &[M0, NO]), "inside the grace period");
        assert!(stale_at(1_100, &[M0, NO]), "grace period over");
        assert!(!stale_at(1_200, &[M0, M0]), "it matched again");
        assert!(!stale_at(1_250, &[M0, NO]), "the grace period starts over");
        assert!(stale_at(1_350, &[M0, NO]));
    }
}
