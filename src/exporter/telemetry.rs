//! The exporter's own telemetry: what it did, what it could see, and its logs about both.
//!
//! Counters and a histogram live in the exporter's registry ([`SelfMetrics`], with the build info
//! and reload gauges); the figures other layers keep (the resolvers' health and query counts in
//! `crate::dns::Resolvers`, the SMTP sessions in `crate::smtp`) are read at scrape time into
//! families made afresh ([`Telemetry::snapshot_families`]), the "const metrics" of the Go client.
//! Every label value comes from a fixed list (directions, verdicts, reasons, results, handlers,
//! codes) or from the configured nameservers, so cardinality is bounded; the known combinations
//! start at 0, so that `rate()` and dashboards work before the first increment.
//!
//! As the scheduler's [`ProbeObserver`] it also logs every probe at debug (target, verdict,
//! reasons, duration), every verdict change at info, "first round done" at info, and judges the
//! monitoring host's SMTP egress from each round's connects (`crate::smtp::egress`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

use crate::core::{Direction, Reason, TargetKey, Verdict};
use crate::dns::Resolvers;
use crate::report::DomainReport;
use crate::scheduler::ProbeObserver;
use crate::smtp::egress::{report_outcomes, Egress, EgressWindow};
use crate::smtp::session_counts;
use crate::store::Store;
use crate::target::Target;

/// Upper bounds of the probe duration histogram, in seconds: a loopback probe takes
/// milliseconds, a slow real one tens of seconds (the default timeout is 30 s).
const DURATION_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

/// Every verdict, for the counters' initial series.
const VERDICTS: [Verdict; 5] = [
    Verdict::Pass,
    Verdict::Fail,
    Verdict::EncryptOnly,
    Verdict::NotApplicable,
    Verdict::Unknown,
];

/// The reasons a probe could not deliver a verdict: the `reason` label of
/// `dane_exporter_probe_errors_total`.
pub(super) const PROBE_ERRORS: [Reason; 5] = [
    Reason::ResolverNotValidating,
    Reason::ResolverUnavailable,
    Reason::ProbeTimeout,
    Reason::ProbePanicked,
    Reason::ProbeSetupFailed,
];

/// What one round (the configuration in force) needs to know.
struct Round {
    started: Instant,
    targets: usize,
}

