//! TLSA for the other TLS services of a mail domain: submission (465/587), IMAP (993/143), POP3
//! (995/110) and HTTPS (443), each against its own `_<port>._tcp.<host>` TLSA RRset.
//!
//! Where data comes from and goes: the configuration lists, per target, the services to watch
//! ([`ServiceSpec`]: host, port, protocol, implicit TLS or STARTTLS; `crate::config`).
//! `crate::probe::Prober` calls [`probe_service`] for each, next to the MX probe. A service probe
//! makes the MX probe's DNS lookups for its host (`crate::probe::lookup_host`: addresses must be
//! secure, TLSA at the CNAME-expanded name first), opens one TLS session per address
//! (`session.rs`, with `imap.rs`, `pop3.rs` and `crate::smtp` for the STARTTLS dialogues), and
//! judges each presented chain with the DANE engine under [`DaneProfile::Service`]: the same
//! rules as for SMTP, except that the PKIX usages 0 and 1 are usable (RFC 6698 2.1.1, RFC 7671
//! 5.4/5.5), validated against Mozilla's roots plus the configured CA bundle. The resulting
//! [`ServiceReport`]s go into `DomainReport::services`, which `crate::check` prints and
//! `crate::metrics` turns into `dane_service_*` series.
//!
//! Which host: the configuration names it (`host:`), because submission and IMAP hosts are
//! usually not the MX hosts. Discovery through SRV records (RFC 6186) is not implemented.
//!
//! Reference identifiers for the name checks of DANE-TA and the PKIX usages: the configured host
//! name and, when CNAMEs led the TLSA lookup elsewhere, the TLSA base domain (RFC 7671 7). SNI is
//! the TLSA base domain when DANE applies, else the host name.
//!
//! A service's verdict is its own: it never changes the domain's mail verdict
//! (`dane_probe_success`), which stays about delivery to the MX hosts.

pub(crate) mod check;
mod dialogue;
mod imap;
mod lines;
pub(crate) mod metrics;
mod pop3;
mod session;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Serialize;

use crate::dane::{
    self, describe_certificate, CertificateInfo, DaneProfile, EndpointEvaluation, EndpointInput,
    EndpointOutcome, PkixTrust, TlsaRecord,
};
use crate::dns::{DnsClient, UnixSeconds};
use crate::probe::{lookup_host, HostLookups};
use crate::report::{HostDane, RrsetReport, Verdict};

/// The application protocol spoken before (STARTTLS) or inside (implicit) TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceProtocol {
    /// SMTP submission (RFC 6409, RFC 8314).
    Smtp,
    /// IMAP (RFC 9051).
    Imap,
    /// POP3 (RFC 1939).
    Pop3,
    /// HTTPS (implicit TLS only).
    Https,
}

impl ServiceProtocol {
    /// Stable name, the `protocol` label value and the configuration keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceProtocol::Smtp => "smtp",
            ServiceProtocol::Imap => "imap",
            ServiceProtocol::Pop3 => "pop3",
            ServiceProtocol::Https => "https",
        }
    }

    /// Parses a configuration keyword.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "smtp" | "submission" => Some(ServiceProtocol::Smtp),
            "imap" => Some(ServiceProtocol::Imap),
            "pop3" => Some(ServiceProtocol::Pop3),
            "https" => Some(ServiceProtocol::Https),
            _ => None,
        }
    }
}

/// How TLS starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// TLS from the first byte (RFC 8314).
    Implicit,
    /// A plaintext dialogue, then STARTTLS (or STLS).
    Starttls,
}

impl TlsMode {
    /// Stable name, the configuration keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Implicit => "implicit",
            TlsMode::Starttls => "starttls",
        }
    }

    /// Parses a configuration keyword.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "implicit" => Some(TlsMode::Implicit),
            "starttls" => Some(TlsMode::Starttls),
            _ => None,
        }
    }
}

/// Protocol and TLS mode of the well-known ports (RFC 8314 for 465/993/995, RFC 6409 for 587).
pub fn well_known(port: u16) -> Option<(ServiceProtocol, TlsMode)> {
    match port {
        465 => Some((ServiceProtocol::Smtp, TlsMode::Implicit)),
        587 => Some((ServiceProtocol::Smtp, TlsMode::Starttls)),
        993 => Some((ServiceProtocol::Imap, TlsMode::Implicit)),
        143 => Some((ServiceProtocol::Imap, TlsMode::Starttls)),
        995 => Some((ServiceProtocol::Pop3, TlsMode::Implicit)),
        110 => Some((ServiceProtocol::Pop3, TlsMode::Starttls)),
        443 => Some((ServiceProtocol::Https, TlsMode::Implicit)),
        _ => None,
    }
}

