//! Authoritative consistency: does every nameserver of a zone serve the same TLSA (and MX) RRsets,
//! the same SOA serial, with valid signatures? And is the zone's DNSKEY/DS pair healthy?
//!
//! A rollover (RFC 7671 8.1) is only safe once *every* authoritative server of the zone serves
//! the new TLSA record: a resolver may ask any of them, and a secondary that lags one serial
//! behind hands out the old RRset for as long as it lags. Resolvers hide this; only asking each
//! server directly shows it.
//!
//! Data flow: `crate::probe` calls [`check_zones`] after the verdict with the RRsets it found (the
//! MX RRset, each MX host's TLSA RRset). Through the configured resolver (RD set) this module finds
//! each RRset's zone (the SOA owner), the zone's NS names and their A/AAAA addresses, and the
//! parent's DS RRset; then it asks every address directly (RD clear, DO set, `crate::dns::
//! authoritative`) for the SOA, the DNSKEY RRset and the RRsets. [`judge_zone`] (pure) compares
//! the answers; `crate::hygiene` judges the DNSKEY/DS facts. The result is one [`ZoneReport`] per
//! zone in the `DomainReport`, rendered by `crate::check` and `crate::metrics`.
//!
//! Bounds: each question has the step timeout; at most [`MAX_SERVERS`] addresses per zone and
//! [`MAX_PARALLEL`] servers asked at once per probe. NS records carry no port, so every server is
//! asked on [`AuthoritativeSettings::port`]: 53, except in tests (the `authoritative_port` key).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, Record, RecordType as WireType};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::dns::authoritative::{ask, dnskeys, verify_rrset, RawAnswer};
use crate::dns::{normalize_name, UnixSeconds};
use crate::hygiene::{dnssec_findings, tlsa_findings, DsFact, HygieneLimits, KeyFact, ZoneKeys};
use crate::report::{DomainReport, Finding};

/// Most nameserver addresses asked per zone.
pub const MAX_SERVERS: usize = 16;
/// Most nameservers asked at once in one probe.
pub const MAX_PARALLEL: usize = 8;
/// Most zones examined per probe (a domain with many MX hosts in many zones).
pub const MAX_ZONES: usize = 8;

/// How the authoritative checks run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthoritativeSettings {
    /// Port the authoritative servers are asked on: 53. Only tests, whose nameservers listen on
    /// unprivileged ports, set another (`authoritative_port`).
    pub port: u16,
    /// Time allowed for each question.
    pub timeout: Duration,
    /// Resolvers that find zone cuts, NS names and their addresses (RD set).
    pub resolvers: Vec<SocketAddr>,
}

/// The operational checks of one probe: hygiene always, the authoritative checks when set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperationsSettings {
    /// Ask the authoritative nameservers directly; `None` turns that off.
    pub authoritative: Option<AuthoritativeSettings>,
    /// Thresholds of the hygiene warnings.
    pub hygiene: HygieneLimits,
}

impl OperationsSettings {
    /// The settings of a configured target: the authoritative checks when its direction has them
    /// (asking the target's resolvers, with its step timeout), and the hygiene thresholds.
    pub fn for_target(target: &crate::config::Target) -> Self {
        let ops = &target.operations;
        let authoritative = ops.authoritative_for(target.direction).then(|| {
            AuthoritativeSettings {
                port: ops.authoritative_port,
                timeout: target.dns.timeout,
                // Without resolvers the zone cuts cannot be found; each zone then reports why.
                resolvers: crate::dns::resolver_addresses(&target.dns).unwrap_or_default(),
            }
        });
        Self {
            authoritative,
            hygiene: ops.hygiene,
        }
    }
}

