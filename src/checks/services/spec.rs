//! Which services to watch and how they speak: host, port, protocol, implicit TLS or STARTTLS;
//! from the configuration (`services:`) or `dane_exporter check --service`.

use serde::Serialize;

use crate::core::normalize_domain;

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
    let host = normalize_domain(host).map_err(|e| format!("{host:?}: {e}"))?;
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
