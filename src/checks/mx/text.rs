//! The MX check's part of the human report: per MX host its lookups and DANE state, per address
//! the STARTTLS session, the presented leaf, each TLSA record's state, the outcome and the
//! divergence.

use std::fmt::Write as _;

use crate::core::text::{leaf_line, outcome_text, record_state_text, rrset_line};
use crate::core::time::{days_from, format_time};
use crate::core::{
    DivergenceCause, EndpointReport, EndpointSession, HostDane, MxHostReport, MxReport,
    Reachability, TlsEngine,
};

/// Lines another check adds under an endpoint, after its outcome (the key algorithms).
pub type EndpointLines<'a> = dyn Fn(&EndpointReport) -> Vec<String> + 'a;

/// The MX lookup line and the implicit-MX note.
pub fn mx_lines(out: &mut String, mx: &MxReport) {
    let _ = writeln!(
        out,
        "  MX      {}",
        rrset_line(&mx.mx_lookup, mx.checked_at)
    );
    if mx.implicit_mx {
        let _ = writeln!(
            out,
            "          no MX records: the domain itself is the mail host"
        );
    }
}

/// Every MX host; `extra` gives each endpoint's lines from other checks.
pub fn hosts(out: &mut String, mx: &MxReport, extra: &EndpointLines<'_>) {
    for host in &mx.hosts {
        render_host(out, host, mx.checked_at, extra);
    }
}

fn render_host(out: &mut String, host: &MxHostReport, now: i64, extra: &EndpointLines<'_>) {
    let _ = writeln!(
        out,
        "\n  MX {} {}: {}",
        host.preference,
        host.name,
        host.dane.text()
    );
    for lookup in &host.address_lookups {
        let _ = writeln!(
            out,
            "    {:<6}{}",
            lookup.rtype.as_str(),
            rrset_line(lookup, now)
        );
    }
    for lookup in &host.tlsa_lookups {
        let _ = writeln!(out, "    TLSA  {}", rrset_line(lookup, now));
    }
    if let Some(base) = &host.tlsa_base_domain {
        if base != &host.name {
            let _ = writeln!(out, "    TLSA base domain: {base} (CNAME-expanded)");
        }
    }
    if let Some(ready) = host.rollover_ready {
        let _ = writeln!(
            out,
            "    rollover ready: {}",
            if ready { "yes" } else { "no" }
        );
    }
    for endpoint in &host.endpoints {
        render_endpoint(out, host, endpoint, now, extra);
    }
}

fn render_endpoint(
    out: &mut String,
    host: &MxHostReport,
    endpoint: &EndpointReport,
    now: i64,
    extra: &EndpointLines<'_>,
) {
    let _ = write!(out, "    [{}] ", endpoint.address);
    match &endpoint.session {
        EndpointSession::Tls(tls) => {
            let engine = match tls.engine {
                TlsEngine::Rustls => "",
                TlsEngine::Openssl => " (OpenSSL engine: a legacy server)",
            };
            let _ = writeln!(
                out,
                "STARTTLS ok, {} {}{engine}",
                tls.version, tls.cipher_suite
            );
        }
        EndpointSession::Failed(error) => {
            let reach = match error.reachability() {
                Reachability::Reached => "",
                Reachability::Unreachable => ": unreachable, senders try the next address",
                Reachability::Unroutable => ": skipped, no route from this host",
            };
            let _ = writeln!(out, "{} ({}){reach}", error, error.reason());
        }
    }
    if host.dane == HostDane::Applies && !endpoint.dane {
        let _ = writeln!(
            out,
            "      its address record is not DNSSEC-signed: DANE does not apply to this address"
        );
    }
    if let Some(leaf) = endpoint.chain.first() {
        leaf_line(out, leaf, now);
        let _ = writeln!(out, "      key: 3 1 1 {}", leaf.spki_sha256);
    }
    let Some(evaluation) = &endpoint.evaluation else {
        return;
    };
    for (record, result) in host.tlsa_records.iter().zip(&evaluation.records) {
        let _ = writeln!(
            out,
            "      TLSA {record}: {}",
            record_state_text(&result.state)
        );
    }
    let outcome = outcome_text(
        &evaluation.outcome,
        "no usable TLSA record: encrypted, not authenticated",
    );
    let _ = writeln!(out, "      => {outcome}");
    for line in extra(endpoint) {
        let _ = writeln!(out, "      {line}");
    }
    if let Some(divergence) = evaluation.divergence {
        let _ = writeln!(
            out,
            "      divergence: {} ({}, {})",
            format_time(divergence),
            days_from(now, divergence),
            evaluation
                .divergence_cause
                .map(|c| match c {
                    DivergenceCause::CertificateExpiry => "certificate expiry",
                    DivergenceCause::ChainExpiry => "trust-anchor chain expiry",
                    DivergenceCause::SignatureExpiry => "TLSA signature expiry",
                })
                .unwrap_or("unknown")
        );
    }
}
