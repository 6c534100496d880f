//! The scheduler observed, not assumed: start spread, the concurrency cap, timeouts, crashes,
//! repetition and shutdown, with a fake probe runner that records what it was asked to do.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dane_exporter::config::{Target, TargetSettings};
use dane_exporter::core::unix_now;
use dane_exporter::core::TargetKey;
use dane_exporter::core::{Direction, Reason, Verdict};
use dane_exporter::dns::DnsSettings;
use dane_exporter::report::DomainReport;
use dane_exporter::scheduler::{
    self, start_offset, until_slot, warm_up_offset, ProbeRunner, ReportFuture, WARM_UP,
};
use dane_exporter::smtp::SmtpSettings;
use dane_exporter::store::Store;
// The tokio clock, so that the paused-time tests see the same time as the scheduler.
use tokio::time::Instant;

fn target(domain: &str, interval: Duration, timeout: Duration) -> Target {
    Target::with_settings(
        domain,
        Direction::Inbound,
        TargetSettings {
            expect: dane_exporter::core::Expectation::Any,
            labels: Default::default(),
            interval,
            timeout,
            dns: DnsSettings::default(),
            smtp: SmtpSettings::default(),
            services: Vec::new(),
            service_trust: Arc::new(dane_exporter::dane::PkixTrust::empty()),
            mta_sts: Default::default(),
            certificates: Vec::new(),
            authoritative: None,
            hygiene: Default::default(),
            key_algorithms: true,
            metrics: Default::default(),
        },
    )
}

/// How the fake probe behaves for a domain.
#[derive(Clone, Copy)]
enum Behaviour {
    Sleep(Duration),
    Panic,
}

/// Records start times and concurrency; returns an empty "not applicable" report.
struct FakeRunner {
    behaviour: Behaviour,
    running: Arc<AtomicUsize>,
    max_running: Arc<AtomicUsize>,
    starts: Arc<Mutex<Vec<(String, Instant)>>>,
    dropped_unfinished: Arc<AtomicUsize>,
}

impl FakeRunner {
    fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            behaviour,
            running: Arc::default(),
            max_running: Arc::default(),
            starts: Arc::default(),
            dropped_unfinished: Arc::default(),
        })
    }

    fn starts_of(&self, domain: &str) -> usize {
        let starts = self.starts.lock().unwrap();
        starts.iter().filter(|(d, _)| d == domain).count()
    }
}

/// Counts probes that were dropped (cancelled) before they finished.
struct Unfinished(Arc<AtomicUsize>, bool);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl ProbeRunner for FakeRunner {
    fn probe(&self, target: &Target) -> ReportFuture {
        let behaviour = self.behaviour;
        let running = Arc::clone(&self.running);
        let max_running = Arc::clone(&self.max_running);
        let dropped = Arc::clone(&self.dropped_unfinished);
        let domain = target.domain.clone();
        self.starts
            .lock()
            .unwrap()
            .push((domain.clone(), Instant::now()));
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            max_running.fetch_max(now, Ordering::SeqCst);
            let mut guard = Unfinished(dropped, false);
            match behaviour {
                Behaviour::Sleep(duration) => tokio::time::sleep(duration).await,
                Behaviour::Panic => panic!("fake probe crashed"),
            }
            guard.1 = true;
            running.fetch_sub(1, Ordering::SeqCst);
            let mut report = DomainReport::unfinished(
                &domain,
                unix_now(),
                0.0,
                Reason::ProbeTimeout,
                String::new(),
            );
            report.failures.clear();
            report.verdict = Verdict::NotApplicable;
            report
        })
    }
}

fn start(
    targets: &[Target],
    concurrency: usize,
    runner: &Arc<FakeRunner>,
) -> (scheduler::SchedulerHandle, Arc<Store>) {
    let store = Arc::new(Store::new());
    store.set_targets(targets);
    let handle = scheduler::start(
        targets.to_vec(),
        concurrency,
        Arc::clone(runner) as Arc<dyn ProbeRunner>,
        Arc::clone(&store),
    );
    (handle, store)
}

#[test]
fn start_offsets_are_stable_and_spread_over_the_interval() {
    let interval = Duration::from_secs(300);
    let offsets: Vec<Duration> = (0..1000)
        .map(|i| start_offset(&target(&format!("d{i}.example"), interval, interval)))
        .collect();
    assert!(offsets.iter().all(|o| *o < interval));
    // Same target, same offset: a restart or reload keeps the phase.
    assert_eq!(
        start_offset(&target("d7.example", interval, interval)),
        offsets[7]
    );
    // A thousand domains spread over 300 one-second buckets: none holds more than a handful.
    let mut buckets = [0usize; 300];
    for offset in &offsets {
        buckets[offset.as_secs() as usize] += 1;
    }
    let fullest = buckets.iter().max().copied().unwrap_or(0);
    let used = buckets.iter().filter(|b| **b > 0).count();
    assert!(fullest <= 12, "fullest second holds {fullest} starts");
    assert!(used >= 250, "only {used} of 300 seconds used");
}

