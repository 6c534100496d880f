//! The real stack: `dane_exporter check` against NSD (zones signed by ldns-signzone under a private
//! root), a validating unbound and Postfix smtpd doing STARTTLS, all on loopback.
//!
//! `tests/stack/up.sh` builds and starts everything in a temporary directory (root needed: Postfix
//! starts as root and drops privileges; missing packages are installed, never skipped). One stack
//! serves both DNSSEC modes: `trust-resolver` asks unbound, `validate` asks NSD directly with the
//! private root's DNSKEY as trust anchor. `down.sh` runs when the guard drops, panic or not (and a
//! watchdog started by up.sh runs it if this process is killed outright).
//!
//! The scenario table is `CASES`: one line per domain. Every mismatch is collected and reported
//! together with the full JSON of that run.

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::stack::{script, Stack};
/// A `check` run that takes longer than this is killed and reported (the CLI's own timeout is 5s
/// per network step).
const RUN_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The scenario table.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum V {
    Pass,
    Fail,
    EncryptOnly,
    NotApplicable,
}

impl V {
    fn as_str(self) -> &'static str {
        match self {
            V::Pass => "pass",
            V::Fail => "fail",
            V::EncryptOnly => "encrypt_only",
            V::NotApplicable => "not_applicable",
        }
    }
    /// The CLI contract: 0 for pass and not_applicable, 1 for fail and encrypt_only.
    fn exit_code(self) -> i32 {
        match self {
            V::Pass | V::NotApplicable => 0,
            V::Fail | V::EncryptOnly => 1,
        }
    }
}

