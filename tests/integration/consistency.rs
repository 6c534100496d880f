//! Authoritative consistency on the real stack (`tests/stack/up.sh`, ops7dns block): lag.test is
//! served by the primary NSD (127.0.0.1, serial 2, a next-key TLSA record added) and by a second
//! NSD (127.0.0.2, same port) still at serial 1. `dane_exporter check` must call the secondary
//! inconsistent (serial behind, other TLSA RRset) in both DNSSEC modes while the verdict stays
//! pass; after `tests/stack/secondary.sh catch-up` every server agrees. Zones whose signatures
//! expired (`_tcp.mx.expiredsig.test`) are inconsistent through their signatures alone.

use std::process::{Command, Stdio};

use serde_json::Value;

use std::time::Duration;

use crate::support::exporter::{promtool_check, write_config, Exporter};
use crate::support::stack::{script, Stack};

/// `dane_exporter check DOMAIN --json` against the stack, asking the authoritative servers on
/// the stack's NSD port.
fn check(stack: &Stack, domain: &str, validate: bool) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dane_exporter"));
    cmd.arg("check").arg(domain);
    if validate {
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
    let nsd_port = stack.nsd_port();
    let out = cmd
        .args([
            "--port",
            stack.var("SMTP_PORT"),
            "--timeout",
            "3s",
            "--json",
        ])
        .args(["--authoritative-port", nsd_port])
        .stdin(Stdio::null())
        .output()
        .expect("running dane_exporter check");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e})\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn zone<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["zones"]
        .as_array()
        .and_then(|zones| zones.iter().find(|z| z["zone"] == name))
        .unwrap_or_else(|| panic!("no zone {name} in {json:#}"))
}

