//! The DNSSEC state of every RRset of the DNS-shape scenarios of the real stack
//! (`tests/stack/README.md`, "DNS shapes"), in both modes: `trust-resolver` behind the stack's
//! unbound 1.17 and `validate` against NSD with the private root's key. The table says what each
//! mode must give; both agree except for Ed448, which hickory's ring backend cannot verify
//! (insecure here, secure in unbound: see `src/dns/validate.rs`).
//!
//! Two views of the same table: every RRset looked up directly through [`DnsClient`] in both
//! modes, and `dane_exporter check DOMAIN --json` in both modes, where every RRset of the report
//! (`dnssec` and `outcome` of each lookup) must be a line of the table.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use dane_exporter::core::{Answer, DnssecStatus, LookupError, RecordSet, RecordType};
use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use serde_json::Value;

use crate::support::stack::Stack;

/// One RRset: type, name (`{P}` is the SMTP port), then the state and outcome in the report's
/// words for trust-resolver mode and for validate mode. Lines a `check` of the scenario domain
/// does not ask for (deeper wildcard names, NXDOMAIN probes) are looked up directly only.
struct Row {
    rtype: &'static str,
    name: &'static str,
    trust_resolver: &'static str,
    validate: &'static str,
}

const fn both(rtype: &'static str, name: &'static str, state: &'static str) -> Row {
    Row {
        rtype,
        name,
        trust_resolver: state,
        validate: state,
    }
}

/// Ed448 (algorithm 16): unbound (OpenSSL) validates it (`secure`), hickory with ring cannot
/// (`insecure`, RFC 4035 5.2).
const fn ed448(
    rtype: &'static str,
    name: &'static str,
    trust_resolver: &'static str,
    validate: &'static str,
) -> Row {
    Row {
        rtype,
        name,
        trust_resolver,
        validate,
    }
}

