//! The Grafana dashboards in `dashboards/`, checked offline (Grafana is not needed):
//!
//! - each validates against Grafana's dashboard JSON Schema, generated once from `@grafana/schema`
//!   and committed (`tests/dashboards/schema-gen/generate.sh`);
//! - every PromQL expression (panel targets and query variables), with the template variables
//!   substituted, parses with `promql-parser`, and every metric it selects is one the exporter
//!   exposes (`dane_exporter::metrics::PROBE_METRICS` plus its self metrics), so renaming a metric
//!   breaks this test;
//! - every label a selector matches on or a `by (...)` groups by exists on that metric in the
//!   exposition of real probes (signed-zone and STARTTLS fixtures, a passing and a failing domain);
//! - structure: unique panel ids, the `${datasource}` variable everywhere, the variables the issue
//!   asks for, every referenced variable defined, stable uids and tags, red/orange thresholds on
//!   every "days left" field, links only to dashboards that exist.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use dane_exporter::metrics::{AGGREGATE_METRICS, PROBE_METRICS, TLSRPT_METRICS};
use promql_parser::parser::{self, Expr};
use promql_parser::util::{walk_expr, ExprVisitor};
use serde_json::{json, Value};

use crate::support::dashboards::{
    dashboard_files, dashboard_queries, load, panels, queries_for, substitute, variables, BUILTINS,
    DEFAULT_DOMAIN,
};
use crate::support::probing::TestProber;

/// The exporter's own metrics besides the probe metrics (src/exporter.rs `SelfMetrics`), and
/// Prometheus' `up`. `process_*` is accepted by prefix (the process collector's names).
const SELF_METRICS: &[&str] = &[
    "dane_exporter_build_info",
    "dane_exporter_tlsrpt_submissions_total",
    "dane_exporter_storage_write_errors_total",
    "dane_exporter_config_last_reload_successful",
    "dane_exporter_config_last_reload_success_timestamp_seconds",
    "dane_exporter_resolver_up",
    "dane_exporter_resolver_validating",
    "dane_exporter_smtp_egress_up",
    "dane_exporter_probes_total",
    "dane_exporter_probe_errors_total",
    "dane_exporter_probe_duration_seconds_bucket",
    "dane_exporter_dns_queries_total",
    "dane_exporter_dns_cache_hits_total",
    "dane_exporter_smtp_sessions_total",
    "dane_exporter_http_requests_total",
    "up",
];

/// The labels of the exporter's own metrics (src/exporter/telemetry.rs), besides job and instance.
const SELF_METRIC_LABELS: &[(&str, &[&str])] = &[
    ("dane_exporter_build_info", &["version"]),
    ("dane_exporter_resolver_up", &["nameserver"]),
    ("dane_exporter_resolver_validating", &["nameserver"]),
    ("dane_exporter_probes_total", &["direction", "verdict"]),
    ("dane_exporter_probe_errors_total", &["reason"]),
    (
        "dane_exporter_probe_duration_seconds_bucket",
        &["direction", "le"],
    ),
    ("dane_exporter_dns_queries_total", &["nameserver", "result"]),
    ("dane_exporter_smtp_sessions_total", &["result"]),
    ("dane_exporter_http_requests_total", &["handler", "code"]),
];

/// The dashboards the issue asks for, by file name and uid.
const EXPECTED: &[(&str, &str)] = &[
    ("dane-domain.json", "dane-domain"),
    ("dane-operations-tls.json", "dane-operations-tls"),
    ("dane-operations.json", "dane-operations"),
    ("dane-overview.json", "dane-overview"),
    ("dane-services.json", "dane-services"),
    ("mail-transport-security.json", "mail-transport-security"),
];

fn schema_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/dashboards/grafana-dashboard.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read schema")).expect("JSON");
    jsonschema::validator_for(&schema).expect("the committed schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, dashboard: &Value) -> Vec<String> {
    validator
        .iter_errors(dashboard)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn known_metric(name: &str) -> bool {
    PROBE_METRICS
        .iter()
        .chain(AGGREGATE_METRICS)
        .any(|(n, _)| *n == name)
        || TLSRPT_METRICS.iter().any(|(n, _, _)| *n == name)
        || SELF_METRICS.contains(&name)
        || name.starts_with("process_")
}

/// Metric names selected anywhere in `expr`; an error for a selector without a plain name.
struct MetricNames(BTreeSet<String>);

impl ExprVisitor for MetricNames {
    type Error = String;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        let selector = match expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return Ok(true),
        };
        let name = selector.name.clone().or_else(|| {
            selector
                .matchers
                .matchers
                .iter()
                .find(|m| m.name == "__name__" && m.op.to_string() == "=")
                .map(|m| m.value.clone())
        });
        match name {
            Some(name) => {
                self.0.insert(name);
                Ok(true)
            }
            None => Err(format!("selector without a metric name: {selector}")),
        }
    }
}

