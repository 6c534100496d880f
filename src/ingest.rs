//! `dane_exporter tlsrpt ingest [FILE|-] [--maildir DIR]`: TLS-RPT reports by mail (RFC 8460
//! section 5.3) into the exporter's database, and the flags the exporter and `check` share for
//! that database (`--storage.*`, `--tlsrpt.*`). `main.rs` only parses and calls [`run`].
//!
//! One message (a file, or standard input from a Postfix `pipe(8)` transport or an alias) is
//! read bounded, its report part found (`crate::tlsrpt::report_part`) and stored through the
//! same validation and transaction as a report posted over HTTPS (`crate::database`). Reports
//! count only for the configuration's inbound domains, so the configuration file is read too.
//!
//! Exit status, as sysexits(3) and Postfix's pipe(8) read it: 0 stored, or a duplicate (a
//! redelivered message: nothing to bounce); 65 (EX_DATAERR) not a valid report, or about no
//! monitored domain: Postfix bounces it with the reason; 66 (EX_NOINPUT) no such file; 74
//! (EX_IOERR) unreadable input; 75 (EX_TEMPFAIL) the database is busy or failed: Postfix retries;
//! 78 (EX_CONFIG) the configuration is invalid. With `--maildir` every message is tried, refused
//! ones are counted and reported, and only a database failure makes the status non-zero.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config;
use crate::core::{unix_now, Direction};
use crate::database::{Database, Method, Refused, Submission, SubmitError};
use crate::tlsrpt::{report_part, Limits};

/// The database flags, global to every command.
#[derive(clap::Args, Debug, Clone)]
pub struct StorageArgs {
    /// Directory of the database: history kept across restarts and TLS-RPT reports received
    /// (`check` reads it too, when it exists).
    #[arg(
        long = "storage.path",
        value_name = "DIR",
        default_value = "data",
        global = true
    )]
    pub path: PathBuf,
    /// How long TLS-RPT reports and verdict history are kept, e.g. "90d".
    #[arg(long = "storage.retention", value_name = "DURATION", default_value = "90d",
          value_parser = humantime::parse_duration, global = true)]
    pub retention: Duration,
    /// Listen for TLS-RPT reports (RFC 8460: POST /tlsrpt) on HOST:PORT or :PORT, with the TLS
    /// of --web.config.file and no basic auth; not at all when not given.
    #[arg(long = "tlsrpt.listen-address", value_name = "ADDR")]
    pub tlsrpt_listen_address: Option<String>,
    /// Reporting organisations that keep their own label value in the TLS-RPT metrics (in the
    /// order their first report came); later ones are counted as "other".
    #[arg(
        long = "tlsrpt.max-organizations",
        value_name = "N",
        default_value_t = 20
    )]
    pub max_organizations: usize,
}

/// `dane_exporter tlsrpt ...`.
#[derive(clap::Subcommand, Debug)]
pub enum TlsRptCommand {
    /// Store one TLS-RPT report message (RFC 5322, the report as an application/tlsrpt+gzip or
    /// +json part) from FILE or standard input, as a Postfix pipe transport or alias runs it.
    Ingest(IngestArgs),
}

/// `tlsrpt ingest`'s arguments.
#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// The message file; "-" or nothing for standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Import every message of a Maildir (its new/ and cur/) instead.
    #[arg(long, value_name = "DIR", conflicts_with = "file")]
    pub maildir: Option<PathBuf>,
}

/// Exit statuses (sysexits.h).
const EX_DATAERR: u8 = 65;
const EX_NOINPUT: u8 = 66;
const EX_IOERR: u8 = 74;
const EX_TEMPFAIL: u8 = 75;
const EX_CONFIG: u8 = 78;

/// What one message came to.
enum Outcome {
    Stored,
    Duplicate,
    Refused,
    Failed,
}

