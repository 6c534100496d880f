//! The real stack (NSD + unbound + Postfix on loopback, built by `tests/stack/up.sh`) as a guard:
//! started by [`Stack::up`], stopped by `down.sh` when dropped, panic or not. Shared by the
//! `check` scenarios (`stack.rs`) and the exporter's end-to-end tests (`exporter.rs`).

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The listeners' /24 (`SMTP_NET` in up.sh); scenario tables name addresses in it.
pub const SMTP_NET: &str = "127.0.1";
/// `SMTP_NET.N` addresses up.sh listens on with `SMTP_PORT` (for picking a port free on all of
/// them): the Postfix scenarios 1-30, the services block's dovecot (40-42), nginx HTTPS (43) and
/// Postfix wrappermode (44).
const SMTP_LISTENERS: [std::ops::RangeInclusive<u8>; 2] = [1..=30, 40..=44];

// ---------------------------------------------------------------------------------------------
// The stack: up.sh into a tempdir, down.sh on drop.
// ---------------------------------------------------------------------------------------------

pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/stack")
        .join(name)
}

pub struct Stack {
    pub dir: PathBuf,
    pub env: HashMap<String, String>,
    /// `tlsa.txt`: name -> "u s m hex".
    pub tlsa: HashMap<String, String>,
    /// Holds the directory; dropped (deleted) after `Drop::drop` has stopped the daemons.
    _tmp: Option<tempfile::TempDir>,
}

