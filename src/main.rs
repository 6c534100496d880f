//! The `dane_exporter` binary: flags, logging, signals; everything else is the library.
//!
//! - `dane_exporter [--config.file=F] [--web.listen-address=A] ...` runs the exporter: the
//!   scheduler probes the configured domains, HTTP serves `/metrics`, `/probe` and friends,
//!   SIGHUP reloads the configuration, SIGTERM/SIGINT shut down cleanly.
//! - `dane_exporter --config.check --config.file=F` validates the configuration and exits.
//! - `dane_exporter check DOMAIN` resolves its flags into one target through the configuration's
//!   rules, probes it once through the same `scheduler::run_one` the exporter uses, and prints a
//!   report. Exit status: 0 pass or not applicable, 1 fail or encrypt only (TLSA records, none
//!   usable), 2 bad usage or setup error, and 2 when this host cannot see (its resolver does not
//!   validate or does not answer, or no SMTP connection can leave it), with one sentence on
//!   stderr saying how to fix it.
//! - `dane_exporter tlsrpt ingest [FILE|-]` stores a TLS-RPT report mail (`dane_exporter::ingest`).

use std::net::{IpAddr, SocketAddr};
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

use dane_exporter::checks::services::{parse_spec, ServiceSpec};
use dane_exporter::config::{
    CertificateSource, CertificateSpec, Config, DirectionScope, Global, OperationsConfig,
    Overrides, TargetSpec,
};
use dane_exporter::core::{Direction, Expectation, Reason, Verdict};
use dane_exporter::dns::{DnssecMode, Resolvers};
use dane_exporter::exporter::DaneExporter;
use dane_exporter::ingest::{StorageArgs, TlsRptCommand};
use dane_exporter::retained::{history_for_check, StorageOptions};
use dane_exporter::scheduler::{run_one, ProbeRunner, ProberRunner};
use dane_exporter::smtp::egress::{self, Egress};
use dane_exporter::web::{self, WebConfig};

