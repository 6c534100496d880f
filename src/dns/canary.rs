//! The resolver canary: two questions whose answers a validating resolver cannot get wrong,
//! asked of one nameserver directly (for `health.rs`).
//!
//! 1. `SECURE SOA` (default `.`, the root): it must come back with the AD bit. The root is signed
//!    under the IANA trust anchor and under any private root a test or lab resolver is given, so
//!    the default works with both; a resolver anchored below the root needs a name of its own
//!    here. No answer, REFUSED, or SERVFAIL without a DNSSEC reason: the resolver is
//!    *unavailable* (it cannot resolve the root, so it resolves nothing). An answer without AD,
//!    or SERVFAIL with a DNSSEC Extended DNS Error (it cannot validate the root: a wrong trust
//!    anchor, a wrong clock): it does *not validate*.
//! 2. `BOGUS SOA` (default `dnssec-failed.org`, kept deliberately broken by its owner: its DS
//!    matches no key), only when the first one validated: it must come back SERVFAIL. Data without
//!    AD means a resolver that sets AD honestly but passes bogus data on (unbound's
//!    `val-permissive-mode`), which for DANE turns every bogus TLSA into "no DANE". Because the
//!    name belongs to somebody else and may be repaired or unsigned one day, that conclusion is
//!    drawn only when a DS for it (or an ancestor below the root) exists, asked with CD=1: a
//!    signed delegation whose data a validating resolver would have to reject. Otherwise, and when
//!    the name validates after all, the canary says so in a note and decides nothing.
//!
//! In `validate` mode only the first question's "does it answer" matters (the exporter validates
//! itself, and the server may be authoritative only: REFUSED and SERVFAIL still prove it alive).
//! Every query is bounded by the canary timeout; UDP with a TCP retry when truncated.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType as WireType};
use tokio::time::Instant;

use super::answer;
use super::exchange::{build_query, extended_error, tcp_exchange, udp_exchange, AttemptError};

/// Every `result` label value of `dane_exporter_dns_queries_total`, in exposition order.
pub const QUERY_RESULTS: [&str; 8] = [
    "noerror",
    "nxdomain",
    "servfail",
    "refused",
    "other_rcode",
    "timeout",
    "network_error",
    "malformed",
];

/// What the canary asks (see `canary.rs`), from the configuration's `global` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanarySettings {
    /// A name whose SOA must validate under the trust anchor the resolver uses; `.` (the root)
    /// works with the IANA root and with any private root.
    pub secure_name: String,
    /// A name every RRset of which must fail validation (a zone whose DS matches no DNSKEY);
    /// `None` skips this half of the canary.
    pub bogus_name: Option<String>,
    /// Time allowed for each canary query.
    pub timeout: Duration,
}

impl Default for CanarySettings {
    fn default() -> Self {
        Self {
            secure_name: ".".to_string(),
            bogus_name: Some("dnssec-failed.org".to_string()),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The `result` label of an answer's response code.
pub(super) fn rcode_result(rcode: ResponseCode) -> &'static str {
    match rcode {
        ResponseCode::NoError => "noerror",
        ResponseCode::NXDomain => "nxdomain",
        ResponseCode::ServFail => "servfail",
        ResponseCode::Refused => "refused",
        _ => "other_rcode",
    }
}

/// The `result` label of a try without a usable answer.
pub(super) fn attempt_result(error: &AttemptError) -> &'static str {
    match error {
        AttemptError::Timeout => "timeout",
        AttemptError::Network(_) => "network_error",
        AttemptError::Malformed(_) => "malformed",
    }
}

/// Ancestors of the bogus name asked for a DS at most (the name itself included).
const DS_WALK: usize = 4;

/// What the canary found about one nameserver.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// It answers (resolves the secure name, or in validate mode answers at all).
    pub(super) up: bool,
    /// It validates, when asked and known.
    pub(super) validating: Option<bool>,
    /// Why it is down or does not validate.
    pub(super) detail: Option<String>,
    /// A remark that decides nothing (the bogus canary could not test validation).
    pub(super) note: Option<String>,
    /// The `result` label of every query made.
    pub(super) results: Vec<&'static str>,
}

/// The name to ask: `.` or empty is the root.
fn canary_name(text: &str) -> Result<Name, String> {
    if text.trim().trim_end_matches('.').is_empty() {
        return Ok(Name::root());
    }
    answer::query_name(text).map_err(|e| e.to_string())
}

/// One question to `server`, recorded in `outcome.results`.
async fn ask_one(
    server: SocketAddr,
    name: &Name,
    qtype: WireType,
    checking_disabled: bool,
    settings: &CanarySettings,
    outcome: &mut Outcome,
) -> Result<Message, AttemptError> {
    let mut request = build_query(name, qtype);
    request.metadata.checking_disabled = checking_disabled;
    let deadline = Instant::now() + settings.timeout;
    let result = match udp_exchange(server, &request, deadline).await {
        Ok(response) if response.metadata.truncation => {
            tcp_exchange(server, &request, deadline).await
        }
        other => other,
    };
    outcome.results.push(match &result {
        Ok(response) => rcode_result(response.metadata.response_code),
        Err(error) => attempt_result(error),
    });
    result
}

fn describe(error: &AttemptError, settings: &CanarySettings) -> String {
    match error {
        AttemptError::Timeout => format!("no answer within {} ms", settings.timeout.as_millis()),
        AttemptError::Network(detail) => detail.clone(),
        AttemptError::Malformed(detail) => format!("unusable answer: {detail}"),
    }
}