/// Adds the operational findings to a judged `report`: TLSA hygiene warnings per MX host, and,
/// when enabled, the zone reports of the MX and TLSA RRsets with their warnings (one finding per
/// reason, naming every zone, so that each is one `dane_probe_warning_info` series). Warnings
/// only: the verdict stays as judged.
pub async fn add_operational_findings(report: &mut DomainReport, settings: &OperationsSettings) {
    for host in &report.hosts {
        let findings = tlsa_findings(host, &settings.hygiene);
        report.warnings.extend(findings);
    }
    let Some(authoritative) = &settings.authoritative else {
        return;
    };
    let mut wanted: Vec<(String, WireType)> = Vec::new();
    // A failed MX lookup is examined too: a broken DS or a dead server shows here.
    if matches!(report.mx_lookup.outcome, "records" | "failed") {
        wanted.push((report.domain.clone(), WireType::MX));
    }
    for host in &report.hosts {
        for lookup in &host.tlsa_lookups {
            if matches!(lookup.outcome, "records" | "failed") {
                wanted.push((lookup.name.clone(), WireType::TLSA));
            }
        }
    }
    if wanted.is_empty() {
        return;
    }
    // In a task of its own: the answers (and the signature checks over them) come from servers
    // anyone can run, and a panic on hostile data must cost this part only, not the report.
    let task = {
        let authoritative = authoritative.clone();
        let now = report.checked_at;
        tokio::spawn(async move { check_zones(&authoritative, &wanted, now).await })
    };
    match task.await {
        Ok(zones) => report.zones = zones,
        Err(error) => {
            report.warnings.push(Finding {
                reason: "authoritative_check_failed".into(),
                mx: None,
                address: None,
                message: format!("the authoritative checks stopped: {error}"),
            });
            return;
        }
    }
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for zone in &report.zones {
        for warning in &zone.warnings {
            by_reason
                .entry(warning.reason.clone())
                .or_default()
                .push(warning.message.clone());
        }
    }
    for (reason, messages) in by_reason {
        report.warnings.push(Finding {
            reason,
            mx: None,
            address: None,
            message: messages.join(" / "),
        });
    }
}

/// An RRset compared across servers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RrsetKey {
    /// Owner name.
    pub name: String,
    /// `TLSA` or `MX`.
    #[serde(rename = "type")]
    pub rtype: String,
}

/// One RRset as one server answered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServedRrset {
    /// Which RRset.
    #[serde(flatten)]
    pub key: RrsetKey,
    /// Its records in presentation form, sorted; empty for a denial.
    pub records: Vec<String>,
    /// True when it equals the RRset the servers with the newest serial serve.
    pub matches: bool,
    /// Why its signatures do not hold, when they do not (signed zones only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_problem: Option<String>,
}

/// One address of one authoritative nameserver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NameserverReport {
    /// NS name.
    pub nameserver: String,
    /// The address asked.
    pub address: IpAddr,
    /// Why the server gave no usable authoritative answer, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the server was not asked: the exporter's host has no route to its address (an IPv6
    /// address on an IPv4-only host). Such a server is left out of the judgement and the metrics:
    /// the gap is ours, not the zone's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// SOA serial served.
    pub serial: Option<u32>,
    /// The compared RRsets.
    pub rrsets: Vec<ServedRrset>,
    /// SOA and RRset signatures present, within their validity and made by a served DNSKEY
    /// (true for an unsigned zone).
    pub signatures_valid: bool,
    /// The serial is the newest any server of the zone serves.
    pub serial_current: bool,
    /// Answered, newest serial, same RRsets as the others, valid signatures.
    pub consistent: bool,
}

/// A zone-level warning (DNSKEY/DS health, disagreement).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZoneWarning {
    /// Stable reason (see `crate::hygiene` and `nameserver_inconsistent`).
    pub reason: String,
    /// A sentence for humans.
    pub message: String,
}

/// One zone holding an RRset DANE depends on, as its authoritative servers serve it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZoneReport {
    /// The zone (owner of its SOA).
    pub zone: String,
    /// The RRsets compared.
    pub rrsets: Vec<RrsetKey>,
    /// Why the nameservers could not be found, if they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// One entry per nameserver address.
    pub nameservers: Vec<NameserverReport>,
    /// The newest serial served.
    pub newest_serial: Option<u32>,
    /// Every nameserver address is consistent (and there is at least one).
    pub consistent: bool,
    /// The zone's DNSKEYs (from a server with the newest serial).
    pub dnskeys: Vec<KeyFact>,
    /// The parent's DS records; `None` when that lookup failed.
    pub ds: Option<Vec<DsFact>>,
    /// Zone-level warnings.
    pub warnings: Vec<ZoneWarning>,
}

