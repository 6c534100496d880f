//! What the running exporter keeps beyond one process: the database (`crate::database`) opened
//! at `--storage.path`, the history restored from it and journalled back to it, the TLS-RPT
//! counters its writer thread publishes, and what the TLS-RPT listener and `/metrics` need of
//! them. Also what `dane_exporter check` reads of a running exporter's database.
//!
//! The exporter (`crate::exporter`) owns one [`Retained`]; the scrape path reads only the
//! totals in memory here, never the file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

use crate::core::{unix_now, Direction};
use crate::database::{
    Database, DatabaseError, Method, Refused, Storage, Stored, Submission, SubmitError,
    TlsRptUpdate,
};
use crate::history::{History, Journal};
use crate::metrics::tlsrpt_families;
use crate::target::Target;
use crate::tlsrpt::{report_domains, MediaType, SendersView, Totals, RECENT_SECONDS};

/// `--storage.*` and `--tlsrpt.*` settings.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// The directory of the database file.
    pub path: PathBuf,
    /// How long reports and verdict history are kept.
    pub retention: Duration,
    /// Reporting organisations with their own label value; the rest are `other`.
    pub max_organizations: usize,
}

/// The database side of a running exporter.
pub struct Retained {
    storage: Arc<Storage>,
    totals: Arc<RwLock<Totals>>,
    /// Inbound domain -> its extra labels: the domains reports count for, and their labels.
    inbound: RwLock<Arc<HashMap<String, BTreeMap<String, String>>>>,
    max_organizations: usize,
    submissions: IntCounterVec,
    write_errors: IntCounter,
}

impl Retained {
    /// Opens the database, restores the history from it and starts the writer thread; the
    /// exporter's own metrics for it go into `registry`.
    pub fn open(
        options: &StorageOptions,
        registry: &Registry,
    ) -> Result<(Arc<History>, Self), DatabaseError> {
        let db = Database::open(&options.path)?;
        let history = Arc::new(History::restore(db.target_states()?));
        let totals = Arc::new(RwLock::new(Totals::default()));
        let publish = {
            let history = Arc::clone(&history);
            let totals = Arc::clone(&totals);
            move |update: TlsRptUpdate| {
                history.set_senders(update.views);
                *totals.write().unwrap_or_else(|e| e.into_inner()) = update.totals;
            }
        };
        let path = db.path().to_path_buf();
        let storage = Storage::start(db, options.retention, Box::new(publish)).map_err(|e| {
            DatabaseError::Directory {
                path: path.clone(),
                source: e,
            }
        })?;
        let storage = Arc::new(storage);
        history.set_journal(Arc::clone(&storage) as Arc<dyn Journal>);
        let submissions = IntCounterVec::new(
            Opts::new(
                "dane_exporter_tlsrpt_submissions_total",
                "TLS-RPT reports posted to the TLS-RPT listener, by outcome (stored, invalid, duplicate, not_monitored, unavailable).",
            ),
            &["outcome"],
        )
        .map_err(|e| metric_error(&path, e))?;
        let write_errors = IntCounter::new(
            "dane_exporter_storage_write_errors_total",
            "Writes of probe rounds to the database that failed (each target's state is written again with its next round).",
        )
        .map_err(|e| metric_error(&path, e))?;
        for outcome in [
            "stored",
            "invalid",
            "duplicate",
            "not_monitored",
            "unavailable",
        ] {
            submissions.with_label_values(&[outcome]);
        }
        registry
            .register(Box::new(submissions.clone()))
            .and_then(|()| registry.register(Box::new(write_errors.clone())))
            .map_err(|e| metric_error(&path, e))?;
        tracing::info!(path = %path.display(), targets = history.len(), "database opened");
        Ok((
            history,
            Self {
                storage,
                totals,
                inbound: RwLock::new(Arc::new(HashMap::new())),
                max_organizations: options.max_organizations,
                submissions,
                write_errors,
            },
        ))
    }

    /// The configured targets changed: reports count for these inbound domains now.
    pub fn set_targets(&self, targets: &[Target]) {
        let inbound = targets
            .iter()
            .filter(|t| t.direction == Direction::Inbound)
            .map(|t| (t.domain.clone(), (*t.labels).clone()))
            .collect();
        *self.inbound.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(inbound);
    }

    /// The TLS-RPT families for `/metrics`, from memory.
    pub fn families(&self) -> Vec<(String, String)> {
        let errors = self.storage.write_errors();
        self.write_errors
            .inc_by(errors.saturating_sub(self.write_errors.get()));
        let inbound = Arc::clone(&self.inbound.read().unwrap_or_else(|e| e.into_inner()));
        let totals = self.totals.read().unwrap_or_else(|e| e.into_inner());
        tlsrpt_families(&totals, &inbound, self.max_organizations)
    }

    /// Stores a report posted to the TLS-RPT listener.
    pub async fn submit(&self, body: Vec<u8>, media: MediaType) -> Result<Stored, SubmitError> {
        let inbound = Arc::clone(&self.inbound.read().unwrap_or_else(|e| e.into_inner()));
        let watched = Arc::new(move |domain: &str| inbound.contains_key(domain));
        let submission = Submission {
            body,
            media,
            method: Method::Https,
        };
        let result = self.storage.submit(submission, watched).await;
        let outcome = match &result {
            Ok(_) => "stored",
            Err(SubmitError::Refused(Refused::Report(_))) => "invalid",
            Err(SubmitError::Refused(Refused::Duplicate { .. })) => "duplicate",
            Err(SubmitError::Refused(Refused::NotWatched(_))) => "not_monitored",
            Err(_) => "unavailable",
        };
        self.submissions.with_label_values(&[outcome]).inc();
        result
    }

    /// Writes what is queued and stops the writer thread (on a blocking thread: it waits for
    /// the disk).
    pub async fn close(&self) {
        let storage = Arc::clone(&self.storage);
        let _ = tokio::task::spawn_blocking(move || storage.shutdown()).await;
    }
}

fn metric_error(path: &Path, error: prometheus::Error) -> DatabaseError {
    DatabaseError::Directory {
        path: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    }
}

/// The history `dane_exporter check` starts from: the running exporter's, read from its
/// database at `path` (never written), with the senders' views of the latest reports; an empty
/// one when there is no database there.
pub fn history_for_check(path: &Path) -> Result<History, DatabaseError> {
    let Some(db) = Database::open_read_only(path)? else {
        return Ok(History::new());
    };
    let history = History::restore(db.target_states()?);
    let (reports, _) = db.reports_since(unix_now().saturating_sub(RECENT_SECONDS))?;
    let domains: std::collections::BTreeSet<String> =
        reports.iter().flat_map(report_domains).collect();
    history.set_senders(
        domains
            .into_iter()
            .map(|d| {
                let view = Arc::new(SendersView::of(&d, &reports));
                (d, view)
            })
            .collect(),
    );
    Ok(history)
}
