//! The running exporter: the configuration in force, its scheduler, the result store, and the
//! exporter's own metrics. What the HTTP side (`crate::web`) and the signal handlers in `main.rs`
//! act on.
//!
//! Data comes in from the config file (`crate::config`) at start and on every reload; the
//! scheduler (`crate::scheduler`) fills the store (`crate::store`); `/metrics` renders the store and
//! the exporter's own registry (build info, reload state, process metrics) without probing;
//! `/probe` runs one probe through the same `Prober` with the global settings.
//!
//! `/probe` runs at most `global.concurrency` probes at once (the same number the scheduler may
//! run, so the exporter's worst case is twice the configured concurrency); a request beyond that
//! is refused at once with [`ProbeRequestError::Busy`] (429) instead of queueing, so a flood of
//! requests cannot pile up sockets, memory and stale answers behind the limit.
//!
//! A reload builds everything the new configuration needs before touching the running one, so a
//! bad file (or a trust-anchor file that went missing) leaves the old configuration probing and
//! only flips `dane_exporter_config_last_reload_successful` to 0.
//!
//! What the exporter can see is its own business (`telemetry.rs`, `crate::dns::Resolvers`): the
//! resolvers' health (kept across reloads, checked by the scheduler), the probes it ran, their
//! errors and durations, the SMTP egress of this host, the HTTP requests it answered; `/-/ready`
//! says why it is not ready (first round not done, a resolver down or not validating).

mod sink;
mod telemetry;

use telemetry::SelfMetrics;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Mutex, Semaphore};
use tracing::Instrument;

use crate::config::{self, Config, Shard};
use crate::core::{normalize_domain, unix_now, Direction};
use crate::database::DatabaseError;
use crate::dns::Resolvers;
use crate::history::History;
use crate::metrics::{probe_exposition, LabelledReport};
use crate::retained::{Retained, StorageOptions};
use crate::scheduler::{self, ProberRunner, SchedulerHandle};
use crate::store::Store;
use crate::web::{self, BoxFuture, ProbeOptions, ProbeRequestError};

/// How long running probes may go on when the scheduler is replaced by a reload.
const RELOAD_GRACE: Duration = Duration::from_secs(2);