/// What one server answered, before comparison.
struct Served {
    skipped: Option<String>,
    serial: Option<u32>,
    rrsets: Vec<ServedRrset>,
    keys: Vec<DNSKEY>,
    signature_problems: Vec<String>,
    error: Option<String>,
}

/// Examines the zones of `wanted` (owner name, `TLSA`/`MX`), as of `now`.
pub async fn check_zones(
    settings: &AuthoritativeSettings,
    wanted: &[(String, WireType)],
    now: UnixSeconds,
) -> Vec<ZoneReport> {
    // Owner -> zone, through the resolver; RRsets grouped per zone, zones in name order.
    let zones_of = join_all(wanted.iter().map(|(name, _)| find_zone(settings, name))).await;
    let mut grouped: BTreeMap<String, Vec<(String, WireType)>> = BTreeMap::new();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    for ((name, rtype), zone) in wanted.iter().zip(zones_of) {
        match zone {
            Ok(zone) => {
                let entry = grouped.entry(zone).or_default();
                if !entry.contains(&(name.clone(), *rtype)) {
                    entry.push((name.clone(), *rtype));
                }
            }
            Err(error) => {
                failed.insert(name.clone(), error);
            }
        }
    }
    let permits = Arc::new(Semaphore::new(MAX_PARALLEL));
    let mut reports = join_all(
        grouped
            .into_iter()
            .take(MAX_ZONES)
            .map(|(zone, rrsets)| check_zone(settings, zone, rrsets, Arc::clone(&permits), now)),
    )
    .await;
    for (name, error) in failed {
        reports.push(ZoneReport {
            zone: name,
            rrsets: Vec::new(),
            error: Some(format!("zone cut not found: {error}")),
            nameservers: Vec::new(),
            newest_serial: None,
            consistent: false,
            dnskeys: Vec::new(),
            ds: None,
            warnings: Vec::new(),
        });
    }
    reports
}

/// Asks the resolvers in order until one answers `name`/`rtype` with NOERROR or NXDOMAIN.
async fn resolve(
    settings: &AuthoritativeSettings,
    name: &str,
    rtype: WireType,
) -> Result<RawAnswer, String> {
    let mut last = String::from("no resolver configured");
    for resolver in &settings.resolvers {
        match ask(*resolver, name, rtype, true, settings.timeout).await {
            Ok(answer)
                if matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain) =>
            {
                return Ok(answer)
            }
            Ok(answer) => last = format!("{resolver} answered {}", answer.rcode),
            Err(error) => last = format!("{resolver}: {error}"),
        }
    }
    Err(last)
}

/// A record's owner, normalised; the root zone as ".".
fn owner(record: &Record) -> String {
    let name = normalize_name(&record.name.to_ascii());
    if name.is_empty() {
        ".".to_string()
    } else {
        name
    }
}

/// The zone holding `name`: the owner of the SOA in the answer (the apex itself) or in the
/// authority section of the denial.
async fn find_zone(settings: &AuthoritativeSettings, name: &str) -> Result<String, String> {
    let answer = resolve(settings, name, WireType::SOA).await?;
    answer
        .answers
        .iter()
        .chain(answer.authorities.iter())
        .find(|r| r.record_type() == WireType::SOA)
        .map(owner)
        .ok_or_else(|| format!("no SOA for {name}"))
}