/// An expected entry of `failures[]`: reason, and the MX host / address it must name ("" = not
/// checked). The list of reasons must match exactly (as a multiset).
type F = (&'static str, &'static str, &'static str);

/// Extra checks on the JSON. Host names without trailing dot; `Rec` names a line of up.sh's
/// `tlsa.txt` (the record is compared in presentation form, "3 1 1 hex").
#[derive(Debug)]
enum C {
    /// `hosts[name].dane.state`.
    State(&'static str, &'static str),
    /// `hosts[name].tlsa_base_domain`.
    Base(&'static str, &'static str),
    /// `hosts[name].endpoints[address].evaluation.outcome.result`.
    Outcome(&'static str, &'static str, &'static str),
    /// `hosts[name].endpoints[address].evaluation.records[record].state.state`.
    Rec(&'static str, &'static str, &'static str, &'static str),
    /// `hosts[name].endpoints[address].session.starttls_offered()`.
    StartTls(&'static str, &'static str, bool),
    /// `hosts[name].endpoints[address].smtp_error.kind`: why the address could not be used.
    Reach(&'static str, &'static str, &'static str),
    /// `hosts[name].endpoints[address].tls`: the engine and the version negotiated.
    Tls(&'static str, &'static str, &'static str, &'static str),
    /// Some endpoint of `hosts[name]` failed with this `smtp_error.kind` (for addresses that
    /// depend on the stack's port, like the unroutable IPv6 one).
    Family(&'static str, &'static str),
    /// `warnings[]` has an entry with this reason.
    Warn(&'static str),
    /// `protected`, where it differs from the default (true exactly for `pass`).
    Protected(bool),
    /// Any JSON value by pointer (RFC 6901), compared with a JSON literal.
    Ptr(&'static str, &'static str),
}
use C::*;

struct Case {
    domain: &'static str,
    verdict: V,
    failures: &'static [F],
    checks: &'static [C],
    /// Only in this mode (the two validators differ in what they can verify); `None`: both.
    mode: Option<Mode>,
}

const fn case(
    domain: &'static str,
    verdict: V,
    failures: &'static [F],
    checks: &'static [C],
) -> Case {
    Case {
        domain,
        verdict,
        failures,
        checks,
        mode: None,
    }
}

/// A case for one DNSSEC mode only.
const fn case_in(
    mode: Mode,
    domain: &'static str,
    verdict: V,
    failures: &'static [F],
    checks: &'static [C],
) -> Case {
    Case {
        mode: Some(mode),
        ..case(domain, verdict, failures, checks)
    }
}

/// One line per scenario; the zones, certificates and listeners are built in tests/stack/up.sh
/// (addresses: `SMTP_NET.N`, see its address plan and tests/stack/README.md). `protected` is checked
/// for every case: true for `pass`, false otherwise, unless a `Protected` check says otherwise.
#[rustfmt::skip]
const CASES: &[Case] = &[
    case("ok311.test", V::Pass, &[], &[State("mx.ok311.test", "applies"), Base("mx.ok311.test", "mx.ok311.test"),
        Outcome("mx.ok311.test", "127.0.1.1", "authenticated"), Rec("mx.ok311.test", "127.0.1.1", "ok311", "matched")]),
    case("ok301.test", V::Pass, &[], &[Outcome("mx.ok301.test", "127.0.1.2", "authenticated"),
        Rec("mx.ok301.test", "127.0.1.2", "ok301", "matched")]),
    case("tagood.test", V::Pass, &[], &[Outcome("mx.tagood.test", "127.0.1.3", "authenticated"),
        Rec("mx.tagood.test", "127.0.1.3", "ca", "matched")]),
    case("tabadname.test", V::Fail, &[("dane_ta_name_mismatch", "mx.tabadname.test", "127.0.1.4")], &[
        Outcome("mx.tabadname.test", "127.0.1.4", "failed"), Rec("mx.tabadname.test", "127.0.1.4", "ca", "matched_but_rejected")]),
    case("stale.test", V::Pass, &[], &[Outcome("mx.stale.test", "127.0.1.5", "authenticated"),
        Rec("mx.stale.test", "127.0.1.5", "stale", "matched"), Rec("mx.stale.test", "127.0.1.5", "stale_old", "no_match")]),
    case("twomx.test", V::Fail, &[("tlsa_mismatch", "mx2.twomx.test", "127.0.1.7")], &[
        Outcome("mx1.twomx.test", "127.0.1.6", "authenticated"), Outcome("mx2.twomx.test", "127.0.1.7", "failed"),
        Rec("mx2.twomx.test", "127.0.1.7", "twomx2_published", "no_match")]),
    case("nostarttls.test", V::Fail, &[("starttls_not_offered", "mx.nostarttls.test", "127.0.1.8")], &[
        State("mx.nostarttls.test", "applies"), StartTls("mx.nostarttls.test", "127.0.1.8", false)]),
    case("bogus.test", V::Fail, &[("tlsa_lookup_failed", "mx.bogus.test", "")], &[State("mx.bogus.test", "tlsa_lookup_failed")]),
    // Unsigned zone: MX and addresses insecure; Postfix looks up TLSA only for secure addresses.
    case("insecure.test", V::NotApplicable, &[], &[State("mx.insecure.test", "addresses_insecure")]),
    case("notlsa.test", V::NotApplicable, &[], &[State("mx.notlsa.test", "no_tlsa")]),
    case("notlsa3.test", V::NotApplicable, &[], &[State("mx.notlsa3.test", "no_tlsa")]),
    case("nsec3ok.test", V::Pass, &[], &[Outcome("mx.nsec3ok.test", "127.0.1.16", "authenticated"),
        Rec("mx.nsec3ok.test", "127.0.1.16", "nsec3ok", "matched")]),
    case("cname.test", V::Pass, &[], &[State("mail.cname.test", "applies"), Base("mail.cname.test", "real.cname.test"),
        Outcome("mail.cname.test", "127.0.1.13", "authenticated"), Rec("mail.cname.test", "127.0.1.13", "cname", "matched")]),
    case("otherkey.test", V::Fail, &[("tlsa_mismatch", "mx.otherkey.test", "::1")], &[
        Outcome("mx.otherkey.test", "127.0.1.14", "authenticated"), Outcome("mx.otherkey.test", "::1", "failed"),
        Rec("mx.otherkey.test", "::1", "otherkey", "no_match")]),
    case("expiredsig.test", V::Fail, &[("tlsa_lookup_failed", "mx.expiredsig.test", "")], &[
        State("mx.expiredsig.test", "tlsa_lookup_failed")]),
    // Insecure MX RRset, secure host with TLSA: still enforced (Postfix 3.6+ does), never "protected".
    case("insecuremx.test", V::Pass, &[], &[Protected(false), Warn("mx_insecure"), State("mx.ok311.test", "applies"),
        Outcome("mx.ok311.test", "127.0.1.1", "authenticated")]),
    case("insecuremxbad.test", V::Fail, &[("tlsa_mismatch", "mx2.twomx.test", "127.0.1.7")], &[Warn("mx_insecure")]),
    case("nomx.test", V::Pass, &[], &[Ptr("/implicit_mx", "true"), State("nomx.test", "applies"),
        Base("nomx.test", "nomx.test"), Outcome("nomx.test", "127.0.1.17", "authenticated")]),
    case("unusable.test", V::EncryptOnly, &[], &[Warn("no_usable_tlsa"), Outcome("mx.unusable.test", "127.0.1.18", "no_usable_records"),
        Rec("mx.unusable.test", "127.0.1.18", "unusable_pkix_ee", "unusable"), Rec("mx.unusable.test", "127.0.1.18", "unusable_pkix_ta", "unusable")]),
    // DS in test. for a key brokends.test. does not have: the MX lookup itself is bogus.
    case("brokends.test", V::Fail, &[("mx_lookup_failed", "", "")], &[]),

    // Parity: reachability is not DANE (tests/stack/README.md, "Reachability is not DANE").
    // Postfix moves on to the next address or MX host; only "nothing usable" defers.
    case("refused.test", V::Pass, &[], &[Warn("smtp_connect_failed"), Reach("mx.refused.test", "127.0.1.50", "connect"),
        Outcome("mx.refused.test", "127.0.1.51", "authenticated")]),
    case("noroute6.test", V::Pass, &[], &[Warn("smtp_no_route"), Outcome("mx.noroute6.test", "127.0.1.51", "authenticated"),
        Family("mx.noroute6.test", "no_route")]),
    case("silent.test", V::Pass, &[], &[Warn("smtp_banner_timeout"), Reach("mx1.silent.test", "127.0.1.52", "timeout"),
        Outcome("mx2.silent.test", "127.0.1.51", "authenticated")]),
    case("greet4xx.test", V::Pass, &[], &[Warn("smtp_greeting_rejected"), Reach("mx1.greet4xx.test", "127.0.1.53", "greeting"),
        Outcome("mx2.greet4xx.test", "127.0.1.51", "authenticated")]),
    case("greet5xx.test", V::Pass, &[], &[Warn("smtp_greeting_rejected"), Reach("mx1.greet5xx.test", "127.0.1.54", "greeting"),
        Outcome("mx2.greet5xx.test", "127.0.1.51", "authenticated")]),
    case("onedown.test", V::Pass, &[], &[Warn("smtp_connect_failed"), Outcome("mx2.onedown.test", "127.0.1.51", "authenticated")]),
    case("nowhere.test", V::Fail, &[("undeliverable", "", "")], &[Warn("smtp_connect_failed"), Warn("smtp_no_route"),
        Warn("smtp_greeting_rejected")]),
    // Postfix bounces; a domain given to check is expected to take mail: domain_not_found.
    case("nullmx.test", V::Fail, &[("domain_not_found", "", "")], &[Warn("null_mx"), Ptr("/hosts", "[]")]),

    // Parity: TLS as Postfix negotiates it (OpenSSL for what rustls cannot speak).
    case("tls12cbc.test", V::Pass, &[], &[Tls("mx.tls12cbc.test", "127.0.1.60", "openssl", "TLSv1.2"),
        Outcome("mx.tls12cbc.test", "127.0.1.60", "authenticated")]),
    case("tlsrsakx.test", V::Pass, &[], &[Tls("mx.tlsrsakx.test", "127.0.1.61", "openssl", "TLSv1.2"),
        Outcome("mx.tlsrsakx.test", "127.0.1.61", "authenticated")]),
    case("tlsdhe.test", V::Pass, &[], &[Tls("mx.tlsdhe.test", "127.0.1.62", "openssl", "TLSv1.2"),
        Outcome("mx.tlsdhe.test", "127.0.1.62", "authenticated")]),
    case("tlsp521.test", V::Pass, &[], &[Outcome("mx.tlsp521.test", "127.0.1.63", "authenticated")]),
    // Postfix under OpenSSL 3 fails this one too ("legacy sigalg disallowed or unsupported").
    case("tls10.test", V::Fail, &[("tls_handshake_failed", "mx.tls10.test", "127.0.1.64")], &[]),
    case("tlsv1cert.test", V::Pass, &[], &[Outcome("mx.tlsv1cert.test", "127.0.1.65", "authenticated")]),
    case("tlsrsa1024.test", V::Pass, &[], &[Outcome("mx.tlsrsa1024.test", "127.0.1.66", "authenticated")]),
    case("tlscritext.test", V::Pass, &[], &[Outcome("mx.tlscritext.test", "127.0.1.67", "authenticated")]),
    case("tlspss.test", V::Pass, &[], &[Outcome("mx.tlspss.test", "127.0.1.68", "authenticated")]),

    // Parity: DNS as Postfix judges it.
    case("aaaabogus.test", V::Pass, &[], &[Warn("address_lookup_failed"), State("mx.aaaabogus.test", "applies"),
        Outcome("mx.aaaabogus.test", "127.0.1.70", "authenticated")]),
    case("aaaaexpired.test", V::Pass, &[], &[Warn("address_lookup_failed"), State("mx.aaaaexpired.test", "applies"),
        Outcome("mx.aaaaexpired.test", "127.0.1.71", "authenticated")]),
    case("cnameout.test", V::Pass, &[], &[State("mx.cnameout.test", "applies"), Base("mx.cnameout.test", "mx.cnameout.test"),
        Outcome("mx.cnameout.test", "127.0.1.72", "authenticated")]),
    case("any.wildnsec.test", V::Pass, &[], &[Outcome("host.wildnsec.test", "127.0.1.73", "authenticated")]),
    case("any.wildnsec3.test", V::Pass, &[], &[Outcome("host.wildnsec3.test", "127.0.1.74", "authenticated")]),
    case("optout.test", V::Pass, &[], &[Outcome("mx.optout.test", "127.0.1.75", "authenticated")]),
    case("child.optout.test", V::NotApplicable, &[], &[State("mx.child.optout.test", "addresses_insecure")]),
    case("iter200.test", V::Pass, &[], &[Outcome("mx.iter200.test", "127.0.1.76", "authenticated")]),
    case("sub.iter200.test", V::NotApplicable, &[], &[State("mx2.iter200.test", "tlsa_insecure")]),
    case("alg200.test", V::NotApplicable, &[], &[State("mx.alg200.test", "addresses_insecure")]),
    // unbound validates Ed448; the built-in validator cannot (ring has no Ed448), so the zone is
    // insecure to it (RFC 4035 5.2: an algorithm the validator lacks is insecure, never bogus).
    case_in(Mode::TrustResolver, "ed448.test", V::Pass, &[], &[Outcome("mx.ed448.test", "127.0.1.78", "authenticated")]),
    case_in(Mode::Validate, "ed448.test", V::NotApplicable, &[], &[State("mx.ed448.test", "addresses_insecure")]),

    // Parity: only unusable records mean mandatory TLS without authentication (Postfix "encrypt").
    case("unusable2.test", V::EncryptOnly, &[], &[Warn("no_usable_tlsa"),
        Outcome("mx.unusable2.test", "127.0.1.80", "no_usable_records")]),

    // Parity: patience. The relay holds the banner back STACK_GREET_DELAY seconds.
    case("slowgreet.test", V::Pass, &[], &[Outcome("mx.slowgreet.test", "127.0.1.81", "authenticated")]),
];

// ---------------------------------------------------------------------------------------------
// Running the CLI and judging its JSON.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    TrustResolver,
    Validate,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::TrustResolver => "trust-resolver",
            Mode::Validate => "validate",
        }
    }
}

fn check_args(stack: &Stack, domain: &str, mode: Mode) -> Vec<String> {
    let mut args: Vec<String> = vec!["check".into(), domain.into()];
    match mode {
        Mode::TrustResolver => args.extend(["--nameserver".into(), stack.var("RESOLVER").into()]),
        // NSD is authoritative for every zone of the stack, so it answers every query itself.
        Mode::Validate => args.extend([
            "--nameserver".into(),
            stack.var("AUTH").into(),
            "--trust-anchor".into(),
            stack.var("TRUST_ANCHOR").into(),
        ]),
    }
    args.extend(
        [
            "--dnssec-mode",
            mode.as_str(),
            "--port",
            stack.var("SMTP_PORT"),
            "--timeout",
            "5s",
            // The silent MX waits this long for its banner; the slow one greets within it.
            "--reply-timeout",
            "10s",
            "--authoritative-port",
            stack.var("AUTH").rsplit(':').next().unwrap_or("53"),
            // The stack's root has no dnssec-failed.org; brokends.test's DS matches no key.
            "--canary-bogus-name",
            "brokends.test",
            "--json",
        ]
        .map(String::from),
    );
    args
}

/// Runs the binary with a wall-clock limit (a hung probe must fail the test, not hang it).
fn run_limited(args: &[String]) -> Result<Output, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn dane_exporter: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().map_err(|e| e.to_string()),
            Ok(None) if started.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                let out = child.wait_with_output().map_err(|e| e.to_string())?;
                return Err(format!(
                    "killed after {RUN_LIMIT:?}; stderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn host<'a>(json: &'a Value, name: &str) -> Result<&'a Value, String> {
    json["hosts"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["name"] == name))
        .ok_or_else(|| format!("no hosts[] entry named {name}"))
}

fn endpoint<'a>(json: &'a Value, name: &str, address: &str) -> Result<&'a Value, String> {
    host(json, name)?["endpoints"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["address"] == address))
        .ok_or_else(|| format!("host {name} has no endpoint {address}"))
}

