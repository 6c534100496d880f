//! The lookups a DANE client makes for one host before it connects (RFC 7672 section 2.2.2, which
//! RFC 7671 section 7 generalises to every service): A and AAAA; when both are secure, TLSA at
//! the CNAME-expanded name first, then at the name as given.
//!
//! The MX check (`crate::checks::mx`) calls [`lookup_host`] for every MX host, the services check
//! (`crate::checks::services`) for every service host; both then connect to the addresses found.

use std::net::IpAddr;

use super::client::DnsClient;
use crate::core::{
    Answer, DnssecStatus, HostDane, RecordSet, RecordType, RrsetReport, TlsaRecord, UnixSeconds,
};

/// What the TLSA step decided for one host.
pub struct TlsaDecision {
    /// Whether DANE applies, and if not why.
    pub dane: HostDane,
    /// Where the TLSA RRset was found.
    pub base_domain: Option<String>,
    /// The TLSA lookups made.
    pub lookups: Vec<RrsetReport>,
    /// The secure TLSA RRset, when DANE applies.
    pub records: Vec<TlsaRecord>,
    /// Its earliest RRSIG expiration.
    pub signature_expiration: Option<UnixSeconds>,
}

/// A host's addresses and its TLSA decision: what the MX and services checks need before
/// connecting.
pub struct HostLookups {
    /// The A and AAAA lookups.
    pub address_lookups: Vec<RrsetReport>,
    /// Every address found, A first.
    pub addresses: Vec<IpAddr>,
    /// The TLSA step's result.
    pub decision: TlsaDecision,
}

/// Looks up a host's addresses, then (when they are secure) its TLSA RRset at
/// `_<port>._tcp.<name>`, following RFC 7672 2.2.2 (which RFC 7671 7 generalises to every
/// service): addresses must validate, then TLSA at the CNAME-expanded name first, then at the
/// original name.
pub async fn lookup_host(dns: &DnsClient, host: &str, port: u16) -> HostLookups {
    let (a, aaaa) = tokio::join!(
        dns.lookup_addresses(host, RecordType::A),
        dns.lookup_addresses(host, RecordType::Aaaa)
    );
    let address_lookups = vec![
        RrsetReport::from_answer(&a),
        RrsetReport::from_answer(&aaaa),
    ];
    let addresses: Vec<IpAddr> = a.records().iter().chain(aaaa.records()).copied().collect();
    let decision = if a.result.is_err() || aaaa.result.is_err() {
        TlsaDecision::without(HostDane::AddressLookupFailed)
    } else if !(a.is_secure() && aaaa.is_secure()) {
        // Postfix looks up TLSA only for hosts whose address records validated: an attacker
        // who can forge the address could otherwise steer delivery (RFC 7672 2.2.2).
        TlsaDecision::without(HostDane::AddressesInsecure)
    } else {
        let expanded = expanded_host_name(host, &a, &aaaa);
        decide_tlsa(dns, port, host, expanded.as_deref()).await
    };
    HostLookups {
        address_lookups,
        addresses,
        decision,
    }
}

/// Finds the TLSA RRset of a host whose addresses validated (RFC 7672 2.2.2): at the fully
/// CNAME-expanded name first, then at the name from the MX record (or service configuration).
async fn decide_tlsa(
    dns: &DnsClient,
    port: u16,
    host: &str,
    expanded: Option<&str>,
) -> TlsaDecision {
    let mut lookups = Vec::new();
    let mut names = Vec::new();
    if let Some(expanded) = expanded {
        names.push(expanded.to_string());
    }
    names.push(host.to_string());

    let mut decision = TlsaDecision::without(HostDane::NoTlsa);
    for base in names {
        // `_<port>._tcp.<base>`: the TLSA owner name follows the port (RFC 6698 3).
        let answer = dns.lookup_tlsa(&format!("_{port}._tcp.{base}")).await;
        lookups.push(RrsetReport::from_answer(&answer));
        match &answer.result {
            Err(_) => {
                // The sender cannot tell whether DANE applies, so it must not deliver.
                decision = TlsaDecision::without(HostDane::TlsaLookupFailed);
                break;
            }
            Ok(response) => match (&response.set, response.status) {
                (RecordSet::Records(records), DnssecStatus::Secure) => {
                    decision = TlsaDecision {
                        dane: HostDane::Applies,
                        base_domain: Some(base),
                        lookups: Vec::new(),
                        records: records.clone(),
                        signature_expiration: response.signature_expiration,
                    };
                    break;
                }
                (RecordSet::Records(_), _) => {
                    decision = TlsaDecision::without(HostDane::TlsaInsecure);
                }
                (_, DnssecStatus::Secure) => {
                    decision = TlsaDecision::without(HostDane::NoTlsa);
                }
                _ => decision = TlsaDecision::without(HostDane::TlsaInsecure),
            },
        }
    }
    decision.lookups = lookups;
    decision
}

impl TlsaDecision {
    /// A decision without TLSA records: DANE does not apply, for the reason `dane` gives.
    pub fn without(dane: HostDane) -> Self {
        Self {
            dane,
            base_domain: None,
            lookups: Vec::new(),
            records: Vec::new(),
            signature_expiration: None,
        }
    }
}

/// The fully CNAME-expanded name of `host`, when its address lookups followed an alias.
fn expanded_host_name(host: &str, a: &Answer<IpAddr>, aaaa: &Answer<IpAddr>) -> Option<String> {
    [a, aaaa]
        .into_iter()
        .filter_map(|answer| answer.result.as_ref().ok())
        .filter_map(|response| response.expanded_name())
        .find(|name| *name != host)
        .map(str::to_string)
}
