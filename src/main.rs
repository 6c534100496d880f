//! The `dane_exporter` binary: flags, logging, signals; everything else is the library.
//!
//! - `dane_exporter [--config.file=F] [--web.listen-address=A] ...` runs the exporter: the
//!   scheduler probes the configured domains, HTTP serves `/metrics`, `/probe` and friends,
//!   SIGHUP reloads the configuration, SIGTERM/SIGINT shut down cleanly.
//! - `dane_exporter --config.check --config.file=F` validates the configuration and exits.
//! - `dane_exporter demo` starts the demo (`dane_exporter::demo`): the exporter against a signed
//!   zone and mail servers of its own, on loopback.
//! - `dane_exporter tlsa FILE|--lineage DIR|--connect HOST` prints the TLSA records to publish
//!   (`dane_exporter::cli::tlsa`, `dane_exporter::tlsa`); `--check` says where a key rollover
//!   stands (exit status as `check`).
//! - `dane_exporter check DOMAIN` probes one domain once, as the exporter would, and prints a
//!   report (`dane_exporter::cli::check`: its flags, target, exit status).
//! - `dane_exporter tlsrpt ingest [FILE|-]` stores a TLS-RPT report mail (`dane_exporter::ingest`).
//! - `dane_exporter man`, `dane_exporter completions SHELL`: generated from these definitions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;

use dane_exporter::logging;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use dane_exporter::cli;
use dane_exporter::config::Shard;
use dane_exporter::exporter::DaneExporter;
use dane_exporter::ingest::{StorageArgs, TlsRptCommand};
use dane_exporter::retained::StorageOptions;
use dane_exporter::web::{self, WebConfig};

/// jemalloc instead of the C library's malloc, for the binary only (feature `jemalloc`, on by
/// default; Cargo.toml says why).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The port in the exporters' 9100-9999 range this exporter listens on by default.
const DEFAULT_LISTEN_ADDRESS: &str = ":9724";
/// The demo's default: the same port, on loopback (its controls have no authentication).
#[cfg(feature = "demo")]
const DEMO_LISTEN_ADDRESS: &str = "127.0.0.1:9724";

/// How long running probes and HTTP requests may go on after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(
    name = "dane_exporter",
    version,
    long_version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (revision ",
        env!("DANE_EXPORTER_REVISION"),
        ", rustc ",
        env!("DANE_EXPORTER_RUST_VERSION"),
        ")"
    ),
    about = "Prometheus exporter that watches the DANE (RFC 7672) health of mail domains"
)]
struct Cli {
    /// Configuration file (YAML): the domains to probe and how.
    #[arg(
        long = "config.file",
        value_name = "FILE",
        default_value = "dane_exporter.yml"
    )]
    config_file: PathBuf,
    /// Validate the configuration file and exit: 0 valid, 1 invalid.
    #[arg(long = "config.check")]
    config_check: bool,
    /// Address to listen on for HTTP: HOST:PORT (HOST an IP address or a name such as
    /// localhost), or :PORT for every address; repeatable [default: :9724; for `demo`,
    /// 127.0.0.1:9724].
    #[arg(long = "web.listen-address", value_name = "ADDR")]
    listen_address: Vec<String>,
    /// Taken off the scraper's X-Prometheus-Scrape-Timeout-Seconds for a /probe's deadline.
    #[arg(long = "timeout-offset", value_name = "DURATION", default_value = "500ms", value_parser = humantime::parse_duration)]
    timeout_offset: Duration,
    /// exporter-toolkit web configuration (TLS, basic auth, headers).
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Probe and expose only this replica's share of the configured targets, I of N (0-based):
    /// a stable hash of each target's direction and domain, modulo N, like Prometheus's
    /// `hashmod` (docs/scaling.md). Every replica gets the same configuration file.
    #[arg(long = "shard", value_name = "I/N", value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Only log messages of at least this severity.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,
    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    log_format: LogFormat,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Probe one domain now, as a DANE-enforcing sender would, and report.
    Check(Box<cli::check::CheckArgs>),
    /// Print the TLSA records to publish for a server's current and next key; with --check,
    /// where a key rollover stands and what to do next.
    Tlsa(Box<cli::tlsa::TlsaArgs>),
    /// TLS-RPT reports (RFC 8460) received by mail.
    #[command(subcommand)]
    Tlsrpt(TlsRptCommand),
    /// Start a self-contained demo on loopback: a signed zone, mail servers in several states
    /// of health, and the exporter watching them (no internet, no configuration).
    #[cfg(feature = "demo")]
    Demo,
    /// Print a shell completion script, e.g. `dane_exporter completions bash >
    /// /etc/bash_completion.d/dane_exporter`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): dane_exporter(1), or with a subcommand's name its own page,
    /// e.g. `dane_exporter man check > /usr/local/share/man/man1/dane_exporter-check.1`.
    Man {
        /// A subcommand (`check`, ...): its page instead of the main one.
        subcommand: Option<String>,
    },
}

