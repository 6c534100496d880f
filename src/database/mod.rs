//! The embedded database: what must outlive the process, in one SQLite file
//! (`<--storage.path>/dane_exporter.db`, SQLite compiled in, no server).
//!
//! What it keeps:
//! - each target's [`TargetState`] (the clocks, the MTA-STS carry-over, the verdict since when),
//!   written at the end of every round through the history's [`crate::history::Journal`], and
//!   handed back at start ([`Database::target_states`]);
//! - each target's verdict history: one row per change, with its time and reasons;
//! - the TLS-RPT reports received (the original bytes and the parsed report), unique per
//!   organisation and report id, and the counters they add, which never go down.
//!
//! Crash safety: WAL journal mode, `synchronous=FULL`, one transaction per round and per report.
//! WAL lets `check` and `tlsrpt ingest` read and write beside the running exporter. FULL, not
//! NORMAL: NORMAL survives a killed process but may lose the last commits on a power cut, and a
//! report we acknowledged (HTTP 2xx, exit 0 to Postfix) is never sent again; FULL costs one fsync
//! per commit, and the writer thread commits a whole batch of rounds at once.
//!
//! All of it is blocking I/O: the exporter runs it on the writer thread of [`Storage`], never on
//! the async reactor; a scrape reads what that thread last published, in memory. Schema changes
//! are numbered migrations (`schema`), recorded in `PRAGMA user_version`.

mod reports;
mod schema;
mod targets;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use reports::{Method, Quota, Refused, Stored, Submission, SubmitError};
pub use writer::{Storage, TlsRptUpdate, Watched};

use crate::core::{TargetKey, UnixSeconds};
use crate::history::{TargetState, VerdictChange};
use crate::tlsrpt::{Report, Totals};

/// The database file inside `--storage.path`.
pub const FILE_NAME: &str = "dane_exporter.db";

/// How long a writer waits for another process's write to finish (`tlsrpt ingest` beside the
/// exporter) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `--storage.retention` when not given: reports and verdict history older than this are dropped
/// (the counters and each target's current state stay).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);

/// Why the database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The storage directory cannot be created.
    #[error("storage directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite refused (a damaged file, a full disk, no permission).
    #[error("database {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file was written by a newer version.
    #[error("database {path}: schema version {found} is newer than this dane_exporter's ({known}); upgrade dane_exporter or use another --storage.path")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
}

/// An open database.
pub struct Database {
    conn: Connection,
    path: PathBuf,
    quota: Quota,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .finish()
    }
}

impl Database {
    /// Opens (creating when missing) the database in directory `dir`, migrated to this version.
    pub fn open(dir: &Path) -> Result<Self, DatabaseError> {
        std::fs::create_dir_all(dir).map_err(|source| DatabaseError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let mut conn = Connection::open(&path).map_err(|source| DatabaseError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let sqlite = |source| DatabaseError::Sqlite {
            path: path.clone(),
            source,
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sqlite)?;
        match schema::migrate(&mut conn).map_err(sqlite)? {
            schema::Migrated::Ok => Ok(Self {
                conn,
                path,
                quota: Quota::default(),
            }),
            schema::Migrated::TooNew(found) => Err(DatabaseError::TooNew {
                path,
                found,
                known: schema::VERSION,
            }),
        }
    }

    /// Opens an existing database read-only (`check`); `None` when there is none yet.
    pub fn open_read_only(dir: &Path) -> Result<Option<Self>, DatabaseError> {
        let path = dir.join(FILE_NAME);
        if !path.exists() {
            return Ok(None);
        }
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|source| DatabaseError::Sqlite {
                path: path.clone(),
                source,
            })?;
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        Ok(Some(Self {
            conn,
            path,
            quota: Quota::default(),
        }))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, source: rusqlite::Error) -> DatabaseError {
        DatabaseError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<i64, DatabaseError> {
        schema::version(&self.conn).map_err(|e| self.error(e))
    }

    /// Every target's stored state.
    pub fn target_states(&self) -> Result<Vec<(TargetKey, TargetState)>, DatabaseError> {
        targets::load(&self.conn).map_err(|e| self.error(e))
    }

    /// Writes rounds (state and verdict change per target) and forgets targets, in one
    /// transaction.
    pub fn write_rounds(
        &mut self,
        rounds: &[(TargetKey, TargetState, Vec<VerdictChange>)],
        forget: &[TargetKey],
        now: UnixSeconds,
    ) -> Result<(), DatabaseError> {
        targets::write(&mut self.conn, rounds, forget, now).map_err(|e| self.error(e))
    }

    /// `key`'s verdict history, oldest first: (time, verdict, reasons).
    pub fn verdict_history(
        &self,
        key: &TargetKey,
    ) -> Result<Vec<(UnixSeconds, String, String)>, DatabaseError> {
        targets::verdict_history(&self.conn, key).map_err(|e| self.error(e))
    }

    /// Validates and stores one report (see [`reports::submit`]).
    pub fn submit(
        &mut self,
        submission: &Submission,
        watched: &dyn Fn(&str) -> bool,
        now: UnixSeconds,
    ) -> Result<Stored, SubmitError> {
        reports::submit(&mut self.conn, submission, watched, &self.quota, now)
    }

    /// Replaces the [`Quota`] of reports per 24 hours (tests: the default's thousands).
    pub fn set_quota(&mut self, quota: Quota) {
        self.quota = quota;
    }

    /// The counters every report added so far.
    pub fn tlsrpt_totals(&self) -> Result<Totals, DatabaseError> {
        reports::totals(&self.conn).map_err(|e| self.error(e))
    }

    /// The reports whose period ended at `since` or later, and the newest row id.
    pub fn reports_since(&self, since: UnixSeconds) -> Result<(Vec<Report>, i64), DatabaseError> {
        reports::since(&self.conn, since).map_err(|e| self.error(e))
    }

    /// The newest report row id (0 when none): another process's insert moves it.
    pub fn last_report_row(&self) -> Result<i64, DatabaseError> {
        reports::last_row(&self.conn).map_err(|e| self.error(e))
    }

    /// Drops reports received and verdict changes older than `before` (each target keeps its
    /// latest change), returning how many rows went.
    pub fn prune(&mut self, before: UnixSeconds) -> Result<usize, DatabaseError> {
        let reports = reports::prune(&self.conn, before).map_err(|e| self.error(e))?;
        let verdicts = targets::prune(&self.conn, before).map_err(|e| self.error(e))?;
        Ok(reports + verdicts)
    }

    /// `PRAGMA integrity_check`: "ok" for a sound file.
    pub fn integrity_check(&self) -> Result<String, DatabaseError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .map_err(|e| self.error(e))
    }
}
