//! `dane_exporter tlsa`: the TLSA records to publish for a mail server's current key and its
//! next one, as zone-file lines, and with `--check` where a key rollover (RFC 7671 section 8,
//! "current + next") stands against what DNS publishes now and what the server presents.
//!
//! Input comes from the flags (`crate::cli::tlsa`) as a [`Request`]: where the current key is (a
//! PEM file, a certbot lineage, or a live server's STARTTLS chain), the next key (a file, or the
//! lineage's staged certificate), the record parameters, and for `--check` the same DNS settings
//! `check` uses.
//! Output is a [`Report`] that `text` renders and whose [`Report::exit_code`] follows `check`'s.
//!
//! - `material`: reading keys and certificates, computing and matching records (through
//!   `crate::dane`, the exporter's own matching code).
//! - `rollover`: the step of the rollover and the next action, pure.
//! - `text`: the output.
//!
//! Records are what `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`
//! (selector 1) or `openssl x509 -outform DER | sha256sum` (selector 0) compute; the tests
//! compare with those pipelines.

mod material;
mod rollover;
mod text;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::checks::local_certs::lineage_files;
use crate::core::{normalize_domain, unix_now, RecordSet, RecordType, TlsaRecord, UnixSeconds};
use crate::dns::{Blindness, CanarySettings, DnsClient, DnsSettings, DnsSetupError, Resolvers};
use crate::probe::sight;
use crate::smtp::{probe_starttls, SmtpSettings};

pub use material::{Material, MaterialError, Params};
pub use rollover::{Published, Step};
pub use text::render;

/// Where the current key comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A PEM file: a chain (leaf first) or a bare public or private key.
    File(PathBuf),
    /// A certbot lineage directory: its `fullchain.pem` is current, a newer archive version is
    /// the next key (as the exporter's certificate check reads it).
    Lineage(PathBuf),
    /// What the server (a host name or an address) presents after STARTTLS on
    /// [`Request::port`].
    Connect(String),
}

/// One run of the command, flags resolved.
#[derive(Clone, Debug)]
pub struct Request {
    /// The current key.
    pub source: Source,
    /// The next key's file (certificate or key); beside a lineage it replaces the staged one.
    pub next: Option<PathBuf>,
    /// The host the TLSA records are for (`_PORT._tcp.HOST`); default: the `--connect` host
    /// name, else the current leaf's first DNS name.
    pub host: Option<String>,
    /// The SMTP port: the TLSA name follows it, and `--connect` and `--check` connect to it.
    pub port: u16,
    /// Usage, selector and matching type of the records printed.
    pub params: Params,
    /// Compare with DNS and the server, and say where the rollover stands.
    pub check: bool,
    /// When the next key's record was published, if the postmaster knows.
    pub published_at: Option<UnixSeconds>,
    /// DNS settings (mode, resolvers, trust anchor, timeout), as for `check`.
    pub dns: DnsSettings,
    /// The resolver canary `--check` asks first, as `check` does.
    pub canary: CanarySettings,
    /// SMTP settings for the STARTTLS sessions.
    pub smtp: SmtpSettings,
}

/// Whose record a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The key in use now.
    Current,
    /// The key that replaces it.
    Next,
}

/// One key and its record.
#[derive(Clone, Debug)]
pub struct KeyRecord {
    /// Current or next.
    pub role: Role,
    /// The key.
    pub material: Material,
    /// Its record with the requested parameters.
    pub record: TlsaRecord,
}

/// What `--check` found.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The published RRset.
    pub published: Published,
    /// The server's key, or why it was not learned.
    pub served: Result<Material, String>,
    /// Where the rollover stands.
    pub step: Step,
    /// When this was decided.
    pub now: UnixSeconds,
}

/// Everything the command prints.
#[derive(Clone, Debug)]
pub struct Report {
    /// The TLSA owner name, fully qualified: `_25._tcp.mx.example.org.`.
    pub owner: String,
    /// The record parameters.
    pub params: Params,
    /// Current first, then next when there is one.
    pub keys: Vec<KeyRecord>,
    /// Advice about the chosen parameters (to standard error).
    pub warnings: Vec<String>,
    /// `--check`'s findings.
    pub check: Option<CheckReport>,
}

