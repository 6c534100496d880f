//! The real stack changing under the exporter: `Stack::set_tlsa` breaks ok311.test's TLSA record
//! (a secure record for a key the listener does not serve) and repairs it, and `dane_exporter check`
//! follows in both DNSSEC modes: pass, fail with `tlsa_mismatch`, pass again. Each check is a fresh
//! process, so this tests the stack's change path (re-sign, NSD reload, unbound flush), not caches.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::stack::{Stack, TlsaChange};

/// Runs `dane_exporter check ok311.test` in one mode; returns exit code and JSON.
fn check(stack: &Stack, validate: bool) -> (Option<i32>, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dane_exporter"));
    cmd.arg("check").arg("ok311.test");
    if validate {
        // NSD directly, validated from the private root's DNSKEY.
        cmd.args([
            "--dnssec-mode",
            "validate",
            "--nameserver",
            stack.var("AUTH"),
        ])
        .args(["--trust-anchor", stack.var("TRUST_ANCHOR")]);
    } else {
        cmd.args(["--nameserver", stack.var("RESOLVER")]);
    }
    let out = cmd
        .args([
            "--port",
            stack.var("SMTP_PORT"),
            "--timeout",
            "5s",
            "--json",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("running dane_exporter check");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

/// Both modes must give `verdict` (exit 0 for pass, 1 for fail) and, when failing, `tlsa_mismatch`.
fn expect(stack: &Stack, verdict: &str, step: &str) {
    for validate in [false, true] {
        let mode = if validate {
            "validate"
        } else {
            "trust-resolver"
        };
        let (code, json) = check(stack, validate);
        let want_code = if verdict == "pass" { 0 } else { 1 };
        assert!(
            json["verdict"] == verdict && code == Some(want_code),
            "{step} [{mode}]: want {verdict} (exit {want_code}), got exit {code:?}:\n{json:#}"
        );
        if verdict == "fail" {
            assert_eq!(
                json["failures"][0]["reason"], "tlsa_mismatch",
                "{step} [{mode}]: {json:#}"
            );
        }
    }
}

#[test]
fn real_stack_tlsa_break_and_repair() {
    let stack = Stack::up();
    expect(&stack, "pass", "before");
    stack.set_tlsa("ok311", TlsaChange::Break);
    expect(&stack, "fail", "after break");
    stack.set_tlsa("ok311", TlsaChange::Repair);
    expect(&stack, "pass", "after repair");
}