/// Parses the command line form `HOST:PORT` or `HOST:PORT/PROTOCOL/TLS` (`dane_exporter check
/// --service`), with the configuration's rules: protocol and mode inferred for well-known ports.
pub fn parse_spec(text: &str) -> Result<ServiceSpec, String> {
    let (endpoint, mode) = match text.split_once('/') {
        Some((endpoint, mode)) => (endpoint, Some(mode)),
        None => (text, None),
    };
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?}: expected HOST:PORT[/PROTOCOL/TLS]"))?;
    let host = crate::config::normalize_domain(host).map_err(|e| format!("{host:?}: {e}"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{port:?} is not a port"))?;
    let (protocol, tls) = match mode {
        Some(mode) => {
            let (p, t) = mode
                .split_once('/')
                .ok_or_else(|| format!("{mode:?}: expected PROTOCOL/TLS, e.g. imap/starttls"))?;
            (
                ServiceProtocol::parse(p).ok_or_else(|| format!("unknown protocol {p:?}"))?,
                TlsMode::parse(t).ok_or_else(|| format!("unknown TLS mode {t:?}"))?,
            )
        }
        None => well_known(port)
            .ok_or_else(|| format!("port {port} is not well known: give HOST:PORT/PROTOCOL/TLS"))?,
    };
    if protocol == ServiceProtocol::Https && tls == TlsMode::Starttls {
        return Err("https has no STARTTLS".into());
    }
    Ok(ServiceSpec {
        host,
        port,
        protocol,
        tls,
    })
}

/// One service to watch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceSpec {
    /// Host name, normalised.
    pub host: String,
    /// TCP port; the TLSA name follows it.
    pub port: u16,
    /// Protocol spoken.
    pub protocol: ServiceProtocol,
    /// Implicit TLS or STARTTLS.
    pub tls: TlsMode,
}

/// The dialogue step where a service session stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStage {
    /// TCP connect.
    Connect,
    /// The server's greeting.
    Greeting,
    /// EHLO, CAPABILITY or CAPA.
    Capabilities,
    /// STARTTLS / STLS and its answer.
    Starttls,
    /// The TLS handshake.
    TlsHandshake,
}

/// Why a service session failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ServiceError {
    /// The TCP connection failed.
    #[error("connect failed: {detail}")]
    Connect {
        /// The I/O error.
        detail: String,
    },
    /// A step took longer than its timeout.
    #[error("timed out during {stage:?}")]
    Timeout {
        /// Which step.
        stage: ServiceStage,
    },
    /// The connection closed or failed mid-dialogue.
    #[error("connection lost during {stage:?}: {detail}")]
    Io {
        /// Which step.
        stage: ServiceStage,
        /// The I/O error or "closed".
        detail: String,
    },
    /// The greeting was a refusal (or IMAP PREAUTH, after which STARTTLS is not allowed).
    #[error("greeting refused: {reply}")]
    Greeting {
        /// The reply, trimmed.
        reply: String,
    },
    /// EHLO or CAPABILITY was refused.
    #[error("capability request refused: {reply}")]
    CommandRejected {
        /// The reply, trimmed.
        reply: String,
    },
    /// The server does not offer STARTTLS (STLS).
    #[error("STARTTLS not offered")]
    StarttlsNotOffered,
    /// STARTTLS was refused.
    #[error("STARTTLS refused: {reply}")]
    StarttlsRejected {
        /// The reply, trimmed.
        reply: String,
    },
    /// The server broke the protocol (over-long lines, endless responses, plaintext after the
    /// STARTTLS answer).
    #[error("protocol violation during {stage:?}: {detail}")]
    Protocol {
        /// Which step.
        stage: ServiceStage,
        /// What was wrong.
        detail: String,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {detail}")]
    Handshake {
        /// The TLS error.
        detail: String,
    },
}

