//! Probes every configured target on its interval and keeps the latest result in the store.
//!
//! Input: the resolved targets (`crate::target::Target`) and a [`ProbeRunner`] (in production
//! [`ProberRunner`], which builds `crate::probe::Prober`s). Output: one judged `DomainReport` per
//! target per interval, written to `crate::store::Store`. [`run_one`] is also what
//! `dane_exporter check` and `/probe` run for their one target.
//!
//! - A target without a result yet (at start, or added by a reload) is first probed within a
//!   short warm-up, spread over `min(interval, WARM_UP)` by a hash of its name, so `/-/ready`
//!   and the first series come within seconds even with `interval: 1h`.
//! - After that it runs at a fixed phase of its interval counted from the Unix epoch, again from
//!   a hash of its name ([`start_offset`]): a thousand domains do not start in the same second,
//!   and a restart, a reload or a second replica keeps the same phase (Prometheus spreads its
//!   scrapes the same way).
//! - One loop keeps every target's next start in a queue and spawns a task per probe when it is
//!   due: a target costs its entry, not a task of its own (at 100,000 targets, tasks sleeping
//!   until their slot were a third of the exporter's memory; docs/performance.md).
//! - A semaphore caps how many probes run at once across all targets.
//! - Each probe runs in its own task under the target's timeout; a probe that times out or panics
//!   still yields a report (`probe_timeout`, `probe_panicked`), so nothing goes silently stale.
//! - Shutdown stops starting probes at once, lets running ones finish for a grace period, then
//!   cancels the rest.
//! - Before the first probe, and then every (shortest) interval, the runner checks its own means
//!   ([`ProbeRunner::check_resolvers`]: the resolver canary, `crate::dns::Resolvers`); while they
//!   are not well, every [`BLIND_RECHECK`], so that recovery is seen within seconds.
//! - A [`ProbeObserver`] sees every report after it is stored (the exporter's own telemetry).

use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument as _;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use crate::core::{unix_now, Reason};
use crate::dns::{CacheLimits, DnsClient, DnsSettings, DnsSetupError, Resolvers};
use crate::history::History;
use crate::probe::Prober;
use crate::report::DomainReport;
use crate::smtp::{HostLimits, SessionCache};
use crate::store::Store;
use crate::target::Target;

/// A future that yields one report.
pub type ReportFuture = Pin<Box<dyn Future<Output = DomainReport> + Send + 'static>>;

/// A future that yields whether the runner's means (its resolvers) are well.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// While the runner's means are not well, they are checked again this often (or every interval,
/// when that is shorter).
pub const BLIND_RECHECK: Duration = Duration::from_secs(15);

/// The first check of the runner's means may delay the first probes this long at most.
const FIRST_CHECK_LIMIT: Duration = Duration::from_secs(30);

/// Runs one probe of one target. Production uses [`ProberRunner`]; tests plug in fakes to observe
/// timing and concurrency.
pub trait ProbeRunner: Send + Sync + 'static {
    /// Starts probing `target`.
    fn probe(&self, target: &Target) -> ReportFuture;

    /// Checks what the probes see through (the resolvers' canary); true when all is well. The
    /// default has nothing to check.
    fn check_resolvers(&self) -> CheckFuture<'_> {
        Box::pin(async { true })
    }
}

/// Sees every report the scheduler stores, after it is stored.
pub trait ProbeObserver: Send + Sync + 'static {
    /// `report` is the latest of `target`.
    fn probed(&self, target: &Target, report: &DomainReport);
}

/// Observes nothing.
struct Unobserved;

impl ProbeObserver for Unobserved {
    fn probed(&self, _: &Target, _: &DomainReport) {}
}

/// Probes with real DNS and SMTP: one DNS client per distinct DNS setting (targets usually share
/// one), with an answer cache, one session cache so an MX host serving many domains is looked
/// up and probed once per TTL, and one history of what crosses rounds.
pub struct ProberRunner {
    clients: HashMap<DnsKey, Arc<DnsClient>>,
    sessions: Option<Arc<SessionCache>>,
    /// The cap on connections open at once to one address, for all its probes.
    limits: Arc<HostLimits>,
    history: Option<Arc<History>>,
    /// The health of the clients' nameservers.
    resolvers: Arc<Resolvers>,
}