/// Parses `expr` and returns the metric names it selects.
fn metric_names(expr: &str) -> Result<BTreeSet<String>, String> {
    let ast = parser::parse(expr).map_err(|e| format!("does not parse: {e}"))?;
    let mut names = MetricNames(BTreeSet::new());
    walk_expr(&mut names, &ast)?;
    Ok(names.0)
}

#[test]
fn the_expected_dashboards_exist() {
    let files: Vec<String> = dashboard_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected: Vec<&str> = EXPECTED.iter().map(|(f, _)| *f).collect();
    assert_eq!(files, expected);
}

#[test]
fn dashboards_validate_against_grafanas_schema() {
    let validator = schema_validator();
    for path in dashboard_files() {
        let errors = schema_errors(&validator, &load(&path));
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
}

/// A change that makes a dashboard invalid.
type Breakage = Box<dyn Fn(&mut Value)>;

#[test]
fn the_schema_rejects_broken_dashboards() {
    // The committed schema must bite: a validator that accepts anything would pass the test above.
    let validator = schema_validator();
    let good = load(&dashboard_files()[0]);
    let breakages: Vec<(&str, Breakage)> = vec![
        (
            "no schemaVersion",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("schemaVersion");
            }),
        ),
        (
            "graphTooltip out of its enum",
            Box::new(|d| d["graphTooltip"] = json!(7)),
        ),
        ("title not a string", Box::new(|d| d["title"] = json!(42))),
        (
            "unknown variable type",
            Box::new(|d| d["templating"]["list"][0]["type"] = json!("nonsense")),
        ),
        (
            "threshold without a value",
            Box::new(|d| {
                let panel = d["panels"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|p| p["type"] == "stat")
                    .unwrap();
                panel["fieldConfig"]["defaults"]["thresholds"]["steps"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("value");
            }),
        ),
        (
            "thresholds mode out of its enum",
            Box::new(|d| {
                let panel = d["panels"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|p| p["type"] == "stat")
                    .unwrap();
                panel["fieldConfig"]["defaults"]["thresholds"]["mode"] = json!("relative");
            }),
        ),
        (
            "panel without type",
            Box::new(|d| {
                d["panels"][1].as_object_mut().unwrap().remove("type");
            }),
        ),
    ];
    for (what, breakage) in breakages {
        let mut broken = good.clone();
        breakage(&mut broken);
        assert!(
            !schema_errors(&validator, &broken).is_empty(),
            "the schema accepted a dashboard with {what}"
        );
    }
}