/// Bytes of `/metrics` text written per chunk of the response body: a few socket buffers'
/// worth, so that a scrape of 10,000 domains (tens of MB) holds one chunk at a time and a slow
/// client holds no more.
const METRICS_CHUNK_BYTES: usize = 32 * 1024;

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration file is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The DNS side could not be set up (trust anchors, resolv.conf).
    #[error("{0}")]
    Dns(#[from] crate::dns::DnsSetupError),
    /// A metric could not be registered (a bug).
    #[error("metrics registry: {0}")]
    Registry(#[from] prometheus::Error),
    /// The database at `--storage.path` cannot be used.
    #[error("{0}")]
    Storage(#[from] DatabaseError),
}

/// The configuration in force and the scheduler running it.
struct Running {
    /// The configuration in force: its global settings, modules and allow-list (the targets are
    /// the scheduler's).
    config: Config,
    /// The configured domains, which `/probe` answers for without `probe_allow`.
    configured: HashSet<String>,
    scheduler: SchedulerHandle,
    /// Probes `/probe` requests with the global settings.
    adhoc: Arc<ProberRunner>,
    /// `/probe` probes running at once: `global.concurrency` permits. A reload makes a new one;
    /// probes still running hold permits of the old one, which goes away with them.
    adhoc_slots: Arc<Semaphore>,
}

/// The running exporter.
pub struct DaneExporter {
    config_path: PathBuf,
    /// The share of the configured targets this replica probes and exposes (`--shard`).
    shard: Shard,
    store: Arc<Store>,
    running: Mutex<Option<Running>>,
    own: SelfMetrics,
    /// What crosses probe rounds (stale clocks, publication clocks, MTA-STS, verdicts): kept
    /// across reloads, and across restarts through `retained`'s database.
    history: Arc<History>,
    /// The database, its writer and the TLS-RPT counters (none without `--storage.path`).
    retained: Option<Retained>,
    /// The health and query counts of every resolver asked: kept across reloads.
    resolvers: Arc<Resolvers>,
}

impl DaneExporter {
    /// Loads `config_path` and starts probing, with a history in memory only. A bad
    /// configuration is an error here: at start there is no running configuration to keep.
    pub async fn start(config_path: &Path) -> Result<Arc<Self>, StartError> {
        Self::start_with(config_path, None, Shard::ALL).await
    }

    /// [`Self::start`], with the history kept in (and restored from) the database `storage`
    /// names, where TLS-RPT reports are stored too, probing and exposing only the targets
    /// `shard` owns (`crate::config::Shard`; `/probe` answers for any allowed domain).
    pub async fn start_with(
        config_path: &Path,
        storage: Option<StorageOptions>,
        shard: Shard,
    ) -> Result<Arc<Self>, StartError> {
        let store = Arc::new(Store::new());
        let own = SelfMetrics::new(Arc::clone(&store))?;
        let (history, retained) = match &storage {
            Some(options) => {
                let (history, retained) = Retained::open(options, &own.registry)?;
                (history, Some(retained))
            }
            None => (Arc::new(History::new()), None),
        };
        let exporter = Arc::new(Self {
            config_path: config_path.to_path_buf(),
            shard,
            store,
            running: Mutex::new(None),
            own,
            history,
            retained,
            resolvers: Arc::new(Resolvers::new(Default::default())),
        });
        let config = config::load(config_path)?;
        exporter.replace(config).await?;
        Ok(exporter)
    }

    /// Builds the scheduler for `config` and swaps it in for the running one.
    async fn replace(&self, config: Config) -> Result<(), StartError> {
        let mut targets = config.targets();
        targets.retain(|target| self.shard.owns_target(target));
        let shortest = targets
            .iter()
            .map(|t| t.interval)
            .min()
            .unwrap_or(config.global.interval);
        // The clients built next register the nameservers they use; states and counters of the
        // ones already known stay (a reload does not forget that a resolver is down).
        self.resolvers.reconfigure(config.global.canary());
        // Half the shortest interval: an MX host shared by many domains is looked up and probed
        // at most about twice per interval, and no probe reuses a STARTTLS session or a DNS answer
        // older than half an interval (so no probe sees what the domain's previous one saw).
        let runner = Arc::new(
            ProberRunner::watching(&targets, Some(shortest / 2), Arc::clone(&self.resolvers))?
                .with_host_concurrency(config.global.host_concurrency)
                .with_history(Arc::clone(&self.history)),
        );
        let adhoc_target = config.adhoc_target("adhoc.invalid", Direction::Inbound);
        // `/probe` probes share no sessions and keep no history: each answers for itself.
        let adhoc = Arc::new(
            ProberRunner::watching(
                std::slice::from_ref(&adhoc_target),
                None,
                Arc::clone(&self.resolvers),
            )?
            .with_host_concurrency(config.global.host_concurrency),
        );

        let mut running = self.running.lock().await;
        if let Some(old) = running.take() {
            old.scheduler.shutdown(RELOAD_GRACE).await;
        }
        self.store.set_targets(&targets);
        if let Some(retained) = &self.retained {
            retained.set_targets(&targets);
        }
        let keys: std::collections::HashSet<_> = targets.iter().map(|t| t.key()).collect();
        self.history.retain(|key| keys.contains(key));
        self.own.telemetry.new_round(&targets, shortest);
        let scheduler = scheduler::start_observed(
            targets,
            config.global.concurrency,
            runner,
            Arc::clone(&self.store),
            Arc::clone(&self.own.telemetry) as Arc<dyn scheduler::ProbeObserver>,
            shortest,
        );
        let adhoc_slots = Arc::new(Semaphore::new(config.global.concurrency.max(1)));
        // The targets carry everything resolved: the specs are not kept twice.
        let (config, configured) = config.into_probe_settings();
        *running = Some(Running {
            config,
            configured,
            scheduler,
            adhoc,
            adhoc_slots,
        });
        self.own.reload_ok.set(1);
        self.own.reload_time.set(unix_now() as f64);
        Ok(())
    }

    /// Re-reads the configuration file. On error the running configuration stays in force.
    pub async fn reload(&self) -> Result<(), String> {
        let result = match config::load(&self.config_path) {
            Ok(config) => self.replace(config).await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match &result {
            Ok(()) => tracing::info!(file = %self.config_path.display(), "configuration reloaded"),
            Err(error) => {
                self.own.reload_ok.set(0);
                tracing::error!(file = %self.config_path.display(), %error, "reload failed; keeping the running configuration");
            }
        }
        result
    }

    /// True once every configured target has a result and every resolver in use answers and,
    /// where it matters, validates (see [`DaneExporter::not_ready`]).
    pub fn ready(&self) -> bool {
        self.not_ready().is_none()
    }

    /// Why the exporter is not ready, if it is not: the first round of probes is not done, or a
    /// resolver in use does not answer, does not validate, or was not checked yet.
    pub fn not_ready(&self) -> Option<String> {
        let mut reasons = Vec::new();
        let (probed, configured) = self.store.progress();
        if probed < configured {
            reasons.push(format!(
                "first round of probes not done ({probed} of {configured} targets probed)"
            ));
        }
        for server in self.resolvers.report().into_iter().filter(|s| s.in_use) {
            let detail = server.detail.as_deref().unwrap_or("");
            match server.up {
                None => reasons.push(format!("resolver {} not checked yet", server.address)),
                Some(false) => reasons.push(format!(
                    "resolver {} does not answer ({detail}): verdicts are unknown",
                    server.address
                )),
                Some(true) if server.validation_needed && server.validating == Some(false) => {
                    reasons.push(format!(
                        "resolver {} does not validate DNSSEC ({detail}): verdicts are unknown; use a validating resolver or dnssec_mode: validate",
                        server.address
                    ))
                }
                Some(true) => {}
            }
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// The whole `/metrics` exposition, probe results and the exporter's own metrics, as
    /// chunks written while the response is sent. The results are those stored when this is
    /// called.
    pub fn render_metrics(&self) -> web::MetricsChunks {
        let mut own = self.own.registry.gather();
        match self.own.telemetry.snapshot_families(&self.resolvers) {
            Ok(families) => own.extend(families),
            // Only an invalid family (a bug) gets here; the rest of the exposition still goes.
            Err(error) => tracing::error!(%error, "cannot render the exporter's own metrics"),
        }
        let mut own = telemetry::own_chunks(own);
        if let Some(retained) = &self.retained {
            own.extend(retained.families());
        }
        let chunks = self.store.exposition(own, METRICS_CHUNK_BYTES);
        Box::new(chunks.map(Bytes::from))
    }

    /// Runs one probe now for `/probe` and renders its metrics only, or with `options.debug` its
    /// log, report and metrics as text. `module` names a configured module or the built-in
    /// `inbound` / `outbound`; it is required, as the direction labels must be right. With
    /// `global.concurrency` `/probe` probes already running this is [`ProbeRequestError::Busy`].
    pub async fn probe(
        &self,
        target: &str,
        module: Option<&str>,
        options: ProbeOptions,
    ) -> Result<String, ProbeRequestError> {
        if target.trim().is_empty() {
            return Err(ProbeRequestError::MissingTarget);
        }
        let domain = normalize_domain(target)
            .map_err(|error| ProbeRequestError::BadTarget(format!("{target:?}: {error}")))?;
        let (mut resolved, module, adhoc, _slot) = {
            let running = self.running.lock().await;
            let Some(running) = running.as_ref() else {
                return Err(ProbeRequestError::NotAllowed(domain));
            };
            let config = &running.config;
            let name = module.ok_or_else(|| {
                ProbeRequestError::BadModule(format!(
                    "the module parameter is required: {}",
                    module_names(config)
                ))
            })?;
            let Some(found) = config.module(name) else {
                return Err(ProbeRequestError::BadModule(format!(
                    "{name:?}: use {}",
                    module_names(config)
                )));
            };
            if !config.probe_allowed(&domain) && !running.configured.contains(&domain) {
                return Err(ProbeRequestError::NotAllowed(domain));
            }
            let slot = Arc::clone(&running.adhoc_slots)
                .try_acquire_owned()
                .map_err(|_| ProbeRequestError::Busy)?;
            (
                config.module_target(&domain, &found),
                name.to_string(),
                Arc::clone(&running.adhoc),
                slot,
            )
        };
        if let Some(deadline) = options.deadline {
            cut_to(&mut resolved, deadline);
        }
        let (report, log) = if options.debug {
            let (span, log) = crate::logging::capture();
            let report = scheduler::run_one(&resolved, adhoc.as_ref())
                .instrument(span)
                .await;
            (report, Some(log))
        } else {
            (scheduler::run_one(&resolved, adhoc.as_ref()).await, None)
        };
        self.own.telemetry.count(&resolved, &report);
        let labels = Default::default();
        let metrics = probe_exposition(&[LabelledReport {
            direction: resolved.direction,
            extra_labels: &labels,
            report: &report,
        }]);
        Ok(match log {
            None => metrics,
            Some(log) => debug_text(&module, &resolved, &log.text(), &report, &metrics),
        })
    }

    /// Stops probing: running probes get `grace` to finish; then what they left is written.
    pub async fn shutdown(&self, grace: Duration) {
        if let Some(running) = self.running.lock().await.take() {
            running.scheduler.shutdown(grace).await;
        }
        if let Some(retained) = &self.retained {
            retained.close().await;
        }
    }
}

/// The modules a `/probe` request may name, for its error message.
fn module_names(config: &Config) -> String {
    let mut names: Vec<&str> = config::Module::BUILT_IN.to_vec();
    names.extend(config.modules.keys().map(String::as_str));
    names.join(", ")
}

/// Cuts `target`'s timeouts to `deadline` (the scraper's), so the probe answers in time and
/// says what it did not finish.
fn cut_to(target: &mut config::Target, deadline: Duration) {
    target.timeout = target.timeout.min(deadline);
    target.dns.timeout = target.dns.timeout.min(deadline);
    target.smtp.step_timeout = target.smtp.step_timeout.min(deadline);
    target.smtp.reply_timeout = target.smtp.reply_timeout.min(deadline);
}

/// `/probe?debug=true`: what the probe logged, the report as `check` prints it, the metrics it
/// would have returned and the settings it ran with (blackbox_exporter's debug output).
fn debug_text(
    module: &str,
    target: &config::Target,
    log: &str,
    report: &crate::report::DomainReport,
    metrics: &str,
) -> String {
    let human = humantime::format_duration;
    format!(
        "Logs for the probe:\n{log}\n\n\
         Report:\n{}\n\
         Metrics that would have been returned:\n{metrics}\n\
         Module configuration:\n\
         module: {module}\n\
         direction: {}\n\
         expect: {}\n\
         timeout: {}\n\
         step_timeout: {}\n\
         smtp_reply_timeout: {}\n\
         dnssec_mode: {}\n\
         nameservers: {}\n\
         mta_sts: {}\n\
         tls_rpt: {}\n",
        crate::text::render(report),
        target.direction.as_str(),
        target.expect.as_str(),
        human(target.timeout),
        human(target.smtp.step_timeout),
        human(target.smtp.reply_timeout),
        target.dns.mode.as_str(),
        if target.dns.nameservers.is_empty() {
            "/etc/resolv.conf".to_string()
        } else {
            target
                .dns
                .nameservers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        },
        target.mta_sts.mta_sts,
        target.mta_sts.tls_rpt,
    )
}

impl web::Exporter for DaneExporter {
    fn metrics(&self) -> web::MetricsChunks {
        self.render_metrics()
    }

    fn probe<'a>(
        &'a self,
        target: &'a str,
        module: Option<&'a str>,
        options: ProbeOptions,
    ) -> BoxFuture<'a, Result<String, ProbeRequestError>> {
        Box::pin(DaneExporter::probe(self, target, module, options))
    }

    fn ready(&self) -> bool {
        DaneExporter::ready(self)
    }

    fn not_ready(&self) -> Option<String> {
        DaneExporter::not_ready(self)
    }

    fn observe_request(&self, handler: &str, code: u16) {
        self.own.telemetry.request(handler, code);
    }

    fn reload(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(DaneExporter::reload(self))
    }

    fn status(&self) -> Vec<crate::store::StatusEntry> {
        self.store.status()
    }

    fn status_detail(&self, key: &crate::core::TargetKey) -> Option<crate::store::StatusDetail> {
        self.store.detail(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real `/probe` limit: with `concurrency: 2` and a nameserver that never answers, two
    /// probes hang in DNS holding both slots; the third request is refused at once with `Busy`,
    /// while requests refused for other reasons still get their own error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn probe_beyond_the_limit_is_busy_at_once() {
        // A UDP (and TCP) nameserver that reads queries and never answers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let _silent_tcp = std::net::TcpListener::bind(("127.0.0.1", port)).ok();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dane_exporter.yml");
        std::fs::write(
            &path,
            format!(
                "global:\n  concurrency: 2\n  timeout: 30s\n  step_timeout: 10s\n  \
                 nameservers: [\"127.0.0.1:{port}\"]\nprobe_allow: [\"*.example\"]\n"
            ),
        )
        .unwrap();
        let exporter = DaneExporter::start(&path).await.unwrap();

        let hanging: Vec<_> = ["a.example", "b.example"]
            .into_iter()
            .map(|domain| {
                let exporter = Arc::clone(&exporter);
                tokio::spawn(async move {
                    exporter
                        .probe(domain, Some("outbound"), ProbeOptions::default())
                        .await
                })
            })
            .collect();
        let slots = Arc::clone(&exporter.running.lock().await.as_ref().unwrap().adhoc_slots);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while slots.available_permits() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "probes never took their slots"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let refused = tokio::time::timeout(
            Duration::from_secs(1),
            exporter.probe("c.example", Some("outbound"), ProbeOptions::default()),
        )
        .await
        .expect("a full /probe limit refuses at once");
        assert_eq!(refused, Err(ProbeRequestError::Busy));
        // Validation comes first: a bad request is still 400, not 429.
        assert!(matches!(
            exporter
                .probe("c.example", Some("sideways"), ProbeOptions::default())
                .await,
            Err(ProbeRequestError::BadModule(_))
        ));

        // Cancelled probes (a client that hung up) give their slots back.
        for task in &hanging {
            task.abort();
        }
        for task in hanging {
            let _ = task.await;
        }
        assert_eq!(slots.available_permits(), 2);
        exporter.shutdown(Duration::from_secs(1)).await;
        drop(silent);
    }

    /// `/metrics` comes in chunks of whole lines (each a valid piece of the exposition, the last
    /// one the own families sorting after the probe metrics), and a scrape after a reload shows
    /// the reload's outcome.
    #[tokio::test]
    async fn metrics_come_in_chunks_of_whole_lines_and_show_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dane_exporter.yml");
        std::fs::write(&path, "global:\n  nameservers: [\"127.0.0.1:9\"]\n").unwrap();
        let exporter = DaneExporter::start(&path).await.unwrap();
        let whole = |chunks: web::MetricsChunks| {
            let chunks: Vec<Bytes> = chunks.collect();
            assert!(!chunks.is_empty());
            for chunk in &chunks {
                assert!(chunk.ends_with(b"\n"), "a chunk ends with its last line");
            }
            String::from_utf8(chunks.concat()).unwrap()
        };
        assert!(whole(exporter.render_metrics())
            .contains("dane_exporter_config_last_reload_successful 1"));

        std::fs::write(&path, "global:\n  interval: soon\n").unwrap();
        assert!(exporter.reload().await.is_err());
        assert!(whole(exporter.render_metrics())
            .contains("dane_exporter_config_last_reload_successful 0"));
        exporter.shutdown(Duration::from_secs(1)).await;
    }
}