/// The sockets one `--web.listen-address` (or `--tlsrpt.listen-address`, `flag`) stands for:
/// `:9724` means every address, as in the Go exporters; a host name binds every address it
/// resolves to (`localhost`: 127.0.0.1 and ::1).
async fn listen_addresses(flag: &str, text: &str) -> Result<Vec<SocketAddr>, String> {
    let bad = || format!("{flag} {text:?} is not HOST:PORT or :PORT");
    if let Some(port) = text.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| bad())?;
        return Ok(vec![SocketAddr::from((
            std::net::Ipv6Addr::UNSPECIFIED,
            port,
        ))]);
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(vec![address]);
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    // The system resolver (/etc/hosts first); bounded, as a hung resolver must not hang start.
    let resolved = tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host(text))
        .await
        .map_err(|_| format!("{flag} {text:?}: resolving {host:?} timed out"))?
        .map_err(|e| format!("{flag} {text:?}: cannot resolve {host:?}: {e}"))?;
    let mut addresses: Vec<SocketAddr> = Vec::new();
    for address in resolved {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        return Err(format!("{flag} {text:?}: {host:?} has no address"));
    }
    Ok(addresses)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `check` and `tlsa` speak to a person: warnings only, and a status line on a terminal.
    let status = match &cli.command {
        Some(Command::Check(_) | Command::Tlsa(_)) => {
            init_check_logging(LogLevel::Warn, cli.log_format)
        }
        _ => {
            init_logging(cli.log_level, cli.log_format);
            None
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("dane_exporter: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Some(Command::Check(args)) => {
            runtime.block_on(cli::check::run(*args, &cli.storage.path, status))
        }
        Some(Command::Tlsrpt(command)) => ExitCode::from(dane_exporter::ingest::run(
            &command,
            &cli.storage,
            &cli.config_file,
        )),
        Some(Command::Tlsa(args)) => runtime.block_on(cli::tlsa::run(*args, status)),
        #[cfg(feature = "demo")]
        Some(Command::Demo) => runtime.block_on(run_demo(cli)),
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "dane_exporter", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Some(Command::Man { subcommand }) => man_page(subcommand.as_deref()),
        None if cli.config_check => match dane_exporter::config::load(&cli.config_file) {
            Ok(config) => {
                println!(
                    "{}: valid ({} inbound, {} outbound targets)",
                    cli.config_file.display(),
                    config.inbound.len(),
                    config.outbound.len()
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::from(1)
            }
        },
        None => runtime.block_on(run_exporter(cli)),
    }
}

/// The log filter: our crate at the chosen level, the libraries only when they warn.
fn parse_shard(text: &str) -> Result<Shard, String> {
    Shard::parse(text).map_err(|e| e.to_string())
}

fn log_filter(level: LogLevel) -> EnvFilter {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    // hickory-server (the demo's zone server) warns "unexpected lookup skip" on every signed
    // positive answer without a wildcard (catalog.rs of 0.26): noise, so only its errors.
    EnvFilter::new(format!("warn,hickory_server=error,dane_exporter={level}"))
}

fn log_layer<S>(format: LogFormat) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let format = match format {
        LogFormat::Logfmt => logging::LogFormat::Logfmt,
        LogFormat::Json => logging::LogFormat::Json,
    };
    tracing_subscriber::fmt::layer()
        .event_format(logging::LogFormatter::new(format))
        .with_writer(std::io::stderr)
}

/// Logs as Prometheus's own programs write them (`crate::logging`).
fn init_logging(level: LogLevel, format: LogFormat) {
    let result = tracing_subscriber::registry()
        .with(log_layer(format).with_filter(log_filter(level)))
        // `/probe?debug=true` collects its probe's log at every level, whatever the above says.
        .with(logging::capture_layer())
        .try_init();
    if let Err(error) = result {
        eprintln!("dane_exporter: cannot set up logging: {error}");
    }
}