#[test]
fn steady_slots_are_counted_from_the_epoch() {
    let s = Duration::from_secs;
    // Offset 10 s into a 60 s interval: slots at 10, 70, 130, ... seconds after the epoch.
    assert_eq!(until_slot(s(10), s(60), s(0)), s(10));
    assert_eq!(until_slot(s(10), s(60), s(9)), s(1));
    assert_eq!(
        until_slot(s(10), s(60), s(10)),
        s(60),
        "a slot right now is the next one"
    );
    assert_eq!(until_slot(s(10), s(60), s(11)), s(59));
    // 1,000,000 s is 40 s into a minute.
    assert_eq!(until_slot(s(10), s(60), s(1_000_000)), s(30));
    // The same target in another process (a restart, a replica) lands on the same wall-clock
    // phase: now + until_slot is the same instant modulo the interval.
    for now in [s(123), s(4567), s(98_765)] {
        let at = now + until_slot(s(10), s(60), now);
        assert_eq!(at.as_secs() % 60, 10, "{now:?}");
    }
    let t = target("d.example", s(3600), s(60));
    assert!(warm_up_offset(&t) < WARM_UP);
    assert!(start_offset(&t) < s(3600));
    let short = target("d.example", s(10), s(10));
    assert!(warm_up_offset(&short) < s(10));
}