/// Scenario domain (what `check` is run for) and its RRsets.
#[rustfmt::skip]
const TABLE: &[(&str, &[Row])] = &[
    // Wildcards `* MX`, `* A`, `* TLSA`: the MX of any name, host's A and its TLSA synthesised
    // (RRSIG labels 2); host's AAAA and the TXT records a wildcard NODATA.
    ("any.wildnsec.test", &[
        both("MX", "any.wildnsec.test", "secure records"),
        both("MX", "a.b.wildnsec.test", "secure records"),
        both("A", "host.wildnsec.test", "secure records"),
        both("AAAA", "host.wildnsec.test", "secure no_data"),
        both("TLSA", "_{P}._tcp.host.wildnsec.test", "secure records"),
        both("TXT", "_mta-sts.any.wildnsec.test", "secure no_data"),
        both("TXT", "_smtp._tls.any.wildnsec.test", "secure no_data"),
    ]),
    ("any.wildnsec3.test", &[
        both("MX", "any.wildnsec3.test", "secure records"),
        both("MX", "a.b.wildnsec3.test", "secure records"),
        both("A", "host.wildnsec3.test", "secure records"),
        both("AAAA", "host.wildnsec3.test", "secure no_data"),
        both("TLSA", "_{P}._tcp.host.wildnsec3.test", "secure records"),
        both("TXT", "_mta-sts.any.wildnsec3.test", "secure no_data"),
        both("TXT", "_smtp._tls.any.wildnsec3.test", "secure no_data"),
    ]),
    // NSEC3 opt-out: names that exist are secure; an NXDOMAIN in an opt-out span is insecure.
    ("optout.test", &[
        both("MX", "optout.test", "secure records"),
        both("A", "mx.optout.test", "secure records"),
        both("AAAA", "mx.optout.test", "secure no_data"),
        both("TLSA", "_{P}._tcp.mx.optout.test", "secure records"),
        both("TLSA", "_{P}._tcp.nope.optout.test", "insecure nx_domain"),
        both("TXT", "_mta-sts.optout.test", "insecure nx_domain"),
        both("TXT", "_smtp._tls.optout.test", "insecure nx_domain"),
    ]),
    // The unsigned child delegated without DS under the opt-out NSEC3 span.
    ("child.optout.test", &[
        both("MX", "child.optout.test", "insecure records"),
        both("A", "mx.child.optout.test", "insecure records"),
        both("AAAA", "mx.child.optout.test", "insecure no_data"),
        both("TLSA", "_{P}._tcp.mx.child.optout.test", "insecure records"),
        both("TXT", "_mta-sts.child.optout.test", "insecure nx_domain"),
        both("TXT", "_smtp._tls.child.optout.test", "insecure nx_domain"),
    ]),
    // NSEC3 with 200 iterations: positive answers secure, every denial insecure.
    ("iter200.test", &[
        both("MX", "iter200.test", "secure records"),
        both("A", "mx.iter200.test", "secure records"),
        both("AAAA", "mx.iter200.test", "insecure no_data"),
        both("TLSA", "_{P}._tcp.mx.iter200.test", "secure records"),
        both("TXT", "_mta-sts.iter200.test", "insecure nx_domain"),
        both("TXT", "_smtp._tls.iter200.test", "insecure nx_domain"),
    ]),
    ("sub.iter200.test", &[
        both("MX", "sub.iter200.test", "secure records"),
        both("A", "mx2.iter200.test", "secure records"),
        both("AAAA", "mx2.iter200.test", "insecure no_data"),
        both("TLSA", "_{P}._tcp.mx2.iter200.test", "insecure nx_domain"),
        both("TXT", "_mta-sts.sub.iter200.test", "insecure nx_domain"),
        both("TXT", "_smtp._tls.sub.iter200.test", "insecure nx_domain"),
    ]),
    // DS of algorithm 200 (unassigned) only: an insecure zone (RFC 4035 5.2).
    ("alg200.test", &[
        both("MX", "alg200.test", "insecure records"),
        both("A", "mx.alg200.test", "insecure records"),
        both("AAAA", "mx.alg200.test", "insecure no_data"),
        both("TLSA", "_{P}._tcp.mx.alg200.test", "insecure records"),
        both("TXT", "_mta-sts.alg200.test", "insecure nx_domain"),
        both("TXT", "_smtp._tls.alg200.test", "insecure nx_domain"),
    ]),
    // Ed448: the one shape where the modes differ.
    ("ed448.test", &[
        ed448("MX", "ed448.test", "secure records", "insecure records"),
        ed448("A", "mx.ed448.test", "secure records", "insecure records"),
        ed448("AAAA", "mx.ed448.test", "secure no_data", "insecure no_data"),
        ed448("TLSA", "_{P}._tcp.mx.ed448.test", "secure records", "insecure records"),
        ed448("TXT", "_mta-sts.ed448.test", "secure nx_domain", "insecure nx_domain"),
        ed448("TXT", "_smtp._tls.ed448.test", "secure nx_domain", "insecure nx_domain"),
    ]),
    // A secure beside a tampered / expired-signature AAAA: each lookup on its own.
    ("aaaabogus.test", &[
        both("MX", "aaaabogus.test", "secure records"),
        both("A", "mx.aaaabogus.test", "secure records"),
        both("AAAA", "mx.aaaabogus.test", "bogus failed"),
        both("TLSA", "_{P}._tcp.mx.aaaabogus.test", "secure records"),
        both("TXT", "_mta-sts.aaaabogus.test", "secure nx_domain"),
        both("TXT", "_smtp._tls.aaaabogus.test", "secure nx_domain"),
    ]),
    ("aaaaexpired.test", &[
        both("MX", "aaaaexpired.test", "secure records"),
        both("A", "mx.aaaaexpired.test", "secure records"),
        both("AAAA", "mx.aaaaexpired.test", "bogus failed"),
        both("TLSA", "_{P}._tcp.mx.aaaaexpired.test", "secure records"),
        both("TXT", "_mta-sts.aaaaexpired.test", "secure nx_domain"),
        both("TXT", "_smtp._tls.aaaaexpired.test", "secure nx_domain"),
    ]),
    // A secure CNAME into the unsigned plain.test: the address RRsets are insecure.
    ("cnameout.test", &[
        both("MX", "cnameout.test", "secure records"),
        both("A", "mx.cnameout.test", "insecure records"),
        both("AAAA", "mx.cnameout.test", "insecure no_data"),
        both("CNAME", "mx.cnameout.test", "secure records"),
        both("TLSA", "_{P}._tcp.mx.cnameout.test", "secure records"),
        both("TLSA", "_{P}._tcp.mx.plain.test", "insecure records"),
        both("TXT", "_mta-sts.cnameout.test", "secure nx_domain"),
        both("TXT", "_smtp._tls.cnameout.test", "secure nx_domain"),
    ]),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    TrustResolver,
    Validate,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::TrustResolver => "trust-resolver",
            Mode::Validate => "validate",
        }
    }

    fn expected(self, row: &Row) -> &'static str {
        match self {
            Mode::TrustResolver => row.trust_resolver,
            Mode::Validate => row.validate,
        }
    }
}

