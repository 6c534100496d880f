//! One target's state across rounds, in the form the database keeps it (serde: the database
//! stores it as JSON, so a new field needs no migration): the clocks, the MTA-STS carry-over and
//! the verdict with since when it holds.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::checks::local_certs::Seen;
use crate::checks::mta_sts::Carried;
use crate::core::{MxHostReport, Reason, UnixSeconds, Verdict};

/// What one target's rounds left behind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    /// Per MX host: record (presentation form) -> first round that saw it match nothing.
    #[serde(default)]
    pub unmatched: HashMap<String, HashMap<String, UnixSeconds>>,
    /// Per MX host: when each record was first seen published.
    #[serde(default)]
    pub published: HashMap<String, Publication>,
    /// The MTA-STS section of the last round that had one.
    #[serde(default)]
    pub mta_sts: Option<Carried>,
    /// The verdict of the last round and since when it holds.
    #[serde(default)]
    pub verdict: Option<VerdictState>,
}

/// When the records of one MX host were first seen, and the TTL of the last answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Publication {
    /// Record presentation text -> when seen.
    pub records: HashMap<String, Seen>,
    /// TTL of the last answer, for records that appear in the next round.
    pub last_ttl: Option<u32>,
}

impl Publication {
    /// Takes in this round's RRset of `host` (see `History::observe_publications`).
    pub(super) fn observe(
        &mut self,
        host: &MxHostReport,
        ttl: Option<u32>,
        lagging: bool,
        now: UnixSeconds,
    ) {
        let current: Vec<String> = host.tlsa_records.iter().map(|r| r.to_string()).collect();
        self.records.retain(|record, _| current.contains(record));
        let before = self.last_ttl;
        for record in current {
            if lagging && !self.records.contains_key(&record) {
                continue;
            }
            let seen = self.records.entry(record).or_insert(Seen {
                first_seen: now,
                max_ttl: before,
            });
            seen.max_ttl = max_opt(seen.max_ttl, ttl);
        }
        self.last_ttl = ttl;
    }
}

fn max_opt(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The verdict in force and since when: "failing since 2026-12-01 10:04".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictState {
    /// The verdict of the last round.
    #[serde(with = "verdict_text")]
    pub verdict: Verdict,
    /// First round with this verdict (after a round with another one).
    pub since: UnixSeconds,
    /// The failure reasons of the last round, sorted, each once.
    #[serde(with = "reasons_text")]
    pub reasons: Vec<Reason>,
    /// First round with these reasons under this verdict.
    pub reasons_since: UnixSeconds,
    /// The verdict before this one, if the exporter saw another.
    #[serde(default, with = "optional_verdict_text")]
    pub previous: Option<Verdict>,
}

/// A round that changed the verdict or its reasons: one line of the verdict history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictChange {
    /// When (the round's start).
    pub at: UnixSeconds,
    /// The new verdict.
    pub verdict: Verdict,
    /// The new reasons.
    pub reasons: Vec<Reason>,
}

/// The state after a round with `verdict` and `reasons` at `now`, and the change it is, if any.
pub(super) fn next_verdict(
    before: Option<&VerdictState>,
    verdict: Verdict,
    reasons: Vec<Reason>,
    now: UnixSeconds,
) -> (VerdictState, Option<VerdictChange>) {
    let change = VerdictChange {
        at: now,
        verdict,
        reasons: reasons.clone(),
    };
    match before {
        Some(b) if b.verdict == verdict && b.reasons == reasons => (b.clone(), None),
        Some(b) if b.verdict == verdict => (
            VerdictState {
                reasons,
                reasons_since: now,
                ..b.clone()
            },
            Some(change),
        ),
        other => (
            VerdictState {
                verdict,
                since: now,
                reasons,
                reasons_since: now,
                previous: other.map(|b| b.verdict),
            },
            Some(change),
        ),
    }
}

/// A verdict by its stable text.
pub fn verdict_from_text(text: &str) -> Option<Verdict> {
    Verdict::ALL.into_iter().find(|v| v.as_str() == text)
}

/// A reason by its stable text.
pub fn reason_from_text(text: &str) -> Option<Reason> {
    Reason::ALL.iter().copied().find(|r| r.as_str() == text)
}

mod verdict_text {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Verdict, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Verdict, D::Error> {
        let text = String::deserialize(d)?;
        verdict_from_text(&text).ok_or_else(|| serde::de::Error::custom("unknown verdict"))
    }
}

mod optional_verdict_text {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Verdict>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Verdict::as_str).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Verdict>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.and_then(|t| verdict_from_text(&t)))
    }
}

mod reasons_text {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[Reason], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|r| r.as_str()))
    }

    /// Reasons a later version renamed or dropped are left out rather than failing the state.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Reason>, D::Error> {
        Ok(Vec::<String>::deserialize(d)?
            .iter()
            .filter_map(|t| reason_from_text(t))
            .collect())
    }
}
