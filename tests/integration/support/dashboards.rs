//! The Grafana dashboards in `dashboards/` as data: their files, panels and PromQL expressions with
//! the template variables substituted, ready to parse (tests/integration/dashboards.rs) or to run
//! against a real Prometheus scraping the exporter (end-to-end tests).
//!
//! Substitution follows Grafana's syntaxes `$var`, `${var}`, `${var:format}` and `[[var]]`. Values:
//! the dashboard variables get one concrete value each (`domain` the caller's, `direction`
//! `inbound`, `job` `.*` so that any scrape job matches), Grafana's built-ins a typical one
//! (`$__rate_interval` 5m, `$__range` 1h...). A variable that is neither a dashboard variable nor
//! a known built-in is an error, never silently left in the expression.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The domain substituted for `$domain` by [`dashboard_queries`].
pub const DEFAULT_DOMAIN: &str = "example.test";

/// Grafana's built-in variables that may appear in an expression, with the value substituted.
pub const BUILTINS: &[(&str, &str)] = &[
    ("__rate_interval", "5m"),
    ("__interval", "1m"),
    ("__interval_ms", "60000"),
    ("__range", "1h"),
    ("__range_s", "3600"),
    ("__range_ms", "3600000"),
];

/// `dashboards/` of this repository.
pub fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// Every dashboard JSON file in `dashboards/`, sorted.
pub fn dashboard_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dashboards_dir())
        .expect("read dashboards/")
        .map(|entry| entry.expect("dashboards/ entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Parses a dashboard file.
pub fn load(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// Every panel, rows included, with the panels nested in (collapsed) rows.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: Option<&'a Value>, out: &mut Vec<&'a Value>) {
        for panel in list.and_then(Value::as_array).into_iter().flatten() {
            out.push(panel);
            walk(panel.get("panels"), out);
        }
    }
    let mut out = Vec::new();
    walk(dashboard.get("panels"), &mut out);
    out
}

/// The template variables of a dashboard.
pub fn variables(dashboard: &Value) -> Vec<&Value> {
    dashboard["templating"]["list"]
        .as_array()
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

/// One PromQL expression of a dashboard.
#[derive(Clone, Debug)]
pub struct Query {
    /// Where it comes from: the panel title and refId, or `variable NAME`.
    pub origin: String,
    /// As written in the dashboard.
    pub raw: String,
    /// With the variables substituted: plain PromQL.
    pub expr: String,
    /// The variables it references (without `$`), in order of appearance.
    pub variables: Vec<String>,
}

/// The PromQL of a query variable: the whole query, or the series selector of
/// `label_values(SELECTOR, label)`. `None` for `label_values(label)` and non-query variables.
pub fn variable_promql(variable: &Value) -> Option<String> {
    if variable["type"] != "query" {
        return None;
    }
    let query = match &variable["query"] {
        Value::String(s) => s.clone(),
        other => other["query"].as_str()?.to_string(),
    };
    let query = query.trim();
    if let Some(inner) = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
    {
        // label_values(SELECTOR, label): the selector ends at the last top-level comma.
        let (selector, _label) = inner.rsplit_once(',')?;
        return Some(selector.trim().to_string());
    }
    if let Some(inner) = query
        .strip_prefix("query_result(")
        .and_then(|q| q.strip_suffix(')'))
    {
        return Some(inner.trim().to_string());
    }
    Some(query.to_string())
}

/// The values substituted in `dashboard`'s expressions: its variables, then the built-ins.
pub fn substitution_values(dashboard: &Value, domain: &str) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for variable in variables(dashboard) {
        let name = variable["name"].as_str().unwrap_or_default();
        let value = match name {
            "domain" => domain.to_string(),
            "direction" => "inbound".to_string(),
            "datasource" => "prometheus".to_string(),
            _ => ".*".to_string(),
        };
        values.insert(name.to_string(), value);
    }
    for (name, value) in BUILTINS {
        values.insert((*name).to_string(), (*value).to_string());
    }
    values
}

/// `expr` with every variable replaced from `values`, and the names referenced; an error names a
/// variable that has no value.
pub fn substitute(
    expr: &str,
    values: &BTreeMap<String, String>,
) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(expr.len());
    let mut names = Vec::new();
    let mut rest = expr;
    while !rest.is_empty() {
        let (name, after) = if let Some(r) = rest.strip_prefix("${") {
            let end = r
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {expr:?}"))?;
            let inner = &r[..end];
            // ${var:format} and ${var.field}: the variable name comes first.
            let name = inner.split([':', '.']).next().unwrap_or_default();
            (name, &r[end + 1..])
        } else if let Some(r) = rest.strip_prefix("[[") {
            let end = r
                .find("]]")
                .ok_or_else(|| format!("unclosed [[ in {expr:?}"))?;
            let name = r[..end].split(':').next().unwrap_or_default();
            (name, &r[end + 2..])
        } else if let Some(r) = rest.strip_prefix('$') {
            let len = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            if len == 0 || r.starts_with(|c: char| c.is_ascii_digit()) {
                // A lone `$` (regex anchor) or `$1` (label_replace group): not a variable.
                out.push('$');
                rest = r;
                continue;
            }
            (&r[..len], &r[len..])
        } else {
            let c = rest.chars().next().expect("non-empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        let value = values
            .get(name)
            .ok_or_else(|| format!("unknown variable ${name} in {expr:?}"))?;
        out.push_str(value);
        names.push(name.to_string());
        rest = after;
    }
    Ok((out, names))
}

/// Every PromQL expression of the dashboard at `path` (panel targets, then query variables),
/// substituted with `domain` for `$domain`. Panics on an unknown variable.
pub fn queries_for(path: &Path, domain: &str) -> Vec<Query> {
    let dashboard = load(path);
    let values = substitution_values(&dashboard, domain);
    let mut raw = Vec::new();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let ref_id = target["refId"].as_str().unwrap_or("?");
                raw.push((format!("{title} [{ref_id}]"), expr.to_string()));
            }
        }
    }
    for variable in variables(&dashboard) {
        if let Some(expr) = variable_promql(variable) {
            let name = variable["name"].as_str().unwrap_or_default();
            raw.push((format!("variable {name}"), expr));
        }
    }
    raw.into_iter()
        .map(|(origin, raw)| {
            let (expr, variables) = substitute(&raw, &values)
                .unwrap_or_else(|e| panic!("{}: {origin}: {e}", path.display()));
            Query {
                origin,
                raw,
                expr,
                variables,
            }
        })
        .collect()
}

/// `(panel title, substituted expression)` for every PromQL expression of the dashboard at
/// `path`, with `$domain` = [`DEFAULT_DOMAIN`]. Query variables appear as `variable NAME`.
pub fn dashboard_queries(path: &Path) -> Vec<(String, String)> {
    queries_for(path, DEFAULT_DOMAIN)
        .into_iter()
        .map(|q| (q.origin, q.expr))
        .collect()
}