/// `check`'s logging: warnings and errors as log lines, and on a terminal the status line that
/// says what the probe waits for. Returns the line, to redraw and erase.
fn init_check_logging(level: LogLevel, format: LogFormat) -> Option<logging::StatusLine> {
    let status = std::io::stderr()
        .is_terminal()
        .then(logging::StatusLine::new);
    let progress = status.as_ref().map(|line| {
        line.layer()
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.target() == dane_exporter::core::PROGRESS
            }))
    });
    let result = tracing_subscriber::registry()
        .with(progress)
        .with(log_layer(format).with_filter(log_filter(level)))
        .try_init();
    if let Err(error) = result {
        eprintln!("dane_exporter: cannot set up logging: {error}");
    }
    status
}

async fn run_exporter(cli: Cli) -> ExitCode {
    let wanted = match listen_flags(&cli.listen_address, DEFAULT_LISTEN_ADDRESS).await {
        Ok(wanted) => wanted,
        Err(code) => return code,
    };
    let mut tlsrpt_wanted = Vec::new();
    if let Some(text) = &cli.storage.tlsrpt_listen_address {
        match listen_addresses("--tlsrpt.listen-address", text).await {
            Ok(found) => tlsrpt_wanted.push((text.clone(), found)),
            Err(error) => {
                tracing::error!(%error, "bad flag");
                return ExitCode::from(2);
            }
        }
    }
    let web_config = match load_web_config(cli.web_config_file.as_deref()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let storage = StorageOptions {
        path: cli.storage.path.clone(),
        retention: cli.storage.retention,
        max_organizations: cli.storage.max_organizations,
    };
    let shard = cli.shard.unwrap_or_default();
    let exporter = match DaneExporter::start_with(&cli.config_file, Some(storage), shard).await {
        Ok(exporter) => exporter,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::from(1);
        }
    };
    if cli.shard.is_some() {
        tracing::info!(%shard, "probing this replica's share of the targets");
    }
    let label = cli.config_file.display().to_string();
    let listeners = match bind_all(wanted, &label, web_config.as_ref()).await {
        Ok(listeners) => listeners,
        Err(code) => return code,
    };
    // Senders' reports on listeners of their own (`web::serve_tlsrpt`), stopped with the main
    // ones.
    let tlsrpt_label = format!("TLS-RPT: POST {}", web::TLSRPT_PATH);
    let tlsrpt_listeners = match bind_all(tlsrpt_wanted, &tlsrpt_label, web_config.as_ref()).await {
        Ok(listeners) => listeners,
        Err(code) => return code,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tlsrpt: Vec<_> = tlsrpt_listeners
        .into_iter()
        .map(|listener| {
            let mut stopped = stopped.clone();
            let sink = exporter.clone();
            tokio::spawn(web::serve_tlsrpt(
                listener,
                web_config.clone(),
                sink,
                Default::default(),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            ))
        })
        .collect();
    let served: Arc<dyn web::Exporter> = exporter.clone();
    serve(listeners, web_config, served, cli.timeout_offset).await;
    let _ = stop.send(true);
    for task in tlsrpt {
        let _ = task.await;
    }
    exporter.shutdown(SHUTDOWN_GRACE).await;
    ExitCode::SUCCESS
}

/// `dane_exporter demo`: the demo's world and exporter, served on a loopback address unless
/// `--web.listen-address` says otherwise (a container's published port).
#[cfg(feature = "demo")]
async fn run_demo(cli: Cli) -> ExitCode {
    let wanted = match listen_flags(&cli.listen_address, DEMO_LISTEN_ADDRESS).await {
        Ok(wanted) => wanted,
        Err(code) => return code,
    };
    let web_config = match load_web_config(cli.web_config_file.as_deref()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let listeners = match bind_all(wanted, "demo", web_config.as_ref()).await {
        Ok(listeners) => listeners,
        Err(code) => return code,
    };
    // The address the demo's printed commands use; one off loopback first, so that the demo
    // warns about it.
    let bound: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let Some(address) = bound
        .iter()
        .find(|a| !a.ip().is_loopback())
        .or(bound.first())
        .copied()
    else {
        return ExitCode::from(1);
    };
    let demo = match dane_exporter::demo::Demo::start(address).await {
        Ok(demo) => demo,
        Err(error) => {
            tracing::error!(%error, "cannot start the demo");
            return ExitCode::from(1);
        }
    };
    println!("{}", demo.overview().await);
    serve(
        listeners,
        web_config,
        demo.web_exporter(),
        cli.timeout_offset,
    )
    .await;
    demo.shutdown(SHUTDOWN_GRACE).await;
    ExitCode::SUCCESS
}

/// Each `--web.listen-address` (`default` when none is given) with the sockets it stands for, or
/// the exit code of a bad flag.
async fn listen_flags(
    flags: &[String],
    default: &str,
) -> Result<Vec<(String, Vec<SocketAddr>)>, ExitCode> {
    let defaults = [default.to_string()];
    let flags = if flags.is_empty() {
        &defaults[..]
    } else {
        flags
    };
    let mut wanted = Vec::new();
    for text in flags {
        match listen_addresses("--web.listen-address", text).await {
            Ok(found) => wanted.push((text.clone(), found)),
            Err(error) => {
                tracing::error!(%error, "bad flag");
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(wanted)
}

/// The web configuration file, if given, or the exit code of one that does not load.
fn load_web_config(path: Option<&std::path::Path>) -> Result<Option<WebConfig>, ExitCode> {
    let Some(path) = path else {
        return Ok(None);
    };
    WebConfig::load(path).map(Some).map_err(|error| {
        tracing::error!(%error, "cannot load the web configuration");
        ExitCode::from(1)
    })
}

/// Binds every socket of `wanted`: every one must bind, but a name needs one only (`localhost`
/// may resolve to ::1 on a host without IPv6). `config` names what is served, in the log.
async fn bind_all(
    wanted: Vec<(String, Vec<SocketAddr>)>,
    config: &str,
    web_config: Option<&WebConfig>,
) -> Result<Vec<tokio::net::TcpListener>, ExitCode> {
    let mut listeners = Vec::new();
    let mut bound: Vec<SocketAddr> = Vec::new();
    for (text, addresses) in wanted {
        let text = text.as_str();
        let named = text.parse::<SocketAddr>().is_err() && !text.starts_with(':');
        let before = listeners.len();
        let mut last_error = None;
        for address in addresses {
            if bound.contains(&address) {
                continue;
            }
            match tokio::net::TcpListener::bind(address).await {
                Ok(listener) => {
                    let local = listener
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    tracing::info!(
                        address = %local,
                        config,
                        tls = web_config.is_some_and(|c| c.tls_enabled()),
                        version = env!("CARGO_PKG_VERSION"),
                        "listening"
                    );
                    bound.push(address);
                    listeners.push(listener);
                }
                Err(error) if named => {
                    tracing::warn!(%address, %error, flag = text, "cannot listen on one address of a name");
                    last_error = Some(error);
                }
                Err(error) => {
                    tracing::error!(%address, %error, "cannot listen");
                    return Err(ExitCode::from(1));
                }
            }
        }
        if let (true, Some(error)) = (listeners.len() == before, last_error) {
            tracing::error!(flag = text, %error, "cannot listen on any address of the name");
            return Err(ExitCode::from(1));
        }
    }
    Ok(listeners)
}

/// Serves `served` on `listeners` until SIGTERM/SIGINT, reloading on SIGHUP.
async fn serve(
    listeners: Vec<tokio::net::TcpListener>,
    web_config: Option<WebConfig>,
    served: Arc<dyn web::Exporter>,
    timeout_offset: Duration,
) {
    let hangups = tokio::spawn({
        let exporter = Arc::clone(&served);
        async move {
            if let Err(error) = web::reload_on_sighup(exporter).await {
                tracing::error!(%error, "cannot watch SIGHUP; reload with POST /-/reload");
            }
        }
    });
    let options = web::ServeOptions {
        timeout_offset,
        ..Default::default()
    };
    web::serve_all(listeners, web_config, served, options, shutdown_signal()).await;
    tracing::info!("shutting down: letting running probes finish");
    hangups.abort();
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
        _ => {
            tracing::error!("cannot watch SIGTERM/SIGINT; stop with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}

/// `dane_exporter man [SUBCOMMAND]`: the page, from the clap definition.
fn man_page(subcommand: Option<&str>) -> ExitCode {
    let main = Cli::command();
    let command = match subcommand {
        None => main,
        Some(name) => match main.find_subcommand(name) {
            Some(sub) => sub
                .clone()
                .display_name(format!("dane_exporter-{name}"))
                .bin_name(format!("dane_exporter {name}")),
            None => {
                eprintln!("dane_exporter: no subcommand {name:?}");
                return ExitCode::from(2);
            }
        },
    };
    match clap_mangen::Man::new(command).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dane_exporter: cannot write the manual page: {error}");
            ExitCode::from(2)
        }
    }
}
