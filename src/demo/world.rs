//! The demo's world: one domain per scenario, its MX host as a STARTTLS listener on a loopback
//! address, the signed zone naming them all, and on disk (a temporary directory) the trust anchor,
//! the exporter's configuration and a certbot-style lineage per MX host.
//!
//! Built once by [`World::build`]; changed live by the controls (`super::control`): an MX host
//! deploys its staged key ([`World::rotate_key`]), the TLSA RRset of an MX host gains or loses
//! records ([`World::edit_tlsa`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
use hickory_proto::rr::{RData, RecordType};

use super::certs::{self_signed_with, Identity};
use super::starttls::{ListenerConfig, StartTlsError, StartTlsServer, Starttls};
use super::zones::{ZoneServer, ZoneSet};
use super::DemoError;
use crate::core::{unix_now, TlsaRecord};

/// TTL of every record: short, so that a change reaches the exporter's cache within seconds and
/// "two TTLs" of a rollover pass while one watches.
pub const TTL: u32 = 10;
/// The first octets of the MX hosts' loopback addresses: `127.0.25.N`.
const SMTP_NET: [u8; 3] = [127, 0, 25];
/// How long the zone's signatures are valid: well beyond the divergence alert's 14 days.
const SIGNATURE_VALIDITY: Duration = Duration::from_secs(30 * 86_400);
/// The expiring scenario's signatures expire this long after the start: inside the 3-day alert
/// threshold.
const EXPIRING_IN: i64 = 2 * 86_400;

/// What one scenario shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `3 1 1` of the served key: passes.
    Pass,
    /// The record names an old key; the server presents another: `tlsa_mismatch`.
    Stale,
    /// Current and next key published, the next one staged in the lineage: passes, ready.
    Rollover,
    /// Passes, but the RRSIGs of its MX, A and TLSA RRsets expire two days after the start.
    Expiring,
    /// TLSA published, STARTTLS not offered: `starttls_not_offered`.
    NoStarttls,
    /// The TLSA RRset was changed after signing: bogus, `tlsa_lookup_failed`.
    Bogus,
    /// No TLSA records (a secure NODATA): DANE does not apply.
    NotApplicable,
}

/// One demo domain.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// The mail domain (under `.example`, reserved for documentation by RFC 2606).
    pub domain: &'static str,
    /// What is set up.
    pub kind: Kind,
    /// The verdict the exporter gives.
    pub verdict: &'static str,
    /// The shipped alerts it fires (`alerts/*.rules.yml`).
    pub alerts: &'static [&'static str],
}

/// Every scenario, in the order the demo lists them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        domain: "pass.example",
        kind: Kind::Pass,
        verdict: "pass",
        alerts: &[],
    },
    Scenario {
        domain: "stale.example",
        kind: Kind::Stale,
        verdict: "fail",
        alerts: &["DaneTLSAMismatch", "DaneServiceTLSAMismatch"],
    },
    Scenario {
        domain: "rollover.example",
        kind: Kind::Rollover,
        verdict: "pass",
        alerts: &[],
    },
    Scenario {
        domain: "expiring.example",
        kind: Kind::Expiring,
        verdict: "pass",
        alerts: &["DaneRRSIGExpiringSoon", "DaneDivergenceWithoutNextKey"],
    },
    Scenario {
        domain: "nostarttls.example",
        kind: Kind::NoStarttls,
        verdict: "fail",
        alerts: &["DaneSTARTTLSMissing"],
    },
    Scenario {
        domain: "bogus.example",
        kind: Kind::Bogus,
        verdict: "fail",
        alerts: &["DaneTLSALookupFailed", "DaneDNSSECBogus"],
    },
    Scenario {
        domain: "nodane.example",
        kind: Kind::NotApplicable,
        verdict: "not_applicable",
        alerts: &[],
    },
];

/// One MX host: its listener, and its keys as the lineage on disk holds them.
pub struct Host {
    /// The scenario it serves.
    pub scenario: Scenario,
    /// `mx.<domain>`.
    pub name: String,
    /// Its loopback address.
    pub address: Ipv4Addr,
    server: StartTlsServer,
    /// Keys and published records; a tokio mutex, held across the zone change it makes.
    state: tokio::sync::Mutex<HostState>,
}

/// What changes on an MX host.
pub(super) struct HostState {
    /// The key served now (lineage version `version`).
    pub current: Identity,
    /// The next key, staged as version `version + 1`.
    pub staged: Identity,
    /// The lineage version served.
    pub version: u32,
    /// The TLSA records published for the host, presentation form.
    pub published: Vec<String>,
}

/// Everything the demo runs, and its directory.
pub struct World {
    /// The MX hosts, in scenario order.
    pub hosts: Vec<Host>,
    /// The signed zone.
    pub zones: ZoneServer,
    /// The SMTP port every listener uses (the TLSA names follow it).
    pub smtp_port: u16,
    /// The working directory (removed with the world).
    pub dir: tempfile::TempDir,
}

