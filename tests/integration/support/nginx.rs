//! A real nginx (Debian's package, installed by tests/stack/install-deps.sh) serving MTA-STS
//! policies over HTTPS on 127.0.0.1, one `server` block per policy host chosen by SNI.
//!
//! Each [`Site`] is a host name, the certificate nginx presents for it, and what
//! `/.well-known/mta-sts.txt` answers: a file (which the test may rewrite while nginx runs), a
//! redirect, or a file under another Content-Type. nginx runs in the foreground as a child of the
//! test with its own prefix directory, and is stopped by its PID (SIGTERM, then SIGKILL) on drop.
#![allow(dead_code)] // Each test module uses a different part of the fixture.

use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::exporter::free_port;
use super::smtp_server::TestCert;

/// What the policy URL answers.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 with this body as `text/plain`.
    Policy(Vec<u8>),
    /// 200 with this body under another Content-Type.
    PolicyAs(Vec<u8>, &'static str),
    /// A 301 to another URL.
    Redirect(String),
}

/// One policy host.
#[derive(Clone, Debug)]
pub struct Site {
    /// `mta-sts.<domain>`.
    pub host: String,
    /// Chain and key nginx presents.
    pub cert: TestCert,
    /// What the policy URL answers.
    pub answer: Answer,
}

/// A running nginx.
pub struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

/// PEM text of one DER object.
pub fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

impl Nginx {
    /// Starts nginx with `sites` on 127.0.0.1 and a free port; returns once it accepts connections.
    pub fn start(sites: &[Site]) -> Nginx {
        // The port is free when chosen, not necessarily when nginx binds it (tests run in
        // parallel and pick ports the same way): an nginx that exits at once gets another port.
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Nginx::start_on(sites, free_port()) {
                Ok(nginx) => return nginx,
                Err(log) => failures.push(log),
            }
        }
        panic!("nginx did not start: {failures:#?}");
    }

    fn start_on(sites: &[Site], port: u16) -> Result<Nginx, String> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut servers = String::new();
        for (index, site) in sites.iter().enumerate() {
            let chain: String = site
                .cert
                .chain
                .iter()
                .map(|c| pem("CERTIFICATE", c))
                .collect();
            let cert = root.join(format!("site{index}.crt"));
            let key = root.join(format!("site{index}.key"));
            std::fs::write(&cert, chain).unwrap();
            std::fs::write(&key, pem("PRIVATE KEY", &site.cert.key_pkcs8)).unwrap();
            let docroot = root.join(format!("site{index}"));
            std::fs::create_dir_all(docroot.join(".well-known")).unwrap();
            let location = match &site.answer {
                Answer::Policy(body) => {
                    std::fs::write(docroot.join(".well-known/mta-sts.txt"), body).unwrap();
                    format!("root {}; default_type text/plain;", docroot.display())
                }
                Answer::PolicyAs(body, content_type) => {
                    std::fs::write(docroot.join(".well-known/mta-sts.txt"), body).unwrap();
                    format!("root {}; default_type {content_type};", docroot.display())
                }
                Answer::Redirect(url) => format!("return 301 {url};"),
            };
            let _ = write!(
                servers,
                r#"
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {host};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location = /.well-known/mta-sts.txt {{ {location} }}
    }}
"#,
                host = site.host,
                cert = cert.display(),
                key = key.display(),
            );
        }
        let p = root.display();
        let config = format!(
            r#"
user root;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {p}/client;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    types {{ }}
    default_type application/octet-stream;
{servers}
}}
"#
        );
        let conf = root.join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(root)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx (tests/stack/install-deps.sh installs it)");
        let mut nginx = Nginx { child, dir, port };
        let started = Instant::now();
        let log = |nginx: &Nginx| {
            std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default()
        };
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                return Err(format!("port {port}: nginx {status}: {}", log(&nginx)));
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not listen on {port}: {}",
                log(&nginx)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }

    /// The HTTPS port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the policy file of site number `index` (nginx serves the new one at once).
    pub fn rewrite_policy(&self, index: usize, body: &[u8]) {
        std::fs::write(self.docroot(index).join(".well-known/mta-sts.txt"), body).unwrap();
    }

    fn docroot(&self, index: usize) -> PathBuf {
        self.dir.path().join(format!("site{index}"))
    }

    /// The prefix directory (configuration, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its worker; SIGKILL after a grace period if it hangs.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