/// NS names of `zone` and every address of each, at most [`MAX_SERVERS`] in all.
async fn nameserver_addresses(
    settings: &AuthoritativeSettings,
    zone: &str,
) -> Result<Vec<(String, IpAddr)>, String> {
    let ns = resolve(settings, zone, WireType::NS).await?;
    let mut names: Vec<String> = ns
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(target) => Some(normalize_name(&target.0.to_ascii())),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    // Each name costs two lookups; more names than addresses we would ask are pointless.
    names.truncate(MAX_SERVERS);
    if names.is_empty() {
        return Err(format!("no NS records for {zone}"));
    }
    let lookups = join_all(names.iter().map(|name| async move {
        let (a, aaaa) = tokio::join!(
            resolve(settings, name, WireType::A),
            resolve(settings, name, WireType::AAAA)
        );
        let mut addresses: Vec<IpAddr> = Vec::new();
        for answer in [a, aaaa].into_iter().flatten() {
            addresses.extend(answer.answers.iter().filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            }));
        }
        (name.clone(), addresses)
    }))
    .await;
    let mut servers = Vec::new();
    for (name, addresses) in lookups {
        for address in addresses {
            if servers.len() < MAX_SERVERS && !servers.contains(&(name.clone(), address)) {
                servers.push((name.clone(), address));
            }
        }
    }
    if servers.is_empty() {
        return Err(format!("no address for any NS of {zone}"));
    }
    Ok(servers)
}

/// Finds the servers of `zone` and the parent's DS, asks every server, and judges the answers.
async fn check_zone(
    settings: &AuthoritativeSettings,
    zone: String,
    rrsets: Vec<(String, WireType)>,
    permits: Arc<Semaphore>,
    now: UnixSeconds,
) -> ZoneReport {
    let keys: Vec<RrsetKey> = rrsets
        .iter()
        .map(|(name, rtype)| RrsetKey {
            name: name.clone(),
            rtype: rtype.to_string(),
        })
        .collect();
    let mut report = ZoneReport {
        zone: zone.clone(),
        rrsets: keys,
        error: None,
        nameservers: Vec::new(),
        newest_serial: None,
        consistent: false,
        dnskeys: Vec::new(),
        ds: None,
        warnings: Vec::new(),
    };
    let (servers, ds) = tokio::join!(
        nameserver_addresses(settings, &zone),
        resolve(settings, &zone, WireType::DS)
    );
    let servers = match servers {
        Ok(servers) => servers,
        Err(error) => {
            report.error = Some(error);
            return report;
        }
    };
    let served = join_all(servers.iter().map(|(_, address)| {
        let permits = Arc::clone(&permits);
        let server = SocketAddr::new(*address, settings.port);
        let zone = zone.as_str();
        let rrsets = rrsets.as_slice();
        async move {
            // The semaphore is never closed; a failure to acquire only means "no limit".
            let _permit = permits.acquire_owned().await.ok();
            ask_server(server, zone, rrsets, settings.timeout, now).await
        }
    }))
    .await;

    let signed = served.iter().any(|s| !s.keys.is_empty());
    let mut key_source: Option<&[DNSKEY]> = None;
    for ((nameserver, address), s) in servers.iter().zip(served.iter()) {
        // In a signed zone a server must serve the DNSKEYs too: without them nothing it serves
        // can be checked (and resolvers asking it for the keys get none).
        let signatures_valid = s.error.is_none()
            && (!signed || (!s.keys.is_empty() && s.signature_problems.is_empty()));
        report.nameservers.push(NameserverReport {
            nameserver: nameserver.clone(),
            address: *address,
            error: s.error.clone(),
            skipped: s.skipped.clone(),
            serial: s.serial,
            rrsets: s.rrsets.clone(),
            signatures_valid,
            serial_current: false,
            consistent: false,
        });
    }
    judge_zone(&mut report);
    // DNSKEY facts from a server with the newest serial.
    for (n, s) in report.nameservers.iter().zip(served.iter()) {
        if n.serial_current && !s.keys.is_empty() {
            key_source = Some(&s.keys);
            break;
        }
    }
    let zone_name = crate::dns::authoritative::zone_name(&zone);
    let key_facts: Vec<KeyFact> = key_source
        .unwrap_or_default()
        .iter()
        .filter_map(|k| {
            Some(KeyFact {
                key_tag: k.calculate_key_tag().ok()?,
                algorithm: u8::from(hickory_proto::dnssec::PublicKey::algorithm(k.public_key())),
                sep: k.secure_entry_point(),
            })
        })
        .collect();
    let ds_facts: Option<Vec<DsFact>> = match (&ds, &zone_name) {
        (Ok(answer), Some(name)) if zone != "." => Some(
            answer
                .answers
                .iter()
                .filter(|r| owner(r) == zone)
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DS(ds)) => Some(DsFact {
                        key_tag: ds.key_tag(),
                        algorithm: u8::from(ds.algorithm()),
                        digest_type: u8::from(ds.digest_type()),
                        matches: key_source.unwrap_or_default().iter().find_map(|k| {
                            if ds.covers(name, k).unwrap_or(false) {
                                k.calculate_key_tag().ok()
                            } else {
                                None
                            }
                        }),
                    }),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    };
    for (reason, message) in dnssec_findings(&ZoneKeys {
        zone: &zone,
        dnskeys: &key_facts,
        ds: ds_facts.as_deref(),
    }) {
        report.warnings.push(ZoneWarning {
            reason: reason.to_string(),
            message,
        });
    }
    if !report.consistent && report.nameservers.iter().any(|n| n.skipped.is_none()) {
        let bad: Vec<String> = report
            .nameservers
            .iter()
            .filter(|n| !n.consistent && n.skipped.is_none())
            .map(|n| format!("{} [{}]: {}", n.nameserver, n.address, why_inconsistent(n)))
            .collect();
        report.warnings.push(ZoneWarning {
            reason: "nameserver_inconsistent".into(),
            message: format!(
                "not every authoritative nameserver of {zone} serves the newest serial, the same RRsets and valid signatures; hold any TLSA change until they do: {}",
                bad.join("; ")
            ),
        });
    }
    report.dnskeys = key_facts;
    report.ds = ds_facts;
    report
}