impl ServiceError {
    /// Stable snake_case `reason` label value.
    pub fn reason(&self) -> &'static str {
        match self {
            ServiceError::Connect { .. } => "service_connect_failed",
            ServiceError::Timeout { .. } => "service_timeout",
            ServiceError::Io { .. } => "service_connection_lost",
            ServiceError::Greeting { .. } => "service_greeting_rejected",
            ServiceError::CommandRejected { .. } => "service_command_rejected",
            ServiceError::StarttlsNotOffered => "starttls_not_offered",
            ServiceError::StarttlsRejected { .. } => "starttls_rejected",
            ServiceError::Protocol { .. } => "service_protocol_error",
            ServiceError::Handshake { .. } => "tls_handshake_failed",
        }
    }

    /// `Some(false)` when STARTTLS was not offered, `Some(true)` when the dialogue got past it.
    fn starttls_offered(&self) -> Option<bool> {
        match self {
            ServiceError::StarttlsNotOffered => Some(false),
            ServiceError::StarttlsRejected { .. } | ServiceError::Handshake { .. } => Some(true),
            ServiceError::Timeout { stage }
            | ServiceError::Io { stage, .. }
            | ServiceError::Protocol { stage, .. } => match stage {
                ServiceStage::Starttls | ServiceStage::TlsHandshake => Some(true),
                _ => None,
            },
            _ => None,
        }
    }
}

/// What a completed handshake established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceTls {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    /// Negotiated cipher suite, IANA name.
    pub cipher_suite: String,
}

/// One address of a service.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceEndpointReport {
    /// The address probed.
    pub address: IpAddr,
    /// STARTTLS mode: whether it was offered, when the dialogue got that far.
    pub starttls_offered: Option<bool>,
    /// The session, when the handshake completed.
    pub tls: Option<ServiceTls>,
    /// The failure, when it did not.
    pub error: Option<ServiceError>,
    /// Every presented certificate, leaf first (unparsable ones left out).
    pub chain: Vec<CertificateInfo>,
    /// The DANE evaluation (service profile), when a chain was obtained and DANE applies.
    pub evaluation: Option<EndpointEvaluation>,
    /// Seconds the dialogue and handshake took.
    pub duration_seconds: f64,
}

/// One finding about a service, with a stable reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceFinding {
    /// Stable snake_case reason, the `reason` label value.
    pub reason: String,
    /// Address concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// A sentence for humans.
    pub message: String,
}

/// Everything about one configured service.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceReport {
    /// Host name as configured.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Protocol.
    pub protocol: ServiceProtocol,
    /// Implicit TLS or STARTTLS.
    pub tls_mode: TlsMode,
    /// Whether DANE applies to the service, and if not why.
    pub dane: HostDane,
    /// Where the TLSA RRset was found, when DANE applies.
    pub tlsa_base_domain: Option<String>,
    /// TLSA lookups made, in order.
    pub tlsa_lookups: Vec<RrsetReport>,
    /// The TLSA records in force.
    pub tlsa_records: Vec<TlsaRecord>,
    /// A and AAAA lookups.
    pub address_lookups: Vec<RrsetReport>,
    /// One entry per address.
    pub endpoints: Vec<ServiceEndpointReport>,
    /// Pass (every endpoint authenticates), fail, or not applicable (no secure TLSA).
    pub verdict: Verdict,
    /// Why the verdict is `fail`.
    pub failures: Vec<ServiceFinding>,
    /// Things to look at that do not fail the service.
    pub warnings: Vec<ServiceFinding>,
    /// Seconds the whole service probe took.
    pub duration_seconds: f64,
}

/// How to talk to services.
#[derive(Clone, Copy, Debug)]
pub struct ServiceSettings<'a> {
    /// Time allowed for each step.
    pub step_timeout: Duration,
    /// Our name in EHLO (submission with STARTTLS).
    pub ehlo_name: &'a str,
    /// Roots for the PKIX usages.
    pub pkix: &'a PkixTrust,
}

