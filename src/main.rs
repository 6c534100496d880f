//! The `dane_exporter` binary: flags, logging, signals; everything else is the library.
//!
//! - `dane_exporter [--config.file=F] [--web.listen-address=A] ...` runs the exporter: the
//!   scheduler probes the configured domains, HTTP serves `/metrics`, `/probe` and friends,
//!   SIGHUP reloads the configuration, SIGTERM/SIGINT shut down cleanly.
//! - `dane_exporter --config.check --config.file=F` validates the configuration and exits.
//! - `dane_exporter check DOMAIN` probes one domain once, through the same `Prober`, and prints a
//!   report. Exit status: 0 pass or not applicable, 1 fail, 2 bad usage or setup error.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use dane_exporter::config::{CertificateSource, CertificateSpec};
use dane_exporter::consistency::{AuthoritativeSettings, OperationsSettings};
use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use dane_exporter::exporter::DaneExporter;
use dane_exporter::mta_sts::MtaStsSettings;
use dane_exporter::probe::Prober;
use dane_exporter::report::Verdict;
use dane_exporter::smtp::SmtpSettings;
use dane_exporter::web::{self, WebConfig};

/// The port in the exporters' 9100-9999 range this exporter listens on by default.
const DEFAULT_LISTEN_ADDRESS: &str = ":9724";

/// How long running probes and HTTP requests may go on after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(
    name = "dane_exporter",
    version,
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
    /// Address to listen on for HTTP: HOST:PORT, or :PORT for every address.
    #[arg(long = "web.listen-address", value_name = "ADDR", default_value = DEFAULT_LISTEN_ADDRESS)]
    listen_address: String,
    /// exporter-toolkit web configuration (TLS, basic auth, headers).
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Only log messages of at least this severity.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,
    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    log_format: LogFormat,
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
    Check(CheckArgs),
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
    /// Time allowed for each DNS lookup and each SMTP step, e.g. "5s", "1500ms".
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Print the full report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Another TLS service to check against its own TLSA RRset: HOST:PORT (465, 587, 993, 143,
    /// 995, 110, 443) or HOST:PORT/PROTOCOL/TLS (smtp|imap|pop3|https, implicit|starttls);
    /// repeatable. A failing service makes the exit code 1.
    #[arg(long = "service", value_name = "SPEC", value_parser = dane_exporter::service::parse_spec)]
    services: Vec<dane_exporter::service::ServiceSpec>,
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
}

/// `MX=PATH`, the MX host name normalised.
fn parse_mx_path(text: &str) -> Result<(String, PathBuf), String> {
    let (mx, path) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not MX=PATH"))?;
    let mx = dane_exporter::config::normalize_domain(mx)
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

/// `:9724` means every address, as in the Go exporters.
fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("[::]{text}")
    } else {
        text.to_string()
    };
    full.parse::<SocketAddr>()
        .map_err(|_| format!("--web.listen-address {text:?} is not HOST:PORT or :PORT"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level, cli.log_format);
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
        Some(Command::Check(args)) => runtime.block_on(run_check(args)),
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

fn init_logging(level: LogLevel, format: LogFormat) {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    // Our crate at the chosen level; the libraries only when they warn.
    let filter = EnvFilter::new(format!("warn,dane_exporter={level}"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Logfmt => builder
            .event_format(tracing_logfmt::EventsFormatter::default())
            .fmt_fields(tracing_logfmt::FieldsFormatter::default())
            .try_init(),
    };
    if let Err(error) = result {
        eprintln!("dane_exporter: cannot set up logging: {error}");
    }
}

async fn run_exporter(cli: Cli) -> ExitCode {
    let address = match parse_listen_address(&cli.listen_address) {
        Ok(address) => address,
        Err(error) => {
            tracing::error!(%error, "bad flag");
            return ExitCode::from(2);
        }
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
    let exporter = match DaneExporter::start(&cli.config_file).await {
        Ok(exporter) => exporter,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::from(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%address, %error, "cannot listen");
            return ExitCode::from(1);
        }
    };
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

    let served: Arc<dyn web::Exporter> = exporter.clone();
    let hangups = tokio::spawn({
        let exporter = Arc::clone(&served);
        async move {
            if let Err(error) = web::reload_on_sighup(exporter).await {
                tracing::error!(%error, "cannot watch SIGHUP; reload with POST /-/reload");
            }
        }
    });
    web::serve(listener, web_config, served, shutdown_signal()).await;
    tracing::info!("shutting down: letting running probes finish");
    hangups.abort();
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

async fn run_check(args: CheckArgs) -> ExitCode {
    let certificates = match certificate_specs(&args) {
        Ok(specs) => specs,
        Err(error) => {
            eprintln!("dane_exporter: {error}");
            return ExitCode::from(2);
        }
    };
    let dns_settings = DnsSettings {
        mode: match args.dnssec_mode {
            ModeArg::TrustResolver => DnssecMode::TrustResolver,
            ModeArg::Validate => DnssecMode::Validate,
        },
        nameservers: args.nameservers,
        trust_anchor_file: args.trust_anchor,
        timeout: args.timeout,
    };
    let smtp_settings = SmtpSettings {
        port: args.port,
        ehlo_name: args.ehlo,
        step_timeout: args.timeout,
    };
    let dns = match DnsClient::new(&dns_settings) {
        Ok(dns) => dns,
        Err(error) => {
            eprintln!("dane_exporter: {error}");
            return ExitCode::from(2);
        }
    };
    let mut trust = dane_exporter::dane::PkixTrust::public_roots();
    if let Some(path) = &args.service_ca {
        let loaded = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|pem| trust.with_pem_bundle(&pem).map_err(|e| e.to_string()));
        match loaded {
            Ok(with_ca) => trust = with_ca,
            Err(error) => {
                eprintln!("dane_exporter: --service-ca {}: {error}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    if let Some(path) = &args.mta_sts_ca_file {
        if let Err(error) = dane_exporter::mta_sts::webpki::read_ca_file(path) {
            eprintln!("dane_exporter: {error}");
            return ExitCode::from(2);
        }
    }
    let authoritative = (!args.no_authoritative).then(|| AuthoritativeSettings {
        port: args.authoritative_port,
        timeout: args.timeout,
        resolvers: dane_exporter::dns::resolver_addresses(&dns_settings).unwrap_or_default(),
    });
    let step_timeout = smtp_settings.step_timeout;
    // MTA-STS findings are printed but, like in the exporter, never change the exit code: that is
    // the DANE verdict's.
    let prober = Prober::new(dns, smtp_settings)
        .with_operations(OperationsSettings {
            authoritative,
            hygiene: Default::default(),
        })
        .with_mta_sts(MtaStsSettings {
            mta_sts: !args.no_mta_sts,
            tls_rpt: !args.no_mta_sts,
            ca_file: args.mta_sts_ca_file,
            https_port: args.https_port,
        })
        .with_services(args.services, Arc::new(trust))
        .with_key_algorithms(!args.no_key_algorithms);
    let mut report = prober.probe_domain(&args.domain).await;
    // A one-off check has no publication history: records count as first seen now.
    let history = dane_exporter::local_certs::PublicationLog::new();
    dane_exporter::local_certs::attach(&mut report, &certificates, &history, step_timeout).await;
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("dane_exporter: cannot encode the report: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", dane_exporter::check::render(&report));
    }
    let service_failed = report.services.iter().any(|s| s.verdict == Verdict::Fail);
    match report.verdict {
        Verdict::Pass | Verdict::NotApplicable if !service_failed => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}