/// All mismatches between one run's JSON and its case.
fn judge(stack: &Stack, case: &Case, code: Option<i32>, json: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let verdict = case.verdict;
    if json["verdict"] != verdict.as_str() {
        errs.push(format!(
            "verdict: want {}, got {}",
            verdict.as_str(),
            json["verdict"]
        ));
    }
    if code != Some(verdict.exit_code()) {
        errs.push(format!(
            "exit code: want {}, got {code:?}",
            verdict.exit_code()
        ));
    }
    let want_protected = case
        .checks
        .iter()
        .find_map(|c| match c {
            Protected(p) => Some(*p),
            _ => None,
        })
        .unwrap_or(verdict == V::Pass);
    if json["protected"] != want_protected {
        errs.push(format!(
            "protected: want {want_protected}, got {}",
            json["protected"]
        ));
    }

    // failures[]: same reasons (multiset), and each expected one names its MX / address.
    let got: Vec<&Value> = json["failures"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut got_reasons: Vec<&str> = got.iter().filter_map(|f| f["reason"].as_str()).collect();
    let mut want_reasons: Vec<&str> = case.failures.iter().map(|f| f.0).collect();
    got_reasons.sort_unstable();
    want_reasons.sort_unstable();
    if got_reasons != want_reasons || !json["failures"].is_array() {
        errs.push(format!(
            "failure reasons: want {want_reasons:?}, got {got_reasons:?}"
        ));
    }
    for &(reason, mx, address) in case.failures {
        let named = got.iter().any(|f| {
            f["reason"] == reason
                && (mx.is_empty() || f["mx"] == mx)
                && (address.is_empty() || f["address"] == address)
        });
        if !named {
            errs.push(format!(
                "no failure {reason} naming mx {mx:?} address {address:?}"
            ));
        }
    }

    for check in case.checks {
        let result = match *check {
            State(h, want) => host(json, h).and_then(|h| expect(&h["dane"]["state"], want)),
            Base(h, want) => host(json, h).and_then(|h| expect(&h["tlsa_base_domain"], want)),
            Outcome(h, a, want) => endpoint(json, h, a)
                .and_then(|e| expect(&e["evaluation"]["outcome"]["result"], want)),
            Reach(h, a, want) => {
                endpoint(json, h, a).and_then(|e| expect(&e["smtp_error"]["kind"], want))
            }
            Tls(h, a, engine, version) => endpoint(json, h, a).and_then(|e| {
                expect(&e["tls"]["engine"], engine)?;
                expect(&e["tls"]["version"], version)
            }),
            Family(h, want) => host(json, h).and_then(|h| {
                let kinds: Vec<&Value> = h["endpoints"]
                    .as_array()
                    .map(|es| es.iter().map(|e| &e["smtp_error"]["kind"]).collect())
                    .unwrap_or_default();
                if kinds.iter().any(|k| *k == want) {
                    Ok(())
                } else {
                    Err(format!("no endpoint failed with {want:?}: {kinds:?}"))
                }
            }),
            StartTls(h, a, want) => endpoint(json, h, a).and_then(|e| {
                if e["starttls_offered"] == want {
                    Ok(())
                } else {
                    Err(format!("want {want}, got {}", e["starttls_offered"]))
                }
            }),
            Warn(reason) => {
                let warnings = json["warnings"].as_array();
                if warnings.is_some_and(|ws| ws.iter().any(|w| w["reason"] == reason)) {
                    Ok(())
                } else {
                    Err(format!("no warning {reason:?} in {}", json["warnings"]))
                }
            }
            Protected(_) => Ok(()), // checked above
            Ptr(pointer, literal) => {
                let want: Value = serde_json::from_str(literal).expect("Ptr literal is JSON");
                match json.pointer(pointer) {
                    Some(got) if *got == want => Ok(()),
                    got => Err(format!("want {want}, got {got:?}")),
                }
            }
            Rec(h, a, key, want) => {
                let record = stack
                    .tlsa
                    .get(key)
                    .ok_or_else(|| format!("tlsa.txt has no {key}"));
                record.and_then(|record| {
                    let e = endpoint(json, h, a)?;
                    let rec = e["evaluation"]["records"]
                        .as_array()
                        .and_then(|rs| {
                            rs.iter().find(|r| {
                                r["record"].as_str().map(str::to_ascii_lowercase)
                                    == Some(record.to_ascii_lowercase())
                            })
                        })
                        .ok_or_else(|| format!("no evaluation.records[] entry {record:?}"))?;
                    expect(&rec["state"]["state"], want)
                })
            }
        };
        if let Err(e) = result {
            errs.push(format!("{check:?}: {e}"));
        }
    }
    errs
}

fn expect(got: &Value, want: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("want {want:?}, got {got}"))
    }
}