fn shown(name: &Name) -> String {
    let text = answer::name_text(name);
    if text.is_empty() {
        ".".to_string()
    } else {
        text
    }
}

/// Asks `server` the canary; `validate` when its validation matters (trust-resolver mode).
pub(super) async fn ask(server: SocketAddr, settings: &CanarySettings, validate: bool) -> Outcome {
    let mut outcome = Outcome::default();
    let secure = match canary_name(&settings.secure_name) {
        Ok(name) => name,
        Err(error) => {
            // The configuration checks the names; this only guards a library caller.
            outcome.up = true;
            outcome.note = Some(format!("canary name {:?}: {error}", settings.secure_name));
            return outcome;
        }
    };
    let shown_secure = shown(&secure);
    let response = match ask_one(
        server,
        &secure,
        WireType::SOA,
        false,
        settings,
        &mut outcome,
    )
    .await
    {
        Ok(response) => response,
        Err(error) => {
            outcome.detail = Some(describe(&error, settings));
            return outcome;
        }
    };
    let rcode = response.metadata.response_code;
    if !validate {
        // Validate mode: any answer proves it alive (it may be an authoritative server).
        outcome.up = true;
        return outcome;
    }
    match rcode {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        ResponseCode::ServFail => {
            let ede = extended_error(&response);
            match ede.as_ref().filter(|e| e.is_dnssec_failure()) {
                Some(ede) => {
                    outcome.up = true;
                    outcome.validating = Some(false);
                    outcome.detail = Some(format!(
                        "SERVFAIL ({ede}) for {shown_secure} SOA, which must validate: it cannot validate (trust anchor? clock?)"
                    ));
                }
                None => {
                    outcome.detail = Some(format!(
                        "SERVFAIL{} for {shown_secure} SOA: it cannot resolve",
                        ede.map(|e| format!(" ({e})")).unwrap_or_default()
                    ));
                }
            }
            return outcome;
        }
        ResponseCode::Refused => {
            outcome.detail = Some(format!(
                "REFUSED {shown_secure} SOA: is this address allowed to use it?"
            ));
            return outcome;
        }
        other => {
            outcome.detail = Some(format!("answered {other} for {shown_secure} SOA"));
            return outcome;
        }
    }
    outcome.up = true;
    if !response.metadata.authentic_data {
        outcome.validating = Some(false);
        outcome.detail = Some(format!(
            "answered {shown_secure} SOA without the AD bit: it does not validate DNSSEC"
        ));
        return outcome;
    }
    outcome.validating = Some(true);
    if let Some(bogus) = settings.bogus_name.as_deref().filter(|b| !b.is_empty()) {
        bogus_canary(server, bogus, settings, &mut outcome).await;
    }
    outcome
}

/// The second question (module doc): only ever turns `validating` to false when the name is
/// provably a signed delegation whose data came back without an error.
async fn bogus_canary(
    server: SocketAddr,
    bogus: &str,
    settings: &CanarySettings,
    outcome: &mut Outcome,
) {
    let name = match canary_name(bogus) {
        Ok(name) if !name.is_root() => name,
        _ => {
            outcome.note = Some(format!("bogus canary {bogus:?} is not a usable name"));
            return;
        }
    };
    let response = match ask_one(server, &name, WireType::SOA, false, settings, outcome).await {
        Ok(response) => response,
        Err(error) => {
            outcome.note = Some(format!(
                "no answer for the bogus canary {bogus}: {}",
                describe(&error, settings)
            ));
            return;
        }
    };
    match response.metadata.response_code {
        ResponseCode::ServFail => {}
        ResponseCode::NoError | ResponseCode::NXDomain if response.metadata.authentic_data => {
            outcome.note = Some(format!(
                "{bogus}, which must fail validation, validates: it tests nothing; set canary_bogus_name to a name that is bogus"
            ));
        }
        ResponseCode::NoError | ResponseCode::NXDomain => {
            match signed_delegation(server, &name, settings, outcome).await {
                Some(true) => {
                    outcome.validating = Some(false);
                    outcome.detail = Some(format!(
                        "answered {bogus} SOA, whose DNSSEC validation must fail, without an error: it does not reject bogus data (permissive mode?)"
                    ));
                }
                Some(false) => {
                    outcome.note = Some(format!(
                        "{bogus} has no DS: it cannot test validation; set canary_bogus_name to a bogus name in a signed zone"
                    ));
                }
                None => {
                    outcome.note = Some(format!(
                        "{bogus} answered without an error, and whether it is a signed delegation is unknown"
                    ));
                }
            }
        }
        other => {
            outcome.note = Some(format!("answered {other} for the bogus canary {bogus}"));
        }
    }
}

/// Whether a DS RRset exists at `name` or one of its ancestors below the root (asked with CD=1,
/// so that a resolver returns it whatever its own validation says); `None` when a query failed.
async fn signed_delegation(
    server: SocketAddr,
    name: &Name,
    settings: &CanarySettings,
    outcome: &mut Outcome,
) -> Option<bool> {
    let mut current = name.clone();
    for _ in 0..DS_WALK {
        if current.is_root() {
            break;
        }
        let response = ask_one(server, &current, WireType::DS, true, settings, outcome)
            .await
            .ok()?;
        match response.metadata.response_code {
            ResponseCode::NoError | ResponseCode::NXDomain => {}
            _ => return None,
        }
        if response.answers.iter().any(|r| {
            r.record_type() == WireType::DS
                && answer::name_text(&r.name) == answer::name_text(&current)
        }) {
            return Some(true);
        }
        current = current.base_name();
    }
    Some(false)
}
