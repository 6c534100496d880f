//! Whether the exporter can see: the health of every resolver it asks, so that a resolver that
//! does not validate DNSSEC, or does not answer, is reported as the exporter's own problem and
//! never as the domains'.
//!
//! Two sources, kept per nameserver in one [`Resolvers`] registry that the exporter owns for its
//! whole life (reloads keep it, so its counters never reset):
//!
//! - **What every query shows** (passive, fed by `trust_resolver.rs` for each try): an answer
//!   proves the server is up; a try without one (timeout, ICMP unreachable, REFUSED) with no
//!   answer from that server since it was sent makes it *suspect down*; a positive answer that
//!   carries RRSIG records but no AD bit makes it *suspect not validating* (a validating resolver
//!   sets AD on everything it validated; an unsigned island under a validating resolver looks the
//!   same, which is why this is only a suspicion). Every try is counted by result.
//! - **The canary** (`canary.rs`): a name that must validate (AD) and one whose validation must
//!   fail (SERVFAIL), asked of each server directly. It decides `up` and `validating`. It runs
//!   when the exporter starts and every interval (the scheduler asks through
//!   [`Resolvers::check_all`]), again soon while something is wrong, and when a probe ends with a
//!   suspicion no check has looked at yet ([`Resolvers::settle`]): a probe whose lookups timed out
//!   because the domain's nameservers are slow must not be blamed on a resolver that answers
//!   everything else, and one whose lookups failed because the resolver died must not be blamed
//!   on the domain. Checks are one at a time; callers that find a check already done for what
//!   they saw do not start another.
//!
//! What a probe makes of it is its [`Sight`]: the state of its client's nameservers, and
//! [`Sight::blindness`] when it cannot see (`crate::probe` turns that into the verdict
//! `unknown`). A registry made with [`Resolvers::passive`] (what a bare `DnsClient::new` gets)
//! counts and watches but never asks a canary, so it is never blind: only the exporter and
//! `dane_exporter check` decide that the resolver is the problem.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType as WireType;

use super::canary::{self, attempt_result, rcode_result};
pub use super::canary::{CanarySettings, QUERY_RESULTS};
use super::exchange::AttemptError;

/// A check older than this no longer vouches for a blind state: the probe asks again.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// A positive answer with RRSIGs and no AD triggers a check at most this often per server once a
/// check found out whether it validates: an unsigned island under a validating resolver would otherwise ask
/// the canary on every probe. While its validation is unknown, a suspicion is checked at once.
const UNVALIDATED_RECHECK: Duration = Duration::from_secs(60);

/// What one try of a lookup came to, as `trust_resolver.rs` reports it.
pub(super) enum Observed<'a> {
    /// A response that answers the query.
    Response(&'a Message),
    /// No usable response.
    Failed(&'a AttemptError),
}

/// The state of one nameserver.
#[derive(Default)]
struct Server {
    /// Used by a client of the configuration in force (only those have gauges).
    in_use: bool,
    /// Used by a client in trust-resolver mode: its validation matters.
    validation_needed: bool,
    /// From the last check, or an answer since.
    up: Option<bool>,
    /// From the last check (trust-resolver servers only).
    validating: Option<bool>,
    /// Why it is down or does not validate, from the last check.
    detail: Option<String>,
    /// A remark of the last check that changes nothing (an inconclusive bogus canary).
    note: Option<String>,
    last_answer: Option<Instant>,
    /// A try sent at this time got no answer, and none came since.
    suspect_down: Option<Instant>,
    /// A positive answer with RRSIGs and without AD came at this time.
    suspect_unvalidated: Option<Instant>,
    /// When the last completed check started.
    checked: Option<Instant>,
    /// Queries by result, since the exporter started.
    queries: BTreeMap<&'static str, u64>,
}

impl Server {
    fn count(&mut self, result: &'static str) {
        *self.queries.entry(result).or_insert(0) += 1;
    }

    fn checked_since(&self, at: Instant) -> bool {
        self.checked.is_some_and(|checked| checked >= at)
    }

    fn blind(&self) -> bool {
        self.up == Some(false) || (self.validation_needed && self.validating == Some(false))
    }

    /// Whether a check should look at this server now, for a probe that started at `since`.
    fn needs_check(&self, since: Instant, now: Instant) -> bool {
        let recent = |at: Option<Instant>| at.filter(|&at| at >= since && !self.checked_since(at));
        let checked_long_ago = |limit: Duration| {
            self.checked
                .is_none_or(|checked| now.saturating_duration_since(checked) >= limit)
        };
        recent(self.suspect_down).is_some()
            || (self.validation_needed
                && recent(self.suspect_unvalidated).is_some()
                && (self.validating.is_none() || checked_long_ago(UNVALIDATED_RECHECK)))
            || (self.blind() && checked_long_ago(STALE_AFTER))
    }
}

/// The resolvers' health and query counts (module doc).
pub struct Resolvers {
    canary: RwLock<CanarySettings>,
    /// Whether checks run at all.
    active: bool,
    servers: Mutex<BTreeMap<SocketAddr, Server>>,
    /// Held while a check runs: one at a time.
    checking: tokio::sync::Mutex<()>,
}

/// What a probe's client knows about its nameservers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sight {
    /// Each nameserver of the client, in the order it asks them.
    pub servers: Vec<ServerSight>,
}