/// (nameserver address, consistent, serial) of each server of `zone`, sorted.
fn servers(zone: &Value) -> Vec<(String, bool, u64)> {
    let mut out: Vec<_> = zone["nameservers"]
        .as_array()
        .expect("nameservers")
        .iter()
        .map(|n| {
            (
                n["address"].as_str().unwrap_or_default().to_string(),
                n["consistent"].as_bool().unwrap_or(false),
                n["serial"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

fn warned(json: &Value, reason: &str) -> bool {
    json["warnings"]
        .as_array()
        .is_some_and(|ws| ws.iter().any(|w| w["reason"] == reason))
}

fn catch_up(stack: &Stack) {
    let out = Command::new("bash")
        .arg(script("secondary.sh"))
        .arg(&stack.dir)
        .arg("catch-up")
        .stdin(Stdio::null())
        .output()
        .expect("running secondary.sh");
    assert!(
        out.status.success(),
        "secondary.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lagging_secondary_then_caught_up() {
    let stack = Stack::up();
    for validate in [false, true] {
        let mode = if validate {
            "validate"
        } else {
            "trust-resolver"
        };
        let json = check(&stack, "lag.test", validate);
        assert_eq!(json["verdict"], "pass", "[{mode}] {json:#}");
        let lag = zone(&json, "lag.test");
        assert_eq!(lag["consistent"], false, "[{mode}] {lag:#}");
        assert_eq!(
            servers(lag),
            vec![
                ("127.0.0.1".to_string(), true, 2),
                ("127.0.0.2".to_string(), false, 1)
            ],
            "[{mode}] {lag:#}"
        );
        let secondary = lag["nameservers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["address"] == "127.0.0.2")
            .unwrap();
        let tlsa = secondary["rrsets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "TLSA")
            .unwrap();
        assert_eq!(
            tlsa["matches"], false,
            "[{mode}] the old TLSA RRset: {tlsa:#}"
        );
        assert_eq!(tlsa["records"].as_array().map(Vec::len), Some(1));
        // Its old data is validly signed: the lag is the only problem.
        assert_eq!(secondary["signatures_valid"], true, "[{mode}]");
        assert!(
            warned(&json, "nameserver_inconsistent"),
            "[{mode}] {json:#}"
        );
    }
    // A zone with one server and expired RRSIGs is not consistent either.
    let json = check(&stack, "expiredsig.test", false);
    let expired = zone(&json, "_tcp.mx.expiredsig.test");
    assert_eq!(expired["consistent"], false, "{expired:#}");
    assert_eq!(expired["nameservers"][0]["signatures_valid"], false);
    assert_eq!(zone(&json, "expiredsig.test")["consistent"], true);
    // Zones with one healthy server: consistent (NSEC, NSEC3, CNAME'd MX host, 13 TLSA records).
    for domain in [
        "ok311.test",
        "stale.test",
        "cname.test",
        "nsec3ok.test",
        "hmany.test",
    ] {
        let json = check(&stack, domain, false);
        let zones = json["zones"].as_array().expect("zones");
        assert!(!zones.is_empty(), "{domain}: {json:#}");
        for z in zones {
            assert_eq!(z["consistent"], true, "{domain}: {z:#}");
        }
    }

    catch_up(&stack);
    for validate in [false, true] {
        let json = check(&stack, "lag.test", validate);
        let lag = zone(&json, "lag.test");
        assert_eq!(lag["consistent"], true, "{lag:#}");
        assert_eq!(
            servers(lag),
            vec![
                ("127.0.0.1".to_string(), true, 2),
                ("127.0.0.2".to_string(), true, 2)
            ]
        );
        assert!(!warned(&json, "nameserver_inconsistent"), "{json:#}");
    }
}

/// The exporter as a process: the gauges per nameserver address, the zone gauge and the
/// `nameserver_inconsistent` warning while the secondary lags (a clean `promtool check metrics`),
/// then all 1 within one probe interval after it caught up. lag.test is inbound (authoritative
/// checks on by default); hfull.test is outbound (off by default: no zone series). stale.test
/// (a record for an old key next to the served one) turns `tlsa_record_stale` on its second
/// probe, with `tlsa_stale_after: 1s`: the store remembers the first probe that saw it unmatched.
#[test]
fn exporter_gauges_follow_the_secondary() {
    let stack = Stack::up();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dane_exporter.yml");
    write_config(
        &config,
        &stack,
        &["lag.test", "stale.test"],
        &["hfull.test"],
    );
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replacen("global:\n", "global:\n  tlsa_stale_after: 1s\n", 1),
    )
    .unwrap();
    let stale = [("domain", "stale.test"), ("reason", "tlsa_record_stale")];
    let exporter = Exporter::start(&config);
    let lag = [("domain", "lag.test"), ("zone", "lag.test")];
    let at = |address: &'static str| {
        let mut labels = lag.to_vec();
        labels.push(("address", address));
        labels
    };
    exporter.wait_for(Duration::from_secs(30), "first probe of stale.test", |e| {
        !e.metrics()
            .values("dane_probe_timestamp_seconds", &[("domain", "stale.test")])
            .is_empty()
    });
    // One probe cannot tell a stale record: the next probe is an interval (10 s) away.
    assert!(exporter
        .metrics()
        .values("dane_probe_warning_info", &stale)
        .is_empty());
    exporter.wait_for(Duration::from_secs(30), "first probe of lag.test", |e| {
        !e.metrics().values("dane_zone_consistent", &lag).is_empty()
    });
    let m = exporter.metrics();
    promtool_check(&m.text);
    assert_eq!(m.value("dane_zone_consistent", &lag), 0.0);
    assert_eq!(m.value("dane_nameserver_consistent", &at("127.0.0.1")), 1.0);
    assert_eq!(m.value("dane_nameserver_consistent", &at("127.0.0.2")), 0.0);
    assert_eq!(m.value("dane_nameserver_soa_serial", &at("127.0.0.1")), 2.0);
    assert_eq!(m.value("dane_nameserver_soa_serial", &at("127.0.0.2")), 1.0);
    let mut tlsa = at("127.0.0.2");
    tlsa.push(("type", "TLSA"));
    assert_eq!(m.value("dane_nameserver_rrset_match", &tlsa), 0.0);
    assert_eq!(
        m.value("dane_nameserver_signatures_valid", &at("127.0.0.2")),
        1.0
    );
    let mut warning = lag.to_vec();
    warning.push(("reason", "nameserver_inconsistent"));
    assert_eq!(m.value("dane_zone_warning_info", &warning), 1.0);
    assert_eq!(
        m.value(
            "dane_probe_warning_info",
            &[
                ("domain", "lag.test"),
                ("reason", "nameserver_inconsistent")
            ]
        ),
        1.0
    );
    // Outbound: the hygiene warning, but no authoritative checks by default.
    assert_eq!(
        m.value(
            "dane_probe_warning_info",
            &[
                ("domain", "hfull.test"),
                ("reason", "tlsa_full_certificate")
            ]
        ),
        1.0
    );
    assert!(m
        .values("dane_zone_consistent", &[("domain", "hfull.test")])
        .is_empty());

    catch_up(&stack);
    exporter.wait_for(Duration::from_secs(25), "lag.test consistent", |e| {
        e.metrics().values("dane_zone_consistent", &lag) == vec![1.0]
    });
    let m = exporter.metrics();
    promtool_check(&m.text);
    assert_eq!(m.value("dane_nameserver_consistent", &at("127.0.0.2")), 1.0);
    assert_eq!(m.value("dane_nameserver_soa_serial", &at("127.0.0.2")), 2.0);
    assert!(m.values("dane_zone_warning_info", &warning).is_empty());
    // stale.test has been probed at least twice by now (the catch-up took an interval).
    exporter.wait_for(Duration::from_secs(25), "stale record reported", |e| {
        e.metrics().values("dane_probe_warning_info", &stale) == vec![1.0]
    });
}
