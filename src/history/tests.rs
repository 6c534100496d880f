//! The clocks across rounds: first seen, first unmatched, verdict since; restored from a
//! snapshot as the database hands it back.

use std::time::Duration;

use super::*;
use crate::checks::authoritative::{tlsa_zone_consistent, RrsetKey, ZoneReport};
use crate::core::{
    Direction, DnssecStatus, EndpointEvaluation, EndpointOutcome, EndpointReport, EndpointSession,
    MxHostReport, RecordResult, RecordState, RecordType, RrsetReport, TlsEngine, TlsSession,
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
fn facts(at: i64, records: Option<&[&str]>, ttl: u32, states: Option<&[RecordState]>) -> MxReport {
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

    // A round whose MX lookup failed (the domain's servers, not the record) has no hosts: the
    // clock that started at 1,250 goes on.
    let mut failed = MxReport::unfinished("example.org", 1_400);
    failed.mx_lookup.outcome = RrsetOutcome::Failed;
    failed.mx_lookup.error = Some(crate::core::LookupError::ServFail { ede: None });
    assert!(history.stale_findings(&key(), &failed, &limits).is_empty());
    assert!(
        stale_at(1_450, &[M0, NO]),
        "the clock survived the failed lookup"
    );
    // An answer without the host forgets it: the clock starts again when it is back.
    let mut answered = MxReport::unfinished("example.org", 1_500);
    answered.mx_lookup.outcome = RrsetOutcome::NoData;
    history.stale_findings(&key(), &answered, &limits);
    assert!(
        !stale_at(1_550, &[M0, NO]),
        "the host left the MX RRset and came back"
    );
}

/// A journal that records what it is told.
#[derive(Default)]
struct Recorder {
    rounds: std::sync::Mutex<Vec<(i64, Option<VerdictChange>)>>,
    forgotten: std::sync::Mutex<Vec<TargetKey>>,
}

impl Journal for Recorder {
    fn round(&self, _: &TargetKey, state: &TargetState, change: Option<&VerdictChange>) {
        let at = state.verdict.as_ref().map_or(0, |v| v.reasons_since);
        self.rounds.lock().unwrap().push((at, change.cloned()));
    }

    fn forget(&self, key: &TargetKey) {
        self.forgotten.lock().unwrap().push(key.clone());
    }
}

#[test]
fn verdict_since_holds_across_rounds_and_a_restart_and_changes_are_journalled() {
    use crate::core::{Reason, Verdict};
    let failing = |reason| [Finding::new(reason, String::new())];
    let history = History::new();
    let journal = std::sync::Arc::new(Recorder::default());
    history.set_journal(journal.clone());
    let round = |verdict, failures: &[Finding], at| {
        let state = history.verdict(&key(), verdict, failures, at);
        history.end_round(&key());
        state
    };
    assert_eq!(round(Verdict::Pass, &[], 100).since, 100);
    assert_eq!(round(Verdict::Pass, &[], 200).since, 100);
    let failed = round(Verdict::Fail, &failing(Reason::TlsaMismatch), 300);
    assert_eq!((failed.since, failed.previous), (300, Some(Verdict::Pass)));
    // Other reasons, the same verdict: still failing since 300.
    let other = round(Verdict::Fail, &failing(Reason::MxLookupFailed), 400);
    assert_eq!((other.since, other.reasons_since), (300, 400));
    assert_eq!(other.reasons, vec![Reason::MxLookupFailed]);
    let changes: Vec<i64> = journal
        .rounds
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, c)| c.as_ref().map(|c| c.at))
        .collect();
    assert_eq!(
        changes,
        vec![100, 300, 400],
        "one change per new verdict or reasons"
    );
    assert_eq!(
        journal.rounds.lock().unwrap().len(),
        4,
        "every round journalled"
    );

    // The state as the database keeps it (JSON), restored after a restart.
    let json = serde_json::to_string(&history.state(&key()).unwrap()).unwrap();
    let restored = History::restore([(key(), serde_json::from_str(&json).unwrap())]);
    let again = restored.verdict(&key(), Verdict::Fail, &failing(Reason::MxLookupFailed), 900);
    assert_eq!(again, other);
    history.retain(|_| false);
    assert_eq!(*journal.forgotten.lock().unwrap(), vec![key()]);
}
