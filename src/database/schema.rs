//! The schema as numbered migrations. `PRAGMA user_version` holds the number of the last one
//! applied; each runs in its own transaction, so a file is always at one version. A file from a
//! newer dane_exporter is refused rather than written by code that does not know its tables.

use rusqlite::{Connection, TransactionBehavior};

/// Migrations in order; the schema version is their count. Never edit one that shipped: add one.
const MIGRATIONS: &[&str] = &[
    // 1: target states, verdict history, TLS-RPT reports and their counters.
    "
    CREATE TABLE target_state (
        direction TEXT NOT NULL,
        domain TEXT NOT NULL,
        state TEXT NOT NULL,          -- history::TargetState as JSON
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (direction, domain)
    );
    CREATE TABLE verdict_history (
        id INTEGER PRIMARY KEY,
        direction TEXT NOT NULL,
        domain TEXT NOT NULL,
        at INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        reasons TEXT NOT NULL         -- comma-separated reason labels
    );
    CREATE INDEX verdict_history_target ON verdict_history (direction, domain, at);
    CREATE TABLE tlsrpt_reports (
        id INTEGER PRIMARY KEY,
        organization TEXT NOT NULL,
        report_id TEXT NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        method TEXT NOT NULL,         -- https | mail
        media_type TEXT NOT NULL,
        original BLOB NOT NULL,       -- the bytes as delivered (gzip or JSON)
        report TEXT NOT NULL,         -- tlsrpt::Report as JSON
        UNIQUE (organization, report_id)
    );
    CREATE INDEX tlsrpt_reports_end ON tlsrpt_reports (end);
    CREATE INDEX tlsrpt_reports_received ON tlsrpt_reports (received_at);
    CREATE TABLE tlsrpt_sessions (
        domain TEXT NOT NULL,
        organization TEXT NOT NULL,
        policy_type TEXT NOT NULL,
        result TEXT NOT NULL,         -- tlsrpt::SessionResult text
        sessions INTEGER NOT NULL,
        PRIMARY KEY (domain, organization, policy_type, result)
    );
    CREATE TABLE tlsrpt_sources (
        domain TEXT NOT NULL,
        organization TEXT NOT NULL,
        reports INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_start INTEGER NOT NULL,
        last_end INTEGER NOT NULL,
        last_received INTEGER NOT NULL,
        PRIMARY KEY (domain, organization)
    );
    ",
];

/// This version's schema number.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// What [`migrate`] found.
pub enum Migrated {
    /// At [`VERSION`] now.
    Ok,
    /// Written by a newer version (its number).
    TooNew(i64),
}

/// The file's schema version.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Applies the migrations the file lacks, each in an immediate transaction that reads the
/// version again: two processes opening a new file at once (the exporter and `tlsrpt ingest`)
/// take turns instead of both creating the tables.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<Migrated> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = version(&tx)?;
        let Some(sql) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            tx.commit()?;
            return Ok(if found > VERSION {
                Migrated::TooNew(found)
            } else {
                Migrated::Ok
            });
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}