/// The exporter's telemetry (module doc).
pub(super) struct Telemetry {
    probes: IntCounterVec,
    probe_errors: IntCounterVec,
    durations: HistogramVec,
    http: IntCounterVec,
    store: Arc<Store>,
    verdicts: Mutex<HashMap<TargetKey, Verdict>>,
    egress: Mutex<(EgressWindow, Option<bool>)>,
    round: Mutex<Round>,
    first_round_logged: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update leaves whole values behind: a panic elsewhere does not spoil them.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Telemetry {
    /// The counters, registered in `registry`; `store` tells when the first round is done.
    pub(super) fn new(registry: &Registry, store: Arc<Store>) -> Result<Self, prometheus::Error> {
        let probes = IntCounterVec::new(
            Opts::new(
                "dane_exporter_probes_total",
                "Probes run (scheduled and /probe), by direction and verdict.",
            ),
            &["direction", "verdict"],
        )?;
        let probe_errors = IntCounterVec::new(
            Opts::new(
                "dane_exporter_probe_errors_total",
                "Probes that gave no verdict on the domain, by reason: the resolver does not validate or does not answer, the probe timed out, crashed or could not be set up.",
            ),
            &["reason"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "dane_exporter_probe_duration_seconds",
                "Seconds each probe took (scheduled and /probe), by direction.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["direction"],
        )?;
        let http = IntCounterVec::new(
            Opts::new(
                "dane_exporter_http_requests_total",
                "HTTP requests answered, by handler (the path, \"other\" for unknown paths) and status code.",
            ),
            &["handler", "code"],
        )?;
        for direction in [Direction::Inbound, Direction::Outbound] {
            for verdict in VERDICTS {
                probes.with_label_values(&[direction.as_str(), verdict.as_str()]);
            }
            durations.with_label_values(&[direction.as_str()]);
        }
        for reason in PROBE_ERRORS {
            probe_errors.with_label_values(&[reason.as_str()]);
        }
        registry.register(Box::new(probes.clone()))?;
        registry.register(Box::new(probe_errors.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(http.clone()))?;
        Ok(Self {
            probes,
            probe_errors,
            durations,
            http,
            store,
            verdicts: Mutex::new(HashMap::new()),
            egress: Mutex::new((EgressWindow::new(Duration::from_secs(600)), None)),
            round: Mutex::new(Round {
                started: Instant::now(),
                targets: 0,
            }),
            first_round_logged: AtomicBool::new(false),
        })
    }

    /// A configuration with `targets` was loaded: the next complete store is its first round;
    /// one round of SMTP connects spans `shortest` interval (twice, for room).
    pub(super) fn new_round(&self, targets: &[Target], shortest: Duration) {
        *lock(&self.round) = Round {
            started: Instant::now(),
            targets: targets.len(),
        };
        self.first_round_logged.store(false, Ordering::SeqCst);
        lock(&self.egress).0.set_window(shortest * 2);
        let keys: std::collections::HashSet<TargetKey> = targets.iter().map(Target::key).collect();
        lock(&self.verdicts).retain(|key, _| keys.contains(key));
    }

    /// Counts one answered HTTP request.
    pub(super) fn request(&self, handler: &str, code: u16) {
        self.http
            .with_label_values(&[handler, &code.to_string()])
            .inc();
    }

    /// What every probe adds, scheduled or not: counters, the histogram, the debug line, and its
    /// SMTP connects for the egress judgement.
    pub(super) fn count(&self, target: &Target, report: &DomainReport) {
        let direction = target.direction.as_str();
        self.probes
            .with_label_values(&[direction, report.verdict.as_str()])
            .inc();
        self.durations
            .with_label_values(&[direction])
            .observe(report.duration_seconds);
        let found = reasons(report);
        for reason in found.iter().filter(|r| PROBE_ERRORS.contains(r)) {
            self.probe_errors
                .with_label_values(&[reason.as_str()])
                .inc();
        }
        let reasons: Vec<&str> = found.iter().map(|r| r.as_str()).collect();
        tracing::debug!(
            domain = %target.domain,
            direction,
            verdict = report.verdict.as_str(),
            reasons = %reasons.join(","),
            duration_seconds = report.duration_seconds,
            "probe done"
        );
        self.egress(&report_outcomes(&report.mx));
    }

    fn egress(&self, outcomes: &[(std::net::IpAddr, crate::smtp::egress::ConnectOutcome)]) {
        let now = Instant::now();
        let mut guard = lock(&self.egress);
        let (window, up) = &mut *guard;
        window.observe(outcomes, now);
        let state = window.state(now);
        let next = match state {
            Egress::Up => Some(true),
            Egress::Blocked { .. } => Some(false),
            Egress::Unknown => *up,
        };
        if next != *up {
            match state {
                Egress::Blocked { failure, addresses } => tracing::warn!(
                    addresses,
                    failure = failure.as_str(),
                    "SMTP egress blocked: every SMTP connect of this round failed the same way ({}); domains' SMTP failures are this host's",
                    failure.text()
                ),
                _ => tracing::info!("SMTP egress up: SMTP connects succeed"),
            }
        }
        *up = next;
    }

    /// The families read from other layers at scrape time (module doc).
    pub(super) fn snapshot_families(
        &self,
        resolvers: &Resolvers,
    ) -> Result<Vec<MetricFamily>, prometheus::Error> {
        let registry = Registry::new();
        let up = GaugeVec::new(
            Opts::new(
                "dane_exporter_resolver_up",
                "1 when the resolver answers (the canary, or any query since), 0 when it does not: probes through it are then unknown (resolver_unavailable).",
            ),
            &["nameserver"],
        )?;
        let validating = GaugeVec::new(
            Opts::new(
                "dane_exporter_resolver_validating",
                "1 when the resolver validates DNSSEC (the canary: AD on a name that must validate, SERVFAIL on one that must fail), 0 when it does not: probes through it are then unknown (resolver_not_validating). Only for resolvers used in trust-resolver mode.",
            ),
            &["nameserver"],
        )?;
        let queries = IntCounterVec::new(
            Opts::new(
                "dane_exporter_dns_queries_total",
                "DNS queries sent to each resolver (each try of a trust-resolver lookup, and the canary), by result: the response code, or timeout, network_error, malformed.",
            ),
            &["nameserver", "result"],
        )?;
        let sessions = IntCounterVec::new(
            Opts::new(
                "dane_exporter_smtp_sessions_total",
                "SMTP sessions made (a session shared by several domains counts once), by result: ok or the failure reason.",
            ),
            &["result"],
        )?;
        for server in resolvers.report() {
            let name = server.address.to_string();
            if server.in_use {
                if let Some(value) = server.up {
                    up.with_label_values(&[&name])
                        .set(f64::from(u8::from(value)));
                }
                if let (true, Some(value)) = (server.validation_needed, server.validating) {
                    validating
                        .with_label_values(&[&name])
                        .set(f64::from(u8::from(value)));
                }
            }
            for (result, count) in server.queries {
                queries.with_label_values(&[&name, result]).inc_by(count);
            }
        }
        for (result, count) in session_counts() {
            sessions.with_label_values(&[result]).inc_by(count);
        }
        let cache_hits = IntCounter::new(
            "dane_exporter_dns_cache_hits_total",
            "DNS lookups answered from the exporter's own cache (shared by domains naming the same MX hosts), which reach no resolver.",
        )?;
        cache_hits.inc_by(crate::dns::cache_hits());
        registry.register(Box::new(up))?;
        registry.register(Box::new(validating))?;
        registry.register(Box::new(queries))?;
        registry.register(Box::new(sessions))?;
        registry.register(Box::new(cache_hits))?;
        if let Some(value) = lock(&self.egress).1 {
            let egress = IntGauge::new(
                "dane_exporter_smtp_egress_up",
                "1 when SMTP connects from this host succeed, 0 when a round's connects to at least two addresses all failed the same way (no route, filtered, dropped): the domains' SMTP failures are then this host's. Absent until known.",
            )?;
            egress.set(i64::from(value));
            registry.register(Box::new(egress))?;
        }
        Ok(registry.gather())
    }
}

/// The reasons of a report's verdict (why unknown, why failed), each once.
fn reasons(report: &DomainReport) -> Vec<Reason> {
    let mut reasons: Vec<Reason> = report
        .unknown
        .iter()
        .chain(&report.failures)
        .map(|f| f.reason)
        .collect();
    reasons.sort();
    reasons.dedup();
    reasons
}

/// [`reasons`] as one log field.
fn reasons_of(report: &DomainReport) -> String {
    reasons(report)
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

impl ProbeObserver for Telemetry {
    fn probed(&self, target: &Target, report: &DomainReport) {
        self.count(target, report);
        let previous = lock(&self.verdicts).insert(target.key(), report.verdict);
        match previous {
            Some(previous) if previous != report.verdict => tracing::info!(
                domain = %target.domain,
                direction = target.direction.as_str(),
                from = previous.as_str(),
                to = report.verdict.as_str(),
                reasons = %reasons_of(report),
                "verdict changed"
            ),
            _ => {}
        }
        if !self.first_round_logged.load(Ordering::SeqCst)
            && self.store.complete()
            && !self.first_round_logged.swap(true, Ordering::SeqCst)
        {
            let round = lock(&self.round);
            let verdicts = lock(&self.verdicts);
            let of = |v: Verdict| verdicts.values().filter(|x| **x == v).count();
            tracing::info!(
                targets = round.targets,
                seconds = round.started.elapsed().as_secs_f64(),
                pass = of(Verdict::Pass),
                fail = of(Verdict::Fail),
                encrypt_only = of(Verdict::EncryptOnly),
                not_applicable = of(Verdict::NotApplicable),
                unknown = of(Verdict::Unknown),
                "first round done"
            );
        }
    }
}

/// The exporter's own metric families as text exposition chunks (name, text), for
/// `crate::metrics::exposition` to sort in among the probe metrics.
pub(super) fn own_chunks(own: Vec<prometheus::proto::MetricFamily>) -> Vec<(String, String)> {
    own.iter()
        .filter_map(|family| {
            let mut buffer = Vec::new();
            // Encoding into memory fails only on invalid families, which we never build.
            TextEncoder::new()
                .encode(std::slice::from_ref(family), &mut buffer)
                .ok()?;
            Some((family.name().to_string(), String::from_utf8(buffer).ok()?))
        })
        .collect()
}

/// The exporter's own metrics.
pub(super) struct SelfMetrics {
    pub(super) registry: Registry,
    pub(super) reload_ok: IntGauge,
    pub(super) reload_time: Gauge,
    pub(super) telemetry: Arc<Telemetry>,
}

impl SelfMetrics {
    pub(super) fn new(store: Arc<Store>) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let telemetry = Arc::new(Telemetry::new(&registry, store)?);
        let build_info = IntGauge::with_opts(
            Opts::new(
                "dane_exporter_build_info",
                "A metric with a constant 1 value labelled by the version, revision and Rust \
                 version from which dane_exporter was built.",
            )
            .const_label("version", env!("CARGO_PKG_VERSION"))
            .const_label("revision", env!("DANE_EXPORTER_REVISION"))
            .const_label("rustversion", env!("DANE_EXPORTER_RUST_VERSION")),
        )?;
        build_info.set(1);
        let reload_ok = IntGauge::new(
            "dane_exporter_config_last_reload_successful",
            "1 when the last configuration reload succeeded, else 0.",
        )?;
        let reload_time = Gauge::new(
            "dane_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration reload.",
        )?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(reload_ok.clone()))?;
        registry.register(Box::new(reload_time.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            reload_ok,
            reload_time,
            telemetry,
        })
    }
}