impl World {
    /// Makes the keys, starts the listeners and the DNS server, writes the files.
    pub async fn build() -> Result<World, DemoError> {
        let mut states = Vec::new();
        for scenario in SCENARIOS {
            let name = format!("mx.{}", scenario.domain);
            let (current, staged) = (certificate(&name)?, certificate(&name)?);
            let published = match scenario.kind {
                Kind::NotApplicable => Vec::new(),
                // A key the server no longer has: only its record is left.
                Kind::Stale => vec![record_of(&certificate(&name)?)],
                Kind::Rollover => vec![record_of(&current), record_of(&staged)],
                _ => vec![record_of(&current)],
            };
            states.push(HostState {
                current,
                staged,
                version: 1,
                published,
            });
        }
        let (servers, smtp_port) = start_listeners(&states).await?;
        let zones = zone_set(&states, smtp_port).serve().await?;
        let dir = tempfile::Builder::new()
            .prefix("dane-demo-")
            .tempdir()
            .map_err(|e| DemoError::Files(format!("temporary directory: {e}")))?;
        let hosts: Vec<Host> = SCENARIOS
            .iter()
            .zip(states)
            .zip(servers)
            .enumerate()
            .map(|(i, ((scenario, state), server))| Host {
                scenario: *scenario,
                name: format!("mx.{}", scenario.domain),
                address: address(i),
                server,
                state: tokio::sync::Mutex::new(state),
            })
            .collect();
        let world = World {
            hosts,
            zones,
            smtp_port,
            dir,
        };
        for host in &world.hosts {
            write_lineage(world.dir.path(), &host.name, &*host.state.lock().await)?;
        }
        Ok(world)
    }

    /// The host of `domain`, if it is a demo domain.
    pub fn host(&self, domain: &str) -> Option<&Host> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().find(|h| h.scenario.domain == domain)
    }

    /// `_PORT._tcp.HOST.`, the TLSA owner of an MX host.
    pub fn tlsa_owner(&self, host: &Host) -> String {
        format!("_{}._tcp.{}.", self.smtp_port, host.name)
    }

    /// The certbot-style lineage directory of an MX host.
    pub fn lineage(&self, host: &Host) -> PathBuf {
        self.dir.path().join("live").join(&host.name)
    }

    /// The host presents its staged key from the next handshake on; a fresh key is staged.
    /// Returns the `3 1 1` record of the key now served.
    pub async fn rotate_key(&self, host: &Host) -> Result<String, DemoError> {
        let mut state = host.state.lock().await;
        let fresh = certificate(&host.name)?;
        host.server.set_identity(&state.staged)?;
        state.current = std::mem::replace(&mut state.staged, fresh);
        state.version += 1;
        write_lineage(self.dir.path(), &host.name, &state)?;
        Ok(record_of(&state.current))
    }

    /// Adds and removes TLSA records of an MX host (presentation form, checked); the RRset is
    /// re-signed and served at once. It cannot become empty, nor be created where there is none.
    pub async fn edit_tlsa(
        &self,
        host: &Host,
        add: &[TlsaRecord],
        remove: &[TlsaRecord],
    ) -> Result<Vec<String>, DemoError> {
        let mut state = host.state.lock().await;
        if state.published.is_empty() {
            return Err(DemoError::Refused(format!(
                "{} has no TLSA RRset to change (the zone would need a new NSEC chain)",
                host.name
            )));
        }
        let removed: Vec<String> = remove.iter().map(ToString::to_string).collect();
        let mut records: Vec<String> = state
            .published
            .iter()
            .filter(|r| !removed.contains(r))
            .cloned()
            .collect();
        for record in add.iter().map(ToString::to_string) {
            if !records.contains(&record) {
                records.push(record);
            }
        }
        if records.is_empty() {
            return Err(DemoError::Refused(format!(
                "that would remove every TLSA record of {} (add one in the same request)",
                host.name
            )));
        }
        self.zones
            .replace_rrset(&self.tlsa_owner(host), RecordType::TLSA, &records)
            .await?;
        state.published = records.clone();
        Ok(records)
    }

    /// A snapshot of an MX host's keys and records, for the controls' text.
    pub async fn describe(&self, host: &Host) -> (String, String, Vec<String>) {
        let state = host.state.lock().await;
        (
            record_of(&state.current),
            record_of(&state.staged),
            state.published.clone(),
        )
    }
}

/// `127.0.25.(i + 1)`.
fn address(i: usize) -> Ipv4Addr {
    let last = u8::try_from(i + 1).unwrap_or(u8::MAX);
    Ipv4Addr::new(SMTP_NET[0], SMTP_NET[1], SMTP_NET[2], last)
}

/// A certificate like a Let's Encrypt one: valid from yesterday for 90 days.
fn certificate(name: &str) -> Result<Identity, DemoError> {
    let now = time::OffsetDateTime::now_utc();
    Ok(self_signed_with(&[name], |params| {
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(89);
    })?)
}

