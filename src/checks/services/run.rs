//! The services check's I/O: per service the host's lookups (`crate::dns::lookup_host`: addresses
//! must be secure, TLSA at the CNAME-expanded name first), one TLS session per address
//! (`session.rs`, with `imap.rs`, `pop3.rs` and `crate::smtp` for the STARTTLS dialogues), each
//! chain judged by the DANE rules under the service profile (PKIX usages usable, validated
//! against Mozilla's roots plus the configured CA bundle).
//!
//! Reference identifiers for the name checks of DANE-TA and the PKIX usages: the configured host
//! name and, when CNAMEs led the TLSA lookup elsewhere, the TLSA base domain (RFC 7671 7). SNI is
//! the TLSA base domain when DANE applies, else the host name.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::report::{ServiceEndpointReport, ServiceFacts, ServiceSession};
use super::session;
use super::spec::{ServiceSpec, TlsMode};
use crate::core::{HostDane, UnixSeconds};
use crate::dane::{self, describe_certificate, DaneProfile, EndpointInput, PkixTrust};
use crate::dns::{lookup_host, DnsClient, HostLookups};

/// How to talk to services.
#[derive(Clone, Copy, Debug)]
pub struct ServiceSettings<'a> {
    /// Time allowed for each connect and handshake.
    pub step_timeout: Duration,
    /// Time allowed for each reply of the server (greeting, capabilities, STARTTLS).
    pub reply_timeout: Duration,
    /// Our name in EHLO (submission with STARTTLS).
    pub ehlo_name: &'a str,
    /// Roots for the PKIX usages.
    pub pkix: &'a PkixTrust,
}

/// Probes one service: lookups, one TLS session per address, the DANE evaluation of each chain.
/// Never fails: every problem is a fact of the result.
pub async fn run(
    dns: &DnsClient,
    spec: &ServiceSpec,
    settings: ServiceSettings<'_>,
    now: UnixSeconds,
) -> ServiceFacts {
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

    let endpoints = join_all(addresses.iter().map(|host_address| {
        let address = host_address.address;
        let dane = applies && host_address.secure;
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
                settings.reply_timeout,
                settings.ehlo_name,
            )
            .await;
            let duration_seconds = begun.elapsed().as_secs_f64();
            match result {
                Ok(session) => ServiceEndpointReport {
                    address,
                    dane,
                    session: ServiceSession::Tls {
                        tls: session.tls,
                        after_starttls: spec.tls == TlsMode::Starttls,
                    },
                    chain: session
                        .chain
                        .iter()
                        .filter_map(|der| describe_certificate(der).ok())
                        .collect(),
                    evaluation: dane.then(|| {
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
                    dane,
                    session: ServiceSession::Failed(error),
                    chain: Vec::new(),
                    evaluation: None,
                    duration_seconds,
                },
            }
        }
    }))
    .await;

    ServiceFacts {
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
        duration_seconds: started.elapsed().as_secs_f64(),
    }
}