/// A short reason why a nameserver is not consistent, for messages.
pub fn why_inconsistent(n: &NameserverReport) -> String {
    if let Some(error) = &n.error {
        return error.clone();
    }
    let mut parts = Vec::new();
    if !n.serial_current {
        parts.push(format!(
            "serial {} is behind",
            n.serial.map(|s| s.to_string()).unwrap_or_default()
        ));
    }
    for rrset in n.rrsets.iter().filter(|r| !r.matches) {
        parts.push(format!("different {} {}", rrset.key.rtype, rrset.key.name));
    }
    if !n.signatures_valid {
        let problems: Vec<String> = n
            .rrsets
            .iter()
            .filter_map(|r| r.signature_problem.clone())
            .collect();
        parts.push(if problems.is_empty() {
            "signatures invalid".to_string()
        } else {
            format!("signatures: {}", problems.join(", "))
        });
    }
    parts.join(", ")
}

/// Asks one server for the SOA and DNSKEY of `zone` and every RRset, without recursion.
async fn ask_server(
    server: SocketAddr,
    zone: &str,
    rrsets: &[(String, WireType)],
    timeout: Duration,
    now: UnixSeconds,
) -> Served {
    let mut served = Served {
        skipped: None,
        serial: None,
        rrsets: Vec::new(),
        keys: Vec::new(),
        signature_problems: Vec::new(),
        error: None,
    };
    if let Err(reason) = crate::dns::authoritative::routable(server).await {
        served.skipped = Some(reason);
        return served;
    }
    let (soa, dnskey, answers) = tokio::join!(
        ask(server, zone, WireType::SOA, false, timeout),
        ask(server, zone, WireType::DNSKEY, false, timeout),
        join_all(
            rrsets
                .iter()
                .map(|(name, rtype)| ask(server, name, *rtype, false, timeout))
        )
    );
    let usable = |answer: &RawAnswer| {
        answer.authoritative
            && matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain)
    };
    let soa = match soa {
        Ok(answer) if usable(&answer) => answer,
        Ok(answer) => {
            served.error = Some(format!(
                "SOA answer {} without authority (AA {})",
                answer.rcode, answer.authoritative
            ));
            return served;
        }
        Err(error) => {
            served.error = Some(format!("SOA: {error}"));
            return served;
        }
    };
    let soa_records = soa.rrset(zone, WireType::SOA);
    served.serial = soa_records.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    });
    if served.serial.is_none() {
        served.error = Some("no SOA record in the answer".into());
        return served;
    }
    if let Ok(answer) = &dnskey {
        served.keys = dnskeys(&answer.rrset(zone, WireType::DNSKEY));
    }
    let key_refs: Vec<&DNSKEY> = served.keys.iter().collect();
    if !served.keys.is_empty() {
        if let Err(problem) = verify_rrset(
            &soa_records,
            &soa.rrsigs(zone, WireType::SOA),
            &key_refs,
            now,
        ) {
            served.signature_problems.push(format!("SOA: {problem}"));
        }
    }
    for ((name, rtype), answer) in rrsets.iter().zip(answers) {
        let key = RrsetKey {
            name: name.clone(),
            rtype: rtype.to_string(),
        };
        let answer = match answer {
            Ok(answer) if usable(&answer) => answer,
            Ok(answer) => {
                served.error = Some(format!(
                    "{rtype} {name}: answer {} without authority",
                    answer.rcode
                ));
                return served;
            }
            Err(error) => {
                served.error = Some(format!("{rtype} {name}: {error}"));
                return served;
            }
        };
        let records = answer.rrset(name, *rtype);
        let mut texts: Vec<String> = records.iter().map(|r| r.data.to_string()).collect();
        texts.sort();
        let mut signature_problem = None;
        if !served.keys.is_empty() {
            if let Err(problem) =
                verify_rrset(&records, &answer.rrsigs(name, *rtype), &key_refs, now)
            {
                signature_problem = Some(problem.to_string());
                served
                    .signature_problems
                    .push(format!("{rtype} {name}: {problem}"));
            }
        }
        served.rrsets.push(ServedRrset {
            key,
            records: texts,
            matches: false,
            signature_problem,
        });
    }
    served
}

