//! Target states and verdict history: one JSON state per target, replaced each round, and one
//! row per verdict change.

use rusqlite::{params, Connection};

use crate::core::{Direction, TargetKey, UnixSeconds};
use crate::history::{TargetState, VerdictChange};

fn direction(text: &str) -> Option<Direction> {
    match text {
        "inbound" => Some(Direction::Inbound),
        "outbound" => Some(Direction::Outbound),
        _ => None,
    }
}

/// Every stored state. A state that does not parse (written by a version with other fields, or
/// damaged) is skipped with a warning: that target's clocks start again, as they did before
/// there was a database.
pub fn load(conn: &Connection) -> rusqlite::Result<Vec<(TargetKey, TargetState)>> {
    let mut statement = conn.prepare("SELECT direction, domain, state FROM target_state")?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (dir, domain, state) = row?;
        let Some(direction) = direction(&dir) else {
            continue;
        };
        match serde_json::from_str::<TargetState>(&state) {
            Ok(state) => out.push((TargetKey { direction, domain }, state)),
            Err(error) => {
                tracing::warn!(%domain, direction = %dir, %error, "database: unreadable target state skipped")
            }
        }
    }
    Ok(out)
}

/// Writes `rounds` and deletes `forget`, in one transaction.
pub fn write(
    conn: &mut Connection,
    rounds: &[(TargetKey, TargetState, Vec<VerdictChange>)],
    forget: &[TargetKey],
    now: UnixSeconds,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT INTO target_state (direction, domain, state, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (direction, domain) DO UPDATE SET state = excluded.state,
             updated_at = excluded.updated_at",
        )?;
        let mut change = tx.prepare_cached(
            "INSERT INTO verdict_history (direction, domain, at, verdict, reasons)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (key, state, changes) in rounds {
            // Serialising plain data into memory does not fail.
            let json = serde_json::to_string(state).unwrap_or_default();
            put.execute(params![key.direction.as_str(), key.domain, json, now])?;
            for c in changes {
                let reasons: Vec<&str> = c.reasons.iter().map(|r| r.as_str()).collect();
                change.execute(params![
                    key.direction.as_str(),
                    key.domain,
                    c.at,
                    c.verdict.as_str(),
                    reasons.join(",")
                ])?;
            }
        }
        let mut delete =
            tx.prepare_cached("DELETE FROM target_state WHERE direction = ?1 AND domain = ?2")?;
        for key in forget {
            delete.execute(params![key.direction.as_str(), key.domain])?;
        }
    }
    tx.commit()
}

/// `key`'s verdict changes, oldest first.
pub fn verdict_history(
    conn: &Connection,
    key: &TargetKey,
) -> rusqlite::Result<Vec<(UnixSeconds, String, String)>> {
    let mut statement = conn.prepare(
        "SELECT at, verdict, reasons FROM verdict_history WHERE direction = ?1 AND domain = ?2
         ORDER BY at, id",
    )?;
    let rows = statement.query_map(params![key.direction.as_str(), key.domain], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })?;
    rows.collect()
}

/// Drops verdict changes older than `before`, except each target's latest.
pub fn prune(conn: &Connection, before: UnixSeconds) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM verdict_history WHERE at < ?1 AND id NOT IN
         (SELECT max(id) FROM verdict_history GROUP BY direction, domain)",
        params![before],
    )
}