impl Stack {
    pub fn up() -> Stack {
        let tmp = tempfile::Builder::new()
            .prefix("dane-stack-")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().to_path_buf();
        // DANE_STACK_KEEP=1 keeps the directory (configs, zones, logs) for a post-mortem.
        let tmp = if std::env::var_os("DANE_STACK_KEEP").is_some() {
            eprintln!("stack: keeping {}", dir.display());
            let _ = tmp.keep();
            None
        } else {
            Some(tmp)
        };
        // The guard exists before up.sh runs, so a half-started stack is stopped as well.
        let mut stack = Stack {
            dir: dir.clone(),
            env: HashMap::new(),
            tlsa: HashMap::new(),
            _tmp: tmp,
        };

        let nsd = free_dns_port(&[]);
        let unbound = free_dns_port(&[nsd]);
        let smtp = free_smtp_port(&[nsd, unbound]);
        let https = free_smtp_port(&[nsd, unbound, smtp]);
        let started = Instant::now();
        let out = Command::new("bash")
            .arg(script("up.sh"))
            .arg(&dir)
            .env("STACK_NSD_PORT", nsd.to_string())
            .env("STACK_UNBOUND_PORT", unbound.to_string())
            .env("STACK_SMTP_PORT", smtp.to_string())
            .env("STACK_HTTPS_PORT", https.to_string())
            // up.sh's watchdog stops the stack if this process dies without running Drop
            // (SIGKILL, abort): no daemon outlives the test process.
            .env("STACK_OWNER_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .output()
            .expect("running tests/stack/up.sh");
        if !out.status.success() {
            panic!(
                "tests/stack/up.sh failed ({}):\n--- stderr\n{}\n--- stdout\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        eprintln!(
            "stack: up in {:.1?} (nsd {nsd}, unbound {unbound}, smtp {smtp})",
            started.elapsed()
        );

        stack.env = read_kv(&dir.join("env"), '=');
        stack.tlsa = read_kv(&dir.join("tlsa.txt"), ' ');
        for key in ["RESOLVER", "AUTH", "SMTP_PORT", "TRUST_ANCHOR"] {
            assert!(
                stack.env.contains_key(key),
                "up.sh wrote no {key} to {}/env",
                dir.display()
            );
        }
        stack
    }

    pub fn var(&self, key: &str) -> &str {
        &self.env[key]
    }

    /// The port the stack's NSD listens on: NS records carry no port, so the exporter's
    /// authoritative checks are pointed at it (`authoritative_port`, `--authoritative-port`).
    pub fn nsd_port(&self) -> &str {
        self.var("AUTH").rsplit(':').next().unwrap_or_default()
    }

    /// `dane_exporter check DOMAIN --json` against this stack (its resolver, SMTP port and NSD,
    /// 5 s per step) with `extra` arguments: the exit code and the report. Panics, showing the
    /// output, when the output is not JSON.
    pub fn check_json(&self, domain: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
        let out = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
            .args(["check", domain, "--nameserver", self.var("RESOLVER")])
            .args(["--port", self.var("SMTP_PORT"), "--timeout", "5s", "--json"])
            .args(["--authoritative-port", self.nsd_port()])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("running dane_exporter check");
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code(), json)
    }

    /// Changes the TLSA records of one scenario zone while the stack runs, via
    /// `tests/stack/set-tlsa.sh`: the zone (`{scenario}.test.`) is edited, gets a higher SOA serial,
    /// is re-signed with its own key (a secure answer, never bogus), reloaded by NSD and flushed
    /// from unbound's cache. Returns once NSD and unbound (with AD) both serve the new records,
    /// typically in well under a second. Records carry `STACK_TTL` (30 s by default), so a
    /// TTL-honouring cache (validate mode) sees the change within that time.
    ///
    /// `scenario` is a domain label of the scenario table without `.test` (`"ok311"`, `"stale"`,
    /// `"twomx"`, ...); the deliberately broken zones (bogus, brokends, expiredsig) and zones without
    /// TLSA records are refused. Panics with the script's stderr when it fails.
    pub fn set_tlsa(&self, scenario: &str, action: TlsaChange) {
        let started = Instant::now();
        let out = Command::new("bash")
            .arg(script("set-tlsa.sh"))
            .arg(&self.dir)
            .arg(scenario)
            .arg(action.as_arg())
            .stdin(Stdio::null())
            .output()
            .expect("running tests/stack/set-tlsa.sh");
        if !out.status.success() {
            panic!(
                "tests/stack/set-tlsa.sh {scenario} {} failed ({}):\n--- stderr\n{}\n--- stdout\n{}",
                action.as_arg(),
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        eprintln!(
            "stack: {scenario} TLSA {} in {:.2?}",
            action.as_arg(),
            started.elapsed()
        );
    }
}

impl Stack {
    /// Publishes one more TLSA record (`"3 1 1 HEX"`) at every TLSA owner of a scenario zone,
    /// next to the records it has (`set-tlsa.sh RUNDIR SCENARIO publish RDATA`): a next key
    /// published while the stack runs. Same path as [`Stack::set_tlsa`] (new serial, re-signed,
    /// NSD reload, unbound flush); returns once both serve it.
    pub fn publish_tlsa(&self, scenario: &str, rdata: &str) {
        let started = Instant::now();
        let out = Command::new("bash")
            .arg(script("set-tlsa.sh"))
            .arg(&self.dir)
            .arg(scenario)
            .arg("publish")
            .arg(rdata)
            .stdin(Stdio::null())
            .output()
            .expect("running tests/stack/set-tlsa.sh");
        assert!(
            out.status.success(),
            "tests/stack/set-tlsa.sh {scenario} publish {rdata} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "stack: {scenario} TLSA publish in {:.2?}",
            started.elapsed()
        );
    }
}

impl Stack {
    /// Starts a copy of the stack's unbound on `addr`:`port` (`tests/stack/resolver-copy.sh`),
    /// named `name`, in `mode`: `validating`, `off` (no validation: never AD, bogus data passed
    /// on) or `permissive` (AD set honestly, bogus data passed on). Returns once it answers;
    /// down.sh stops it with the stack.
    pub fn resolver_copy(&self, name: &str, addr: &str, port: u16, mode: &str) -> SocketAddr {
        let out = Command::new("bash")
            .arg(script("resolver-copy.sh"))
            .args(["start"])
            .arg(&self.dir)
            .args([name, addr, &port.to_string(), mode])
            .stdin(Stdio::null())
            .output()
            .expect("running tests/stack/resolver-copy.sh");
        assert!(
            out.status.success(),
            "resolver-copy.sh start {name} {addr} {port} {mode} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        format!("{addr}:{port}").parse().expect("address")
    }

    /// Stops the copy `name` and waits until it is gone.
    pub fn stop_resolver_copy(&self, name: &str) {
        let out = Command::new("bash")
            .arg(script("resolver-copy.sh"))
            .arg("stop")
            .arg(&self.dir)
            .arg(name)
            .stdin(Stdio::null())
            .output()
            .expect("running tests/stack/resolver-copy.sh stop");
        assert!(
            out.status.success(),
            "resolver-copy.sh stop {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Removes (`present` false) or restores the DS of `{scenario}.test.` in `test.` while the
    /// stack runs (`tests/stack/set-ds.sh`): the zone stays signed, its delegation becomes
    /// insecure, so DANE no longer applies. Returns once NSD serves it and the stack's unbound
    /// answers the zone's MX without (or with) AD; every resolver copy is flushed too.
    pub fn set_ds(&self, scenario: &str, present: bool) {
        let started = Instant::now();
        let action = if present { "restore" } else { "remove" };
        let out = Command::new("bash")
            .arg(script("set-ds.sh"))
            .arg(&self.dir)
            .args([scenario, action])
            .stdin(Stdio::null())
            .output()
            .expect("running tests/stack/set-ds.sh");
        assert!(
            out.status.success(),
            "tests/stack/set-ds.sh {scenario} {action} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("stack: {scenario} DS {action} in {:.2?}", started.elapsed());
    }
}

/// What [`Stack::set_tlsa`] does to a scenario's TLSA records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsaChange {
    /// Every TLSA RRset of the zone becomes a single `3 1 1` record for a fresh key that no
    /// listener serves: DANE fails with `tlsa_mismatch`, the answer stays DNSSEC-secure.
    Break,
    /// The records up.sh published (matching the listener) come back.
    Repair,
}

impl TlsaChange {
    /// The script's action argument.
    fn as_arg(self) -> &'static str {
        match self {
            TlsaChange::Break => "break",
            TlsaChange::Repair => "repair",
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        match Command::new("bash")
            .arg(script("down.sh"))
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "tests/stack/down.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("tests/stack/down.sh could not run: {e}"),
        }
    }
}

fn read_kv(path: &Path, sep: char) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once(sep))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// A port free for both UDP and TCP on 127.0.0.1 (DNS needs both), not in `avoid`.
pub fn free_dns_port(avoid: &[u16]) -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp 127.0.0.1:0");
        let port = udp.local_addr().unwrap().port();
        if !avoid.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free DNS port on 127.0.0.1");
}

/// A TCP port free on [::1] and on every `SMTP_NET.N` listener address, not in `avoid`. Random
/// ports let several stacks (or other engineers' tests) share the machine.
fn free_smtp_port(avoid: &[u16]) -> u16 {
    'outer: for _ in 0..100 {
        let v6 =
            TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))).expect("bind [::1]:0");
        let port = v6.local_addr().unwrap().port();
        if avoid.contains(&port) {
            continue;
        }
        for n in SMTP_LISTENERS.into_iter().flatten() {
            if TcpListener::bind(format!("{SMTP_NET}.{n}:{port}")).is_err() {
                continue 'outer;
            }
        }
        return port;
    }
    panic!("no free SMTP port on {SMTP_NET}.{SMTP_LISTENERS:?} and [::1]");
}