/// The report's words for one answer: `"<dnssec> <outcome>"`.
fn words<T>(answer: &Answer<T>) -> String {
    let status = match answer.dnssec_status() {
        DnssecStatus::Secure => "secure",
        DnssecStatus::Insecure => "insecure",
        DnssecStatus::Bogus => "bogus",
        DnssecStatus::Indeterminate => "indeterminate",
    };
    let outcome = match &answer.result {
        Ok(r) => match r.set {
            RecordSet::Records(_) => "records",
            RecordSet::NxDomain => "nx_domain",
            RecordSet::NoData => "no_data",
        },
        Err(_) => "failed",
    };
    format!("{status} {outcome}")
}

async fn direct(client: &DnsClient, rtype: &str, name: &str) -> (String, Option<LookupError>) {
    fn parts<T>(a: Answer<T>) -> (String, Option<LookupError>) {
        (words(&a), a.result.err())
    }
    match rtype {
        "MX" => parts(client.lookup_mx(name).await),
        "TLSA" => parts(client.lookup_tlsa(name).await),
        "TXT" => parts(client.lookup_txt(name).await),
        "A" => parts(client.lookup_addresses(name, RecordType::A).await),
        "AAAA" => parts(client.lookup_addresses(name, RecordType::Aaaa).await),
        "CNAME" => parts(client.lookup_cname(name).await),
        other => panic!("no lookup for {other}"),
    }
}

