//! The MX check's series: the DNSSEC state of every RRset it looked up, the DANE state of every
//! MX host, and per endpoint the STARTTLS facts, the TLSA match, each record's state and the
//! time to divergence. Names and help texts are in `crate::metrics`' table.

use std::net::IpAddr;

use crate::core::sink::{flag, join, RecordLabels};
use crate::core::{
    DnssecStatus, EndpointOutcome, HostDane, MxReport, Reachability, RrsetReport, Sink,
};

/// Adds the series of `mx` after the target's base labels `base`.
pub fn add(f: &mut dyn Sink, base: &[(&str, &str)], mx: &MxReport) {
    let mut rrsets: Vec<&RrsetReport> = vec![&mx.mx_lookup];
    for host in &mx.hosts {
        rrsets.extend(host.address_lookups.iter());
        rrsets.extend(host.tlsa_lookups.iter());
    }
    for rrset in rrsets {
        let labels = join(
            base,
            &[("name", &rrset.name), ("type", rrset.rtype.as_str())],
        );
        f.gauge(
            "dane_dnssec_valid",
            &labels,
            flag(rrset.dnssec == DnssecStatus::Secure),
        );
        // The status explains a `dane_dnssec_valid` of 0; for a secure RRset it would only
        // repeat the 1.
        if rrset.dnssec != DnssecStatus::Secure {
            f.gauge(
                "dane_dnssec_status",
                &join(&labels, &[("status", rrset.dnssec.as_str())]),
                1.0,
            );
        }
        if let Some(expiration) = rrset.signature_expiration {
            f.gauge(
                "dane_rrsig_expiration_timestamp_seconds",
                &labels,
                expiration as f64,
            );
        }
    }

    // Per family: whether any address of it was reached. A family the monitoring host cannot
    // route (every address skipped) reads 0 like one whose servers are all down; the endpoints'
    // `dane_endpoint_reachable` tells the two apart.
    for (family, is_family) in [
        ("ipv4", IpAddr::is_ipv4 as fn(&IpAddr) -> bool),
        ("ipv6", IpAddr::is_ipv6),
    ] {
        let mut endpoints = mx
            .hosts
            .iter()
            .flat_map(|h| h.endpoints.iter())
            .filter(|e| is_family(&e.address))
            .peekable();
        if endpoints.peek().is_none() {
            continue;
        }
        let reached = endpoints.any(|e| e.session.reachability() == Reachability::Reached);
        f.gauge(
            "dane_address_family_reachable",
            &join(base, &[("family", family)]),
            flag(reached),
        );
    }

    for host in &mx.hosts {
        let name = host.name.as_str();
        // Enumerations are one series for the current state, not a state set (crate::metrics).
        f.gauge(
            "dane_mx_dane_state",
            &join(base, &[("mx", name), ("state", host.dane.as_str())]),
            1.0,
        );
        if let Some(ready) = host.rollover_ready {
            f.gauge(
                "dane_tlsa_rollover_ready",
                &join(base, &[("mx", name)]),
                flag(ready),
            );
        }
        if host.dane == HostDane::Applies {
            f.gauge(
                "dane_tlsa_records",
                &join(base, &[("mx", name)]),
                host.tlsa_records.len() as f64,
            );
        }
        for endpoint in &host.endpoints {
            let address = endpoint.address.to_string();
            let at = join(base, &[("mx", name), ("address", &address)]);
            let reachability = endpoint.session.reachability();
            match reachability {
                Reachability::Reached => f.gauge("dane_endpoint_reachable", &at, 1.0),
                Reachability::Unreachable => f.gauge("dane_endpoint_reachable", &at, 0.0),
                // Skipped: the monitoring host has no route there.
                Reachability::Unroutable => {}
            }
            if let Some(offered) = endpoint.session.starttls_offered() {
                f.gauge("dane_starttls_offered", &at, flag(offered));
            }
            if let Some(tls) = endpoint.session.tls() {
                f.gauge(
                    "dane_tls_version_info",
                    &join(
                        &at,
                        &[("version", &tls.version), ("engine", tls.engine.as_str())],
                    ),
                    1.0,
                );
            }
            if let Some(leaf) = endpoint.chain.first() {
                f.gauge(
                    "dane_certificate_not_after_timestamp_seconds",
                    &at,
                    leaf.not_after as f64,
                );
            }
            f.gauge("dane_smtp_duration_seconds", &at, endpoint.duration_seconds);
            // Where DANE applies and the server was reached: an unreachable address has no
            // answer to match, and a sender moves on from it.
            if host.dane != HostDane::Applies
                || !endpoint.dane
                || reachability != Reachability::Reached
            {
                continue;
            }
            let evaluation = endpoint.evaluation.as_ref();
            let authenticated = matches!(
                evaluation.map(|e| &e.outcome),
                Some(EndpointOutcome::Authenticated { .. })
            );
            let passes = evaluation.is_some_and(|e| e.passes());
            f.gauge("dane_tlsa_match", &at, flag(authenticated));
            let divergence = evaluation.and_then(|e| e.divergence);
            if let Some(divergence) = divergence {
                f.gauge("dane_divergence_timestamp_seconds", &at, divergence as f64);
            }
            // Nothing is authenticated without usable records, so nothing can diverge either.
            let no_usable_records = matches!(
                evaluation.map(|e| &e.outcome),
                Some(EndpointOutcome::NoUsableRecords)
            );
            if !no_usable_records {
                let until = divergence.filter(|_| passes);
                f.countdown("dane_divergence_remaining_seconds", &at, until);
            }
            if let Some(evaluation) = evaluation {
                for result in &evaluation.records {
                    let record = RecordLabels::of(&result.record);
                    let mut labels = join(&at, &record.pairs());
                    labels.push(("state", result.state.label()));
                    f.gauge("dane_tlsa_record_state", &labels, 1.0);
                }
            }
        }
    }
}