/// The port in the exporters' 9100-9999 range this exporter listens on by default.
const DEFAULT_LISTEN_ADDRESS: &str = ":9724";

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
    /// localhost), or :PORT for every address; repeatable.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = DEFAULT_LISTEN_ADDRESS)]
    listen_address: Vec<String>,
    /// Taken off the scraper's X-Prometheus-Scrape-Timeout-Seconds for a /probe's deadline.
    #[arg(long = "timeout-offset", value_name = "DURATION", default_value = "500ms", value_parser = humantime::parse_duration)]
    timeout_offset: Duration,
    /// exporter-toolkit web configuration (TLS, basic auth, headers).
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
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
    Check(Box<CheckArgs>),
    /// TLS-RPT reports (RFC 8460) received by mail.
    #[command(subcommand)]
    Tlsrpt(TlsRptCommand),
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

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// The mail domain to check (the part after @).
    domain: String,
    /// Nameserver to ask, IP or IP:PORT; repeatable. Default: those of /etc/resolv.conf.
    #[arg(long = "nameserver", value_name = "ADDR", value_parser = parse_nameserver)]
    nameservers: Vec<SocketAddr>,
    /// How DNSSEC security is established.
    #[arg(long, value_enum, default_value_t = ModeArg::TrustResolver)]
    dnssec_mode: ModeArg,
    /// File of DNSKEY records replacing the built-in root trust anchor (validate mode).
    #[arg(long, value_name = "FILE")]
    trust_anchor: Option<PathBuf>,
    /// SMTP port; the TLSA name follows it (_PORT._tcp). Change it only for tests.
    #[arg(long, default_value_t = 25)]
    port: u16,
    /// Name to send in EHLO.
    #[arg(long, default_value = "dane-exporter.invalid")]
    ehlo: String,
    /// Time allowed for each DNS lookup, TCP connect and TLS handshake, e.g. "5s", "1500ms".
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Time allowed for each SMTP reply (greeting, EHLO, STARTTLS): greet-pausing servers hold
    /// their greeting for many seconds.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    reply_timeout: Duration,
    /// Print the full report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Another TLS service to check against its own TLSA RRset: HOST:PORT (465, 587, 993, 143,
    /// 995, 110, 443) or HOST:PORT/PROTOCOL/TLS (smtp|imap|pop3|https, implicit|starttls);
    /// repeatable. A failing service makes the exit code 1.
    #[arg(long = "service", value_name = "SPEC", value_parser = parse_spec)]
    services: Vec<ServiceSpec>,
    /// PEM CA certificates trusted, besides Mozilla's roots, for services' PKIX TLSA usages.
    #[arg(long, value_name = "FILE")]
    service_ca: Option<PathBuf>,
    /// Skip the MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) checks.
    #[arg(long)]
    no_mta_sts: bool,
    /// Skip the extra STARTTLS session per other key algorithm (ECDSA, RSA) a DANE endpoint is
    /// checked with; the exporter's `key_algorithm_checks: none`.
    #[arg(long)]
    no_key_algorithms: bool,
    /// PEM file of roots trusted for MTA-STS besides Mozilla's (a private CA).
    #[arg(long, value_name = "FILE")]
    mta_sts_ca_file: Option<PathBuf>,
    /// Port of the MTA-STS policy host. Change it only for tests.
    #[arg(long, default_value_t = 443)]
    https_port: u16,
    /// Local certificate of an MX host, as Postfix loads it (PEM, leaf first): is its key
    /// published in TLSA? Repeatable.
    #[arg(long = "certificate", value_name = "MX=FILE", value_parser = parse_mx_path)]
    certificates: Vec<(String, PathBuf)>,
    /// The staged next certificate of an MX host named by --certificate. Repeatable.
    #[arg(long = "staged-certificate", value_name = "MX=FILE", value_parser = parse_mx_path)]
    staged_certificates: Vec<(String, PathBuf)>,
    /// A certbot lineage directory (/etc/letsencrypt/live/NAME) of an MX host. Repeatable.
    #[arg(long = "certbot-lineage", value_name = "MX=DIR", value_parser = parse_mx_path)]
    lineages: Vec<(String, PathBuf)>,
    /// Do not ask the authoritative nameservers of the TLSA and MX zones directly.
    #[arg(long)]
    no_authoritative: bool,
    /// Port the authoritative nameservers are asked on (NS records carry none). For tests only.
    #[arg(long, default_value_t = 53)]
    authoritative_port: u16,
    /// What the verdict is held to: "dane" fails a domain DANE does not apply to
    /// (dane_expected); "any" takes it as it is.
    #[arg(long, value_enum, default_value_t = ExpectArg::Any)]
    expect: ExpectArg,
    /// The resolver canary's name that must validate (AD) under the resolver's trust anchor.
    #[arg(long, value_name = "NAME", default_value = ".", value_parser = parse_canary)]
    canary_secure_name: String,
    /// The resolver canary's name that must fail validation (SERVFAIL); "" skips it.
    #[arg(long, value_name = "NAME", default_value = "dnssec-failed.org", value_parser = parse_canary)]
    canary_bogus_name: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ExpectArg {
    /// DANE must apply.
    Dane,
    /// Any verdict stands.
    Any,
}

/// A canary name: `.`, empty, or a domain name (normalised).
fn parse_canary(text: &str) -> Result<String, String> {
    match text.trim() {
        "." => Ok(".".to_string()),
        "" => Ok(String::new()),
        name => dane_exporter::core::normalize_domain(name)
            .map_err(|e| format!("{name:?} is not a domain name: {e}")),
    }
}

/// `MX=PATH`, the MX host name normalised.
fn parse_mx_path(text: &str) -> Result<(String, PathBuf), String> {
    let (mx, path) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not MX=PATH"))?;
    let mx = dane_exporter::core::normalize_domain(mx)
        .map_err(|e| format!("{mx:?} is not a host name: {e}"))?;
    if path.is_empty() {
        return Err(format!("{text:?} has an empty path"));
    }
    Ok((mx, PathBuf::from(path)))
}

