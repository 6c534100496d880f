//! TLS-RPT reports in the database: one submission validated (`crate::tlsrpt`) and stored with
//! its counters in one transaction, or refused with nothing stored; the counters and the recent
//! reports read back.

use rusqlite::{params, Connection, TransactionBehavior};

use crate::core::UnixSeconds;
use crate::tlsrpt::{
    contributions, decode_body, parse_report, report_domains, Limits, MediaType, PolicyType,
    Report, ReportError, SessionResult, SessionTotal, SourceTotal, Totals,
};

/// Most recent reports read back for the senders' views (a day's reports of many senders).
const MAX_RECENT: usize = 5_000;

/// What the reports of the last 24 hours may take, together: senders post without credentials,
/// so without it anyone could fill the disk with valid reports of made-up organisations. Real
/// senders send one small report (a few KB) per domain and day each; a sender refused for the
/// quota is told to retry later, as for a busy database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Reports received.
    pub reports: u64,
    /// Bytes stored for them (original and parsed).
    pub bytes: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            reports: 2_000,
            bytes: 64 << 20,
        }
    }
}

/// How a report reached us (RFC 8460 section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `POST` to the TLS-RPT listener.
    Https,
    /// A message piped into `dane_exporter tlsrpt ingest`.
    Mail,
}

impl Method {
    /// Stable text.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Https => "https",
            Method::Mail => "mail",
        }
    }
}

/// One delivered report body.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The bytes as delivered (the request body, or the decoded MIME part).
    pub body: Vec<u8>,
    /// Their media type.
    pub media: MediaType,
    /// How they came.
    pub method: Method,
}

/// A stored report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// `organization-name`.
    pub organization: String,
    /// `report-id`.
    pub report_id: String,
    /// The watched policy domains it counts for.
    pub domains: Vec<String>,
}

/// Why a report was not stored, through no fault of ours: the sender's to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// It is no valid report (RFC 8460 section 4) or breaks a bound.
    #[error("invalid report: {0}")]
    Report(#[from] ReportError),
    /// The same organisation sent a report with the same id before.
    #[error("duplicate report: {organization} report-id {report_id} is already stored")]
    Duplicate {
        /// `organization-name`.
        organization: String,
        /// `report-id`.
        report_id: String,
    },
    /// None of its policy domains is an inbound domain of this exporter.
    #[error("no policy domain of the report is monitored here: {}", .0.join(", "))]
    NotWatched(Vec<String>),
}

/// Why a submission was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The report was refused: nothing was stored.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The database failed (busy beyond its timeout, disk full): try again later.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The writer is shut down or has too many submissions queued: try again later.
    #[error("busy: too many reports being stored, retry later")]
    Busy,
    /// The reports of the last 24 hours fill the [`Quota`]: try again later.
    #[error("quota: {reports} reports ({bytes} bytes) stored in the last 24 hours, retry later")]
    Quota {
        /// Reports stored in the last 24 hours.
        reports: u64,
        /// Their bytes.
        bytes: u64,
    },
}

