//! What the authoritative checks found: per zone holding an RRset DANE depends on, what each of
//! its nameservers serves, whether they agree, and the zone's DNSKEY/DS facts.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use super::hygiene::{DsFact, KeyFact};
use crate::core::Finding;

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
    pub warnings: Vec<Finding>,
}

/// Whether every authoritative nameserver of the zone holding the TLSA RRset at `owner` serves the
/// same data; `None` when the authoritative checks did not run for it.
pub fn tlsa_zone_consistent(zones: &[ZoneReport], owner: &str) -> Option<bool> {
    zones
        .iter()
        .find(|zone| {
            zone.rrsets
                .iter()
                .any(|key| key.rtype == "TLSA" && key.name == owner)
        })
        .map(|zone| zone.consistent)
}
