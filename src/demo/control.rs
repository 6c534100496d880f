//! The demo's HTTP side: the real exporter's routes, plus `/demo` (the scenarios, their state and
//! commands to try) and two controls that break and repair a scenario while Prometheus watches:
//!
//! - `POST /demo/rotate-key?domain=D`: D's MX host deploys its staged key (a renewal). Where
//!   the next key was published first (`rollover.example`) mail keeps flowing; elsewhere the
//!   TLSA records no longer match and `DaneTLSAMismatch` fires.
//! - `POST /demo/tlsa?domain=D&add=RECORD&remove=RECORD` (each repeatable, `RECORD` as
//!   `3 1 1 HEX`): publishes and withdraws TLSA records of D's MX host, re-signed at once: the
//!   fix `dane_exporter tlsa` prints.
//!
//! Everything else is the exporter's (`crate::exporter::DaneExporter`), unchanged.

use std::fmt::Write;
use std::sync::Arc;

use crate::core::TlsaRecord;
use crate::exporter::DaneExporter;
use crate::web::{self, BoxFuture, ExtraRequest, Plain, ProbeOptions, ProbeRequestError};

use super::world::{World, SCENARIOS, TTL};

/// The exporter as the demo serves it.
pub struct DemoExporter {
    /// The real exporter.
    pub exporter: Arc<DaneExporter>,
    /// What it watches.
    pub world: Arc<World>,
    /// Where the exporter is reached, for the commands `/demo` shows.
    pub web: String,
}

impl web::Exporter for DemoExporter {
    // The exporter's own answers, unchanged: only the routes below are the demo's.
    fn metrics(&self) -> web::MetricsChunks {
        self.exporter.render_metrics()
    }

    fn probe<'a>(
        &'a self,
        target: &'a str,
        module: Option<&'a str>,
        options: ProbeOptions,
    ) -> BoxFuture<'a, Result<String, ProbeRequestError>> {
        web::Exporter::probe(self.exporter.as_ref(), target, module, options)
    }

    fn ready(&self) -> bool {
        web::Exporter::ready(self.exporter.as_ref())
    }

    fn not_ready(&self) -> Option<String> {
        web::Exporter::not_ready(self.exporter.as_ref())
    }

    fn observe_request(&self, handler: &str, code: u16) {
        web::Exporter::observe_request(self.exporter.as_ref(), handler, code);
    }

    fn reload(&self) -> BoxFuture<'_, Result<(), String>> {
        web::Exporter::reload(self.exporter.as_ref())
    }

    fn status(&self) -> Vec<crate::store::StatusEntry> {
        web::Exporter::status(self.exporter.as_ref())
    }

    fn status_detail(&self, key: &crate::core::TargetKey) -> Option<crate::store::StatusDetail> {
        web::Exporter::status_detail(self.exporter.as_ref(), key)
    }

    fn extra_route<'a>(&'a self, request: ExtraRequest<'a>) -> Option<BoxFuture<'a, Plain>> {
        if request.path != "/demo" && !request.path.starts_with("/demo/") {
            return None;
        }
        Some(Box::pin(self.route(request)))
    }

    fn landing_links(&self) -> Vec<(String, String)> {
        vec![("/demo".into(), "Demo: scenarios, commands, controls".into())]
    }
}