/// The DNS settings that make two clients different.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DnsKey(String);

impl DnsKey {
    fn of(settings: &DnsSettings) -> Self {
        Self(format!("{settings:?}"))
    }
}

impl ProberRunner {
    /// Builds the DNS clients `targets` need. STARTTLS sessions and DNS answers are shared
    /// between domains for at most `session_ttl` (half the shortest interval is a good choice),
    /// or not at all when it is `None`. Its resolvers are watched but never checked
    /// ([`Resolvers::passive`]): it never finds itself blind. The exporter and
    /// `dane_exporter check` use [`ProberRunner::watching`].
    pub fn new(targets: &[Target], session_ttl: Option<Duration>) -> Result<Self, DnsSetupError> {
        Self::watching(targets, session_ttl, Arc::new(Resolvers::passive()))
    }

    /// [`ProberRunner::new`], with the clients' nameservers registered in (and checked through)
    /// `resolvers`: a probe through a resolver that does not validate or does not answer is
    /// `unknown` (`crate::probe`).
    pub fn watching(
        targets: &[Target],
        session_ttl: Option<Duration>,
        resolvers: Arc<Resolvers>,
    ) -> Result<Self, DnsSetupError> {
        let mut clients = HashMap::new();
        for target in targets {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                clients.entry(DnsKey::of(&target.dns))
            {
                let resolvers = Arc::clone(&resolvers);
                let client = match session_ttl {
                    Some(ttl) => DnsClient::observed_with_cache(
                        &target.dns,
                        resolvers,
                        CacheLimits::up_to(ttl),
                    )?,
                    None => DnsClient::observed(&target.dns, resolvers)?,
                };
                slot.insert(Arc::new(client));
            }
        }
        Ok(Self {
            clients,
            sessions: session_ttl.map(|ttl| Arc::new(SessionCache::new(ttl))),
            limits: Arc::new(HostLimits::default()),
            history: None,
            resolvers,
        })
    }

    /// At most `cap` connections open at once to one MX host address, across all probes
    /// (default [`crate::smtp::DEFAULT_HOST_CONCURRENCY`]).
    pub fn with_host_concurrency(mut self, cap: usize) -> Self {
        self.limits = Arc::new(HostLimits::new(cap));
        self
    }

    /// Keeps what crosses rounds in `history` (the exporter's, which outlives reloads); without
    /// one every probe starts afresh.
    pub fn with_history(mut self, history: Arc<History>) -> Self {
        self.history = Some(history);
        self
    }
}

impl ProbeRunner for ProberRunner {
    fn probe(&self, target: &Target) -> ReportFuture {
        let prober = self.clients.get(&DnsKey::of(&target.dns)).map(|dns| {
            let mut prober =
                Prober::shared(Arc::clone(dns)).with_host_limits(Arc::clone(&self.limits));
            if let Some(sessions) = &self.sessions {
                prober = prober.with_sessions(Arc::clone(sessions));
            }
            if let Some(history) = &self.history {
                prober = prober.with_history(Arc::clone(history));
            }
            prober
        });
        let target = target.clone();
        Box::pin(async move {
            match prober {
                Some(prober) => prober.probe(&target).await,
                // Only reachable if the runner was built for other targets.
                None => DomainReport::unfinished(
                    &target.domain,
                    unix_now(),
                    0.0,
                    Reason::ProbeSetupFailed,
                    "no DNS client was built for this target's DNS settings".to_string(),
                ),
            }
        })
    }

    fn check_resolvers(&self) -> CheckFuture<'_> {
        Box::pin(self.resolvers.check_all())
    }
}