/// The `--certificate`, `--staged-certificate` and `--certbot-lineage` options as configuration
/// entries; a staged certificate without a live one for its MX host is a usage error.
fn certificate_specs(args: &CheckArgs) -> Result<Vec<CertificateSpec>, String> {
    let mut specs: Vec<CertificateSpec> = Vec::new();
    for (mx, live) in &args.certificates {
        let staged = args
            .staged_certificates
            .iter()
            .find(|(m, _)| m == mx)
            .map(|(_, p)| p.clone());
        specs.push(CertificateSpec {
            mx: mx.clone(),
            source: CertificateSource::Files {
                live: live.clone(),
                staged,
            },
        });
    }
    if let Some((mx, _)) = args
        .staged_certificates
        .iter()
        .find(|(m, _)| !args.certificates.iter().any(|(c, _)| c == m))
    {
        return Err(format!(
            "--staged-certificate {mx}=... needs --certificate {mx}=... (the live one)"
        ));
    }
    for (mx, dir) in &args.lineages {
        specs.push(CertificateSpec {
            mx: mx.clone(),
            source: CertificateSource::Lineage(dir.clone()),
        });
    }
    Ok(specs)
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    /// Trust the AD bit of a validating resolver (what Postfix does).
    TrustResolver,
    /// Validate DNSSEC here, against trust anchors.
    Validate,
}

fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{text:?} is not an IP address or IP:PORT"))
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
    // `check` speaks to a person: warnings only, and a status line on a terminal.
    let status = match &cli.command {
        Some(Command::Check(_)) => init_check_logging(LogLevel::Warn, cli.log_format),
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
        Some(Command::Check(args)) => runtime.block_on(run_check(*args, cli.storage, status)),
        Some(Command::Tlsrpt(command)) => ExitCode::from(dane_exporter::ingest::run(
            &command,
            &cli.storage,
            &cli.config_file,
        )),
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
fn log_filter(level: LogLevel) -> EnvFilter {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    EnvFilter::new(format!("warn,dane_exporter={level}"))
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
    // Each flag with the sockets it stands for: every one must bind, but a name needs one only
    // (`localhost` may resolve to ::1 on a host without IPv6).
    let mut wanted: Vec<(&str, Vec<SocketAddr>)> = Vec::new();
    for text in &cli.listen_address {
        match listen_addresses("--web.listen-address", text).await {
            Ok(found) => wanted.push((text, found)),
            Err(error) => {
                tracing::error!(%error, "bad flag");
                return ExitCode::from(2);
            }
        }
    }
    let tlsrpt_addresses = match cli.storage.tlsrpt_listen_address.as_deref() {
        Some(text) => match listen_addresses("--tlsrpt.listen-address", text).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(%error, "bad flag");
                return ExitCode::from(2);
            }
        },
        None => Vec::new(),
    };
    let web_config = match &cli.web_config_file {
        Some(path) => match WebConfig::load(path) {
            Ok(config) => Some(config),
            Err(error) => {
                tracing::error!(%error, "cannot load the web configuration");
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let storage = StorageOptions {
        path: cli.storage.path.clone(),
        retention: cli.storage.retention,
        max_organizations: cli.storage.max_organizations,
    };
    let exporter = match DaneExporter::start_with(&cli.config_file, Some(storage)).await {
        Ok(exporter) => exporter,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::from(1);
        }
    };
    let mut listeners = Vec::new();
    let mut bound: Vec<SocketAddr> = Vec::new();
    for (text, addresses) in wanted {
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
                        config = %cli.config_file.display(),
                        tls = web_config.as_ref().is_some_and(|c| c.tls_enabled()),
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
                    return ExitCode::from(1);
                }
            }
        }
        if let (true, Some(error)) = (listeners.len() == before, last_error) {
            tracing::error!(flag = text, %error, "cannot listen on any address of the name");
            return ExitCode::from(1);
        }
    }

    let served: Arc<dyn web::Exporter> = exporter.clone();
    let hangups = tokio::spawn({
        let exporter = Arc::clone(&served);
        async move {
            if let Err(error) = web::reload_on_sighup(exporter).await {
                tracing::error!(%error, "cannot watch SIGHUP; reload with POST /-/reload");
            }
        }
    });
    // The TLS-RPT listeners stop when the main ones do.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tlsrpt = Vec::new();
    for address in tlsrpt_addresses {
        let listener = match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%address, %error, "cannot listen for TLS-RPT reports");
                return ExitCode::from(1);
            }
        };
        tracing::info!(%address, "TLS-RPT listener: POST {}", web::TLSRPT_PATH);
        let mut stopped = stopped.clone();
        tlsrpt.push(tokio::spawn(web::serve_tlsrpt(
            listener,
            web_config.clone(),
            exporter.clone(),
            Default::default(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        )));
    }
    let options = web::ServeOptions {
        timeout_offset: cli.timeout_offset,
        ..Default::default()
    };
    web::serve_all(listeners, web_config, served, options, shutdown_signal()).await;
    tracing::info!("shutting down: letting running probes finish");
    hangups.abort();
    let _ = stop.send(true);
    for task in tlsrpt {
        let _ = task.await;
    }
    exporter.shutdown(SHUTDOWN_GRACE).await;
    ExitCode::SUCCESS
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