#[test]
fn every_expression_parses_and_uses_only_exported_metrics() {
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    let mut count = 0;
    for path in dashboard_files() {
        for query in queries_for(&path, DEFAULT_DOMAIN) {
            count += 1;
            match metric_names(&query.expr) {
                Ok(names) => {
                    if names.is_empty() {
                        problems.push(format!(
                            "{}: {}: selects no metric",
                            path.display(),
                            query.origin
                        ));
                    }
                    for name in names {
                        if !known_metric(&name) {
                            problems.push(format!(
                                "{}: {}: {name} is not a metric the exporter exposes",
                                path.display(),
                                query.origin
                            ));
                        }
                        used.insert(name);
                    }
                }
                Err(e) => problems.push(format!(
                    "{}: {}: {e}\n  expr: {}",
                    path.display(),
                    query.origin,
                    query.expr
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(count > 50, "only {count} expressions found");
    // The dashboards cover what postmasters act on: verdicts, deadlines, matching, DNSSEC.
    for needed in [
        "dane_probe_success",
        "dane_probe_failure_info",
        "dane_divergence_timestamp_seconds",
        "dane_rrsig_expiration_timestamp_seconds",
        "dane_tlsa_rollover_ready",
        "dane_tlsa_match",
        "dane_tlsa_record_state",
        "dane_dnssec_status",
        "dane_certificate_not_after_timestamp_seconds",
        "dane_smtp_duration_seconds",
        "dane_probe_duration_seconds",
    ] {
        assert!(used.contains(needed), "no panel uses {needed}");
    }
}

#[test]
fn the_metric_check_catches_renamed_metrics_and_bad_promql() {
    assert!(metric_names("dane_tlsa_match{domain=\"a\"} == 0").is_ok());
    let names = metric_names("count(dane_tlsa_matches) or vector(0)").unwrap();
    assert!(names.iter().any(|n| !known_metric(n)));
    assert!(metric_names("sum(dane_probe_success").is_err());
    assert!(metric_names("{domain=\"a\"}").is_err());
    let names = metric_names("rate(process_cpu_seconds_total[5m])").unwrap();
    assert!(names.iter().all(|n| known_metric(n)));
}

#[test]
fn substitution_covers_grafanas_syntaxes() {
    let values: BTreeMap<String, String> = [("domain", "example.test"), ("__rate_interval", "5m")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (expr, names) = substitute(
        r#"rate(x{a=~"$domain",b="${domain:regex}",c="[[domain]]",d=~"^.+$"}[$__rate_interval]) and label_replace(y, "z", "$1", "w", "(.*)")"#,
        &values,
    )
    .unwrap();
    assert_eq!(
        expr,
        r#"rate(x{a=~"example.test",b="example.test",c="example.test",d=~"^.+$"}[5m]) and label_replace(y, "z", "$1", "w", "(.*)")"#
    );
    assert_eq!(names, ["domain", "domain", "domain", "__rate_interval"]);
    assert!(substitute("up{x=\"$nope\"}", &values).is_err());
}

#[test]
fn dashboard_queries_are_plain_promql() {
    for path in dashboard_files() {
        let queries = dashboard_queries(&path);
        assert!(!queries.is_empty());
        for (title, expr) in queries {
            assert!(
                !expr.contains('$') || expr.contains("\"$1\""),
                "{title}: {expr}"
            );
            assert!(!expr.contains("[["), "{title}: {expr}");
        }
    }
}

#[test]
fn dashboards_are_structurally_sound() {
    let mut uids = BTreeSet::new();
    for path in dashboard_files() {
        let d = load(&path);
        let at = path.display();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let uid = d["uid"].as_str().expect("uid");
        assert_eq!(
            EXPECTED.iter().find(|(f, _)| *f == file).map(|(_, u)| *u),
            Some(uid),
            "{at}: uid"
        );
        uids.insert(uid.to_string());
        assert!(
            d.get("__inputs").is_none(),
            "{at}: __inputs (use the datasource variable)"
        );
        assert!(
            d["id"].is_null(),
            "{at}: id must be null (instance-specific)"
        );
        let schema_version = d["schemaVersion"].as_u64().expect("schemaVersion");
        assert!(
            (39..=42).contains(&schema_version),
            "{at}: schemaVersion {schema_version}"
        );
        let tags: Vec<&str> = d["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            tags.contains(&"dane") && tags.contains(&"mail"),
            "{at}: tags {tags:?}"
        );

        // Variables.
        let vars: BTreeMap<&str, &Value> = variables(&d)
            .into_iter()
            .map(|v| (v["name"].as_str().unwrap(), v))
            .collect();
        let ds = vars
            .get("datasource")
            .unwrap_or_else(|| panic!("{at}: no datasource variable"));
        assert_eq!(ds["type"], "datasource", "{at}");
        assert_eq!(ds["query"], "prometheus", "{at}");
        let direction = vars["direction"];
        assert_eq!(direction["type"], "custom", "{at}");
        assert_eq!(direction["query"], "inbound,outbound", "{at}");
        assert_eq!(direction["multi"], true, "{at}");
        assert_eq!(direction["includeAll"], true, "{at}");
        let domain = vars["domain"];
        assert_eq!(domain["type"], "query", "{at}");
        assert_eq!(
            domain["query"]["query"],
            r#"label_values(dane_probe_verdict{direction=~"$direction"}, domain)"#,
            "{at}"
        );
        assert_eq!(domain["multi"], true, "{at}");
        assert_eq!(domain["includeAll"], true, "{at}");
        for v in vars.values().filter(|v| v["type"] == "query") {
            assert_eq!(
                v["datasource"]["uid"], "${datasource}",
                "{at}: variable {}",
                v["name"]
            );
        }

        // Every variable an expression references is defined (or a Grafana built-in).
        let defined: HashSet<&str> = vars
            .keys()
            .copied()
            .chain(BUILTINS.iter().map(|(n, _)| *n))
            .collect();
        let mut referenced = HashSet::new();
        for query in queries_for(&path, DEFAULT_DOMAIN) {
            for name in &query.variables {
                assert!(
                    defined.contains(name.as_str()),
                    "{at}: {}: ${name}",
                    query.origin
                );
                referenced.insert(name.clone());
            }
            // Panels follow the selection: every probe metric selector is filtered by the variables.
            if !query.origin.starts_with("variable ") && query.raw.contains("dane_probe_success") {
                assert!(
                    query.raw.contains(r#"domain=~"$domain""#)
                        && query.raw.contains(r#"direction=~"$direction""#),
                    "{at}: {}: not filtered by $domain and $direction",
                    query.origin
                );
            }
        }
        for name in ["domain", "direction", "job"] {
            assert!(referenced.contains(name), "{at}: ${name} never used");
        }

        // Panels: unique ids, the datasource variable, units or mappings, red/orange deadlines.
        let mut ids = HashSet::new();
        let mut cells: Vec<(i64, i64, i64, i64, String)> = Vec::new();
        for panel in panels(&d) {
            let title = panel["title"].as_str().unwrap_or("(untitled)");
            let id = panel["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{at}: {title}: no id"));
            assert!(ids.insert(id), "{at}: duplicate panel id {id}");
            let g = &panel["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_i64().unwrap(),
                g["y"].as_i64().unwrap(),
                g["w"].as_i64().unwrap(),
                g["h"].as_i64().unwrap(),
            );
            assert!(
                x >= 0 && w > 0 && h > 0 && x + w <= 24,
                "{at}: {title}: gridPos {g}"
            );
            for (ox, oy, ow, oh, other) in &cells {
                let overlap = x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h;
                assert!(!overlap, "{at}: {title} overlaps {other}");
            }
            cells.push((x, y, w, h, title.to_string()));
            if panel["type"] == "row" {
                continue;
            }
            assert!(
                !title.is_empty() && panel["description"].is_string(),
                "{at}: {title}: title and description"
            );
            assert_eq!(
                panel["datasource"],
                json!({"type": "prometheus", "uid": "${datasource}"}),
                "{at}: {title}"
            );
            let targets = panel["targets"]
                .as_array()
                .unwrap_or_else(|| panic!("{at}: {title}: no targets"));
            assert!(!targets.is_empty(), "{at}: {title}: no targets");
            let mut ref_ids = HashSet::new();
            for t in targets {
                assert_eq!(
                    t["datasource"], panel["datasource"],
                    "{at}: {title}: target datasource"
                );
                assert!(t["expr"].is_string(), "{at}: {title}: target without expr");
                assert!(
                    ref_ids.insert(t["refId"].as_str().unwrap()),
                    "{at}: {title}: duplicate refId"
                );
            }
            let defaults = &panel["fieldConfig"]["defaults"];
            if panel["type"] != "table" {
                let has_unit = defaults["unit"].is_string();
                let has_mappings = defaults["mappings"]
                    .as_array()
                    .is_some_and(|m| !m.is_empty());
                assert!(
                    has_unit || has_mappings,
                    "{at}: {title}: no unit and no value mappings"
                );
            }
            // Every field shown in days ("days left") turns red under 7 days and orange under 21.
            let mut configs = vec![defaults.clone()];
            for o in panel["fieldConfig"]["overrides"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let mut config = json!({});
                for p in o["properties"].as_array().into_iter().flatten() {
                    if let Some(id) = p["id"].as_str() {
                        config[id] = p["value"].clone();
                    }
                }
                configs.push(config);
            }
            for config in configs.iter().filter(|c| c["unit"] == "d") {
                assert_eq!(
                    config["thresholds"]["steps"],
                    json!([
                        {"color": "red", "value": null},
                        {"color": "orange", "value": 7},
                        {"color": "green", "value": 21}
                    ]),
                    "{at}: {title}: days thresholds"
                );
            }
        }
    }
    // Links between dashboards point at dashboards that exist.
    for path in dashboard_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for part in text.split("/d/").skip(1) {
            let uid: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            assert!(
                uids.contains(&uid),
                "{}: link to unknown dashboard {uid}",
                path.display()
            );
        }
    }
}

/// Labels a selector or an aggregation of the dashboards uses, per metric.
#[derive(Default)]
struct LabelUses {
    /// (metric, label) from selector matchers.
    matchers: Vec<(String, String)>,
    /// (metrics aggregated over, label) from `by (...)` clauses.
    grouping: Vec<(BTreeSet<String>, String)>,
}

impl ExprVisitor for LabelUses {
    type Error = String;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        match expr {
            Expr::VectorSelector(vs)
            | Expr::MatrixSelector(promql_parser::parser::MatrixSelector { vs, .. }) => {
                let name = vs.name.clone().unwrap_or_default();
                for m in &vs.matchers.matchers {
                    if m.name != "__name__" {
                        self.matchers.push((name.clone(), m.name.clone()));
                    }
                }
            }
            Expr::Aggregate(aggregate) => {
                if let Some(promql_parser::parser::LabelModifier::Include(labels)) =
                    &aggregate.modifier
                {
                    let mut inner = MetricNames(BTreeSet::new());
                    walk_expr(&mut inner, &aggregate.expr)?;
                    for label in &labels.labels {
                        self.grouping.push((inner.0.clone(), label.to_string()));
                    }
                }
            }
            _ => {}
        }
        Ok(true)
    }
}

/// Exposition of real probes: a DNSSEC-signed private root (hickory-server fixture) and a STARTTLS
/// listener; `pass.test` authenticates (with a next-key record), `fail.test` publishes a TLSA
/// record for another key only. Returns metric name -> label names seen.
async fn exported_labels() -> BTreeMap<String, BTreeSet<String>> {
    use std::time::Duration;

    use dane_exporter::checks::authoritative::AuthoritativeSettings;
    use dane_exporter::core::Direction;
    use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
    use dane_exporter::metrics::{
        aggregate_families, probe_families, Aggregated, DomainSummary, LabelledReport,
    };
    use dane_exporter::smtp::SmtpSettings;

    use dane_exporter::checks::mta_sts::MtaStsSettings;

    use crate::support::dns_server::DnsFixture;
    use dane_exporter::config::{CertificateSource, CertificateSpec};

    use crate::support::nginx::{pem, Answer, Nginx, Site};
    use crate::support::smtp_server::{pem_chain, self_signed, FixtureConfig, SmtpFixture, TestCa};

    let good = self_signed(&["mx.pass.test"]);
    let other = self_signed(&["mx.pass.test"]);
    let (good_cert, other_cert) = (good.clone(), other.clone());
    let mut config = FixtureConfig::new(good.clone());
    config.bind = "127.0.0.31:0".parse().unwrap();
    let smtp = SmtpFixture::start(config).await;
    let p = smtp.port();
    let (good, other) = (good.leaf_3_1_1(), other.leaf_3_1_1());
    let zone = format!(
        r#"
.                        3600 IN SOA  ns.test. hostmaster.test. 1 3600 600 86400 300
.                        3600 IN NS   ns.test.
ns.test.                 3600 IN A    127.0.0.1
pass.test.                300 IN MX   10 mx.pass.test.
mx.pass.test.             300 IN A    127.0.0.31
_{p}._tcp.mx.pass.test.   300 IN TLSA 3 1 1 {good}
_{p}._tcp.mx.pass.test.   300 IN TLSA 3 1 1 {other}
fail.test.                300 IN MX   10 mx.fail.test.
mx.fail.test.             300 IN A    127.0.0.31
_{p}._tcp.mx.fail.test.   300 IN TLSA 3 1 1 {other}
_mta-sts.pass.test.       300 IN TXT  "v=STSv1; id=1"
mta-sts.pass.test.        300 IN A    127.0.0.1
_smtp._tls.pass.test.     300 IN TXT  "v=TLSRPTv1; rua=mailto:tlsrpt@pass.test"
_tls.fail.test.           300 IN TXT  "parent of the missing _smtp._tls.fail.test"
"#
    );
    // MTA-STS for pass.test (a policy from nginx with a private CA's certificate), none for
    // fail.test, so that every dane_mta_sts_* and dane_tls_rpt_* family shows up.
    let ca = TestCa::root("Dashboard Test Root");
    let nginx = Nginx::start(&[Site {
        host: "mta-sts.pass.test".into(),
        cert: ca.issue(&["mta-sts.pass.test"]),
        answer: Answer::Policy(
            b"version: STSv1\nmode: enforce\nmx: mx.pass.test\nmax_age: 86400\n".to_vec(),
        ),
    }]);
    let dns = DnsFixture::builder().zone(".", &zone).start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = DnsSettings {
        mode: DnssecMode::Validate,
        nameservers: vec![dns.addr()],
        trust_anchor_file: Some(dns.trust_anchor_file(dir.path())),
        timeout: Duration::from_secs(3),
    };
    // The same listener as a submission service (STARTTLS on its port) for the dane_service_*
    // series: one passing, one failing.
    let services = ["mx.pass.test", "mx.fail.test"]
        .iter()
        .map(|host| dane_exporter::checks::services::ServiceSpec {
            host: host.to_string(),
            port: p,
            protocol: dane_exporter::checks::services::ServiceProtocol::Smtp,
            tls: dane_exporter::checks::services::TlsMode::Starttls,
        })
        .collect();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, pem("CERTIFICATE", &ca.der)).unwrap();
    let prober = TestProber::new(
        DnsClient::new(&settings).unwrap(),
        SmtpSettings {
            port: p,
            ehlo_name: "probe.test".into(),
            step_timeout: Duration::from_secs(3),
            reply_timeout: Duration::from_secs(3),
            tls_fallback: true,
        },
    )
    .with_services(
        services,
        std::sync::Arc::new(dane_exporter::dane::PkixTrust::empty()),
    )
    .with_mta_sts(MtaStsSettings {
        mta_sts: true,
        tls_rpt: true,
        ca_file: Some(ca_file),
        https_port: nginx.port(),
    })
    // The authoritative checks against the fixture itself (the zone of every RRset is ".").
    .with_authoritative(AuthoritativeSettings {
        port: dns.addr().port(),
        timeout: Duration::from_secs(3),
        resolvers: vec![dns.addr()],
    });
    // Local certificate files (the live one served, and a staged one) of pass.test, for the
    // series of the local-certificate check.
    std::fs::write(dir.path().join("live.pem"), pem_chain(&good_cert.chain)).unwrap();
    std::fs::write(dir.path().join("next.pem"), pem_chain(&other_cert.chain)).unwrap();
    let files = vec![CertificateSpec {
        mx: "mx.pass.test".into(),
        source: CertificateSource::Files {
            live: dir.path().join("live.pem"),
            staged: Some(dir.path().join("next.pem")),
        },
    }];
    let reports = [
        prober
            .probe_changed("pass.test", |t| t.certificates = files)
            .await,
        prober.probe_domain("fail.test").await,
        // The verdict no check gives: the exporter could not see.
        dane_exporter::report::DomainReport::blind(
            "unknown.test",
            0,
            0.0,
            dane_exporter::core::Finding::new(
                dane_exporter::core::Reason::ResolverUnavailable,
                String::new(),
            ),
        ),
    ];
    let extra = BTreeMap::new();
    let labelled: Vec<LabelledReport<'_>> = reports
        .iter()
        .map(|report| LabelledReport {
            direction: Direction::Inbound,
            extra_labels: &extra,
            report,
        })
        .collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // The TLS-RPT families, from reports stored in a real database for pass.test.
    let mut db = dane_exporter::database::Database::open(&dir.path().join("data")).unwrap();
    for (fixture, id) in [
        (crate::tlsrpt::TLSA_FIXTURE, "d-1"),
        (crate::tlsrpt::STS_FIXTURE, "d-2"),
    ] {
        let submission = dane_exporter::database::Submission {
            body: crate::tlsrpt::report(fixture, id, "pass.test"),
            media: dane_exporter::tlsrpt::MediaType::Json,
            method: dane_exporter::database::Method::Https,
        };
        db.submit(
            &submission,
            &|d: &str| d == "pass.test",
            dane_exporter::core::unix_now(),
        )
        .unwrap();
    }
    let inbound = std::collections::HashMap::from([("pass.test".to_string(), extra.clone())]);
    let families =
        dane_exporter::metrics::tlsrpt_families(&db.tlsrpt_totals().unwrap(), &inbound, 20);
    for (name, text) in families {
        let parsed = crate::support::exporter::Metrics::parse(&text);
        let labels = out.entry(name).or_default();
        for (_, series_labels, _) in parsed.series {
            labels.extend(series_labels.into_keys());
        }
    }
    for family in probe_families(&labelled) {
        let labels = out.entry(family.name().to_string()).or_default();
        for metric in family.get_metric() {
            labels.extend(metric.get_label().iter().map(|l| l.name().to_string()));
        }
    }
    // The aggregates over the same two reports, as outbound targets of a list.
    let list = BTreeMap::from([("list".to_string(), "recipients".to_string())]);
    let summaries: Vec<DomainSummary> = reports.iter().map(DomainSummary::of).collect();
    let aggregated = summaries.iter().map(|summary| Aggregated {
        direction: Direction::Outbound,
        labels: &list,
        summary,
    });
    for (name, text) in aggregate_families(aggregated) {
        let labels = out.entry(name).or_default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some(inside) = line.split_once('{').and_then(|(_, r)| r.rsplit_once('}')) {
                labels.extend(crate::support::exporter::parse_labels(inside.0).into_keys());
            }
        }
    }
    out
}

#[tokio::test]
async fn every_label_the_dashboards_use_is_exported() {
    let mut exported = exported_labels().await;
    // The probes above must have exercised (nearly) every metric, failures included.
    let missing: Vec<&str> = PROBE_METRICS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !exported.contains_key(*n))
        .collect();
    assert!(
        missing.iter().all(|n| [
            "dane_probe_warning_info",
            "dane_zone_warning_info",
            "dane_service_warning_info",
            "dane_dnssec_status"
        ]
        .contains(n)),
        "the fixture did not produce {missing:?}"
    );
    // Failures and warnings are rendered by the same code (src/metrics/report.rs) with the same labels;
    // a label whose value is empty (a finding without an address) is left out of a series, so
    // take the union of what both showed.
    let findings: BTreeSet<String> = ["dane_probe_failure_info", "dane_probe_warning_info"]
        .iter()
        .flat_map(|n| exported.get(*n).cloned().unwrap_or_default())
        .collect();
    for name in ["dane_probe_failure_info", "dane_probe_warning_info"] {
        exported.insert(name.into(), findings.clone());
    }
    // The same for services (src/checks/services/series.rs renders both kinds alike).
    let service_findings: BTreeSet<String> =
        ["dane_service_failure_info", "dane_service_warning_info"]
            .iter()
            .flat_map(|n| exported.get(*n).cloned().unwrap_or_default())
            .collect();
    for name in ["dane_service_failure_info", "dane_service_warning_info"] {
        exported.insert(name.into(), service_findings.clone());
    }
    // Every RRset of the fixture is secure, so no dane_dnssec_status: src/checks/mx/series.rs
    // gives it the labels of dane_dnssec_valid plus status.
    let mut status = exported
        .get("dane_dnssec_valid")
        .cloned()
        .unwrap_or_default();
    assert!(
        status.contains("name") && status.contains("type"),
        "{status:?}"
    );
    status.insert("status".into());
    exported.insert("dane_dnssec_status".into(), status);
    // Zone-level findings need a broken zone the fixture does not have; src/checks/authoritative/series.rs gives them
    // the zone labels plus reason.
    exported.insert(
        "dane_zone_warning_info".into(),
        ["domain", "direction", "zone", "reason"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    for (metric, labels) in SELF_METRIC_LABELS {
        exported.insert(
            (*metric).into(),
            labels.iter().map(|l| l.to_string()).collect(),
        );
    }
    // Target labels Prometheus adds to every series.
    for labels in exported.values_mut() {
        labels.extend(["job".to_string(), "instance".to_string()]);
    }
    let target_labels: BTreeSet<String> = ["job".to_string(), "instance".to_string()].into();

    let mut problems = Vec::new();
    for path in dashboard_files() {
        for query in queries_for(&path, DEFAULT_DOMAIN) {
            let ast = parser::parse(&query.expr).expect("parses (checked elsewhere)");
            let mut uses = LabelUses::default();
            walk_expr(&mut uses, &ast).unwrap();
            let labels_of = |metric: &str| exported.get(metric).unwrap_or(&target_labels);
            for (metric, label) in &uses.matchers {
                if !labels_of(metric).contains(label) {
                    problems.push(format!(
                        "{}: {}: {metric} has no label {label}",
                        path.display(),
                        query.origin
                    ));
                }
            }
            for (metrics, label) in &uses.grouping {
                if !metrics.iter().any(|m| labels_of(m).contains(label)) {
                    problems.push(format!(
                        "{}: {}: by ({label}) over {metrics:?}, which have no such label",
                        path.display(),
                        query.origin
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