/// Runs `command` with the database at `storage` and the configuration `config_file`; returns
/// the exit status.
pub fn run(command: &TlsRptCommand, storage: &StorageArgs, config_file: &Path) -> u8 {
    let TlsRptCommand::Ingest(args) = command;
    let watched: HashSet<String> = match config::load(config_file) {
        Ok(config) => config
            .targets()
            .into_iter()
            .filter(|t| t.direction == Direction::Inbound)
            .map(|t| t.domain)
            .collect(),
        Err(error) => {
            eprintln!("dane_exporter tlsrpt ingest: {error}");
            return EX_CONFIG;
        }
    };
    let mut db = match Database::open(&storage.path) {
        Ok(db) => db,
        Err(error) => {
            eprintln!("dane_exporter tlsrpt ingest: {error}");
            return EX_TEMPFAIL;
        }
    };
    let watched = |domain: &str| watched.contains(domain);
    if let Some(dir) = &args.maildir {
        return maildir(&mut db, dir, &watched);
    }
    let message = match &args.file {
        Some(path) if path.as_os_str() != "-" => match std::fs::File::open(path) {
            Ok(file) => read_bounded(file),
            Err(error) => {
                eprintln!("dane_exporter tlsrpt ingest: {}: {error}", path.display());
                return EX_NOINPUT;
            }
        },
        _ => read_bounded(std::io::stdin().lock()),
    };
    let message = match message {
        Ok(message) => message,
        Err(error) => {
            eprintln!("dane_exporter tlsrpt ingest: cannot read the message: {error}");
            return EX_IOERR;
        }
    };
    match ingest(&mut db, &message, &watched) {
        Outcome::Stored | Outcome::Duplicate => 0,
        Outcome::Refused => EX_DATAERR,
        Outcome::Failed => EX_TEMPFAIL,
    }
}

/// Reads at most one byte more than the largest message taken, so that a larger one is refused
/// (by `crate::tlsrpt::report_part`) instead of read whole.
fn read_bounded(input: impl Read) -> std::io::Result<Vec<u8>> {
    let limit = Limits::default().max_message_bytes as u64 + 1;
    let mut message = Vec::new();
    input.take(limit).read_to_end(&mut message)?;
    Ok(message)
}

/// Stores the report of one message, saying on standard error what became of it.
fn ingest(db: &mut Database, message: &[u8], watched: &dyn Fn(&str) -> bool) -> Outcome {
    let (media, body) = match report_part(message, &Limits::default()) {
        Ok(part) => part,
        Err(error) => {
            eprintln!("dane_exporter tlsrpt ingest: refused, nothing stored: {error}");
            return Outcome::Refused;
        }
    };
    let submission = Submission {
        body,
        media,
        method: Method::Mail,
    };
    match db.submit(&submission, watched, unix_now()) {
        Ok(stored) => {
            eprintln!(
                "dane_exporter tlsrpt ingest: stored {} report-id {} for {}",
                stored.organization,
                stored.report_id,
                stored.domains.join(", ")
            );
            Outcome::Stored
        }
        Err(SubmitError::Refused(refused @ Refused::Duplicate { .. })) => {
            eprintln!("dane_exporter tlsrpt ingest: {refused}; nothing stored");
            Outcome::Duplicate
        }
        Err(SubmitError::Refused(refused)) => {
            eprintln!("dane_exporter tlsrpt ingest: refused, nothing stored: {refused}");
            Outcome::Refused
        }
        Err(error) => {
            eprintln!("dane_exporter tlsrpt ingest: not stored, try again: {error}");
            Outcome::Failed
        }
    }
}

/// Every message of the Maildir `dir` (new/ then cur/, in name order).
fn maildir(db: &mut Database, dir: &Path, watched: &dyn Fn(&str) -> bool) -> u8 {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        files.extend(names.into_iter().filter(|p| p.is_file()));
    }
    if files.is_empty() && !dir.join("cur").is_dir() && !dir.join("new").is_dir() {
        eprintln!(
            "dane_exporter tlsrpt ingest: {} is no Maildir (no new/ or cur/)",
            dir.display()
        );
        return EX_NOINPUT;
    }
    let (mut stored, mut duplicates, mut refused, mut failed) = (0, 0, 0, 0);
    for file in &files {
        eprintln!("dane_exporter tlsrpt ingest: {}", file.display());
        let outcome = match std::fs::File::open(file).and_then(read_bounded) {
            Ok(message) => ingest(db, &message, watched),
            Err(error) => {
                eprintln!("dane_exporter tlsrpt ingest: {}: {error}", file.display());
                Outcome::Refused
            }
        };
        match outcome {
            Outcome::Stored => stored += 1,
            Outcome::Duplicate => duplicates += 1,
            Outcome::Refused => refused += 1,
            Outcome::Failed => failed += 1,
        }
    }
    println!("{stored} stored, {duplicates} duplicates, {refused} refused, {failed} failed");
    if failed > 0 {
        EX_TEMPFAIL
    } else {
        0
    }
}
