//! `dane_exporter demo`: the exporter with data in seconds, on a machine without a signed domain
//! or outbound port 25. Everything runs in this process, its DNS and mail servers on loopback only:
//!
//! - a private root zone `.`, DNSSEC-signed at start (`zones`), served on `127.0.0.1`, with one
//!   mail domain per scenario (`world::SCENARIOS`: one that passes, a stale record, a rollover
//!   in progress, signatures that expire in two days, no STARTTLS, a bogus TLSA RRset, one
//!   without TLSA);
//! - one STARTTLS listener per MX host on `127.0.25.N` (`starttls`), all on one free port, with
//!   certificates made at start (`certs`) and laid out on disk as certbot lineages;
//! - the real exporter (`crate::exporter::DaneExporter`) with a configuration written into a
//!   temporary directory: `validate` DNSSEC mode with the zone's key as trust anchor, so that
//!   the exporter's own validator judges every answer (a resolver that only sets the AD bit
//!   would make the bogus scenario a script rather than a validation), interval 10 s;
//! - `/demo` and its controls beside the usual routes (`control`), to break and repair a
//!   scenario live.
//!
//! The same zone server, STARTTLS listener and certificates are the test suite's in-process
//! fixtures (`tests/integration/support/`). Nothing here sends a packet off the host: the zone
//! names only loopback addresses, and the exporter's resolver is the demo's server.
//!
//! Walk-through: `docs/demo.md`.

pub mod certs;
pub mod control;
mod router;
pub mod starttls;
pub mod world;
pub mod zones;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::exporter::{DaneExporter, StartError};
use crate::web;

use world::{World, SCENARIOS};

/// Why the demo could not start, or a control could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A certificate could not be made.
    #[error(transparent)]
    Certificate(#[from] certs::CertError),
    /// The zone could not be signed, served or changed.
    #[error(transparent)]
    Zone(#[from] zones::ZoneError),
    /// A mail listener could not start or change its certificate.
    #[error(transparent)]
    Listener(#[from] starttls::StartTlsError),
    /// The working files could not be written.
    #[error("demo files: {0}")]
    Files(String),
    /// The exporter refused the generated configuration.
    #[error(transparent)]
    Exporter(#[from] StartError),
    /// A control request that cannot be carried out as asked.
    #[error("{0}")]
    Refused(String),
}

/// A running demo: the world and the exporter watching it. Dropping it stops the servers and
/// removes its directory.
pub struct Demo {
    world: Arc<World>,
    exporter: Arc<DaneExporter>,
    served: Arc<control::DemoExporter>,
}

impl Demo {
    /// Builds the world and starts the exporter on it. `web` is where the caller serves
    /// [`Demo::web_exporter`] (for the commands the demo prints).
    pub async fn start(mut web: SocketAddr) -> Result<Demo, DemoError> {
        if !web.ip().is_loopback() {
            // A container's published port reaches it only this way. The DNS and mail servers
            // stay on loopback whatever this says; only the page and the controls are exposed.
            tracing::warn!(
                address = %web,
                "the demo's page and its /demo controls (no authentication) are reachable from other hosts"
            );
        }
        // Every address (`:9724`, dual-stack): the commands printed use 127.0.0.1, which that
        // includes and a container without IPv6 still has.
        if web.ip().is_unspecified() {
            web.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let world = Arc::new(World::build().await?);
        let dir = world.dir.path();
        let anchor = dir.join("trust-anchor.txt");
        let mut anchors = world.zones.dnskey_lines().join("\n");
        anchors.push('\n');
        write(&anchor, &anchors)?;
        write(&dir.join("flags"), &format!("{}\n", control::flags(&world)))?;
        let config = dir.join("dane_exporter.yml");
        write(&config, &configuration(&world))?;
        let exporter = DaneExporter::start(&config).await?;
        let served = Arc::new(control::DemoExporter {
            exporter: Arc::clone(&exporter),
            world: Arc::clone(&world),
            web: web.to_string(),
        });
        Ok(Demo {
            world,
            exporter,
            served,
        })
    }

    /// What the HTTP side serves: the exporter's routes and `/demo`.
    pub fn web_exporter(&self) -> Arc<dyn web::Exporter> {
        self.served.clone()
    }

    /// The text of `GET /demo`: scenarios, their state, commands to try.
    pub async fn overview(&self) -> String {
        control::overview(&self.world, &self.served.web).await
    }

    /// Stops probing; running probes get `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.exporter.shutdown(grace).await;
    }
}

fn write(path: &std::path::Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|e| DemoError::Files(format!("{}: {e}", path.display())))
}

/// The exporter's configuration for the world: every scenario inbound, MTA-STS off (no policy
/// host), three MX hosts checked as services too, the rollover host's lineage as its
/// certificate files.
fn configuration(world: &World) -> String {
    let mut text = format!(
        "# Written by `dane_exporter demo`: the exporter against the demo's own DNS and mail\n\
         # servers on loopback. See docs/demo.md.\n\
         global:\n  interval: 10s\n  timeout: 9s\n  step_timeout: 3s\n  smtp_reply_timeout: 5s\n  \
         dnssec_mode: validate\n  trust_anchor_file: trust-anchor.txt\n  \
         nameservers: [\"{dns}\"]\n  smtp_port: {smtp}\n  ehlo_name: demo.dane-exporter.invalid\n  \
         authoritative_port: {port}\n\
         probe_allow: [\"*.example\"]\ninbound:\n",
        dns = world.zones.addr(),
        smtp = world.smtp_port,
        port = world.zones.addr().port(),
    );
    for (scenario, host) in SCENARIOS.iter().zip(&world.hosts) {
        text.push_str(&format!(
            "  - domain: {}\n    mta_sts: false\n    tls_rpt: false\n",
            scenario.domain
        ));
        // Inbound targets are expected to have DANE (`dane_expected` otherwise); the scenario
        // without it shows the not-applicable verdict, as `expect: any` (or outbound) reads it.
        if scenario.kind == world::Kind::NotApplicable {
            text.push_str("    expect: any\n");
        }
        // The MX host as a submission-like service too (same name, port and TLSA RRset), so
        // that the service gauges have data: a pass, a mismatch and one without TLSA.
        if matches!(
            scenario.kind,
            world::Kind::Pass | world::Kind::Stale | world::Kind::NotApplicable
        ) {
            text.push_str(&format!(
                "    services:\n      - {{host: {}, port: {}, protocol: smtp, tls: starttls}}\n",
                host.name, world.smtp_port
            ));
        }
        if scenario.kind == world::Kind::Rollover {
            text.push_str(&format!(
                "    certificates:\n      - mx: {}\n        lineage: live/{}\n",
                host.name, host.name
            ));
        }
    }
    text
}
