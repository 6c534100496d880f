//! The authoritative check's I/O: for every zone holding a TLSA or the MX RRset, its nameservers
//! asked directly (RD clear, DO set, `crate::dns::authoritative`) for the SOA, the DNSKEY RRset and
//! the RRsets; the parent's DS through the configured resolver.
//!
//! A rollover (RFC 7671 8.1) is only safe once *every* authoritative server of the zone serves
//! the new TLSA record: a resolver may ask any of them, and a secondary that lags one serial
//! behind hands out the old RRset for as long as it lags. Resolvers hide this; only asking each
//! server directly shows it.
//!
//! Through the configured resolver (RD set) this finds each RRset's zone (the SOA owner), the
//! zone's NS names and their A/AAAA addresses, and the parent's DS RRset; then it asks every
//! address. Each zone's answers are compared by the pure rules of `super::judge` and
//! `super::hygiene` as they come in.
//!
//! Bounds: each question has the step timeout; at most [`MAX_SERVERS`] addresses per zone and
//! [`MAX_PARALLEL`] servers asked at once per probe. NS records carry no port, so every server is
//! asked on [`AuthoritativeSettings::port`]: 53, except in tests (the `authoritative_port` key).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument as _;

use futures_util::future::join_all;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, Record, RecordType as WireType};
use tokio::sync::Semaphore;

use super::hygiene::{dnssec_findings, DsFact, KeyFact, ZoneKeys};
use super::judge::{inconsistency, judge_zone};
use super::report::{
    AuthoritativeSettings, NameserverReport, RrsetKey, ServedRrset, ZoneReport, MAX_PARALLEL,
    MAX_SERVERS, MAX_ZONES,
};
use crate::core::{normalize_name, Finding, MxReport, RrsetOutcome, UnixSeconds};
use crate::dns::authoritative::{ask, dnskeys, verify_rrset, RawAnswer};

/// The zone reports of the MX RRset and every TLSA RRset of `mx`; `Err` when the checks stopped
/// (they run in a task of their own: the answers, and the signature checks over them, come from
/// servers anyone can run, and a panic on hostile data must cost this part only).
pub async fn run(
    settings: &AuthoritativeSettings,
    mx: &MxReport,
) -> Result<Vec<ZoneReport>, String> {
    let examined =
        |outcome: RrsetOutcome| matches!(outcome, RrsetOutcome::Records | RrsetOutcome::Failed);
    let mut wanted: Vec<(String, WireType)> = Vec::new();
    // A failed MX lookup is examined too: a broken DS or a dead server shows here.
    if examined(mx.mx_lookup.outcome) {
        wanted.push((mx.domain.clone(), WireType::MX));
    }
    for host in &mx.hosts {
        for lookup in &host.tlsa_lookups {
            if examined(lookup.outcome) {
                wanted.push((lookup.name.clone(), WireType::TLSA));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let settings = settings.clone();
    let now = mx.checked_at;
    tokio::spawn(async move { check_zones(&settings, &wanted, now).await }.in_current_span())
        .await
        .map_err(|error| error.to_string())
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
        report.warnings.push(Finding::new(reason, message));
    }
    report.warnings.extend(inconsistency(&report));
    report.dnskeys = key_facts;
    report.ds = ds_facts;
    report
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