impl DemoExporter {
    async fn route(&self, request: ExtraRequest<'_>) -> Plain {
        let reply = |status: u16, body: String| Plain { status, body };
        if !matches!(request.path, "/demo" | "/demo/rotate-key" | "/demo/tlsa") {
            return reply(404, "404 page not found\n".into());
        }
        match (request.path, request.post) {
            _ if request.other_method => return reply(405, "method not allowed\n".into()),
            ("/demo", false) => return reply(200, overview(&self.world, &self.web).await),
            ("/demo", true) => return reply(405, "use GET\n".into()),
            (_, false) => return reply(405, "use POST\n".into()),
            (_, true) => {}
        }
        let param = |name: &str| -> Vec<&str> {
            request
                .params
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let Some(domain) = param("domain").first().copied() else {
            return reply(400, "the domain parameter is required\n".into());
        };
        let Some(host) = self.world.host(domain) else {
            return reply(
                404,
                format!("{domain:?} is not a demo domain (see GET /demo)\n"),
            );
        };
        let outcome = if request.path == "/demo/rotate-key" {
            self.world.rotate_key(host).await.map(|record| {
                format!(
                    "{} now presents its staged key (TLSA {record}); a fresh key is staged.\n",
                    host.name
                )
            })
        } else {
            let parse = |name: &str| -> Result<Vec<TlsaRecord>, String> {
                param(name)
                    .iter()
                    .map(|r| r.parse().map_err(|e| format!("{name}={r:?}: {e}")))
                    .collect()
            };
            let (add, remove) = match (parse("add"), parse("remove")) {
                (Ok(add), Ok(remove)) => (add, remove),
                (Err(e), _) | (_, Err(e)) => return reply(400, format!("{e}\n")),
            };
            self.world
                .edit_tlsa(host, &add, &remove)
                .await
                .map(|records| {
                    let mut text = format!(
                        "{} now publishes (re-signed, TTL {TTL} s):\n",
                        self.world.tlsa_owner(host)
                    );
                    for record in records {
                        let _ = writeln!(text, "  {record}");
                    }
                    text
                })
        };
        match outcome {
            Ok(text) => reply(200, text),
            Err(super::DemoError::Refused(why)) => reply(409, format!("{why}\n")),
            Err(error) => reply(500, format!("{error}\n")),
        }
    }
}

/// The flags that point `check` and `tlsa` at the demo's DNS and mail servers.
pub fn flags(world: &World) -> String {
    format!(
        "--nameserver {} --dnssec-mode validate --trust-anchor {} --port {}",
        world.zones.addr(),
        world.dir.path().join("trust-anchor.txt").display(),
        world.smtp_port
    )
}

/// `GET /demo`, also printed at start: the scenarios with their state, and what to try.
pub async fn overview(world: &World, web: &str) -> String {
    let dir = world.dir.path().display();
    let mut out = format!(
        "dane_exporter demo: a DNSSEC-signed zone and {} mail servers on loopback, watched by the\n\
         exporter at http://{web}/ (metrics: /metrics). Nothing leaves this machine.\n\n\
         DNS     {} (private root zone, validated against {dir}/trust-anchor.txt)\n\
         SMTP    port {} on 127.0.25.1-{}\n\
         files   {dir} (dane_exporter.yml, certbot lineages under live/ and archive/)\n\n",
        world.hosts.len(),
        world.zones.addr(),
        world.smtp_port,
        world.hosts.len(),
    );
    let _ = writeln!(
        out,
        "{:<20} {:<16} {:<15} alerts it fires",
        "domain", "MX address", "verdict"
    );
    for host in &world.hosts {
        let s = host.scenario;
        let alerts = if s.alerts.is_empty() {
            "-".to_string()
        } else {
            s.alerts.join(", ")
        };
        let _ = writeln!(
            out,
            "{:<20} {:<16} {:<15} {alerts}",
            s.domain,
            host.address.to_string(),
            s.verdict
        );
    }
    out.push_str("\nTLSA records now (served key / staged next key / published):\n");
    for host in &world.hosts {
        let (served, staged, published) = world.describe(host).await;
        let _ = writeln!(out, "  {}", world.tlsa_owner(host));
        let _ = writeln!(out, "    served     {served}");
        let _ = writeln!(out, "    staged     {staged}");
        for record in &published {
            let _ = writeln!(out, "    published  {record}");
        }
        if published.is_empty() {
            let _ = writeln!(out, "    published  (none)");
        }
    }
    let flags = flags(world);
    let _ = write!(
        out,
        "\nTry (the flags are also in {dir}/flags):\n\
         \x20 dane_exporter check stale.example {flags}\n\
         \x20 dane_exporter tlsa --check --connect mx.stale.example {flags}\n\
         \x20 dane_exporter tlsa --check --lineage {dir}/live/mx.rollover.example {flags}\n\
         \x20 curl -X POST 'http://{web}/demo/rotate-key?domain=pass.example'\n\
         \x20 curl -X POST 'http://{web}/demo/tlsa?domain=stale.example&add=3+1+1+HEX'\n\
         Walk-through with Prometheus and Alertmanager: docs/demo.md\n\
         Scenarios: {}\n",
        SCENARIOS
            .iter()
            .map(|s| s.domain)
            .collect::<Vec<_>>()
            .join(" ")
    );
    out
}
