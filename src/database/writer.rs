//! The database's own thread: the exporter's one writer. Rounds and report submissions are
//! queued here from the async side (never waiting for a disk), and the thread commits them:
//! all rounds waiting in one transaction (each target's latest state, so the queue holds at most
//! one state per target however slow the disk), each report in its own. After a report lands,
//! here or through another process (`tlsrpt ingest` writes the same file), the thread reads the
//! counters and the recent reports back and publishes them ([`TlsRptUpdate`]); a scrape reads
//! what was published, from memory.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use super::reports::{Submission, SubmitError};
use super::{Database, Stored};
use crate::core::{unix_now, TargetKey, UnixSeconds};
use crate::history::{Journal, TargetState, VerdictChange};
use crate::tlsrpt::{report_domains, SendersView, Totals, RECENT_SECONDS};

/// How often the thread looks for reports another process stored, and how long a round waits at
/// most before it is written.
const POLL: Duration = Duration::from_secs(2);
/// Submissions waiting at once; more are refused as busy (the listener's sender retries).
const MAX_QUEUED_SUBMISSIONS: usize = 16;
/// Verdict changes kept per target while the disk is slow (the oldest go first).
const MAX_QUEUED_CHANGES: usize = 16;
/// How often old reports and verdict history are pruned.
const PRUNE_EVERY: UnixSeconds = 3600;

/// What reports add up to, as the thread last read it back.
#[derive(Clone, Debug, Default)]
pub struct TlsRptUpdate {
    /// The counters of every report so far.
    pub totals: Totals,
    /// Per policy domain, the senders' view from the latest reports.
    pub views: HashMap<String, Arc<SendersView>>,
}

/// Which policy domains a submission may count for.
pub type Watched = Arc<dyn Fn(&str) -> bool + Send + Sync>;

struct Pending {
    submission: Submission,
    watched: Watched,
    reply: oneshot::Sender<Result<Stored, SubmitError>>,
}

#[derive(Default)]
struct Queue {
    rounds: HashMap<TargetKey, (TargetState, Vec<VerdictChange>)>,
    forget: HashSet<TargetKey>,
    submissions: VecDeque<Pending>,
    stop: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    write_errors: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer thread and its queue; the history's [`Journal`] in the exporter.
pub struct Storage {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Storage {
    /// Starts the thread on `db`. `publish` gets the counters and views at start and after every
    /// report; records older than `retention` are pruned at start and hourly.
    pub fn start(
        db: Database,
        retention: Duration,
        publish: Box<dyn Fn(TlsRptUpdate) + Send>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            write_errors: AtomicU64::new(0),
        });
        let retention = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
        let thread = std::thread::Builder::new().name("database".into()).spawn({
            let shared = Arc::clone(&shared);
            move || run(db, &shared, retention, publish.as_ref())
        })?;
        Ok(Self {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `submission` and waits for the thread's answer; [`SubmitError::Busy`] at once when
    /// too many wait already or the thread has stopped.
    pub async fn submit(
        &self,
        submission: Submission,
        watched: Watched,
    ) -> Result<Stored, SubmitError> {
        let (reply, answer) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            if queue.stop || queue.submissions.len() >= MAX_QUEUED_SUBMISSIONS {
                return Err(SubmitError::Busy);
            }
            queue.submissions.push_back(Pending {
                submission,
                watched,
                reply,
            });
        }
        self.shared.wake.notify_one();
        answer.await.unwrap_or(Err(SubmitError::Busy))
    }

    /// Writes that failed so far (each is retried with the next round of the same target).
    pub fn write_errors(&self) -> u64 {
        self.shared.write_errors.load(Ordering::Relaxed)
    }

    /// Writes what is queued and stops the thread (blocking: call from a blocking context or
    /// at the very end).
    pub fn shutdown(&self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Journal for Storage {
    fn round(&self, key: &TargetKey, state: &TargetState, change: Option<&VerdictChange>) {
        {
            let mut queue = self.shared.lock();
            queue.forget.remove(key);
            let slot = queue
                .rounds
                .entry(key.clone())
                .or_insert_with(|| (TargetState::default(), Vec::new()));
            slot.0 = state.clone();
            if let Some(change) = change {
                if slot.1.len() >= MAX_QUEUED_CHANGES {
                    slot.1.remove(0);
                }
                slot.1.push(change.clone());
            }
        }
        self.shared.wake.notify_one();
    }

    fn forget(&self, key: &TargetKey) {
        let mut queue = self.shared.lock();
        queue.rounds.remove(key);
        queue.forget.insert(key.clone());
    }
}

fn run(mut db: Database, shared: &Shared, retention: UnixSeconds, publish: &dyn Fn(TlsRptUpdate)) {
    let mut last_row = read_back(&db, publish);
    let mut last_prune = UnixSeconds::MIN;
    loop {
        let (rounds, forget, submissions, stop) = {
            let mut queue = shared.lock();
            let idle = |q: &Queue| q.rounds.is_empty() && q.submissions.is_empty() && !q.stop;
            if idle(&queue) {
                queue = shared
                    .wake
                    .wait_timeout(queue, POLL)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            (
                std::mem::take(&mut queue.rounds),
                std::mem::take(&mut queue.forget),
                std::mem::take(&mut queue.submissions),
                queue.stop,
            )
        };
        let now = unix_now();
        if !rounds.is_empty() || !forget.is_empty() {
            let rounds: Vec<_> = rounds.into_iter().map(|(k, (s, c))| (k, s, c)).collect();
            let forget: Vec<_> = forget.into_iter().collect();
            if let Err(error) = db.write_rounds(&rounds, &forget, now) {
                shared.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "database: writing the rounds failed");
            }
        }
        for pending in submissions {
            let result = db.submit(&pending.submission, pending.watched.as_ref(), now);
            let _ = pending.reply.send(result);
        }
        if db.last_report_row().ok() != Some(last_row) {
            last_row = read_back(&db, publish);
        }
        if now.saturating_sub(last_prune) >= PRUNE_EVERY {
            last_prune = now;
            match db.prune(now.saturating_sub(retention)) {
                Ok(0) => {}
                Ok(rows) => tracing::info!(rows, "database: pruned records past the retention"),
                Err(error) => tracing::warn!(%error, "database: pruning failed"),
            }
        }
        if stop {
            return;
        }
    }
}

/// Reads the counters and the recent reports back, publishes them, returns the newest row id.
fn read_back(db: &Database, publish: &dyn Fn(TlsRptUpdate)) -> i64 {
    let totals = db.tlsrpt_totals();
    let recent = db.reports_since(unix_now().saturating_sub(RECENT_SECONDS));
    let (totals, (reports, row)) = match (totals, recent) {
        (Ok(totals), Ok(recent)) => (totals, recent),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "database: reading the TLS-RPT reports back failed");
            return -1;
        }
    };
    let domains: HashSet<String> = reports.iter().flat_map(report_domains).collect();
    let views = domains
        .into_iter()
        .map(|domain| {
            let view = SendersView::of(&domain, &reports);
            (domain, Arc::new(view))
        })
        .collect();
    publish(TlsRptUpdate { totals, views });
    row
}
