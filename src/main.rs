//! The `dane_exporter` binary: parses the command line and hands over to the library.
//!
//! `dane_exporter check DOMAIN` probes one domain once, through the same `Prober` the exporter's
//! scheduler uses, and prints a report. Exit status: 0 pass or not applicable, 1 fail, 2 bad usage
//! or setup error.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use dane_exporter::probe::Prober;
use dane_exporter::report::Verdict;
use dane_exporter::smtp::SmtpSettings;

#[derive(Parser, Debug)]
#[command(
    name = "dane_exporter",
    version,
    about = "Watches the DANE health of mail domains"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => run_check(args),
    }
}

fn run_check(args: CheckArgs) -> ExitCode {
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
    runtime.block_on(async {
        let dns = match DnsClient::new(&dns_settings) {
            Ok(dns) => dns,
            Err(error) => {
                eprintln!("dane_exporter: {error}");
                return ExitCode::from(2);
            }
        };
        let prober = Prober::new(dns, smtp_settings);
        let report = prober.probe_domain(&args.domain).await;
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
        match report.verdict {
            Verdict::Pass | Verdict::NotApplicable => ExitCode::SUCCESS,
            Verdict::Fail => ExitCode::from(1),
        }
    })
}
