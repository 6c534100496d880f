//! `dane_exporter tlsa`: its flags, the [`crate::tlsa::Request`] they make, and the run that
//! prints the records (stdout) and the warnings (stderr) and gives the exit status.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use super::{with_status, NetworkArgs};
use crate::logging::StatusLine;
use crate::tlsa;

/// The flags of `tlsa`.
#[derive(clap::Args, Debug)]
pub struct TlsaArgs {
    /// PEM file of the current key: a certificate chain (leaf first) or a public or private key.
    #[arg(value_name = "FILE", required_unless_present_any = ["lineage", "connect"])]
    file: Option<PathBuf>,
    /// A certbot lineage directory (/etc/letsencrypt/live/NAME): its fullchain.pem is the
    /// current key, a newer archive version not yet linked is the next.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["file", "connect"])]
    lineage: Option<PathBuf>,
    /// The current key is what this server presents after STARTTLS: HOST or HOST:PORT (the
    /// port replaces --port).
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "file")]
    connect: Option<String>,
    /// The next key: a PEM certificate or key file (replaces a lineage's staged certificate).
    #[arg(long, value_name = "FILE")]
    next: Option<PathBuf>,
    /// The host the records are for (_PORT._tcp.HOST). Default: the --connect name, else the
    /// certificate's first DNS name.
    #[arg(long)]
    host: Option<String>,
    /// Certificate usage: 3 DANE-EE (the server's key), 2 DANE-TA (its issuer).
    #[arg(long, default_value_t = 3)]
    usage: u8,
    /// Selector: 1 the public key, 0 the whole certificate.
    #[arg(long, default_value_t = 1)]
    selector: u8,
    /// Matching type: 1 SHA-256, 2 SHA-512, 0 the data itself.
    #[arg(long = "mtype", default_value_t = 1)]
    matching: u8,
    /// Compare with what DNS publishes now and what the server presents, and print the step of
    /// the key rollover (RFC 7671 section 8) and the next action. Exit 1 when DANE senders
    /// defer mail to the host now, as `check` does.
    #[arg(long)]
    check: bool,
    /// When the next key's record was published (Unix seconds or RFC 3339): --check then says
    /// until when to wait before the switch.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    published_at: Option<i64>,
    #[command(flatten)]
    net: NetworkArgs,
}

impl TlsaArgs {
    /// The request these flags make; the error names the flag.
    pub fn request(self) -> Result<tlsa::Request, String> {
        let mut port = self.net.port;
        let source = match (self.file, self.lineage, self.connect) {
            (Some(file), None, None) => tlsa::Source::File(file),
            (None, Some(dir), None) => tlsa::Source::Lineage(dir),
            (None, None, Some(connect)) => {
                let (host, given) = split_host_port(&connect)?;
                port = given.unwrap_or(port);
                tlsa::Source::Connect(host)
            }
            _ => return Err("give one of FILE, --lineage DIR, --connect HOST[:PORT]".into()),
        };
        Ok(tlsa::Request {
            source,
            next: self.next,
            host: self.host,
            port,
            params: tlsa::Params {
                usage: self.usage,
                selector: self.selector,
                matching: self.matching,
            },
            check: self.check,
            published_at: self.published_at,
            dns: self.net.dns(),
            canary: self.net.canary(),
            smtp: self.net.smtp(port),
        })
    }
}

/// Runs `tlsa`: 0, or 1 when DANE senders defer mail to the host now (`--check`), 2 for bad
/// usage, a file that gives no key, or a resolver that does not validate or does not answer.
pub async fn run(args: TlsaArgs, status: Option<StatusLine>) -> ExitCode {
    let request = match args.request() {
        Ok(request) => request,
        Err(error) => {
            eprintln!("dane_exporter tlsa: {error}");
            return ExitCode::from(2);
        }
    };
    match with_status(status.as_ref(), tlsa::run(&request)).await {
        Ok(report) => {
            for warning in &report.warnings {
                eprintln!("dane_exporter tlsa: warning: {warning}");
            }
            print!("{}", tlsa::render(&report));
            ExitCode::from(report.exit_code())
        }
        Err(error) => {
            eprintln!("dane_exporter tlsa: {error}");
            ExitCode::from(2)
        }
    }
}

/// Unix seconds, or an RFC 3339 time (`2026-05-01T12:00:00Z`).
fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    let time = humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("{text:?} is neither Unix seconds nor an RFC 3339 time: {e}"))?;
    time.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .map_err(|_| format!("{text:?} is before 1970"))
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address: the host and the port if given.
fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok((addr.ip().to_string(), Some(addr.port())));
    }
    if text.parse::<IpAddr>().is_ok() {
        return Ok((text.to_string(), None));
    }
    match text.rsplit_once(':') {
        Some((host, port)) => port
            .parse::<u16>()
            .map(|port| (host.to_string(), Some(port)))
            .map_err(|_| format!("--connect {text:?}: {port:?} is not a port")),
        None => Ok((text.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("mx.example"),
            Ok(("mx.example".into(), None))
        );
        assert_eq!(
            split_host_port("mx.example:2525"),
            Ok(("mx.example".into(), Some(2525)))
        );
        assert_eq!(split_host_port("[::1]:25"), Ok(("::1".into(), Some(25))));
        assert_eq!(
            split_host_port("2001:db8::1"),
            Ok(("2001:db8::1".into(), None))
        );
        assert!(split_host_port("mx.example:smtp").is_err());
    }

    #[test]
    fn times_in_seconds_or_rfc_3339() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000));
        assert!(parse_time("yesterday").is_err());
    }
}