/// The `3 1 1` record of a key, presentation form.
fn record_of(identity: &Identity) -> String {
    format!("3 1 1 {}", identity.leaf_3_1_1())
}

/// One listener per host, all on one port (the exporter's `smtp_port` is global): a port free on
/// every address, tried again when another program takes it meanwhile.
async fn start_listeners(states: &[HostState]) -> Result<(Vec<StartTlsServer>, u16), DemoError> {
    let mut last = None;
    'attempt: for _ in 0..20 {
        let mut servers: Vec<StartTlsServer> = Vec::new();
        let mut port = 0;
        for (i, (scenario, state)) in SCENARIOS.iter().zip(states).enumerate() {
            let mut config = ListenerConfig::new(state.current.clone());
            config.bind = SocketAddr::new(IpAddr::V4(address(i)), port);
            config.greeting = vec![format!("mx.{} ESMTP dane_exporter demo", scenario.domain)];
            config.log_sessions = false;
            if scenario.kind == Kind::NoStarttls {
                config.starttls = Starttls::NotOffered;
            }
            match StartTlsServer::start(config).await {
                Ok(server) => {
                    port = server.port();
                    servers.push(server);
                }
                Err(StartTlsError::Bind { error, .. })
                    if error.kind() == std::io::ErrorKind::AddrInUse =>
                {
                    last = Some(error);
                    continue 'attempt;
                }
                Err(e) => return Err(e.into()),
            }
        }
        return Ok((servers, port));
    }
    Err(DemoError::Files(format!(
        "no port free on every 127.0.25.x address: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// The private root zone: every scenario's MX, A and TLSA records, and the breakage.
fn zone_set(states: &[HostState], smtp_port: u16) -> ZoneSet {
    let mut text = format!(
        ". {TTL} IN SOA ns.example. hostmaster.example. 1 3600 600 86400 {TTL}\n\
         . {TTL} IN NS ns.example.\n\
         ns.example. {TTL} IN A 127.0.0.1\n"
    );
    for (i, (scenario, state)) in SCENARIOS.iter().zip(states).enumerate() {
        let domain = scenario.domain;
        text.push_str(&format!(
            "{domain}. {TTL} IN MX 10 mx.{domain}.\nmx.{domain}. {TTL} IN A {}\n",
            address(i)
        ));
        for record in &state.published {
            text.push_str(&format!(
                "_{smtp_port}._tcp.mx.{domain}. {TTL} IN TLSA {record}\n"
            ));
        }
    }
    let mut zones = ZoneSet::new()
        .zone(".", &text)
        .signature_validity(SIGNATURE_VALIDITY);
    let now = unix_now();
    for scenario in SCENARIOS {
        let domain = scenario.domain;
        let tlsa = format!("_{smtp_port}._tcp.mx.{domain}.");
        match scenario.kind {
            Kind::Expiring => {
                for (owner, rtype) in [
                    (format!("{domain}."), RecordType::MX),
                    (format!("mx.{domain}."), RecordType::A),
                    (tlsa, RecordType::TLSA),
                ] {
                    zones = zones.sign_window(&owner, rtype, now - 3600, now + EXPIRING_IN);
                }
            }
            Kind::Bogus => {
                let forged = TLSA::new(
                    CertUsage::from(3),
                    Selector::from(1),
                    Matching::from(1),
                    vec![0xba; 32],
                );
                zones = zones.tamper(&tlsa, RecordType::TLSA, RData::TLSA(forged));
            }
            _ => {}
        }
    }
    zones
}

/// Writes (or updates) `DIR/archive/NAME/{fullchain,privkey}N.pem` for the served and the staged
/// version and points `DIR/live/NAME/{fullchain,privkey}.pem` at the served one, as certbot lays
/// a lineage out (`checks::local_certs::lineage_files` reads it).
fn write_lineage(dir: &Path, name: &str, state: &HostState) -> Result<(), DemoError> {
    let files = |what: &str, e: std::io::Error| DemoError::Files(format!("{what}: {e}"));
    let archive = dir.join("archive").join(name);
    let live = dir.join("live").join(name);
    std::fs::create_dir_all(&archive).map_err(|e| files("archive", e))?;
    std::fs::create_dir_all(&live).map_err(|e| files("live", e))?;
    for (version, identity) in [
        (state.version, &state.current),
        (state.version + 1, &state.staged),
    ] {
        let write = |file: String, text: String| {
            std::fs::write(archive.join(&file), text).map_err(|e| files(&file, e))
        };
        write(format!("fullchain{version}.pem"), identity.chain_pem())?;
        write(format!("privkey{version}.pem"), identity.key_pem())?;
    }
    for kind in ["fullchain", "privkey"] {
        let link = live.join(format!("{kind}.pem"));
        let target = format!("../../archive/{name}/{kind}{}.pem", state.version);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).map_err(|e| files(&target, e))?;
    }
    Ok(())
}
