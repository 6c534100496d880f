//! What `dane_exporter tlsa` prints: the records as zone-file lines, and with `--check` the
//! published RRset, the server's key and the rollover step, each as a zone-file comment, so that
//! the whole output can be pasted into a zone as it is.

use std::fmt::Write;

use crate::core::time::format_time;
use crate::core::{CertUsage, TlsaRecord};

use super::material::{Material, Params};
use super::rollover::{Published, Step};
use super::{CheckReport, Report, Role};

/// The report as text for standard output.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let p = report.params;
    let _ = writeln!(
        out,
        "; TLSA records for {} ({} {} {}: {})",
        report.owner.trim_end_matches('.'),
        p.usage,
        p.selector,
        p.matching,
        describe(p)
    );
    for key in &report.keys {
        let role = match key.role {
            Role::Current => "current",
            Role::Next => "next",
        };
        let _ = writeln!(
            out,
            "{} IN TLSA {} ; {role}: {}",
            report.owner,
            key.record,
            about(&key.material)
        );
    }
    if let Some(check) = &report.check {
        render_check(&mut out, report, check);
    }
    out
}

fn render_check(out: &mut String, report: &Report, check: &CheckReport) {
    let owner = &report.owner;
    let key = |role: Role| report.keys.iter().find(|k| k.role == role);
    let current = key(Role::Current).map(|k| &k.material);
    let next = key(Role::Next).map(|k| &k.material);
    let served = check.served.as_ref().ok();
    let _ = writeln!(out, ";");
    match &check.published {
        Published::Secure { records, ttl } => {
            let ttl = ttl.map(|t| format!(", TTL {t} s")).unwrap_or_default();
            let _ = writeln!(out, "; published now at {owner} (DNSSEC secure{ttl}):");
            if records.is_empty() {
                let _ = writeln!(out, ";   no TLSA records");
            }
            for record in records {
                let marks = marks(record, current, next, served);
                let _ = writeln!(out, ";   {record}  <- {marks}");
            }
        }
        Published::Insecure => {
            let _ = writeln!(
                out,
                "; published now at {owner}: insecure (not DNSSEC-signed)"
            );
        }
        Published::Failed(detail) => {
            let _ = writeln!(out, "; published now at {owner}: lookup failed: {detail}");
        }
        Published::Blind(finding) => {
            let _ = writeln!(
                out,
                "; published now at {owner}: unknown ({})",
                finding.reason.as_str()
            );
        }
    }
    match &check.served {
        Ok(server) => {
            let which = match (current, next) {
                (Some(c), _) if c.same_key(server) => "the current key",
                (_, Some(n)) if n.same_key(server) => "the next key",
                _ => "a key that is neither the current nor the next one",
            };
            let _ = writeln!(out, "; server {}: presents {which}", server.origin);
        }
        Err(detail) => {
            let _ = writeln!(out, "; server not reached: {detail}");
        }
    }
    let _ = writeln!(out, ";");
    for line in step_text(owner, &check.step, check.now).lines() {
        let _ = writeln!(out, "; {line}");
    }
}

/// What the published record pins, among the keys this run knows.
fn marks(
    record: &TlsaRecord,
    current: Option<&Material>,
    next: Option<&Material>,
    served: Option<&Material>,
) -> String {
    if !matches!(record.usage, CertUsage::DaneEe | CertUsage::DaneTa) {
        return "unusable for SMTP (RFC 7672 3.1.3)".into();
    }
    let names: Vec<&str> = [("current", current), ("next", next), ("served", served)]
        .into_iter()
        .filter(|(_, key)| key.is_some_and(|k| k.covered_by(record)))
        .map(|(name, _)| name)
        .collect();
    if names.is_empty() {
        "matches none of these keys (stale, or another server's)".into()
    } else {
        names.join(", ")
    }
}

