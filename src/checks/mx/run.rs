//! The MX check's I/O: the lookups and connections a DANE-enforcing sender makes, in its order
//! (RFC 7672 section 2). MX, then per MX host and concurrently its addresses and TLSA
//! (`crate::dns::lookup_host`), then one STARTTLS session per address (`crate::smtp`), each
//! presented chain judged by the pure rules (`crate::dane`) where DANE applies.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use futures_util::future::join_all;

use crate::core::{
    normalize_name, EndpointReport, EndpointSession, HostDane, MxHostReport, MxRecord, MxReport,
    RecordSet, RrsetReport, UnixSeconds,
};
use crate::dane::{self, describe_certificate, EndpointInput};
use crate::dns::{lookup_host, DnsClient, HostLookups, TlsaDecision};
use crate::smtp::{probe_starttls, HostLimits, SessionCache, SessionOutcome, SmtpSettings};

/// What the MX check talks through.
#[derive(Clone, Copy)]
pub struct MxProbe<'a> {
    /// The DNS client.
    pub dns: &'a DnsClient,
    /// How to talk SMTP.
    pub smtp: &'a SmtpSettings,
    /// STARTTLS sessions shared with other domains, if any.
    pub sessions: Option<&'a SessionCache>,
    /// The cap on connections open at once to one address, shared with other probes.
    pub limits: &'a HostLimits,
}

/// An MX host to probe, with what the MX lookup said about it.
struct Candidate {
    name: String,
    preference: u16,
}

/// Probes the MX hosts of `domain` (normalised here). Never fails: every problem is a fact of
/// the report.
pub async fn run(probe: MxProbe<'_>, domain: &str, now: UnixSeconds) -> MxReport {
    let domain = normalize_name(domain);
    let mx = probe.dns.lookup_mx(&domain).await;
    let mut implicit_mx = false;
    let candidates: Vec<Candidate> = match &mx.result {
        Ok(response) => match &response.set {
            // A null MX means the domain takes no mail, whatever else the RRset holds (RFC 7505
            // 3; Postfix bounces without contacting any host).
            RecordSet::Records(records) if records.iter().any(|r| r.exchange.is_empty()) => {
                Vec::new()
            }
            RecordSet::Records(records) => mx_candidates(records),
            // RFC 5321 5.1: without MX records the domain itself is the mail host.
            RecordSet::NoData => {
                implicit_mx = true;
                vec![Candidate {
                    name: domain.clone(),
                    preference: 0,
                }]
            }
            RecordSet::NxDomain => Vec::new(),
        },
        Err(_) => Vec::new(),
    };
    let mx_owner = mx
        .result
        .as_ref()
        .ok()
        .and_then(|r| r.expanded_name())
        .map(str::to_string);
    let hosts = join_all(candidates.iter().map(|c| {
        let reference = Reference {
            next_hop: &domain,
            mx_owner: mx_owner.as_deref(),
            implicit_mx,
        };
        probe_mx_host(probe, c, reference, now)
    }))
    .await;
    MxReport {
        mx_lookup: RrsetReport::from_answer(&mx),
        mx_records: mx.records().to_vec(),
        domain,
        checked_at: now,
        implicit_mx,
        hosts,
    }
}

/// What the reference identifiers of the MX hosts come from.
#[derive(Clone, Copy)]
struct Reference<'a> {
    next_hop: &'a str,
    mx_owner: Option<&'a str>,
    implicit_mx: bool,
}

