//! `dane_exporter tlsa`, the binary:
//!
//! - its records against openssl's own computation (`openssl x509 -pubkey | openssl pkey -pubin
//!   -outform DER | sha256sum` and friends, run here) for ECDSA, RSA and Ed25519 keys, selectors
//!   0 and 1, matching types 1 and 2; key files (private and public); the issuer of a chain
//!   (`2 1 1`); a certbot lineage with a staged version;
//! - `--check` at every step of a rollover on the real stack (`staged.test`: its listener serves
//!   `staged_live`, `staged_next` is the next key; TTL 3 s), records changed live with
//!   `set-tlsa.sh` and the server switched with a Postfix reload, in both DNSSEC modes;
//! - `--check` through a resolver that does not validate or does not answer: exit 2, no step,
//!   as `check`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::stack::{Stack, TlsaChange};

/// `dane_exporter tlsa ARGS`: exit code, stdout, stderr.
fn tlsa(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dane_exporter"))
        .arg("tlsa")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running dane_exporter tlsa");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `OWNER IN TLSA U S M HEX` lines of an output: (owner, "U S M HEX").
fn records(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let (owner, rest) = l.split_once(" IN TLSA ")?;
            let rdata = rest.split(';').next()?.trim();
            Some((owner.to_string(), rdata.to_string()))
        })
        .collect()
}

/// A shell pipeline of openssl and coreutils; its first word of output (the digest).
fn sh(pipeline: &str) -> String {
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c", pipeline])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{pipeline}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn sum(mtype: u8) -> &'static str {
    match mtype {
        1 => "sha256sum",
        _ => "sha512sum",
    }
}

/// What openssl computes for a certificate file: selector 1 from its public key, 0 from its DER.
fn openssl_data(cert: &Path, selector: u8, mtype: u8) -> String {
    let cert = cert.display();
    match selector {
        1 => sh(&format!(
            "openssl x509 -in {cert} -pubkey -noout | openssl pkey -pubin -outform DER | {}",
            sum(mtype)
        )),
        _ => sh(&format!(
            "openssl x509 -in {cert} -outform DER | {}",
            sum(mtype)
        )),
    }
}

/// A self-signed certificate and its key made by openssl: `-newkey ec|rsa|ed25519`.
fn openssl_cert(dir: &Path, stem: &str, newkey: &[&str], name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    let status = Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-days", "30"])
        .args(newkey)
        .args(["-keyout", &key.display().to_string()])
        .args(["-out", &cert.display().to_string()])
        .args(["-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName=DNS:{name}")])
        .stderr(Stdio::null())
        .status()
        .expect("openssl req");
    assert!(status.success(), "openssl req {newkey:?}");
    (cert, key)
}

const EC: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

