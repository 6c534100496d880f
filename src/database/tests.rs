//! The database on a real file: migrations, states across reopening, reports stored once and
//! refused reports leaving nothing behind, the daily quota, counters, pruning, a newer schema
//! refused.

use std::io::Write as _;

use super::*;
use crate::core::{Direction, Reason, Verdict};
use crate::history::{History, VerdictChange};
use crate::tlsrpt::{MediaType, SessionResult};

const TLSA: &str = include_str!("../../tests/fixtures/tlsrpt/tlsa.json");
/// 2026-12-01T12:00:00Z: after the fixture's period.
const NOW: i64 = 1_796_126_400;

fn key(domain: &str) -> TargetKey {
    TargetKey {
        direction: Direction::Inbound,
        domain: domain.into(),
    }
}

fn json(body: &str) -> Submission {
    Submission {
        body: body.as_bytes().to_vec(),
        media: MediaType::Json,
        method: Method::Https,
    }
}

fn rows(db: &Database) -> i64 {
    db.conn
        .query_row("SELECT count(*) FROM tlsrpt_reports", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn states_and_verdict_history_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::new();
    let failing = [crate::core::Finding::new(Reason::TlsaMismatch, "x".into())];
    history.verdict(&key("example.org"), Verdict::Pass, &[], 100);
    let state = history.verdict(&key("example.org"), Verdict::Fail, &failing, 200);
    assert_eq!((state.since, state.previous), (200, Some(Verdict::Pass)));
    {
        let mut db = Database::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), schema::VERSION);
        let stored = history.state(&key("example.org")).unwrap();
        let change = VerdictChange {
            at: 200,
            verdict: Verdict::Fail,
            reasons: vec![Reason::TlsaMismatch],
        };
        db.write_rounds(&[(key("example.org"), stored, vec![change])], &[], 200)
            .unwrap();
        db.write_rounds(
            &[(key("gone.example"), TargetState::default(), vec![])],
            &[],
            200,
        )
        .unwrap();
        db.write_rounds(&[], &[key("gone.example")], 201).unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let restored = History::restore(db.target_states().unwrap());
    assert!(restored.state(&key("gone.example")).is_none());
    // The same verdict after the restart: still failing since 200.
    let again = restored.verdict(&key("example.org"), Verdict::Fail, &failing, 900);
    assert_eq!(again.since, 200);
    assert_eq!(
        db.verdict_history(&key("example.org")).unwrap(),
        vec![(200, "fail".to_string(), "tlsa_mismatch".to_string())]
    );
    assert_eq!(db.integrity_check().unwrap(), "ok");
    // Read-only: what `check` opens.
    let ro = Database::open_read_only(dir.path()).unwrap().unwrap();
    assert_eq!(ro.target_states().unwrap().len(), 1);
    assert!(Database::open_read_only(&dir.path().join("none"))
        .unwrap()
        .is_none());
}

#[test]
fn reports_are_stored_once_and_refusals_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(dir.path()).unwrap();
    let watched = |d: &str| d == "example.org";
    let stored = db.submit(&json(TLSA), &watched, NOW).unwrap();
    assert_eq!(stored.organization, "Sender Two Corporation");
    assert_eq!(stored.domains, vec!["example.org"]);
    assert!(matches!(
        db.submit(&json(TLSA), &watched, NOW),
        Err(SubmitError::Refused(Refused::Duplicate { .. }))
    ));
    assert!(matches!(
        db.submit(&json(TLSA), &|d: &str| d == "example.net", NOW),
        Err(SubmitError::Refused(Refused::NotWatched(d))) if d == vec!["example.org".to_string()]
    ));
    assert!(matches!(
        db.submit(&json("{}"), &watched, NOW),
        Err(SubmitError::Refused(Refused::Report(_)))
    ));
    let mut truncated = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    truncated.write_all(TLSA.as_bytes()).unwrap();
    let gz = truncated.finish().unwrap();
    let bad = Submission {
        body: gz[..gz.len() / 2].to_vec(),
        media: MediaType::Gzip,
        method: Method::Mail,
    };
    assert!(db.submit(&bad, &watched, NOW).is_err());
    assert_eq!(rows(&db), 1, "only the first report is stored");

    let totals = db.tlsrpt_totals().unwrap();
    let sum = |result: SessionResult| -> u64 {
        totals
            .sessions
            .iter()
            .filter(|s| s.result == result)
            .map(|s| s.sessions)
            .sum()
    };
    assert_eq!(sum(SessionResult::Successful), 127);
    assert_eq!(
        sum(SessionResult::FailedUnspecified),
        2,
        "9 failures, 7 in details"
    );
    assert_eq!(totals.sources.len(), 1);
    assert_eq!(totals.sources[0].reports, 1);
    let (recent, last) = db.reports_since(0).unwrap();
    assert_eq!((recent.len(), last), (1, 1));
    // Pruned past the retention, the report goes; the counters stay.
    assert_eq!(db.prune(NOW + 1).unwrap(), 1);
    assert_eq!(rows(&db), 0);
    assert_eq!(db.tlsrpt_totals().unwrap(), totals);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.conn
            .pragma_update(None, "user_version", schema::VERSION + 1)
            .unwrap();
    }
    assert!(matches!(
        Database::open(dir.path()),
        Err(DatabaseError::TooNew { found, .. }) if found == schema::VERSION + 1
    ));
}

#[test]
fn the_daily_quota_refuses_a_flood_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(dir.path()).unwrap();
    let watched = |d: &str| d == "example.org";
    let with_id = |id: &str| {
        let mut value: serde_json::Value = serde_json::from_str(TLSA).unwrap();
        value["report-id"] = serde_json::json!(id);
        json(&value.to_string())
    };
    db.set_quota(Quota {
        reports: 2,
        bytes: 1 << 20,
    });
    db.submit(&with_id("a"), &watched, NOW).unwrap();
    db.submit(&with_id("b"), &watched, NOW + 60).unwrap();
    assert!(matches!(
        db.submit(&with_id("c"), &watched, NOW + 120),
        Err(SubmitError::Quota { reports: 2, .. })
    ));
    assert_eq!(rows(&db), 2);
    // A day after the first, one fits again.
    db.submit(&with_id("c"), &watched, NOW + 86_400 + 1)
        .unwrap();
    assert_eq!(rows(&db), 3);
    // The bytes count too.
    db.set_quota(Quota {
        reports: 100,
        bytes: 100,
    });
    assert!(matches!(
        db.submit(&with_id("d"), &watched, NOW + 86_400 + 2),
        Err(SubmitError::Quota { .. })
    ));
    assert_eq!(rows(&db), 3);
}