/// How a running scheduler is stopped.
pub struct SchedulerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SchedulerHandle {
    /// Stops starting probes, waits up to `grace` for running ones, then cancels the rest.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Starts probing `targets`, at most `concurrency` at a time, into `store`.
pub fn start(
    targets: Vec<Target>,
    concurrency: usize,
    runner: Arc<dyn ProbeRunner>,
    store: Arc<Store>,
) -> SchedulerHandle {
    let check_every = targets
        .iter()
        .map(|t| t.interval)
        .min()
        .unwrap_or(Duration::from_secs(300));
    start_observed(
        targets,
        concurrency,
        runner,
        store,
        Arc::new(Unobserved),
        check_every,
    )
}

/// [`start`], with `observer` told of every stored report and the runner's means checked every
/// `check_every` (the shortest interval; also with no targets, for `/probe`).
pub fn start_observed(
    targets: Vec<Target>,
    concurrency: usize,
    runner: Arc<dyn ProbeRunner>,
    store: Arc<Store>,
    observer: Arc<dyn ProbeObserver>,
    check_every: Duration,
) -> SchedulerHandle {
    let (stop, mut stopped) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let task = tokio::spawn(async move {
        let mut loops = JoinSet::new();
        // The first probes wait for the first check: they then know whether they can see.
        let well = tokio::select! {
            checked = tokio::time::timeout(FIRST_CHECK_LIMIT, runner.check_resolvers()) => {
                checked.unwrap_or(false)
            }
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        loops.spawn(check_loop(
            Arc::clone(&runner),
            check_every,
            well,
            stopped.clone(),
        ));
        loops.spawn(targets_loop(
            targets.into(),
            tokio::time::Instant::now(),
            Shared {
                permits,
                runner,
                store,
                observer,
            },
            stopped,
        ));
        // Dropping the JoinSet (when this task is aborted) aborts every loop and its probe.
        while loops.join_next().await.is_some() {}
    });
    SchedulerHandle { stop, task }
}

/// The first round of targets without a result is spread over at most this long.
pub const WARM_UP: Duration = Duration::from_secs(30);

fn name_hash(target: &Target) -> u128 {
    let mut hasher = DefaultHasher::new();
    target.direction.hash(&mut hasher);
    target.domain.hash(&mut hasher);
    u128::from(hasher.finish())
}

fn spread(hash: u128, over: Duration) -> Duration {
    let offset = hash % over.as_nanos().max(1);
    Duration::from_nanos(u64::try_from(offset).unwrap_or(0))
}

/// Checks the runner's means every `interval`, and every [`BLIND_RECHECK`] while they are not
/// well.
async fn check_loop(
    runner: Arc<dyn ProbeRunner>,
    interval: Duration,
    mut well: bool,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let wait = if well {
            interval
        } else {
            interval.min(BLIND_RECHECK)
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        well = tokio::select! {
            well = runner.check_resolvers() => well,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
    }
}

/// Where in its interval a target's probes fall, counted from the Unix epoch: a stable spread
/// over `[0, interval)`.
pub fn start_offset(target: &Target) -> Duration {
    spread(name_hash(target), target.interval)
}

/// When, after the scheduler starts, a target without a result is first probed: a stable spread
/// over `[0, min(interval, WARM_UP))`.
pub fn warm_up_offset(target: &Target) -> Duration {
    spread(name_hash(target), target.interval.min(WARM_UP))
}

/// Time from `now` (since the Unix epoch) to the next instant at `offset` into an `interval`
/// counted from the epoch; never zero (a slot right now is the next one).
pub fn until_slot(offset: Duration, interval: Duration, now: Duration) -> Duration {
    let interval = interval.as_nanos().max(1);
    let phase = (now.as_nanos() + interval - offset.as_nanos() % interval) % interval;
    Duration::from_nanos(u64::try_from(interval - phase).unwrap_or(0))
}

/// The first steady slot at least `gap` after `after` (half an interval after a warm-up probe,
/// so that it is not followed at once by another).
fn next_slot(target: &Target, after: tokio::time::Instant, gap: Duration) -> tokio::time::Instant {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut next =
        tokio::time::Instant::now() + until_slot(start_offset(target), target.interval, wall);
    while next.duration_since(after) < gap {
        next += target.interval;
    }
    next
}

/// What every probe of the scheduler uses.
#[derive(Clone)]
struct Shared {
    permits: Arc<Semaphore>,
    runner: Arc<dyn ProbeRunner>,
    store: Arc<Store>,
    observer: Arc<dyn ProbeObserver>,
}

/// A probe that finished: which target, the start it was due at, when it started.
type Finished = (usize, tokio::time::Instant, tokio::time::Instant);

/// Starts each target's probes when they are due, in a task each, and queues its next start when
/// one finishes (so a target never runs twice at once).
async fn targets_loop(
    targets: Arc<[Target]>,
    origin: tokio::time::Instant,
    shared: Shared,
    mut stopped: watch::Receiver<bool>,
) {
    // A target with a result (kept across a reload) needs no warm-up: its next slot will do.
    let mut warming_up: Vec<bool> = targets
        .iter()
        .map(|t| !shared.store.has_result(&t.key()))
        .collect();
    let mut due: BinaryHeap<Reverse<(tokio::time::Instant, usize)>> = targets
        .iter()
        .zip(&warming_up)
        .enumerate()
        .map(|(i, (target, &warm))| {
            let at = if warm {
                origin + warm_up_offset(target)
            } else {
                next_slot(target, origin, Duration::ZERO)
            };
            Reverse((at, i))
        })
        .collect();
    let (finished, mut finishes) = mpsc::unbounded_channel::<Finished>();
    let mut probes = JoinSet::new();
    loop {
        while probes.try_join_next().is_some() {}
        let next = due.peek().map(|Reverse((at, _))| *at);
        let (i, at) = tokio::select! {
            Some((i, at, started)) = finishes.recv() => {
                let target = &targets[i];
                let next = if std::mem::take(&mut warming_up[i]) {
                    next_slot(target, started, target.interval / 2)
                } else {
                    // Skip ticks that a slow probe overran instead of bunching them up.
                    let now = tokio::time::Instant::now();
                    let mut next = at + target.interval;
                    while next <= now {
                        next += target.interval;
                    }
                    next
                };
                due.push(Reverse((next, i)));
                continue;
            }
            () = sleep_until_some(next) => match due.pop() {
                Some(Reverse((at, i))) => (i, at),
                None => continue,
            },
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let permit = tokio::select! {
            permit = Arc::clone(&shared.permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let (targets, shared, finished) = (Arc::clone(&targets), shared.clone(), finished.clone());
        probes.spawn(async move {
            let target = &targets[i];
            let started = tokio::time::Instant::now();
            let report = run_one(target, shared.runner.as_ref()).await;
            drop(permit);
            shared.store.put(target, &report);
            shared.observer.probed(target, &report);
            let _ = finished.send((i, at, started));
        });
    }
    // Stopped: no more starts; the running probes finish (`SchedulerHandle::shutdown` gives them
    // their grace period, then drops this future and the probes with it).
    while probes.join_next().await.is_some() {}
}

/// Sleeps until `at`, or for ever when there is none.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One probe in its own task, under the target's timeout, turned into a report whatever happens.
pub async fn run_one(target: &Target, runner: &dyn ProbeRunner) -> DomainReport {
    let started_at = unix_now();
    let started = Instant::now();
    // The probe runs in its own task so that a panic stays inside it; the guard aborts that task
    // when this future is dropped (shutdown past its grace period), instead of leaving it behind.
    // The task keeps the caller's span: a `/probe?debug=true` collects the probe's log by it.
    let mut task = AbortOnDrop(tokio::spawn(runner.probe(target).in_current_span()));
    match tokio::time::timeout(target.timeout, &mut task.0).await {
        Ok(Ok(report)) => report,
        Ok(Err(error)) => DomainReport::unfinished(
            &target.domain,
            started_at,
            started.elapsed().as_secs_f64(),
            Reason::ProbePanicked,
            format!("the probe crashed: {error}"),
        ),
        Err(_) => {
            task.0.abort();
            DomainReport::unfinished(
                &target.domain,
                started_at,
                started.elapsed().as_secs_f64(),
                Reason::ProbeTimeout,
                format!(
                    "the probe did not finish within {}",
                    humantime::format_duration(target.timeout)
                ),
            )
        }
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