/// With `interval: 1h` every target still has a result within the warm-up (so `/-/ready` comes
/// in seconds), then waits for its steady slot: never a second probe within half an interval.
#[tokio::test(start_paused = true)]
async fn the_first_round_is_a_short_warm_up() {
    let interval = Duration::from_secs(3600);
    let targets: Vec<Target> = (0..50)
        .map(|i| target(&format!("w{i}.example"), interval, Duration::from_secs(60)))
        .collect();
    let runner = FakeRunner::new(Behaviour::Sleep(Duration::ZERO));
    let began = Instant::now();
    let (handle, store) = start(&targets, 8, &runner);
    tokio::time::sleep(WARM_UP + Duration::from_secs(1)).await;
    assert!(store.complete(), "every target probed within the warm-up");
    let firsts: Vec<f64> = {
        let starts = runner.starts.lock().unwrap();
        starts
            .iter()
            .map(|(_, at)| at.duration_since(began).as_secs_f64())
            .collect()
    };
    assert_eq!(firsts.len(), 50);
    assert!(firsts.iter().all(|t| *t < WARM_UP.as_secs_f64()));
    assert!(
        firsts.iter().cloned().fold(0.0, f64::max) > 15.0,
        "no spread: {firsts:?}"
    );
    tokio::time::sleep(Duration::from_secs(25 * 60)).await;
    assert_eq!(
        runner.starts.lock().unwrap().len(),
        50,
        "probed again within 30 min"
    );
    tokio::time::sleep(Duration::from_secs(75 * 60)).await;
    for t in &targets {
        assert!(
            runner.starts_of(&t.domain) >= 2,
            "{} not probed again",
            t.domain
        );
    }
    handle.shutdown(Duration::from_secs(1)).await;

    // A reload (a new scheduler over a store that has results) does not warm up again: only
    // the few targets whose slot falls in the next 31 s run.
    let runner = FakeRunner::new(Behaviour::Sleep(Duration::ZERO));
    let handle = scheduler::start(
        targets.clone(),
        8,
        Arc::clone(&runner) as Arc<dyn ProbeRunner>,
        Arc::clone(&store),
    );
    tokio::time::sleep(WARM_UP + Duration::from_secs(1)).await;
    let again = runner.starts.lock().unwrap().len();
    assert!(again <= 5, "{again} of 50 re-probed right after a reload");
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn first_probes_are_spread_not_bunched() {
    let interval = Duration::from_secs(2);
    let targets: Vec<Target> = (0..40)
        .map(|i| target(&format!("d{i}.example"), interval, interval))
        .collect();
    let runner = FakeRunner::new(Behaviour::Sleep(Duration::ZERO));
    let began = Instant::now();
    let (handle, store) = start(&targets, 100, &runner);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    handle.shutdown(Duration::from_secs(1)).await;
    assert!(store.complete(), "every target probed within one interval");
    let starts = runner.starts.lock().unwrap();
    let firsts: Vec<f64> = targets
        .iter()
        .filter_map(|t| {
            starts
                .iter()
                .find(|(d, _)| *d == t.domain)
                .map(|(_, at)| at.duration_since(began).as_secs_f64())
        })
        .collect();
    assert_eq!(firsts.len(), 40);
    let in_first_tenth = firsts.iter().filter(|t| **t < 0.2).count();
    assert!(
        in_first_tenth < 15,
        "{in_first_tenth} of 40 started in the first 200 ms"
    );
    let latest = firsts.iter().cloned().fold(0.0, f64::max);
    assert!(
        latest > 1.0,
        "latest first start at {latest:.2}s: no spread"
    );
}

#[tokio::test]
async fn the_concurrency_cap_holds() {
    let interval = Duration::from_millis(200);
    let targets: Vec<Target> = (0..12)
        .map(|i| target(&format!("d{i}.example"), interval, Duration::from_secs(5)))
        .collect();
    let runner = FakeRunner::new(Behaviour::Sleep(Duration::from_millis(150)));
    let (handle, _store) = start(&targets, 3, &runner);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    handle.shutdown(Duration::from_secs(2)).await;
    assert_eq!(runner.max_running.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn targets_are_probed_again_every_interval() {
    let interval = Duration::from_millis(250);
    let targets = vec![target("again.example", interval, interval)];
    let runner = FakeRunner::new(Behaviour::Sleep(Duration::ZERO));
    let (handle, _store) = start(&targets, 4, &runner);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    handle.shutdown(Duration::from_secs(1)).await;
    let probes = runner.starts_of("again.example");
    assert!(
        (4..=6).contains(&probes),
        "{probes} probes in 1.3 s at 250 ms"
    );
}

#[tokio::test]
async fn a_probe_past_its_timeout_is_reported_and_cancelled() {
    let t = target(
        "slow.example",
        Duration::from_secs(60),
        Duration::from_millis(200),
    );
    let runner = FakeRunner::new(Behaviour::Sleep(Duration::from_secs(30)));
    let began = Instant::now();
    let report = scheduler::run_one(&t, runner.as_ref()).await;
    assert!(began.elapsed() < Duration::from_secs(2));
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(report.failures[0].reason.as_str(), "probe_timeout");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(runner.dropped_unfinished.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_crashing_probe_is_reported() {
    let t = target(
        "crash.example",
        Duration::from_secs(60),
        Duration::from_secs(5),
    );
    let runner = FakeRunner::new(Behaviour::Panic);
    let report = scheduler::run_one(&t, runner.as_ref()).await;
    assert_eq!(report.failures[0].reason.as_str(), "probe_panicked");
}

#[tokio::test]
async fn shutdown_lets_running_probes_finish_within_the_grace_period() {
    let targets = vec![target(
        "a.example",
        Duration::from_millis(50),
        Duration::from_secs(5),
    )];
    let runner = FakeRunner::new(Behaviour::Sleep(Duration::from_millis(400)));
    let (handle, store) = start(&targets, 1, &runner);
    // Wait until the probe is running.
    while runner.running.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let began = Instant::now();
    handle.shutdown(Duration::from_secs(3)).await;
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "returned after {took:?}"
    );
    assert!(took < Duration::from_secs(2), "returned after {took:?}");
    assert!(store.has_result(&TargetKey {
        direction: Direction::Inbound,
        domain: "a.example".into()
    }));
    assert_eq!(runner.dropped_unfinished.load(Ordering::SeqCst), 0);
    assert_eq!(
        runner.starts_of("a.example"),
        1,
        "no probe started after shutdown"
    );
}

#[tokio::test]
async fn shutdown_cancels_probes_still_running_after_the_grace_period() {
    let targets = vec![target(
        "b.example",
        Duration::from_millis(50),
        Duration::from_secs(60),
    )];
    let runner = FakeRunner::new(Behaviour::Sleep(Duration::from_secs(30)));
    let (handle, _store) = start(&targets, 1, &runner);
    while runner.running.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let began = Instant::now();
    handle.shutdown(Duration::from_millis(200)).await;
    assert!(began.elapsed() < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(runner.dropped_unfinished.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn results_of_removed_targets_vanish_and_stay_out() {
    let keep = target(
        "keep.example",
        Duration::from_secs(60),
        Duration::from_secs(5),
    );
    let gone = target(
        "gone.example",
        Duration::from_secs(60),
        Duration::from_secs(5),
    );
    let store = Store::new();
    store.set_targets(&[keep.clone(), gone.clone()]);
    let report = |d: &str| DomainReport::unfinished(d, 0, 0.0, Reason::ProbeTimeout, String::new());
    store.put(&keep, &report("keep.example"));
    store.put(&gone, &report("gone.example"));
    assert_eq!(store.len(), 2);
    store.set_targets(std::slice::from_ref(&keep));
    assert_eq!(store.len(), 1);
    // A late result of the removed target is not let back in.
    store.put(&gone, &report("gone.example"));
    assert_eq!(store.len(), 1);
    assert!(store.complete());
}