/// The step and the next action, several lines.
fn step_text(owner: &str, step: &Step, now: i64) -> String {
    let line = |r: &TlsaRecord| format!("  {owner} IN TLSA {r}");
    let two_ttls = |required: &Option<u64>| match required {
        Some(s) => format!("two TTLs ({s} s)"),
        None => "two TTLs of the RRset (its TTL is unknown)".to_string(),
    };
    match step {
        Step::NotPublished { insecure: true, .. } => {
            "DANE does not apply: the answer is insecure (the zone or one above it is not signed).\n\
             Next: sign the zone, then publish the records above."
                .to_string()
        }
        Step::NotPublished { publish, .. } => format!(
            "no TLSA records are published: DANE does not apply to this host yet.\n\
             Next: publish\n{}",
            publish.iter().map(line).collect::<Vec<_>>().join("\n")
        ),
        Step::Blind(finding) => format!(
            "no step: {}.\n\
             Next: make this host see (its resolver), then run this again.",
            finding.message
        ),
        Step::LookupFailed(detail) => format!(
            "the TLSA lookup fails ({detail}): DANE senders defer mail to this host.\n\
             Next: fix DNS (signatures, DS, nameservers) before anything else."
        ),
        Step::AddNext(Some(record)) => format!(
            "step (a) of the rollover (RFC 7671 section 8): only the current key is published.\n\
             Next: add the next key's record beside it, then wait two TTLs before switching:\n{}",
            line(record)
        ),
        Step::AddNext(None) => "step (a) of the rollover (RFC 7671 section 8): the current key is published.\n\
             Next: make the next key now and publish its record (run again with --next FILE),\n\
             two TTLs or more before the renewal that switches to it."
            .to_string(),
        Step::Wait {
            until: Some(until),
            required_seconds,
        } => format!(
            "step (b): both keys are published, the next one not yet for {}.\n\
             Next: wait until {} ({} s from now), then switch the server to the next key.",
            two_ttls(required_seconds),
            format_time(*until),
            until - now
        ),
        Step::Wait {
            until: None,
            required_seconds,
        } => format!(
            "step (b) or (c): both keys are published.\n\
             Next: switch the server to the next key once its record has been published for {}.\n\
             Since when it is published DNS does not say: give --published-at TIME for the time\n\
             to switch (the exporter counts it from its first sighting:\n\
             dane_local_certificate_published_seconds).",
            two_ttls(required_seconds)
        ),
        Step::Switch => "step (c): both keys have been published for two TTLs.\n\
             Next: switch the server to the next key (install it, reload the MTA), then run again."
            .to_string(),
        Step::RemoveOld(records) => format!(
            "step (d): the key in use is published, and so are records of an old key.\n\
             Next: once every MX host presents the new key, remove\n{}\n\
             (keep one if another server still presents its key).",
            records.iter().map(line).collect::<Vec<_>>().join("\n")
        ),
        Step::Done => "step (d) done: the server presents the next key and the old one is gone.\n\
             Next: make the key after it and publish its record (step a)."
            .to_string(),
        Step::FixNow { publish, served } => {
            let whose = if *served {
                "the key the server presents"
            } else {
                "the current key (the server was not reached)"
            };
            let fix = publish
                .as_ref()
                .map(|r| format!("Publish now:\n{}\n", line(r)))
                .unwrap_or_default();
            format!(
                "step (e), fix now: no published record covers {whose}:\n\
                 DANE senders defer mail to this host.\n\
                 {fix}or put back a key that is published. Senders see the change as their \
                 cached copies expire (up to one TTL)."
            )
        }
    }
}

/// Warnings about the chosen parameters (standard error).
pub(super) fn advice(params: Params) -> Vec<String> {
    let mut out = Vec::new();
    match CertUsage::from(params.usage) {
        CertUsage::PkixTa | CertUsage::PkixEe => out.push(format!(
            "usage {} is unusable for SMTP (RFC 7672 3.1.3): DANE senders ignore it; use 3 or 2",
            params.usage
        )),
        CertUsage::DaneTa => out.push(
            "a 2 x x record pins the issuer, and issuers change: Let's Encrypt picks among \
             several intermediates at each renewal since 2024; publish one for every issuer \
             you may get, or prefer 3 1 1 with a next key"
                .to_string(),
        ),
        _ => {}
    }
    if params.usage == 3 && params.selector == 0 {
        out.push(
            "3 0 x pins the whole certificate: every renewal changes it, even one that keeps \
             the key; 3 1 x survives those"
                .to_string(),
        );
    }
    if params.matching == 0 {
        out.push("matching type 0 publishes the selected data itself: a large record".to_string());
    }
    out
}

/// The parameters in words.
fn describe(p: Params) -> String {
    let usage = match CertUsage::from(p.usage) {
        CertUsage::DaneEe => "DANE-EE",
        CertUsage::DaneTa => "DANE-TA, the issuer",
        CertUsage::PkixTa => "PKIX-TA",
        CertUsage::PkixEe => "PKIX-EE",
        CertUsage::Unknown(_) => "unknown usage",
    };
    let selector = match p.selector {
        0 => "full certificate",
        1 => "public key",
        _ => "unknown selector",
    };
    let matching = match p.matching {
        0 => "exact",
        1 => "SHA-256",
        2 => "SHA-512",
        _ => "unknown matching type",
    };
    format!("{usage}, {selector}, {matching}")
}

/// Where a key came from, with its leaf's name and expiry.
fn about(key: &Material) -> String {
    match &key.leaf {
        Some(leaf) => format!(
            "{}, {}, not after {}",
            key.origin,
            leaf.subject,
            format_time(leaf.not_after)
        ),
        None => format!("{}, a bare key", key.origin),
    }
}