/// One nameserver as a probe sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSight {
    /// The nameserver.
    pub address: SocketAddr,
    /// Whether it answers (`None`: not known yet).
    pub up: Option<bool>,
    /// Whether it validates DNSSEC; `None` when not known or not needed (validate mode).
    pub validating: Option<bool>,
    /// Why it is down or does not validate.
    pub detail: Option<String>,
    /// Whether a check confirmed its state within the last minute.
    pub fresh: bool,
}

/// Why a probe cannot see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blindness {
    /// A nameserver the client may ask does not validate DNSSEC (trust-resolver mode): its
    /// "insecure" may be anything.
    NotValidating {
        /// Which one, and what the canary found.
        detail: String,
    },
    /// No nameserver of the client answers.
    Unavailable {
        /// Each one and why.
        detail: String,
    },
}

impl Sight {
    /// Why nothing can be known through these nameservers, if so: one that may be asked and does
    /// not validate, or none that answers.
    pub fn blindness(&self) -> Option<Blindness> {
        if let Some(server) = self
            .servers
            .iter()
            .find(|s| s.up != Some(false) && s.validating == Some(false))
        {
            return Some(Blindness::NotValidating {
                detail: format!(
                    "{}: {}",
                    server.address,
                    server.detail.as_deref().unwrap_or("does not validate")
                ),
            });
        }
        if !self.servers.is_empty() && self.servers.iter().all(|s| s.up == Some(false)) {
            let detail = self
                .servers
                .iter()
                .map(|s| {
                    format!(
                        "{}: {}",
                        s.address,
                        s.detail.as_deref().unwrap_or("no answer")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Some(Blindness::Unavailable { detail });
        }
        None
    }

    /// True when every nameserver's state was confirmed by a check within the last minute: a
    /// probe may then skip its lookups when blind.
    pub fn fresh(&self) -> bool {
        self.servers.iter().all(|s| s.fresh)
    }
}

/// One nameserver in the exporter's own metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerReport {
    /// The nameserver, the `nameserver` label.
    pub address: SocketAddr,
    /// Used by the configuration in force.
    pub in_use: bool,
    /// Used in trust-resolver mode (its validation is measured).
    pub validation_needed: bool,
    /// Whether it answers.
    pub up: Option<bool>,
    /// Whether it validates.
    pub validating: Option<bool>,
    /// Why it is down or does not validate.
    pub detail: Option<String>,
    /// A remark of the last check.
    pub note: Option<String>,
    /// Queries by result since the exporter started, every result of [`QUERY_RESULTS`].
    pub queries: Vec<(&'static str, u64)>,
}

impl Resolvers {
    /// A registry whose checks ask the canary `canary`.
    pub fn new(canary: CanarySettings) -> Self {
        Self::with(canary, true)
    }

    /// A registry that counts and watches but never runs a check: never blind.
    pub fn passive() -> Self {
        Self::with(CanarySettings::default(), false)
    }

    fn with(canary: CanarySettings, active: bool) -> Self {
        Self {
            canary: RwLock::new(canary),
            active,
            servers: Mutex::new(BTreeMap::new()),
            checking: tokio::sync::Mutex::new(()),
        }
    }

    fn servers(&self) -> MutexGuard<'_, BTreeMap<SocketAddr, Server>> {
        // Every update leaves a consistent entry: a panic elsewhere does not spoil the data.
        self.servers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the canary settings and forgets which servers are in use, before the clients of
    /// a new configuration [`register`](Self::register) theirs. States and counters stay.
    pub fn reconfigure(&self, canary: CanarySettings) {
        *self.canary.write().unwrap_or_else(PoisonError::into_inner) = canary;
        for server in self.servers().values_mut() {
            server.in_use = false;
            server.validation_needed = false;
        }
    }

    /// Marks `servers` in use, by a client in trust-resolver mode when `validation_needed`.
    pub fn register(&self, servers: &[SocketAddr], validation_needed: bool) {
        let mut all = self.servers();
        for address in servers {
            let server = all.entry(*address).or_default();
            server.in_use = true;
            server.validation_needed |= validation_needed;
        }
    }

    /// Records one try of a lookup sent to `server` at `sent`.
    pub(super) fn observe(&self, server: SocketAddr, sent: Instant, observed: Observed<'_>) {
        let now = Instant::now();
        let mut all = self.servers();
        let state = all.entry(server).or_default();
        let answered = match observed {
            Observed::Response(message) => {
                state.count(rcode_result(message.metadata.response_code));
                if message.metadata.response_code == ResponseCode::Refused {
                    false
                } else {
                    if unvalidated_signatures(message) {
                        state.suspect_unvalidated = Some(now);
                    }
                    true
                }
            }
            Observed::Failed(error) => {
                state.count(attempt_result(error));
                false
            }
        };
        if answered {
            state.last_answer = Some(now);
            state.suspect_down = None;
            state.up = Some(true);
        } else if state.last_answer.is_none_or(|last| last < sent) {
            state.suspect_down = Some(sent);
        }
    }

    /// A lookup sent at `sent` through a backend that picks the server itself (validate mode)
    /// got no answer: each of `servers` is suspect unless it answered since.
    pub(super) fn suspect_down(&self, servers: &[SocketAddr], sent: Instant) {
        let mut all = self.servers();
        for address in servers {
            let state = all.entry(*address).or_default();
            if state.last_answer.is_none_or(|last| last < sent) {
                state.suspect_down = Some(sent);
            }
        }
    }

    /// What a client asking `servers` (in trust-resolver mode when `validation_needed`) sees.
    pub fn sight(&self, servers: &[SocketAddr], validation_needed: bool) -> Sight {
        let now = Instant::now();
        let all = self.servers();
        let servers = servers
            .iter()
            .map(|address| match all.get(address) {
                Some(s) => ServerSight {
                    address: *address,
                    up: s.up,
                    validating: if validation_needed {
                        s.validating
                    } else {
                        None
                    },
                    detail: s.detail.clone(),
                    fresh: s
                        .checked
                        .is_some_and(|c| now.saturating_duration_since(c) < STALE_AFTER),
                },
                None => ServerSight {
                    address: *address,
                    up: None,
                    validating: None,
                    detail: None,
                    fresh: false,
                },
            })
            .collect();
        Sight { servers }
    }

    /// After a probe that started at `since` and asked `servers`: checks those of them that
    /// became suspect meanwhile and that no check has looked at since, and those whose blind
    /// state is older than a minute. Returns at once when there is nothing to check (or the
    /// registry is passive); otherwise when the check is done, within the canary timeout.
    pub async fn settle(&self, servers: &[SocketAddr], since: Instant) {
        if !self.active {
            return;
        }
        let due = |all: &BTreeMap<SocketAddr, Server>| -> Vec<SocketAddr> {
            let now = Instant::now();
            servers
                .iter()
                .filter(|a| all.get(a).is_some_and(|s| s.needs_check(since, now)))
                .copied()
                .collect()
        };
        if due(&self.servers()).is_empty() {
            return;
        }
        let _one_at_a_time = self.checking.lock().await;
        // Another probe may have checked while this one waited for the lock.
        let due = due(&self.servers());
        if !due.is_empty() {
            self.run(&due).await;
        }
    }

    /// Checks every nameserver in use (the exporter's schedule: at start, every interval, and
    /// sooner while something is wrong). Returns true when every one answers and, where it
    /// matters, was found validating.
    pub async fn check_all(&self) -> bool {
        if !self.active {
            return true;
        }
        let _one_at_a_time = self.checking.lock().await;
        let in_use: Vec<SocketAddr> = self
            .servers()
            .iter()
            .filter(|(_, s)| s.in_use)
            .map(|(a, _)| *a)
            .collect();
        self.run(&in_use).await;
        let all = self.servers();
        in_use.iter().all(|a| {
            all.get(a).is_some_and(|s| {
                s.up == Some(true) && (!s.validation_needed || s.validating == Some(true))
            })
        })
    }

    /// Asks the canary of each of `addresses` at once and stores what it found.
    async fn run(&self, addresses: &[SocketAddr]) {
        let canary = self
            .canary
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let jobs: Vec<(SocketAddr, bool)> = {
            let all = self.servers();
            addresses
                .iter()
                .map(|a| (*a, all.get(a).is_some_and(|s| s.validation_needed)))
                .collect()
        };
        let started = Instant::now();
        let outcomes = join_all(
            jobs.iter()
                .map(|(address, validate)| canary::ask(*address, &canary, *validate)),
        )
        .await;
        let mut all = self.servers();
        for ((address, validate), outcome) in jobs.into_iter().zip(outcomes) {
            let server = all.entry(address).or_default();
            for result in &outcome.results {
                server.count(result);
            }
            let changed = server.up != Some(outcome.up)
                || (validate && server.validating != outcome.validating)
                || server.note != outcome.note;
            server.up = Some(outcome.up);
            server.validating = if validate { outcome.validating } else { None };
            server.detail = outcome.detail;
            server.note = outcome.note;
            server.checked = Some(started);
            if outcome.up {
                server.last_answer = Some(server.last_answer.map_or(started, |l| l.max(started)));
            }
            if changed {
                log_state(address, server);
            }
        }
    }

    /// Every nameserver seen, for the exporter's own metrics and readiness.
    pub fn report(&self) -> Vec<ServerReport> {
        self.servers()
            .iter()
            .map(|(address, s)| ServerReport {
                address: *address,
                in_use: s.in_use,
                validation_needed: s.validation_needed,
                up: s.up,
                validating: if s.validation_needed {
                    s.validating
                } else {
                    None
                },
                detail: s.detail.clone(),
                note: s.note.clone(),
                queries: QUERY_RESULTS
                    .iter()
                    .map(|r| (*r, s.queries.get(r).copied().unwrap_or(0)))
                    .collect(),
            })
            .collect()
    }
}

fn log_state(address: SocketAddr, server: &Server) {
    let detail = server.detail.as_deref().unwrap_or("");
    match (server.up, server.validating) {
        (Some(false), _) => {
            tracing::warn!(nameserver = %address, %detail, "resolver unavailable: verdicts are unknown until it answers")
        }
        (_, Some(false)) if server.validation_needed => tracing::warn!(
            nameserver = %address,
            %detail,
            "resolver does not validate DNSSEC: verdicts are unknown; use a validating resolver or dnssec_mode: validate"
        ),
        _ => {
            let validating = match server.validating {
                Some(true) => "yes",
                Some(false) => "no",
                None => "not yet known",
            };
            tracing::info!(nameserver = %address, validating, "resolver answers")
        }
    }
    if let Some(note) = &server.note {
        tracing::warn!(nameserver = %address, %note, "resolver canary");
    }
}

/// A positive answer carrying RRSIG records without the AD bit: what a resolver that does not
/// validate returns for signed data (with DO set, it passes the signatures on).
fn unvalidated_signatures(message: &Message) -> bool {
    !message.metadata.authentic_data
        && message.metadata.response_code == ResponseCode::NoError
        && message
            .answers
            .iter()
            .any(|r| r.record_type() == WireType::RRSIG)
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