fn client(stack: &Stack, mode: Mode) -> DnsClient {
    let (server, anchor) = match mode {
        Mode::TrustResolver => (stack.var("RESOLVER"), None),
        Mode::Validate => (stack.var("AUTH"), Some(stack.var("TRUST_ANCHOR").into())),
    };
    DnsClient::new(&DnsSettings {
        mode: match mode {
            Mode::TrustResolver => DnssecMode::TrustResolver,
            Mode::Validate => DnssecMode::Validate,
        },
        nameservers: vec![server.parse().unwrap()],
        trust_anchor_file: anchor,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

/// Every `{type, name, dnssec, outcome}` object of a `check --json` report.
fn report_rrsets(json: &Value, out: &mut BTreeMap<(String, String), String>) {
    match json {
        Value::Object(map) => {
            if let (Some(t), Some(n), Some(d)) = (
                map.get("type").and_then(Value::as_str),
                map.get("name").and_then(Value::as_str),
                map.get("dnssec").and_then(Value::as_str),
            ) {
                let outcome = map.get("outcome").and_then(Value::as_str).unwrap_or("");
                out.insert((t.into(), n.into()), format!("{d} {outcome}"));
            }
            map.values().for_each(|v| report_rrsets(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| report_rrsets(v, out)),
        _ => {}
    }
}

fn check_report(stack: &Stack, domain: &str, mode: Mode) -> Result<Value, String> {
    let mut args: Vec<String> = vec!["check".into(), domain.into(), "--nameserver".into()];
    match mode {
        Mode::TrustResolver => args.push(stack.var("RESOLVER").into()),
        Mode::Validate => args.extend([
            stack.var("AUTH").into(),
            "--trust-anchor".into(),
            stack.var("TRUST_ANCHOR").into(),
        ]),
    }
    args.extend(
        [
            "--dnssec-mode",
            mode.arg(),
            "--port",
            stack.var("SMTP_PORT"),
            "--authoritative-port",
            stack.nsd_port(),
            "--timeout",
            "5s",
            "--json",
        ]
        .map(String::from),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running dane_exporter: {e}"))?;
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "check {domain} ({}): not JSON ({e}): {}",
            mode.arg(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// One `check` run: mode, domain, its table lines, the report.
type Report<'a> = (Mode, &'a str, &'a [Row], Result<Value, String>);

/// Every RRset of the table, both modes, directly and through `check --json`.
#[test]
fn real_stack_dns_shapes_dnssec_state_per_rrset_both_modes() {
    let stack = Stack::up();
    let port = stack.var("SMTP_PORT").to_string();
    let name_of = |row: &Row| row.name.replace("{P}", &port);
    let mut problems = Vec::new();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    for mode in [Mode::TrustResolver, Mode::Validate] {
        let client = runtime.block_on(async { client(&stack, mode) });
        for (_, rows) in TABLE {
            for row in *rows {
                let name = name_of(row);
                let (got, error) = runtime.block_on(direct(&client, row.rtype, &name));
                let want = mode.expected(row);
                if got != want {
                    problems.push(format!(
                        "[direct {}] {} {name}: want {want}, got {got} {error:?}",
                        mode.arg(),
                        row.rtype
                    ));
                }
                // unbound's reason for a failed AAAA: EDE 6 (tampered) or 7 (expired; 6 once
                // cached); validate mode's own verdict: bogus.
                if want == "bogus failed" {
                    let reason_ok = match (mode, &error) {
                        (Mode::TrustResolver, Some(LookupError::ServFail { ede: Some(e) })) => {
                            e.code == 6 || e.code == 7
                        }
                        (Mode::Validate, Some(LookupError::Bogus { .. })) => true,
                        _ => false,
                    };
                    if !reason_ok {
                        problems.push(format!(
                            "[direct {}] {} {name}: failure {error:?}",
                            mode.arg(),
                            row.rtype
                        ));
                    }
                }
            }
        }
    }

    let jobs: Vec<(Mode, &str, &[Row])> = [Mode::TrustResolver, Mode::Validate]
        .into_iter()
        .flat_map(|m| TABLE.iter().map(move |(d, rows)| (m, *d, *rows)))
        .collect();
    let reports: Vec<Report> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(jobs.len().div_ceil(4))
            .map(|chunk| {
                let stack = &stack;
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|&(m, d, rows)| (m, d, rows, check_report(stack, d, m)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for (mode, domain, rows, report) in reports {
        let json = match report {
            Ok(json) => json,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let mut rrsets = BTreeMap::new();
        report_rrsets(&json, &mut rrsets);
        if !rrsets.contains_key(&("MX".to_string(), domain.to_string())) {
            problems.push(format!("[check {} {domain}] no MX lookup", mode.arg()));
        }
        for ((rtype, name), got) in &rrsets {
            match rows
                .iter()
                .find(|r| r.rtype == rtype && name_of(r) == *name)
            {
                Some(row) if mode.expected(row) == got => {}
                Some(row) => problems.push(format!(
                    "[check {} {domain}] {rtype} {name}: want {}, got {got}",
                    mode.arg(),
                    mode.expected(row)
                )),
                None => problems.push(format!(
                    "[check {} {domain}] {rtype} {name} ({got}) is not in the table",
                    mode.arg()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
