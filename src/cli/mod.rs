//! The subcommands `check` and `tlsa` of the binary (`src/main.rs`), and what they share: the
//! network flags (clap definitions, turned into the DNS, resolver canary and SMTP settings of
//! the library) and the status line kept up while a command waits. `main.rs` stays wiring: it
//! parses and hands over to these modules or to the library.

pub mod check;
pub mod tlsa;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use crate::config::Global;
use crate::dns::{CanarySettings, DnsSettings, DnssecMode};
use crate::logging::StatusLine;
use crate::smtp::SmtpSettings;

/// How `check` and `tlsa` reach DNS and the mail server.
#[derive(clap::Args, Debug)]
pub struct NetworkArgs {
    /// Nameserver to ask, IP or IP:PORT; repeatable. Default: those of /etc/resolv.conf.
    #[arg(long = "nameserver", value_name = "ADDR", value_parser = parse_nameserver)]
    pub nameservers: Vec<SocketAddr>,
    /// How DNSSEC security is established.
    #[arg(long, value_enum, default_value_t = ModeArg::TrustResolver)]
    pub dnssec_mode: ModeArg,
    /// File of DNSKEY records replacing the built-in root trust anchor (validate mode).
    #[arg(long, value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// SMTP port; the TLSA name follows it (_PORT._tcp). Change it only for tests.
    #[arg(long, default_value_t = 25)]
    pub port: u16,
    /// Name to send in EHLO.
    #[arg(long, default_value = "dane-exporter.invalid")]
    pub ehlo: String,
    /// Time allowed for each DNS lookup, TCP connect and TLS handshake, e.g. "5s", "1500ms".
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Time allowed for each SMTP reply (greeting, EHLO, STARTTLS): greet-pausing servers hold
    /// their greeting for many seconds.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub reply_timeout: Duration,
    /// The resolver canary's name that must validate (AD) under the resolver's trust anchor.
    #[arg(long, value_name = "NAME", default_value = ".", value_parser = parse_canary)]
    pub canary_secure_name: String,
    /// The resolver canary's name that must fail validation (SERVFAIL); "" skips it.
    #[arg(long, value_name = "NAME", default_value = "dnssec-failed.org", value_parser = parse_canary)]
    pub canary_bogus_name: String,
}

impl NetworkArgs {
    /// The DNS settings these flags give.
    pub fn dns(&self) -> DnsSettings {
        DnsSettings {
            mode: match self.dnssec_mode {
                ModeArg::TrustResolver => DnssecMode::TrustResolver,
                ModeArg::Validate => DnssecMode::Validate,
            },
            nameservers: self.nameservers.clone(),
            trust_anchor_file: self.trust_anchor.clone(),
            timeout: self.timeout,
        }
    }

    /// The resolver canary these flags give: its names, each query bounded by `--timeout` and
    /// 5 s (the configuration's rule).
    pub fn canary(&self) -> CanarySettings {
        Global {
            step_timeout: self.timeout,
            canary_secure_name: self.canary_secure_name.clone(),
            canary_bogus_name: Some(self.canary_bogus_name.clone()).filter(|n| !n.is_empty()),
            ..Global::default()
        }
        .canary()
    }

    /// The SMTP settings these flags give, for a server on `port`.
    pub fn smtp(&self, port: u16) -> SmtpSettings {
        SmtpSettings {
            port,
            ehlo_name: self.ehlo.clone(),
            step_timeout: self.timeout,
            reply_timeout: self.reply_timeout,
            tls_fallback: true,
        }
    }
}

/// `--dnssec-mode`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    /// Trust the AD bit of a validating resolver (what Postfix does).
    TrustResolver,
    /// Validate DNSSEC here, against trust anchors.
    Validate,
}

/// `--nameserver`: IP or IP:PORT (53 when none).
fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{text:?} is not an IP address or IP:PORT"))
}

/// A canary name: `.`, empty, or a domain name (normalised).
fn parse_canary(text: &str) -> Result<String, String> {
    match text.trim() {
        "." => Ok(".".to_string()),
        "" => Ok(String::new()),
        name => crate::core::normalize_domain(name)
            .map_err(|e| format!("{name:?} is not a domain name: {e}")),
    }
}

/// Runs `work` with the status line (when on a terminal) redrawn every second, and erased before
/// the caller prints.
pub async fn with_status<T>(status: Option<&StatusLine>, work: impl Future<Output = T>) -> T {
    let Some(line) = status else {
        return work.await;
    };
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
    let result = work.await;
    ticker.abort();
    line.clear();
    result
}