/// Everything about one MX host: addresses, TLSA, and one STARTTLS session per address.
async fn probe_mx_host(
    probe: MxProbe<'_>,
    candidate: &Candidate,
    reference: Reference<'_>,
    now: UnixSeconds,
) -> MxHostReport {
    let host = candidate.name.as_str();
    // An insecure MX RRset does not stop the TLSA lookup: Postfix 3.6 and later
    // (smtp_tls_dane_insecure_mx_policy = dane) still enforces the MX hosts' secure TLSA
    // records, so a mismatch there defers mail just the same (RFC 7672 2.2.1 allows this).
    let HostLookups {
        address_lookups,
        addresses,
        decision,
    } = lookup_host(probe.dns, host, probe.smtp.port).await;
    let reference_names = dane::mx_reference_names(
        decision.base_domain.as_deref(),
        reference.next_hop,
        reference.mx_owner,
        reference.implicit_mx,
    );
    let sni = decision.base_domain.as_deref().unwrap_or(host);
    let endpoints = join_all(addresses.iter().map(|address| {
        let dane = decision.dane == HostDane::Applies && address.secure;
        probe_endpoint(
            probe,
            address.address,
            dane,
            sni,
            &decision,
            &reference_names,
            now,
        )
    }))
    .await;
    let rollover_ready = match decision.dane {
        HostDane::Applies => {
            let evaluations: Vec<_> = endpoints
                .iter()
                .filter_map(|e| e.evaluation.as_ref())
                .collect();
            Some(!evaluations.is_empty() && evaluations.iter().all(|e| e.rollover_ready))
        }
        _ => None,
    };
    MxHostReport {
        name: host.to_string(),
        preference: candidate.preference,
        dane: decision.dane,
        tlsa_base_domain: decision.base_domain,
        tlsa_lookups: decision.lookups,
        tlsa_records: decision.records,
        address_lookups,
        endpoints,
        rollover_ready,
    }
}

/// One STARTTLS session with one address, and the DANE evaluation of what it presented when
/// DANE applies to it.
async fn probe_endpoint(
    probe: MxProbe<'_>,
    address: IpAddr,
    dane: bool,
    sni: &str,
    decision: &TlsaDecision,
    reference_names: &[String],
    now: UnixSeconds,
) -> EndpointReport {
    let (result, duration_seconds) = starttls_session(probe, address, sni).await;
    let (chain, evaluation) = match &result {
        Ok(session) => (
            session
                .chain
                .iter()
                .filter_map(|der| describe_certificate(der).ok())
                .collect(),
            dane.then(|| {
                dane::evaluate_endpoint(&EndpointInput {
                    tlsa: &decision.records,
                    chain: &session.chain,
                    reference_names,
                    tlsa_signature_expiration: decision.signature_expiration,
                    now,
                })
            }),
        ),
        Err(_) => (Vec::new(), None),
    };
    EndpointReport {
        address,
        dane,
        session: EndpointSession::from_result(result),
        chain,
        evaluation,
        duration_seconds,
        key_algorithms: Vec::new(),
    }
}

/// One STARTTLS session with `address`, shared through the session cache when there is one.
async fn starttls_session(probe: MxProbe<'_>, address: IpAddr, sni: &str) -> SessionOutcome {
    let socket = SocketAddr::new(address, probe.smtp.port);
    // Only the probe that makes the session waits for the address's cap; one sharing it waits
    // for that session instead.
    let run = async {
        let _permit = probe.limits.acquire(socket).await;
        let started = Instant::now();
        let result = probe_starttls(socket, sni, probe.smtp).await;
        (result, started.elapsed().as_secs_f64())
    };
    match probe.sessions {
        Some(cache) => cache.session(socket, sni, run).await,
        None => run.await,
    }
}

/// MX hosts in the order a sender tries them, without duplicates and without the null MX.
fn mx_candidates(records: &[MxRecord]) -> Vec<Candidate> {
    let mut sorted: Vec<&MxRecord> = records.iter().filter(|r| !r.exchange.is_empty()).collect();
    sorted.sort_by(|a, b| (a.preference, &a.exchange).cmp(&(b.preference, &b.exchange)));
    let mut candidates: Vec<Candidate> = Vec::with_capacity(sorted.len());
    for record in sorted {
        if !candidates.iter().any(|c| c.name == record.exchange) {
            candidates.push(Candidate {
                name: record.exchange.clone(),
                preference: record.preference,
            });
        }
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_ordered_deduplicated_and_skip_null_mx() {
        let records = vec![
            MxRecord {
                preference: 20,
                exchange: "b.example".into(),
            },
            MxRecord {
                preference: 10,
                exchange: "c.example".into(),
            },
            MxRecord {
                preference: 10,
                exchange: "a.example".into(),
            },
            MxRecord {
                preference: 30,
                exchange: "a.example".into(),
            },
            MxRecord {
                preference: 0,
                exchange: String::new(),
            },
        ];
        let names: Vec<_> = mx_candidates(&records)
            .into_iter()
            .map(|c| (c.preference, c.name))
            .collect();
        assert_eq!(
            names,
            vec![
                (10, "a.example".to_string()),
                (10, "c.example".to_string()),
                (20, "b.example".to_string())
            ]
        );
    }
}