/// The committed JSON Schema of the report, compiled once.
fn report_schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("schema"))
            .expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("the schema compiles")
    })
}

/// Where `json` breaks the schema, one line each.
fn schema_errors(json: &Value) -> Vec<String> {
    report_schema()
        .iter_errors(json)
        .map(|e| format!("docs/report.schema.json: {}: {e}", e.instance_path()))
        .collect()
}

/// The schema takes a report as written and refuses one that breaks it.
#[test]
fn report_schema_accepts_reports_and_refuses_others() {
    let report = dane_exporter::report::DomainReport::unfinished(
        "example.org",
        1_796_169_600,
        0.5,
        dane_exporter::core::Reason::ProbeTimeout,
        "too slow".into(),
    );
    let good = dane_exporter::report::to_json_value(&report);
    let errors = schema_errors(&good);
    assert!(errors.is_empty(), "{errors:?}");
    for (pointer, bad) in [
        ("/verdict", Value::from("maybe")),
        ("/checked_at_rfc3339", Value::from("yesterday")),
        ("/failures/0/reason", Value::from("Probe Timeout")),
        ("/schema_version", Value::from(2)),
    ] {
        let mut doctored = good.clone();
        *doctored.pointer_mut(pointer).expect(pointer) = bad;
        assert!(!report_schema().is_valid(&doctored), "{pointer} accepted");
    }

    // With the history's verdict clock and what senders' TLS-RPT reports saw.
    let mut report = report;
    let history = dane_exporter::history::History::new();
    let key = dane_exporter::core::TargetKey {
        direction: dane_exporter::core::Direction::Inbound,
        domain: "example.org".into(),
    };
    report.verdict_since =
        Some(history.verdict(&key, report.verdict, &report.failures, 1_796_169_600));
    let sent = dane_exporter::tlsrpt::parse_report(
        crate::tlsrpt::TLSA_FIXTURE.as_bytes(),
        &dane_exporter::tlsrpt::Limits::default(),
        1_796_169_600,
    )
    .expect("the fixture parses");
    report.senders = Some(dane_exporter::tlsrpt::SendersView::of(
        "example.org",
        [&sent],
    ));
    let good = dane_exporter::report::to_json_value(&report);
    let errors = schema_errors(&good);
    assert!(errors.is_empty(), "{errors:?}");
    for (pointer, bad) in [
        ("/verdict_since/since_rfc3339", Value::from("yesterday")),
        (
            "/senders/hosts/0/failures/0/policy_type",
            Value::from("dane"),
        ),
        ("/senders/failed_sessions", Value::from(-1)),
    ] {
        let mut doctored = good.clone();
        *doctored.pointer_mut(pointer).expect(pointer) = bad;
        assert!(!report_schema().is_valid(&doctored), "{pointer} accepted");
    }
}