/// RFC 1982 serial comparison: true when `a` is newer than `b`.
fn serial_newer(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

/// Compares the servers of `zone`: the newest serial (RFC 1982), the RRsets served at it (by the
/// first server that has it), and per server whether it agrees. Pure.
pub fn judge_zone(zone: &mut ZoneReport) {
    let newest = zone
        .nameservers
        .iter()
        .filter(|n| n.error.is_none() && n.skipped.is_none())
        .filter_map(|n| n.serial)
        .reduce(|a, b| if serial_newer(b, a) { b } else { a });
    zone.newest_serial = newest;
    let reference: Option<Vec<ServedRrset>> = zone
        .nameservers
        .iter()
        .find(|n| {
            n.error.is_none() && n.skipped.is_none() && n.serial.is_some() && n.serial == newest
        })
        .map(|n| n.rrsets.clone());
    for n in &mut zone.nameservers {
        n.serial_current =
            n.error.is_none() && n.skipped.is_none() && n.serial.is_some() && n.serial == newest;
        for rrset in &mut n.rrsets {
            rrset.matches = reference.as_ref().is_some_and(|reference| {
                reference
                    .iter()
                    .any(|r| r.key == rrset.key && r.records == rrset.records)
            });
        }
        n.consistent = n.error.is_none()
            && n.skipped.is_none()
            && n.serial_current
            && n.signatures_valid
            && n.rrsets.iter().all(|r| r.matches);
    }
    let mut asked = zone
        .nameservers
        .iter()
        .filter(|n| n.skipped.is_none())
        .peekable();
    zone.consistent = asked.peek().is_some() && asked.all(|n| n.consistent);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(
        name: &str,
        serial: Option<u32>,
        tlsa: &[&str],
        error: Option<&str>,
    ) -> NameserverReport {
        NameserverReport {
            nameserver: name.into(),
            address: IpAddr::from([127, 0, 0, 1]),
            error: error.map(str::to_string),
            skipped: None,
            serial,
            rrsets: vec![ServedRrset {
                key: RrsetKey {
                    name: "_25._tcp.mx.example.test".into(),
                    rtype: "TLSA".into(),
                },
                records: tlsa.iter().map(|s| s.to_string()).collect(),
                matches: false,
                signature_problem: None,
            }],
            signatures_valid: error.is_none(),
            serial_current: false,
            consistent: false,
        }
    }

    fn zone(nameservers: Vec<NameserverReport>) -> ZoneReport {
        let mut zone = ZoneReport {
            zone: "example.test".into(),
            rrsets: vec![],
            error: None,
            nameservers,
            newest_serial: None,
            consistent: false,
            dnskeys: vec![],
            ds: None,
            warnings: vec![],
        };
        judge_zone(&mut zone);
        zone
    }

    /// name, servers, expected per-server consistency, zone consistent, newest serial.
    type JudgeCase = (
        &'static str,
        Vec<NameserverReport>,
        Vec<bool>,
        bool,
        Option<u32>,
    );

    fn verdicts(zone: &ZoneReport) -> Vec<bool> {
        zone.nameservers.iter().map(|n| n.consistent).collect()
    }

    #[test]
    fn judge_table() {
        let new = ["3 1 1 aa", "3 1 1 bb"];
        let old = ["3 1 1 aa"];
        // name, servers, expected per-server consistency, zone consistent, newest serial
        let cases: Vec<JudgeCase> = vec![
            (
                "agree",
                vec![
                    served("a", Some(2), &new, None),
                    served("b", Some(2), &new, None),
                ],
                vec![true, true],
                true,
                Some(2),
            ),
            (
                "lagging secondary",
                vec![
                    served("a", Some(2), &new, None),
                    served("b", Some(1), &old, None),
                ],
                vec![true, false],
                false,
                Some(2),
            ),
            (
                "lagging first in the list",
                vec![
                    served("b", Some(1), &old, None),
                    served("a", Some(2), &new, None),
                ],
                vec![false, true],
                false,
                Some(2),
            ),
            (
                "same serial, other data",
                vec![
                    served("a", Some(2), &new, None),
                    served("b", Some(2), &old, None),
                ],
                vec![true, false],
                false,
                Some(2),
            ),
            (
                "unreachable",
                vec![
                    served("a", Some(2), &new, None),
                    served("b", None, &[], Some("timeout")),
                ],
                vec![true, false],
                false,
                Some(2),
            ),
            (
                "serial wraps (RFC 1982)",
                vec![
                    served("a", Some(u32::MAX), &old, None),
                    served("b", Some(1), &new, None),
                ],
                vec![false, true],
                false,
                Some(1),
            ),
            (
                "none answers",
                vec![served("a", None, &[], Some("timeout"))],
                vec![false],
                false,
                None,
            ),
            ("no servers", vec![], vec![], false, None),
        ];
        for (name, servers, expected, consistent, newest) in cases {
            let judged = zone(servers);
            assert_eq!(verdicts(&judged), expected, "{name}");
            assert_eq!(judged.consistent, consistent, "{name}");
            assert_eq!(judged.newest_serial, newest, "{name}");
        }
    }

    #[test]
    fn servers_without_a_route_from_here_are_left_out() {
        let mut v6 = served("b", None, &[], None);
        v6.skipped = Some("no route".into());
        let judged = zone(vec![served("a", Some(2), &["3 1 1 aa"], None), v6.clone()]);
        assert!(judged.consistent, "the asked server agrees with itself");
        assert!(!judged.nameservers[1].consistent);
        let judged = zone(vec![v6]);
        assert!(!judged.consistent, "nothing asked, nothing known");
    }

    #[test]
    fn bad_signatures_make_a_server_inconsistent() {
        let mut bad = served("b", Some(2), &["3 1 1 aa"], None);
        bad.signatures_valid = false;
        bad.rrsets[0].signature_problem = Some("every RRSIG is expired or not yet valid".into());
        let judged = zone(vec![served("a", Some(2), &["3 1 1 aa"], None), bad]);
        assert_eq!(verdicts(&judged), vec![true, false]);
        assert!(why_inconsistent(&judged.nameservers[1]).contains("expired"));
    }
}
