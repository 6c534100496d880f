//! Probes every configured target on its interval and keeps the latest result in the store.
//!
//! Input: the resolved targets of the configuration (`crate::config::Target`) and a
//! [`ProbeRunner`] (in production [`ProberRunner`], which builds `crate::probe::Prober`s). Output:
//! one `DomainReport` per target per interval, written to `crate::store::Store`.
//!
//! - Each target starts at a fixed offset within its interval, derived from a hash of its name,
//!   so a thousand domains do not start in the same second and a restart keeps the same phase
//!   (Prometheus spreads its scrapes the same way).
//! - A semaphore caps how many probes run at once across all targets.
//! - Each probe runs in its own task under the target's timeout; a probe that times out or panics
//!   still yields a report (`probe_timeout`, `probe_panicked`), so nothing goes silently stale.
//! - Shutdown stops starting probes at once, lets running ones finish for a grace period, then
//!   cancels the rest.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::Target;
use crate::dns::{DnsClient, DnsSettings, DnsSetupError};
use crate::local_certs::{self, PublicationLog};
use crate::probe::{unix_now, EndpointCache, Prober};
use crate::report::DomainReport;
use crate::store::Store;

/// A future that yields one report.
pub type ReportFuture = Pin<Box<dyn Future<Output = DomainReport> + Send + 'static>>;

/// Runs one probe of one target. Production uses [`ProberRunner`]; tests plug in fakes to observe
/// timing and concurrency.
pub trait ProbeRunner: Send + Sync + 'static {
    /// Starts probing `target`.
    fn probe(&self, target: &Target) -> ReportFuture;
}

/// Probes with real DNS and SMTP: one DNS client per distinct DNS setting (targets usually share
/// one), and one endpoint cache so an MX host serving many domains is probed once per interval.
pub struct ProberRunner {
    clients: HashMap<DnsKey, Arc<DnsClient>>,
    endpoints: Arc<EndpointCache>,
    /// TLSA publication history for targets with local certificate files (`crate::local_certs`).
    publications: Arc<PublicationLog>,
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
    /// Builds the DNS clients `targets` need. `session_ttl` is how long an STARTTLS session is
    /// shared between domains (the shortest interval is a good choice).
    pub fn new(targets: &[Target], session_ttl: Duration) -> Result<Self, DnsSetupError> {
        let mut clients = HashMap::new();
        for target in targets {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                clients.entry(DnsKey::of(&target.dns))
            {
                slot.insert(Arc::new(DnsClient::new(&target.dns)?));
            }
        }
        Ok(Self {
            clients,
            endpoints: Arc::new(EndpointCache::new(session_ttl)),
            publications: Arc::new(PublicationLog::new()),
        })
    }

    /// Keeps TLSA publication history in `log` (the exporter's, which outlives reloads) instead
    /// of a log of this runner's own.
    pub fn with_publication_log(mut self, log: Arc<PublicationLog>) -> Self {
        self.publications = log;
        self
    }
}

impl ProbeRunner for ProberRunner {
    fn probe(&self, target: &Target) -> ReportFuture {
        let dns = self.clients.get(&DnsKey::of(&target.dns)).cloned();
        let endpoints = Arc::clone(&self.endpoints);
        let smtp = target.smtp.clone();
        let mta_sts = target.mta_sts.clone();
        let domain = target.domain.clone();
        let services = target.services.clone();
        let service_trust = Arc::clone(&target.service_trust);
        let certificates = target.certificates.clone();
        let publications = Arc::clone(&self.publications);
        let operations = crate::consistency::OperationsSettings::for_target(target);
        let key_algorithms = target.operations.key_algorithms_for(target.direction);
        Box::pin(async move {
            match dns {
                Some(dns) => {
                    let step_timeout = smtp.step_timeout;
                    let mut report = Prober::shared(dns, smtp)
                        .with_endpoint_cache(endpoints)
                        .with_services(services, service_trust)
                        .with_mta_sts(mta_sts)
                        .with_operations(operations)
                        .with_key_algorithms(key_algorithms)
                        .probe_domain(&domain)
                        .await;
                    // Local certificate files, read afresh each round, against this round's TLSA.
                    local_certs::attach(&mut report, &certificates, &publications, step_timeout)
                        .await;
                    report
                }
                // Only reachable if the runner was built for other targets.
                None => DomainReport::unfinished(
                    &domain,
                    unix_now(),
                    0.0,
                    "probe_setup_failed",
                    "no DNS client was built for this target's DNS settings".to_string(),
                ),
            }
        })
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
    let (stop, stopped) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let task = tokio::spawn(async move {
        let mut loops = JoinSet::new();
        let origin = Instant::now();
        for target in targets {
            loops.spawn(target_loop(
                target,
                origin,
                Arc::clone(&permits),
                Arc::clone(&runner),
                Arc::clone(&store),
                stopped.clone(),
            ));
        }
        // Dropping the JoinSet (when this task is aborted) aborts every loop and its probe.
        while loops.join_next().await.is_some() {}
    });
    SchedulerHandle { stop, task }
}

/// Where in its interval a target starts: a stable spread over `[0, interval)`.
pub fn start_offset(target: &Target) -> Duration {
    let mut hasher = DefaultHasher::new();
    target.direction.hash(&mut hasher);
    target.domain.hash(&mut hasher);
    let interval_nanos = target.interval.as_nanos().max(1);
    let offset = u128::from(hasher.finish()) % interval_nanos;
    Duration::from_nanos(u64::try_from(offset).unwrap_or(0))
}

async fn target_loop(
    target: Target,
    origin: Instant,
    permits: Arc<Semaphore>,
    runner: Arc<dyn ProbeRunner>,
    store: Arc<Store>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut next = tokio::time::Instant::from_std(origin) + start_offset(&target);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let report = run_one(&target, runner.as_ref()).await;
        drop(permit);
        store.put(&target, report);
        // Skip ticks that a slow probe overran instead of bunching them up.
        let now = tokio::time::Instant::now();
        next += target.interval;
        while next <= now {
            next += target.interval;
        }
    }
}

/// One probe in its own task, under the target's timeout, turned into a report whatever happens.
pub async fn run_one(target: &Target, runner: &dyn ProbeRunner) -> DomainReport {
    let started_at = unix_now();
    let started = Instant::now();
    // The probe runs in its own task so that a panic stays inside it; the guard aborts that task
    // when this future is dropped (shutdown past its grace period), instead of leaving it behind.
    let mut task = AbortOnDrop(tokio::spawn(runner.probe(target)));
    match tokio::time::timeout(target.timeout, &mut task.0).await {
        Ok(Ok(report)) => report,
        Ok(Err(error)) => DomainReport::unfinished(
            &target.domain,
            started_at,
            started.elapsed().as_secs_f64(),
            "probe_panicked",
            format!("the probe crashed: {error}"),
        ),
        Err(_) => {
            task.0.abort();
            DomainReport::unfinished(
                &target.domain,
                started_at,
                started.elapsed().as_secs_f64(),
                "probe_timeout",
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