/// Runs one case in one mode; returns a report when anything is off.
fn run_case(stack: &Stack, case: &Case, mode: Mode) -> Option<String> {
    let args = check_args(stack, case.domain, mode);
    let started = Instant::now();
    let out = match run_limited(&args) {
        Ok(out) => out,
        Err(e) => return Some(format!("[{} {}] {e}", mode.as_str(), case.domain)),
    };
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errs = match serde_json::from_str::<Value>(&stdout) {
        Ok(json) => {
            let mut errs = judge(stack, case, out.status.code(), &json);
            errs.extend(schema_errors(&json));
            errs
        }
        Err(e) => vec![format!(
            "stdout is not JSON ({e}); exit {:?}",
            out.status.code()
        )],
    };
    if errs.is_empty() {
        eprintln!("ok   [{} {}] {:.2?}", mode.as_str(), case.domain, elapsed);
        return None;
    }
    let pretty = serde_json::from_str::<Value>(&stdout)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| stdout.to_string());
    Some(format!(
        "[{} {}] dane_exporter {}\n  - {}\n--- stdout\n{pretty}\n--- stderr\n{stderr}",
        mode.as_str(),
        case.domain,
        args.join(" "),
        errs.join("\n  - ")
    ))
}

/// Every scenario in both DNSSEC modes against one stack. A few runs at a time (2 cores).
#[test]
fn real_stack_all_scenarios_both_modes() {
    let stack = Stack::up();
    let jobs: Vec<(Mode, &Case)> = [Mode::TrustResolver, Mode::Validate]
        .into_iter()
        .flat_map(|m| {
            CASES
                .iter()
                .filter(move |c| c.mode.is_none_or(|only| only == m))
                .map(move |c| (m, c))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        // Its slow greetings overlap with the scenario runs.
        s.spawn(|| on_a_terminal(&stack));
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(mode, case)) = jobs.get(i) else {
                    break;
                };
                if let Some(report) = run_case(&stack, case, mode) {
                    reports.lock().unwrap().push((i, report));
                }
            });
        }
    });
    // The text report says so too: only unusable records never read as a pass.
    let mut args = check_args(&stack, "unusable2.test", Mode::TrustResolver);
    args.retain(|a| a != "--json");
    let out = run_limited(&args).expect("check unusable2.test");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "unusable2.test: ENCRYPT_ONLY (TLS required, nothing authenticated: no usable TLSA record)\n"
        ),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1), "{text}");

    let mut reports = reports.into_inner().unwrap();
    reports.sort_by_key(|r| r.0);
    assert!(
        reports.is_empty(),
        "{} of {} scenario runs failed:\n\n{}",
        reports.len(),
        jobs.len(),
        reports
            .into_iter()
            .map(|r| r.1)
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// `check` on a terminal (a pty from script(1)): a status line says what it waits for while the
/// relay holds slowgreet's banner back, the verdict is in colour, and NO_COLOR turns colour off;
/// through a pipe neither appears.
fn on_a_terminal(stack: &Stack) {
    let mut args = check_args(stack, "slowgreet.test", Mode::TrustResolver);
    args.retain(|a| a != "--json");
    let command_line = std::iter::once(env!("CARGO_BIN_EXE_dane_exporter").to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let on_tty = |no_color: bool| {
        let mut script = Command::new("script");
        script
            .args(["-q", "-e", "-c", &command_line, "/dev/null"])
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        if no_color {
            script.env("NO_COLOR", "1");
        }
        let out = script.output().expect("script(1)");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let tty = on_tty(false);
    assert!(
        tty.contains("\r\x1b[K… waiting for the greeting of 127.0.1.81:"),
        "no status line: {tty:?}"
    );
    assert!(
        tty.contains("slowgreet.test: \x1b[1;32mPASS\x1b[0m"),
        "{tty:?}"
    );
    let plain = on_tty(true);
    assert!(plain.contains("slowgreet.test: PASS"), "{plain:?}");
    assert!(!plain.contains("\x1b[1;32m"), "NO_COLOR ignored: {plain:?}");
    let piped = run_limited(&args).expect("check through a pipe");
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert!(!String::from_utf8_lossy(&piped.stdout).contains('\x1b'));
}

/// The stack itself, judged by reference tools (dig, `openssl s_client` with DANE, Postfix's
/// posttls-finger): when the scenario test fails, this one says whether the fixture or the
/// exporter is wrong. Then `check` on every scenario in both modes must reach the verdict
/// Postfix's outcome implies. Its own stack, on its own random ports.
#[test]
fn real_stack_reference_clients_agree() {
    let stack = Stack::up();
    let out = Command::new("bash")
        .arg(script("crosscheck.sh"))
        .arg(&stack.dir)
        .env("DANE_EXPORTER", env!("CARGO_BIN_EXE_dane_exporter"))
        .stdin(Stdio::null())
        .output()
        .expect("running tests/stack/crosscheck.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "tests/stack/crosscheck.sh ({}): the stack does not behave as the scenarios need:\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