/// Validates `submission` as of `now` and stores it with its counters, unless it is refused or
/// the `quota` is full. `watched` says which policy domains count (the exporter's inbound
/// domains).
pub fn submit(
    conn: &mut Connection,
    submission: &Submission,
    watched: &dyn Fn(&str) -> bool,
    quota: &Quota,
    now: UnixSeconds,
) -> Result<Stored, SubmitError> {
    let limits = Limits::default();
    let json = decode_body(&submission.body, submission.media, &limits).map_err(Refused::from)?;
    let report = parse_report(&json, &limits, now).map_err(Refused::from)?;
    let (domains, others): (Vec<String>, Vec<String>) = report_domains(&report)
        .into_iter()
        .partition(|d| watched(d));
    if domains.is_empty() {
        return Err(Refused::NotWatched(others).into());
    }
    let parsed = serde_json::to_string(&report).unwrap_or_default();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (reports, bytes): (i64, i64) = tx.query_row(
        "SELECT COUNT(*), COALESCE(SUM(length(original) + length(report)), 0)
         FROM tlsrpt_reports WHERE received_at > ?1",
        params![now - 86_400],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let (reports, bytes) = (reports.unsigned_abs(), bytes.unsigned_abs());
    let adding = (submission.body.len() + parsed.len()) as u64;
    if reports >= quota.reports || bytes + adding > quota.bytes {
        return Err(SubmitError::Quota { reports, bytes });
    }
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO tlsrpt_reports (organization, report_id, start, end, received_at,
         method, media_type, original, report) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            report.organization,
            report.report_id,
            report.start,
            report.end,
            now,
            submission.method.as_str(),
            submission.media.as_str(),
            submission.body,
            parsed
        ],
    )?;
    if inserted == 0 {
        return Err(Refused::Duplicate {
            organization: report.organization,
            report_id: report.report_id,
        }
        .into());
    }
    {
        let mut add = tx.prepare_cached(
            "INSERT INTO tlsrpt_sessions (domain, organization, policy_type, result, sessions)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (domain, organization, policy_type, result)
             DO UPDATE SET sessions = sessions + excluded.sessions",
        )?;
        for c in contributions(&report)
            .iter()
            .filter(|c| domains.contains(&c.domain))
        {
            let sessions = i64::try_from(c.sessions).unwrap_or(i64::MAX);
            add.execute(params![
                c.domain,
                report.organization,
                c.policy_type.as_str(),
                c.result.as_str(),
                sessions
            ])?;
        }
        let mut source = tx.prepare_cached(
            "INSERT INTO tlsrpt_sources (domain, organization, reports, first_seen, last_start,
             last_end, last_received) VALUES (?1, ?2, 1, ?3, ?4, ?5, ?3)
             ON CONFLICT (domain, organization) DO UPDATE SET reports = reports + 1,
             last_received = excluded.last_received,
             last_start = CASE WHEN excluded.last_end > last_end THEN excluded.last_start ELSE last_start END,
             last_end = max(last_end, excluded.last_end)",
        )?;
        for domain in &domains {
            source.execute(params![
                domain,
                report.organization,
                now,
                report.start,
                report.end
            ])?;
        }
    }
    tx.commit()?;
    Ok(Stored {
        organization: report.organization,
        report_id: report.report_id,
        domains,
    })
}

/// The running counters.
pub fn totals(conn: &Connection) -> rusqlite::Result<Totals> {
    let mut statement = conn.prepare(
        "SELECT domain, organization, policy_type, result, sessions FROM tlsrpt_sessions
         ORDER BY domain, organization, policy_type, result",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, i64>(4)?,
        ))
    })?;
    let mut sessions = Vec::new();
    for row in rows {
        let (domain, organization, policy_type, result, count) = row?;
        let Some(policy_type) = PolicyType::parse(&policy_type) else {
            continue;
        };
        sessions.push(SessionTotal {
            domain,
            organization,
            policy_type,
            result: SessionResult::parse(&result),
            sessions: u64::try_from(count).unwrap_or(0),
        });
    }
    let mut statement = conn.prepare(
        "SELECT domain, organization, reports, first_seen, last_start, last_end, last_received
         FROM tlsrpt_sources ORDER BY domain, organization",
    )?;
    let sources = statement
        .query_map([], |row| {
            Ok(SourceTotal {
                domain: row.get(0)?,
                organization: row.get(1)?,
                reports: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                first_seen: row.get(3)?,
                last_start: row.get(4)?,
                last_end: row.get(5)?,
                last_received: row.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Totals { sessions, sources })
}

/// Reports whose period ended at `since` or later (newest first, at most [`MAX_RECENT`]), and
/// the newest row id.
pub fn since(conn: &Connection, since: UnixSeconds) -> rusqlite::Result<(Vec<Report>, i64)> {
    let mut statement = conn
        .prepare("SELECT report FROM tlsrpt_reports WHERE end >= ?1 ORDER BY end DESC LIMIT ?2")?;
    let rows = statement.query_map(params![since, MAX_RECENT as i64], |row| {
        row.get::<_, String>(0)
    })?;
    let mut reports = Vec::new();
    for row in rows {
        if let Ok(report) = serde_json::from_str::<Report>(&row?) {
            reports.push(report);
        }
    }
    Ok((reports, last_row(conn)?))
}

/// The newest report row id, 0 when there is none.
pub fn last_row(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce(max(id), 0) FROM tlsrpt_reports",
        [],
        |row| row.get(0),
    )
}

/// Drops reports received before `before`.
pub fn prune(conn: &Connection, before: UnixSeconds) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM tlsrpt_reports WHERE received_at < ?1",
        params![before],
    )
}
