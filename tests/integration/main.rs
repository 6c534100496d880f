//! All integration tests, as modules of one test binary (one link, one process to start).
//!
//! - `support/`: in-process fixtures: a DNSSEC-signed zone served by hickory-server, a STARTTLS
//!   listener with rcgen certificates (both the demo's, `dane_exporter::demo`), the real stack,
//!   Prometheus and Alertmanager.
//! - `dashboards`: the Grafana dashboards in `dashboards/`: Grafana's JSON Schema, every PromQL
//!   expression parses and uses only metrics the exporter exposes, structure.
//! - `mixin`: the monitoring mixin (`mixin/`): the shipped rules and dashboards are what
//!   `mixin/generate.sh` makes of it (jsonnet), and a user's `_config` reaches all of them.
//! - `dns`: the DNS backends against the signed-zone fixture.
//! - `smtp`: the SMTP dialogue against the STARTTLS fixture and against misbehaving servers.
//! - `mta_sts`: MTA-STS and TLS-RPT against a signed zone, a real nginx serving policies with a
//!   private CA's certificates, and STARTTLS listeners (support/nginx.rs).
//! - `probe`: whole-domain probes against both fixtures together.
//! - `faults`: the fault matrix: whole-domain probes against hostile DNS and SMTP peers, and the
//!   exporter process scraped while it probes them (table in docs/faults.md).
//! - `legacy_tls`: the OpenSSL engine (`src/tls/legacy.rs`) against `openssl s_server` in every
//!   legacy shape, each cross-checked with posttls-finger and with the rustls path.
//! - `layers`: the shape of `src/`: imports only go down the layers, no module cycle, every check
//!   has its four parts, no source file is too long to read at once.
//! - `reload`: the exporter binary reloaded (SIGHUP, `POST /-/reload`, good and bad files) and
//!   stopped (SIGTERM) while probes through slow SMTP proxies are in flight.
//! - `scale`: outbound at scale: the DNS cache, the per-address connection cap and dead
//!   addresses, `domains_file` lists in the summary shape with their aggregates, `--shard`.
//! - `stack`: the real stack: NSD with ldns-signed zones under a private root, a validating unbound,
//!   Postfix smtpd doing STARTTLS, driven through the `dane_exporter check` binary.
//! - `self_monitoring`: what the exporter and `check` do when they cannot see (a resolver that
//!   does not validate or does not answer, SMTP egress cut in a network namespace), DS removal,
//!   NXDOMAIN targets.
//! - `self_monitoring_alerts`: the exporter's own alerts through a real Prometheus and
//!   Alertmanager (DS removal, SMTP egress cut with the README's inhibition, resolver down, not
//!   validating).
//! - `services`: TLSA for IMAP, POP3, submission and implicit-TLS services (PKIX usages included)
//!   against in-process listeners, and against dovecot and Postfix in the real stack.
//! - `stack_changes`: the real stack with a TLSA record broken and repaired while it runs.
//! - `tlsrpt`: TLS-RPT reports posted with curl to the HTTPS listener and mailed through a real
//!   Postfix into `tlsrpt ingest`; hostile bodies; the database across a restart and a kill -9.
//! - `tlsa`: `dane_exporter tlsa` against openssl's computations, and `--check` along a rollover
//!   on the real stack.
//! - `demo`: `dane_exporter demo` scraped, its alerts through Prometheus and Alertmanager, the
//!   `tlsa` fix of a rotated key.
//! - `web`: the HTTP side (routes, basic auth, TLS, web config fixtures, shutdown, slow clients).

mod alerting;
mod consistency;
mod dashboards;
mod demo;
mod dns;
mod exporter;
mod faults;
mod hygiene;
mod key_algorithms;
mod layers;
mod legacy_tls;
mod mixin;
mod mta_sts;
mod packaging;
mod probe;
mod reload;
mod scale;
mod scheduler;
mod self_monitoring;
mod self_monitoring_alerts;
mod services;
mod smtp;
mod stack;
mod stack_changes;
mod staged;
mod support;
mod tlsa;
mod tlsrpt;
mod web;
