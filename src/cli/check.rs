//! `dane_exporter check DOMAIN`: its flags, the one inbound target they resolve to through the
//! configuration's own rules (what the exporter would probe for the same settings), the probe
//! through the same `scheduler::run_one` the exporter uses, the report printed (text or JSON),
//! and the exit status: 0 pass or not applicable, 1 fail or encrypt only, 2 bad usage, a setup
//! error, or this host cannot see (its resolver, its SMTP egress), with one sentence on stderr.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::ValueEnum;

use super::{with_status, NetworkArgs};
use crate::checks::services::{parse_spec, ServiceSpec};
use crate::config::{
    CertificateSource, CertificateSpec, Config, DirectionScope, Global, OperationsConfig,
    Overrides, TargetSpec,
};
use crate::core::{Direction, Expectation, Reason, Verdict};
use crate::dns::Resolvers;
use crate::logging::StatusLine;
use crate::scheduler::{run_one, ProbeRunner, ProberRunner};
use crate::smtp::egress::{self, Egress};

/// The flags of `check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The mail domain to check (the part after @).
    domain: String,
    #[command(flatten)]
    net: NetworkArgs,
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
}

/// `--expect`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ExpectArg {
    /// DANE must apply.
    Dane,
    /// Any verdict stands.
    Any,
}

/// `MX=PATH`, the MX host name normalised.
fn parse_mx_path(text: &str) -> Result<(String, PathBuf), String> {
    let (mx, path) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not MX=PATH"))?;
    let mx =
        crate::core::normalize_domain(mx).map_err(|e| format!("{mx:?} is not a host name: {e}"))?;
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

/// How long one `check` may take in all: every step is bounded by `--timeout` already, this
/// only stops a pathological sum of them (many MX hosts, each step at its limit).
const CHECK_DEADLINE_STEPS: u32 = 30;

/// Runs `check` (the module doc).
pub async fn run(args: CheckArgs, storage: &Path, status: Option<StatusLine>) -> ExitCode {
    let target = match check_target(&args) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("dane_exporter: {error}");
            return ExitCode::from(2);
        }
    };
    // The running exporter's clocks, verdict times and TLS-RPT reports (`--storage.path`), read,
    // never written.
    let history = match crate::retained::history_for_check(storage) {
        Ok(history) => Arc::new(history),
        Err(error) => {
            eprintln!("dane_exporter: {error}");
            return ExitCode::from(2);
        }
    };
    let resolvers = Arc::new(Resolvers::new(args.net.canary()));
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
    let report = with_status(status.as_ref(), run_one(&target, &runner)).await;
    if args.json {
        println!("{}", crate::report::to_json(&report));
    } else {
        // NO_COLOR (https://no-color.org): present and not empty turns colour off.
        let colour = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let style = crate::text::Style { colour };
        print!("{}", crate::text::render_styled(&report, style));
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

/// Why this host could not see, in one sentence with the fix, when it could not: the verdict
/// is unknown (the resolver), or no SMTP connection could leave this host.
fn blind_sentence(args: &CheckArgs, report: &crate::report::DomainReport) -> Option<String> {
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
            args.net.port
        )),
        _ => None,
    }
}

/// The resolvers `check` asked, for its sentences.
fn report_servers(args: &CheckArgs) -> String {
    if args.net.nameservers.is_empty() {
        "the nameservers of /etc/resolv.conf".to_string()
    } else {
        args.net
            .nameservers
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The flags of `check` as a configuration with one inbound target, resolved by the
/// configuration's own rules: what the exporter would probe for the same settings.
fn check_target(args: &CheckArgs) -> Result<crate::target::Target, String> {
    let certificates = certificate_specs(args)?;
    let service_ca_pem = match &args.service_ca {
        Some(path) => Some(
            crate::config::read_service_ca(path)
                .map_err(|error| format!("--service-ca {}: {error}", path.display()))?,
        ),
        None => None,
    };
    if let Some(path) = &args.mta_sts_ca_file {
        crate::checks::mta_sts::webpki::read_ca_file(path).map_err(|e| e.to_string())?;
    }
    let scope = |enabled: bool| {
        if enabled {
            DirectionScope::All
        } else {
            DirectionScope::None
        }
    };
    let net = &args.net;
    let dns = net.dns();
    let config = Config {
        global: Global {
            timeout: net.timeout * CHECK_DEADLINE_STEPS + net.reply_timeout * 3,
            step_timeout: net.timeout,
            smtp_reply_timeout: net.reply_timeout,
            dnssec_mode: dns.mode,
            nameservers: dns.nameservers,
            trust_anchor_file: dns.trust_anchor_file,
            ehlo_name: net.ehlo.clone(),
            smtp_port: net.port,
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