/// How long one `check` may take in all: every step is bounded by `--timeout` already, this
/// only stops a pathological sum of them (many MX hosts, each step at its limit).
const CHECK_DEADLINE_STEPS: u32 = 30;

async fn run_check(
    args: CheckArgs,
    storage: StorageArgs,
    status: Option<logging::StatusLine>,
) -> ExitCode {
    let target = match check_target(&args) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("dane_exporter: {error}");
            return ExitCode::from(2);
        }
    };
    // The running exporter's clocks, verdict times and TLS-RPT reports, read, never written.
    let history = match history_for_check(&storage.path) {
        Ok(history) => Arc::new(history),
        Err(error) => {
            eprintln!("dane_exporter: {error}");
            return ExitCode::from(2);
        }
    };
    let resolvers = Arc::new(Resolvers::new(canary_of(&args)));
    let runner = match ProberRunner::watching(std::slice::from_ref(&target), None, resolvers) {
        Ok(runner) => runner.with_history(history),
        Err(error) => {
            eprintln!("dane_exporter: {error}");
            return ExitCode::from(2);
        }
    };
    // The canary once before probing, as the exporter does at start: a resolver that does not
    // validate or does not answer makes the verdict unknown instead of the domain's failure.
    runner.check_resolvers().await;
    // MTA-STS findings are printed but, like in the exporter, never change the exit code: that is
    // the DANE verdict's.
    let report = match &status {
        None => run_one(&target, &runner).await,
        Some(line) => {
            // The seconds count up while a server is silent, so a wait never looks like a hang.
            let ticker = {
                let line = line.clone();
                tokio::spawn(async move {
                    loop {
                        line.redraw();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                })
            };
            let report = run_one(&target, &runner).await;
            ticker.abort();
            line.clear();
            report
        }
    };
    if args.json {
        println!("{}", dane_exporter::report::to_json(&report));
    } else {
        // NO_COLOR (https://no-color.org): present and not empty turns colour off.
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let style = dane_exporter::text::Style { colour };
        print!("{}", dane_exporter::text::render_styled(&report, style));
    }
    if let Some(sentence) = blind_sentence(&args, &report) {
        eprintln!("dane_exporter: {sentence}");
        return ExitCode::from(2);
    }
    let service_failed = report.services.iter().any(|s| s.verdict == Verdict::Fail);
    // Encrypt-only delivers mail, but DANE authenticates none of it: a problem to fix.
    match report.verdict {
        Verdict::Pass | Verdict::NotApplicable if !service_failed => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// The canary of `check`: its names, each query bounded by `--timeout` and 5 s.
fn canary_of(args: &CheckArgs) -> dane_exporter::dns::CanarySettings {
    Global {
        step_timeout: args.timeout,
        canary_secure_name: args.canary_secure_name.clone(),
        canary_bogus_name: Some(args.canary_bogus_name.clone()).filter(|n| !n.is_empty()),
        ..Global::default()
    }
    .canary()
}

/// Why this host could not see, in one sentence with the fix, when it could not: the verdict
/// is unknown (the resolver), or no SMTP connection could leave this host.
fn blind_sentence(
    args: &CheckArgs,
    report: &dane_exporter::report::DomainReport,
) -> Option<String> {
    if let Some(finding) = report.unknown.first() {
        let (what, fix) = match finding.reason {
            Reason::ResolverNotValidating => (
                "the resolver does not validate DNSSEC",
                "use a validating resolver (--nameserver) or --dnssec-mode validate",
            ),
            _ => (
                "no resolver answers",
                "check --nameserver (or /etc/resolv.conf) and that this host can reach it",
            ),
        };
        let servers = report_servers(args);
        return Some(format!(
            "no verdict for {}: {what} ({servers}), so nothing can be known about the domain; {fix}.",
            report.domain()
        ));
    }
    match egress::judge(
        egress::report_outcomes(&report.mx)
            .iter()
            .map(|(address, outcome)| (address, outcome)),
    ) {
        Egress::Blocked { failure, addresses } => Some(format!(
            "no verdict for {}: no SMTP connection could leave this host ({addresses} addresses, each: {}), so the failures are this host's; open outgoing TCP port {} (or run the check where it is open).",
            report.domain(),
            failure.text(),
            args.port
        )),
        _ => None,
    }
}

/// The resolvers `check` asked, for its sentences.
fn report_servers(args: &CheckArgs) -> String {
    if args.nameservers.is_empty() {
        "the nameservers of /etc/resolv.conf".to_string()
    } else {
        args.nameservers
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
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

/// The flags of `check` as a configuration with one inbound target, resolved by the
/// configuration's own rules: what the exporter would probe for the same settings.
fn check_target(args: &CheckArgs) -> Result<dane_exporter::target::Target, String> {
    let certificates = certificate_specs(args)?;
    let service_ca_pem = match &args.service_ca {
        Some(path) => Some(
            dane_exporter::config::read_service_ca(path)
                .map_err(|error| format!("--service-ca {}: {error}", path.display()))?,
        ),
        None => None,
    };
    if let Some(path) = &args.mta_sts_ca_file {
        dane_exporter::checks::mta_sts::webpki::read_ca_file(path).map_err(|e| e.to_string())?;
    }
    let scope = |enabled: bool| {
        if enabled {
            DirectionScope::All
        } else {
            DirectionScope::None
        }
    };
    let config = Config {
        global: Global {
            timeout: args.timeout * CHECK_DEADLINE_STEPS + args.reply_timeout * 3,
            step_timeout: args.timeout,
            smtp_reply_timeout: args.reply_timeout,
            dnssec_mode: match args.dnssec_mode {
                ModeArg::TrustResolver => DnssecMode::TrustResolver,
                ModeArg::Validate => DnssecMode::Validate,
            },
            nameservers: args.nameservers.clone(),
            trust_anchor_file: args.trust_anchor.clone(),
            ehlo_name: args.ehlo.clone(),
            smtp_port: args.port,
            service_ca_pem,
            mta_sts_ca_file: args.mta_sts_ca_file.clone(),
            https_port: args.https_port,
            operations: OperationsConfig {
                authoritative_checks: scope(!args.no_authoritative),
                key_algorithm_checks: scope(!args.no_key_algorithms),
                authoritative_port: args.authoritative_port,
                ..OperationsConfig::default()
            },
            ..Global::default()
        },
        ..Config::default()
    };
    let spec = TargetSpec {
        domain: args.domain.clone(),
        labels: Default::default(),
        overrides: Overrides {
            mta_sts: Some(!args.no_mta_sts),
            tls_rpt: Some(!args.no_mta_sts),
            expect: Some(match args.expect {
                ExpectArg::Dane => Expectation::Dane,
                ExpectArg::Any => Expectation::Any,
            }),
            ..Overrides::default()
        },
        services: args.services.clone(),
        certificates,
    };
    Ok(config.resolve(&spec, Direction::Inbound, &config.service_trust()))
}