#[test]
fn records_equal_openssls_for_every_key_type_selector_and_matching_type() {
    let dir = tempfile::tempdir().unwrap();
    let name = "mx.example.test";
    let owner = "_25._tcp.mx.example.test.";
    let kinds: [(&str, &[&str]); 3] = [
        ("ecdsa", EC),
        ("rsa", &["-newkey", "rsa:2048"]),
        ("ed25519", &["-newkey", "ed25519"]),
    ];
    for (kind, newkey) in kinds {
        let (cert, key) = openssl_cert(dir.path(), kind, newkey, name);
        for selector in [0u8, 1] {
            for mtype in [1u8, 2] {
                let (s, m) = (selector.to_string(), mtype.to_string());
                let path = cert.display().to_string();
                let (code, out, err) = tlsa(&[&path, "--selector", &s, "--mtype", &m]);
                assert_eq!(code, 0, "{kind} {s} {m}: {err}");
                let want = format!("3 {s} {m} {}", openssl_data(&cert, selector, mtype));
                assert_eq!(
                    records(&out),
                    vec![(owner.to_string(), want)],
                    "{kind}: {out}"
                );
            }
        }
        // The private key, and the public key openssl derives from it, give the same 3 1 x.
        let public = dir.path().join(format!("{kind}.pub"));
        sh(&format!(
            "openssl pkey -in {} -pubout -out {} && echo ok",
            key.display(),
            public.display()
        ));
        for file in [&key, &public] {
            let path = file.display().to_string();
            let (code, out, err) = tlsa(&[&path, "--host", name, "--mtype", "2"]);
            assert_eq!(code, 0, "{kind} key: {err}");
            let want = sh(&format!(
                "openssl pkey -in {} -pubout -outform DER | sha512sum",
                key.display()
            ));
            assert_eq!(
                records(&out),
                vec![(owner.to_string(), format!("3 1 2 {want}"))]
            );
        }
        // A key has no certificate to select, and names no host.
        let path = key.display().to_string();
        let (code, _, err) = tlsa(&[&path, "--host", name, "--selector", "0"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("selector 0"), "{err}");
        let (code, _, err) = tlsa(&[&path]);
        assert_eq!(code, 2);
        assert!(err.contains("--host"), "{err}");
    }
}

#[test]
fn issuer_records_and_lineages_with_a_staged_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    // A private CA and a leaf it issued; the chain file is leaf + CA, as fullchain.pem is.
    sh(&format!(
        "openssl req -x509 -nodes -days 30 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
         -keyout {} -out {} -subj /CN=Test-CA -addext basicConstraints=critical,CA:TRUE \
         2>/dev/null && \
         openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout {} \
         -out {} -subj /CN=mx.ca.test 2>/dev/null && \
         openssl x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -days 30 -out {} \
         -extfile <(printf 'subjectAltName=DNS:mx.ca.test') 2>/dev/null && \
         cat {} {} > {} && echo ok",
        d("ca.key"),
        d("ca.pem"),
        d("leaf.key"),
        d("leaf.csr"),
        d("leaf.csr"),
        d("ca.pem"),
        d("ca.key"),
        d("leaf.pem"),
        d("leaf.pem"),
        d("ca.pem"),
        d("fullchain.pem")
    ));
    let (code, out, err) = tlsa(&[&d("fullchain.pem"), "--usage", "2", "--port", "587"]);
    assert_eq!(code, 0, "{err}");
    let issuer = openssl_data(&dir.path().join("ca.pem"), 1, 1);
    assert_eq!(
        records(&out),
        vec![(
            "_587._tcp.mx.ca.test.".to_string(),
            format!("2 1 1 {issuer}")
        )]
    );
    assert!(err.contains("issuers change"), "{err}");
    // The leaf alone has no issuer to pin.
    let (code, _, err) = tlsa(&[&d("leaf.pem"), "--usage", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("issuer"), "{err}");

    // A certbot lineage: live/NAME/fullchain.pem links to archive version 1; version 2 is
    // staged (obtained, not yet linked).
    let archive = dir.path().join("archive/mx.lineage.test");
    let live = dir.path().join("live/mx.lineage.test");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::create_dir_all(&live).unwrap();
    let (v1, _) = openssl_cert(&archive, "fullchain1", EC, "mx.lineage.test");
    let (v2, _) = openssl_cert(
        &archive,
        "fullchain2",
        &["-newkey", "rsa:2048"],
        "mx.lineage.test",
    );
    std::os::unix::fs::symlink(
        "../../archive/mx.lineage.test/fullchain1.pem",
        live.join("fullchain.pem"),
    )
    .unwrap();
    let lineage = live.display().to_string();
    let (code, out, err) = tlsa(&["--lineage", &lineage]);
    assert_eq!(code, 0, "{err}");
    let owner = "_25._tcp.mx.lineage.test.".to_string();
    assert_eq!(
        records(&out),
        vec![
            (owner.clone(), format!("3 1 1 {}", openssl_data(&v1, 1, 1))),
            (owner.clone(), format!("3 1 1 {}", openssl_data(&v2, 1, 1))),
        ]
    );
    assert!(
        out.contains("; current: ") && out.contains("; next: "),
        "{out}"
    );
    // --next replaces the staged version; selector 0 pins each whole certificate.
    let (code, out, _) = tlsa(&[
        "--lineage",
        &lineage,
        "--next",
        &v1.display().to_string(),
        "--selector",
        "0",
    ]);
    assert_eq!(code, 0);
    let full = format!("3 0 1 {}", openssl_data(&v1, 0, 1));
    assert_eq!(
        records(&out),
        vec![(owner.clone(), full.clone()), (owner, full)]
    );
}

/// `tlsa --check` on the real stack, from the step where only the current key is published to
/// the one where the published records cover nothing the server presents.
#[test]
fn check_follows_a_rollover_on_the_real_stack() {
    let stack = Stack::up();
    let dir = tempfile::tempdir().unwrap();
    let certs = stack.dir.join("certs");
    // Copies: the stack's own files are switched below.
    let current = dir.path().join("current.pem");
    let next = dir.path().join("next.pem");
    std::fs::copy(certs.join("staged_live.pem"), &current).unwrap();
    std::fs::copy(certs.join("staged_next.pem"), &next).unwrap();
    let (current, next) = (current.display().to_string(), next.display().to_string());
    let port = stack.var("SMTP_PORT").to_string();
    let owner = format!("_{port}._tcp.mx.staged.test.");
    let resolver = [
        "--nameserver",
        stack.var("RESOLVER"),
        "--port",
        &port,
        "--timeout",
        "5s",
        // The stack's root has no dnssec-failed.org; brokends.test's DS matches no key.
        "--canary-bogus-name",
        "brokends.test",
    ];
    let check = |files: &[&str], extra: &[&str]| {
        let mut args = vec!["--check"];
        args.extend_from_slice(files);
        args.extend_from_slice(&resolver);
        args.extend_from_slice(extra);
        tlsa(&args)
    };
    let step = |out: &str, line: &str| {
        assert!(out.contains(line), "expected {line:?} in:\n{out}");
    };
    let rec = |key: &str| stack.tlsa[key].clone();

    // --connect: the served key's record is the one up.sh published.
    let connect = format!("mx.staged.test:{port}");
    let (code, out, err) = tlsa(&["--connect", &connect, "--nameserver", stack.var("RESOLVER")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(records(&out), vec![(owner.clone(), rec("staged_live"))]);

    // (a) Only the current key is published: add the next one (its record is printed).
    let (code, out, err) = check(&[&current, "--next", &next], &[]);
    assert_eq!(code, 0, "{err}\n{out}");
    step(&out, "; step (a)");
    step(&out, &format!(";   {owner} IN TLSA {}", rec("staged_next")));
    step(&out, "server mx.staged.test");
    step(&out, "presents the current key");

    // NSD (authoritative, no AD bit) beside the stack's unbound in trust-resolver mode: one
    // resolver that may be asked and does not validate is enough for this host not to see;
    // exit 2 as `check`'s, and no step is claimed.
    let (code, out, err) = check(
        &[&current, "--next", &next],
        &["--nameserver", stack.var("AUTH")],
    );
    assert_eq!(code, 2, "{err}\n{out}");
    step(&out, "unknown (resolver_not_validating)");
    step(&out, "no step: the resolver does not validate DNSSEC");
    assert!(!out.contains("; step ("), "{out}");

    // (b) Published now: wait two TTLs (3 s each) from the publication time given.
    stack.publish_tlsa("staged", &rec("staged_next"));
    let published = dane_exporter::core::unix_now();
    let at = published.to_string();
    let (code, out, _) = check(&[&current, "--next", &next], &["--published-at", &at]);
    assert_eq!(code, 0, "{out}");
    step(&out, "; step (b): both keys are published");
    step(&out, "Next: wait until");
    // Without the time, the command says it cannot know it.
    let (_, out, _) = check(&[&current, "--next", &next], &[]);
    step(&out, "; step (b) or (c)");
    step(&out, "DNS does not say");

    // (c) Published for two TTLs: switch. Validate mode against the private root's key too.
    let long_ago = (published - 60).to_string();
    for mode in [
        &[][..],
        &[
            "--dnssec-mode",
            "validate",
            "--trust-anchor",
            stack.var("TRUST_ANCHOR"),
        ][..],
    ] {
        let mut extra = vec!["--published-at", long_ago.as_str()];
        extra.extend_from_slice(mode);
        let (code, out, err) = check(&[&current, "--next", &next], &extra);
        assert_eq!(code, 0, "{mode:?}: {err}\n{out}");
        step(&out, "; step (c)");
        step(
            &out,
            &format!(";   {}  <- current, served", rec("staged_live")),
        );
        step(&out, &format!(";   {}  <- next", rec("staged_next")));
    }

    // The switch: the listener's chain files become the next certificate, Postfix reloads.
    for ext in ["key", "pem"] {
        std::fs::copy(
            certs.join(format!("staged_next.{ext}")),
            certs.join(format!("staged_live.{ext}")),
        )
        .unwrap();
    }
    let reload = Command::new("postfix")
        .args(["-c", stack.var("POSTFIX_CONFIG"), "reload"])
        .output()
        .expect("postfix reload");
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    let began = Instant::now();
    let out = loop {
        let (_, out, _) = check(&[&current, "--next", &next], &[]);
        if out.contains("presents the next key") || began.elapsed() > Duration::from_secs(20) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    // (d) The server presents the next key: remove the old record.
    step(&out, "; step (d)");
    step(&out, &format!(";   {owner} IN TLSA {}", rec("staged_live")));

    // (e) The records are replaced by a key nobody serves: fix now, exit 1 as `check` does.
    stack.set_tlsa("staged", TlsaChange::Break);
    let (code, out, _) = check(&[&current, "--next", &next], &[]);
    assert_eq!(code, 1, "{out}");
    step(&out, "; step (e), fix now");
    step(&out, &format!(";   {owner} IN TLSA {}", rec("staged_next")));
    let (code, _) = stack.check_json("staged.test", &["--no-mta-sts"]);
    assert_eq!(code, Some(1), "check agrees: mail is deferred");
}

/// No resolver answers (nothing listens on its port): exit 2 and no step, not "fix DNS".
#[test]
fn check_without_a_resolver_is_this_hosts_problem() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = openssl_cert(dir.path(), "mx", EC, "mx.example.test");
    let silent = format!("127.0.0.1:{}", crate::support::exporter::free_port());
    let (code, out, err) = tlsa(&[
        "--check",
        &cert.display().to_string(),
        "--nameserver",
        &silent,
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 2, "{err}\n{out}");
    assert!(out.contains("unknown (resolver_unavailable)"), "{out}");
    assert!(out.contains("no step: no resolver answers"), "{out}");
    // The records themselves need no DNS: still printed.
    assert_eq!(records(&out).len(), 1, "{out}");
}