/// Probes one service: lookups, one TLS session per address, DANE evaluation, verdict. Never
/// fails: every problem is part of the report.
pub async fn probe_service(
    dns: &DnsClient,
    spec: &ServiceSpec,
    settings: ServiceSettings<'_>,
    now: UnixSeconds,
) -> ServiceReport {
    let started = Instant::now();
    let HostLookups {
        address_lookups,
        addresses,
        decision,
    } = lookup_host(dns, &spec.host, spec.port).await;

    let mut reference_names = Vec::new();
    if let Some(base) = &decision.base_domain {
        reference_names.push(base.clone());
    }
    if !reference_names.contains(&spec.host) {
        reference_names.push(spec.host.clone());
    }
    let sni = decision
        .base_domain
        .clone()
        .unwrap_or_else(|| spec.host.clone());
    let applies = decision.dane == HostDane::Applies;

    let endpoints = join_all(addresses.iter().map(|&address| {
        let sni = sni.as_str();
        let records = decision.records.as_slice();
        let reference_names = reference_names.as_slice();
        let signature_expiration = decision.signature_expiration;
        async move {
            let begun = Instant::now();
            let result = session::run(
                address,
                spec,
                sni,
                settings.step_timeout,
                settings.ehlo_name,
            )
            .await;
            let duration_seconds = begun.elapsed().as_secs_f64();
            match result {
                Ok(session) => ServiceEndpointReport {
                    address,
                    starttls_offered: (spec.tls == TlsMode::Starttls).then_some(true),
                    tls: Some(session.tls),
                    error: None,
                    chain: session
                        .chain
                        .iter()
                        .filter_map(|der| describe_certificate(der).ok())
                        .collect(),
                    evaluation: applies.then(|| {
                        dane::evaluate_endpoint_with(
                            &EndpointInput {
                                tlsa: records,
                                chain: &session.chain,
                                reference_names,
                                tlsa_signature_expiration: signature_expiration,
                                now,
                            },
                            DaneProfile::Service {
                                pkix: settings.pkix,
                            },
                        )
                    }),
                    duration_seconds,
                },
                Err(error) => ServiceEndpointReport {
                    address,
                    starttls_offered: error.starttls_offered(),
                    tls: None,
                    error: Some(error),
                    chain: Vec::new(),
                    evaluation: None,
                    duration_seconds,
                },
            }
        }
    }))
    .await;

    let mut report = ServiceReport {
        host: spec.host.clone(),
        port: spec.port,
        protocol: spec.protocol,
        tls_mode: spec.tls,
        dane: decision.dane,
        tlsa_base_domain: decision.base_domain,
        tlsa_lookups: decision.lookups,
        tlsa_records: decision.records,
        address_lookups,
        endpoints,
        verdict: Verdict::NotApplicable,
        failures: Vec::new(),
        warnings: Vec::new(),
        duration_seconds: 0.0,
    };
    judge(&mut report);
    report.duration_seconds = started.elapsed().as_secs_f64();
    report
}

/// Fills in `verdict`, `failures` and `warnings` (pure). The rule is a DANE client's: where DANE
/// applies, every address must complete TLS and authenticate; a TLSA or address lookup that fails
/// leaves the client unable to connect safely, which is a failure too.
pub fn judge(report: &mut ServiceReport) {
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let name = format!("{}:{}", report.host, report.port);
    let finding = |reason: &str, address: Option<IpAddr>, message: String| ServiceFinding {
        reason: reason.to_string(),
        address,
        message,
    };
    match report.dane {
        HostDane::Applies => {}
        HostDane::TlsaLookupFailed => failures.push(finding(
            "tlsa_lookup_failed",
            None,
            format!("{name}: the TLSA lookup failed; a DANE client cannot connect safely"),
        )),
        HostDane::AddressLookupFailed => failures.push(finding(
            "address_lookup_failed",
            None,
            format!("{name}: the address lookup failed"),
        )),
        other => warnings.push(finding(
            "service_dane_not_applicable",
            None,
            format!(
                "{name}: DANE does not apply ({})",
                crate::verdict::host_dane_text(other)
            ),
        )),
    }
    let lookups_ok = !matches!(
        report.dane,
        HostDane::AddressLookupFailed | HostDane::TlsaLookupFailed
    );
    if lookups_ok && report.endpoints.is_empty() {
        failures.push(finding(
            "service_no_addresses",
            None,
            format!("{name}: the host has no A or AAAA records"),
        ));
    }
    let applies = report.dane == HostDane::Applies;
    for endpoint in &report.endpoints {
        let at = Some(endpoint.address);
        if let Some(error) = &endpoint.error {
            let message = format!("{name} at {}: {error}", endpoint.address);
            // Without DANE a client may still fall back; the failure is worth a warning only.
            if applies {
                failures.push(finding(error.reason(), at, message));
            } else {
                warnings.push(finding(error.reason(), at, message));
            }
            continue;
        }
        match endpoint.evaluation.as_ref().map(|e| &e.outcome) {
            Some(EndpointOutcome::Failed(failure)) => failures.push(finding(
                failure.reason(),
                at,
                format!(
                    "{name} at {}: the certificate does not authenticate ({})",
                    endpoint.address,
                    failure.reason()
                ),
            )),
            Some(EndpointOutcome::NoUsableRecords) => warnings.push(finding(
                "no_usable_tlsa",
                at,
                format!("{name}: no usable TLSA record; TLS is required but not authenticated",),
            )),
            _ => {}
        }
    }
    report.verdict = if !failures.is_empty() {
        Verdict::Fail
    } else if applies && !report.endpoints.is_empty() {
        Verdict::Pass
    } else {
        Verdict::NotApplicable
    };
    report.failures = failures;
    report.warnings = warnings;
}
