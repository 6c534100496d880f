//! The lookups a DANE client makes for one host before it connects (RFC 7672 section 2.2.2, which
//! RFC 7671 section 7 generalises to every service), as Postfix 3.7 makes them (`smtp_addr.c`,
//! `tls_dane.c` `tls_dane_resolve`):
//!
//! - A and AAAA, each RRset on its own: a family whose lookup fails is left out (the other's
//!   addresses carry on; Postfix keeps the best result per host), and DANE applies to an address
//!   only when its own RRset validated;
//! - when some address validated, TLSA at the CNAME-expanded name first, then at the name as
//!   given;
//! - when none did but the name is an alias, the alias itself (the CNAME record at the name as
//!   given) is asked for its DNSSEC state: a secure alias keeps DANE at the original name, with
//!   TLSA looked up there only (`qname_secure`).
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
    /// The TLSA lookups made (and the alias's own lookup, when one was needed).
    pub lookups: Vec<RrsetReport>,
    /// The secure TLSA RRset, when DANE applies.
    pub records: Vec<TlsaRecord>,
    /// Its earliest RRSIG expiration.
    pub signature_expiration: Option<UnixSeconds>,
}

/// One address of a host, and whether DANE may apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostAddress {
    /// The address.
    pub address: IpAddr,
    /// Its RRset validated (or the alias that led to it did): with a secure TLSA RRset, DANE
    /// applies to this address.
    pub secure: bool,
}

/// A host's addresses and its TLSA decision: what the MX and services checks need before
/// connecting.
pub struct HostLookups {
    /// The A and AAAA lookups.
    pub address_lookups: Vec<RrsetReport>,
    /// Every address of the families that were answered, A first.
    pub addresses: Vec<HostAddress>,
    /// The TLSA step's result.
    pub decision: TlsaDecision,
}

/// Looks up a host's addresses, then (when they, or the alias that led to them, are secure) its
/// TLSA RRset at `_<port>._tcp.<name>`.
pub async fn lookup_host(dns: &DnsClient, host: &str, port: u16) -> HostLookups {
    let (a, aaaa) = tokio::join!(
        dns.lookup_addresses(host, RecordType::A),
        dns.lookup_addresses(host, RecordType::Aaaa)
    );
    let address_lookups = vec![
        RrsetReport::from_answer(&a),
        RrsetReport::from_answer(&aaaa),
    ];
    let answered: Vec<&Answer<IpAddr>> = [&a, &aaaa]
        .into_iter()
        .filter(|answer| answer.result.is_ok())
        .collect();
    let mut addresses: Vec<HostAddress> = answered
        .iter()
        .flat_map(|answer| {
            let secure = answer.is_secure();
            answer
                .records()
                .iter()
                .map(move |&address| HostAddress { address, secure })
        })
        .collect();
    let any_secure_address = addresses.iter().any(|a| a.secure);
    // Both families denied, securely: the host has no address, and is judged as one with DANE
    // (no endpoint to authenticate is a finding of its own).
    let securely_empty = addresses.is_empty()
        && answered.len() == 2
        && answered.iter().all(|answer| answer.is_secure());
    let expanded = expanded_host_name(host, &answered);

    let decision = if answered.is_empty() || (addresses.is_empty() && answered.len() < 2) {
        // Nothing to connect to and a failed lookup: the sender cannot tell whether an address
        // exists, so it defers.
        TlsaDecision::without(HostDane::AddressLookupFailed)
    } else if any_secure_address || securely_empty {
        decide_tlsa(dns, port, host, expanded.as_deref(), Vec::new()).await
    } else if addresses.is_empty() {
        // Nothing to connect to, and nothing secure about it.
        TlsaDecision::without(HostDane::AddressesInsecure)
    } else if expanded.is_some() {
        // The addresses are insecure, but the name is an alias: a secure alias still binds the
        // original name, where the TLSA records then live (RFC 7672 2.2.2).
        let alias = dns.lookup_cname(host).await;
        let alias_lookup = RrsetReport::from_answer(&alias);
        match &alias.result {
            Ok(response)
                if response.status == DnssecStatus::Secure
                    && matches!(response.set, RecordSet::Records(_)) =>
            {
                for address in &mut addresses {
                    address.secure = true;
                }
                decide_tlsa(dns, port, host, None, vec![alias_lookup]).await
            }
            Ok(response) if matches!(response.set, RecordSet::Records(_)) => TlsaDecision {
                lookups: vec![alias_lookup],
                ..TlsaDecision::without(HostDane::AddressesInsecure)
            },
            // Postfix: "DNSSEC status lookup error" (or "no longer a CNAME"): it cannot tell
            // whether DANE applies, so it defers, like a failed TLSA lookup.
            _ => TlsaDecision {
                lookups: vec![alias_lookup],
                ..TlsaDecision::without(HostDane::TlsaLookupFailed)
            },
        }
    } else {
        // Postfix looks up TLSA only for hosts whose address records validated: an attacker
        // who can forge the address could otherwise steer delivery (RFC 7672 2.2.2).
        TlsaDecision::without(HostDane::AddressesInsecure)
    };
    HostLookups {
        address_lookups,
        addresses,
        decision,
    }
}

/// Finds the TLSA RRset of a host (RFC 7672 2.2.2): at the fully CNAME-expanded name first, when
/// there is one, then at the name from the MX record (or service configuration). `lookups` holds
/// lookups made before (the alias's own).
async fn decide_tlsa(
    dns: &DnsClient,
    port: u16,
    host: &str,
    expanded: Option<&str>,
    mut lookups: Vec<RrsetReport>,
) -> TlsaDecision {
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
fn expanded_host_name(host: &str, answered: &[&Answer<IpAddr>]) -> Option<String> {
    answered
        .iter()
        .filter_map(|answer| answer.result.as_ref().ok())
        .filter_map(|response| response.expanded_name())
        .find(|name| *name != host)
        .map(str::to_string)
}