impl Report {
    /// `check`'s exit codes: 1 when DANE senders defer mail to the host now (the published
    /// RRset does not cover the key in use, or the TLSA lookup fails), 2 when this host cannot
    /// see (its resolver does not validate or does not answer), else 0.
    pub fn exit_code(&self) -> u8 {
        match &self.check {
            Some(CheckReport {
                step: Step::Blind(_),
                ..
            }) => 2,
            Some(check) if check.step.mail_deferred() => 1,
            _ => 0,
        }
    }
}

/// Why the command could not run (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum TlsaError {
    /// A key or certificate could not be read or used.
    #[error(transparent)]
    Material(#[from] MaterialError),
    /// The certbot lineage could not be read.
    #[error("{}: {detail}", dir.display())]
    Lineage {
        /// The lineage directory.
        dir: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// No host for the TLSA name: nothing names one.
    #[error("no host name for the TLSA record: give --host (the key file names none)")]
    NoHost,
    /// The host is not a usable DNS name.
    #[error("--host {0:?} is not a host name")]
    BadHost(String),
    /// The resolver could not be set up.
    #[error(transparent)]
    Dns(#[from] DnsSetupError),
    /// `--connect` got no chain.
    #[error("--connect {host} port {port}: {detail}")]
    Connect {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// What failed.
        detail: String,
    },
}

/// Runs the command: reads the keys, computes their records, and with `--check` looks up the
/// TLSA RRset and connects to the server.
pub async fn run(request: &Request) -> Result<Report, TlsaError> {
    // A resolver only for what needs one: `--check`, and `--connect` to a name. `--check` asks
    // the canary first, as `check` does: a resolver that does not validate or does not answer
    // is this host's problem, not the published records'.
    let dns = match (request.check, &request.source) {
        (true, _) => {
            let resolvers = Arc::new(Resolvers::new(request.canary.clone()));
            let dns = DnsClient::observed(&request.dns, Arc::clone(&resolvers))?;
            resolvers.check_all().await;
            Some(dns)
        }
        (_, Source::Connect(_)) => Some(DnsClient::new(&request.dns)?),
        _ => None,
    };
    let (current, staged, served) = match &request.source {
        Source::File(path) => (Material::read(path)?, None, None),
        Source::Lineage(dir) => {
            let (live, staged) = lineage_files(dir).map_err(|e| TlsaError::Lineage {
                dir: dir.clone(),
                detail: e.to_string(),
            })?;
            let staged = staged.map(|path| Material::read(&path)).transpose()?;
            (Material::read(&live)?, staged, None)
        }
        Source::Connect(host) => {
            let chain = connect(dns.as_ref(), host, request)
                .await
                .map_err(|detail| TlsaError::Connect {
                    host: host.clone(),
                    port: request.port,
                    detail,
                })?;
            (chain.clone(), None, Some(chain))
        }
    };
    let next = match &request.next {
        Some(path) => Some(Material::read(path)?),
        None => staged,
    };
    let host = tlsa_host(request, &current)?;
    let owner = format!("_{}._tcp.{host}.", request.port);

    let mut keys = vec![KeyRecord {
        role: Role::Current,
        record: current.record(request.params)?,
        material: current.clone(),
    }];
    if let Some(next) = &next {
        keys.push(KeyRecord {
            role: Role::Next,
            record: next.record(request.params)?,
            material: next.clone(),
        });
    }
    let warnings = text::advice(request.params);

    let check = if let (true, Some(dns)) = (request.check, &dns) {
        let published = published(dns, &owner).await;
        let served = match served {
            Some(chain) => Ok(chain),
            None => connect(Some(dns), &host, request).await,
        };
        let now = unix_now();
        let record_for = |key: &Material| key.record(request.params).ok();
        let step = rollover::step(&rollover::Facts {
            current: &current,
            next: next.as_ref(),
            served: served.as_ref().ok(),
            published: &published,
            published_at: request.published_at,
            record_for: &record_for,
            now,
        });
        Some(CheckReport {
            published,
            served,
            step,
            now,
        })
    } else {
        None
    };
    Ok(Report {
        owner,
        params: request.params,
        keys,
        warnings,
        check,
    })
}

/// The TLSA base host: `--host`, the `--connect` name, or the current leaf's first DNS name.
fn tlsa_host(request: &Request, current: &Material) -> Result<String, TlsaError> {
    let connect_name = match &request.source {
        Source::Connect(host) if host.parse::<IpAddr>().is_err() => Some(host.as_str()),
        _ => None,
    };
    let name = request
        .host
        .as_deref()
        .or(connect_name)
        .or_else(|| current.first_name())
        .ok_or(TlsaError::NoHost)?;
    normalize_domain(name).map_err(|_| TlsaError::BadHost(name.to_string()))
}

/// The TLSA RRset at `owner`, judged as a DANE client judges it, unless the resolver's state
/// says nothing can be known (the rules of `crate::probe::sight`).
async fn published(dns: &DnsClient, owner: &str) -> Published {
    if let Some(finding) = sight::before(&dns.sight()) {
        return Published::Blind(finding);
    }
    let since = Instant::now();
    let answer = dns.lookup_tlsa(owner).await;
    dns.settle(since).await;
    match dns.sight().blindness() {
        Some(blindness @ Blindness::NotValidating { .. }) => {
            return Published::Blind(sight::finding(&blindness))
        }
        Some(blindness @ Blindness::Unavailable { .. })
            if sight::unanswered(answer.result.as_ref().err()) =>
        {
            return Published::Blind(sight::finding(&blindness))
        }
        _ => {}
    }
    match answer.result {
        Err(error) => Published::Failed(error.to_string()),
        Ok(response) if response.status != crate::core::DnssecStatus::Secure => Published::Insecure,
        Ok(response) => Published::Secure {
            ttl: response.ttl,
            records: match response.set {
                RecordSet::Records(records) => records,
                RecordSet::NxDomain | RecordSet::NoData => Vec::new(),
            },
        },
    }
}

/// The chain `host` (a name, resolved through `dns`, or an address) presents after STARTTLS on
/// the request's port; SNI is the TLSA base name.
async fn connect(
    dns: Option<&DnsClient>,
    host: &str,
    request: &Request,
) -> Result<Material, String> {
    let address = match (host.parse::<IpAddr>(), dns) {
        (Ok(ip), _) => ip,
        (Err(_), Some(dns)) => first_address(dns, host).await?,
        (Err(_), None) => return Err(format!("no resolver to find {host} with")),
    };
    let sni = match (&request.host, host.parse::<IpAddr>()) {
        (Some(name), _) => name.clone(),
        (None, Err(_)) => host.to_string(),
        // An address and no --host: the name does not matter for DANE-EE; send none useful.
        (None, Ok(_)) => "dane-exporter.invalid".to_string(),
    };
    let smtp = SmtpSettings {
        port: request.port,
        ..request.smtp.clone()
    };
    let session = probe_starttls(SocketAddr::new(address, request.port), &sni, &smtp)
        .await
        .map_err(|e| format!("{address}: {e}"))?;
    let origin = format!("{host} ({address} port {}, STARTTLS)", request.port);
    Material::from_chain(origin, session.chain).map_err(|e| e.to_string())
}

/// The first IPv4 address of `host`, else its first IPv6 address.
async fn first_address(dns: &DnsClient, host: &str) -> Result<IpAddr, String> {
    let mut problems = Vec::new();
    for rtype in [RecordType::A, RecordType::Aaaa] {
        let answer = dns.lookup_addresses(host, rtype).await;
        match &answer.result {
            Ok(_) => {
                if let Some(ip) = answer.records().first() {
                    return Ok(*ip);
                }
            }
            Err(e) => problems.push(format!("{}: {e}", rtype.as_str())),
        }
    }
    Err(match problems.is_empty() {
        true => format!("{host} has no address"),
        false => format!("no address for {host} ({})", problems.join("; ")),
    })
}
