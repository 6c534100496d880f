//! Turns config text into a [`Config`]: parses it into a `saphyr` tree that keeps the position of
//! every node, then walks the tree section by section, checking keys, types and values, and
//! remembering where each came from so that every error names the line of its key.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use saphyr::{LoadableYamlNode, MarkedYaml, ScanError};

use super::certificates;
use super::error::{ConfigError, Problem};
use super::lists::{List, Origin};
use super::model::{
    Config, Global, Module, Overrides, TargetSpec, MAX_CONCURRENCY, MAX_HOST_CONCURRENCY,
};
use super::names::normalize_domain;
use super::values::{
    canary_name, check_timing, direction, dnssec_mode, domain_name, duration, expectation, integer,
    labels, level, metrics_shape, nameservers, operations, optional, probe_allow, read_service_ca,
    services, Result,
};
use crate::target::MetricsShape;
use crate::yaml::{
    boolean, mapping, sequence, string, Field, Fields, Invalid, Loc, Node, TreeProblem,
};

const TOP_KEYS: &[&str] = &["global", "probe_allow", "modules", "inbound", "outbound"];
/// A `/probe` module: a direction and the per-probe settings a target may replace.
const MODULE_KEYS: &[&str] = &[
    "direction",
    "expect",
    "timeout",
    "step_timeout",
    "dnssec_mode",
    "nameservers",
    "trust_anchor_file",
    "mta_sts",
    "tls_rpt",
];
const GLOBAL_KEYS: &[&str] = &[
    "interval",
    "timeout",
    "step_timeout",
    "smtp_reply_timeout",
    "concurrency",
    "host_concurrency",
    "dnssec_mode",
    "nameservers",
    "trust_anchor_file",
    "ehlo_name",
    "smtp_port",
    "service_ca_file",
    "mta_sts_ca_file",
    "https_port",
    "authoritative_checks",
    "authoritative_port",
    "key_algorithm_checks",
    "tlsa_max_records",
    "tlsa_max_ttl",
    "tlsa_stale_after",
    "expect",
    "canary_secure_name",
    "canary_bogus_name",
];
const TARGET_KEYS: &[&str] = &[
    "domain",
    "domains_file",
    "labels",
    "expect",
    "interval",
    "timeout",
    "step_timeout",
    "dnssec_mode",
    "nameservers",
    "trust_anchor_file",
    "mta_sts",
    "tls_rpt",
    "metrics",
    "services",
];
/// Inbound targets may also name local certificate files.
const INBOUND_TARGET_KEYS: &[&str] = &[
    "domain",
    "domains_file",
    "labels",
    "expect",
    "interval",
    "timeout",
    "step_timeout",
    "dnssec_mode",
    "nameservers",
    "trust_anchor_file",
    "mta_sts",
    "tls_rpt",
    "metrics",
    "services",
    "certificates",
];

impl TreeProblem for Problem {
    fn unknown_key(expected: &'static [&'static str]) -> Self {
        Problem::UnknownKey { expected }
    }
    fn non_string_key(found: &'static str) -> Self {
        Problem::NonStringKey(found)
    }
    fn wrong_type(expected: &'static str, found: &'static str) -> Self {
        Problem::WrongType { expected, found }
    }
    fn tagged() -> Self {
        Problem::Tagged
    }
}

/// Parses and validates `text`; `path` names the file in errors and anchors relative paths.
pub(super) fn read(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| syntax_error(&e, path))?;
    let reader = Reader {
        base_dir: path.parent().unwrap_or(Path::new("")),
        timeout_written: Cell::new(false),
    };
    reader
        .document(&docs)
        .map_err(|Invalid { loc, problem }| ConfigError::Invalid {
            file: path.to_path_buf(),
            line: loc.line,
            key: loc.key,
            problem,
        })
}

fn syntax_error(error: &ScanError, path: &Path) -> ConfigError {
    ConfigError::Syntax {
        file: path.to_path_buf(),
        line: error.marker().line(),
        column: error.marker().col() + 1,
        message: error.info().to_string(),
    }
}

struct Reader<'p> {
    base_dir: &'p Path,
    /// Whether `global.timeout` was written: the default whole-probe timeout yields to a shorter
    /// interval instead of being an error (see `Config::resolve`).
    timeout_written: Cell<bool>,
}

impl Reader<'_> {
    fn document(&self, docs: &[Node<'_>]) -> Result<Config> {
        let root = match docs {
            [] => return Ok(Config::default()),
            [root] => root,
            [_, second, ..] => {
                let loc = Loc {
                    line: second.span.start.line(),
                    key: String::new(),
                };
                return loc.fail(Problem::MultipleDocuments(docs.len()));
            }
        };
        let top = mapping(root, &Loc::root(), Some(TOP_KEYS))?;
        let global = match top.get("global") {
            Some(f) => self.global(f)?,
            None => Global::default(),
        };
        let probe_allow = top.get("probe_allow").map(probe_allow).transpose()?;
        let modules = match top.get("modules") {
            Some(f) => self.modules(f, &global)?,
            None => BTreeMap::new(),
        };
        let inbound = match top.get("inbound") {
            Some(f) => self.targets(f, &global, INBOUND_TARGET_KEYS)?,
            None => Vec::new(),
        };
        let outbound = match top.get("outbound") {
            Some(f) => self.targets(f, &global, TARGET_KEYS)?,
            None => Vec::new(),
        };
        Ok(Config {
            global,
            probe_allow,
            modules,
            inbound,
            outbound,
        })
    }

    fn global(&self, section: &Field<'_, '_>) -> Result<Global> {
        let fields = mapping(section.value, &section.loc, Some(GLOBAL_KEYS))?;
        let mut global = Global::default();
        let interval = optional(&fields, "interval", duration)?;
        let timeout = optional(&fields, "timeout", duration)?;
        let step_timeout = optional(&fields, "step_timeout", duration)?;
        self.timeout_written.set(timeout.is_some());
        check_timing(
            level(global.interval, interval.clone()),
            level(
                self.default_timeout(global.timeout, &interval),
                timeout.clone(),
            ),
            level(global.step_timeout, step_timeout.clone()),
            &section.loc,
        )?;
        if let Some((value, _)) = interval {
            global.interval = value;
        }
        if let Some((value, _)) = timeout {
            global.timeout = value;
        }
        global.timeout = global.timeout.min(global.interval);
        if let Some((value, _)) = step_timeout {
            global.step_timeout = value;
        }
        if let Some(f) = fields.get("smtp_reply_timeout") {
            global.smtp_reply_timeout = duration(f)?;
        }
        if let Some(f) = fields.get("concurrency") {
            let value = integer(f, 1, MAX_CONCURRENCY as i64)?;
            global.concurrency = usize::try_from(value).unwrap_or(MAX_CONCURRENCY);
        }
        if let Some(f) = fields.get("host_concurrency") {
            let value = integer(f, 1, MAX_HOST_CONCURRENCY as i64)?;
            global.host_concurrency = usize::try_from(value).unwrap_or(global.host_concurrency);
        }
        if let Some(f) = fields.get("dnssec_mode") {
            global.dnssec_mode = dnssec_mode(f)?;
        }
        if let Some(f) = fields.get("nameservers") {
            global.nameservers = nameservers(f)?;
        }
        if let Some(f) = fields.get("trust_anchor_file") {
            global.trust_anchor_file = Some(self.trust_anchor_file(f)?);
        }
        if let Some(f) = fields.get("ehlo_name") {
            let text = string(f)?;
            global.ehlo_name = normalize_domain(text).or_else(|reason| {
                f.loc.fail(Problem::InvalidDomain {
                    text: text.to_string(),
                    reason,
                })
            })?;
        }
        if let Some(f) = fields.get("service_ca_file") {
            let (path, pem) = self.service_ca_file(f)?;
            global.service_ca_file = Some(path);
            global.service_ca_pem = Some(pem);
        }
        if let Some(f) = fields.get("smtp_port") {
            let value = integer(f, 1, i64::from(u16::MAX))?;
            global.smtp_port = u16::try_from(value).unwrap_or(global.smtp_port);
        }
        if let Some(f) = fields.get("mta_sts_ca_file") {
            global.mta_sts_ca_file = Some(self.ca_file(f)?);
        }
        if let Some(f) = fields.get("https_port") {
            let value = integer(f, 1, i64::from(u16::MAX))?;
            global.https_port = u16::try_from(value).unwrap_or(global.https_port);
        }
        operations(&fields, &mut global.operations)?;
        global.expect = fields.get("expect").map(expectation).transpose()?;
        if let Some(f) = fields.get("canary_secure_name") {
            if let Some(name) = canary_name(f, false)? {
                global.canary_secure_name = name;
            }
        }
        if let Some(f) = fields.get("canary_bogus_name") {
            global.canary_bogus_name = canary_name(f, true)?;
        }
        Ok(global)
    }

    fn targets(
        &self,
        section: &Field<'_, '_>,
        global: &Global,
        keys: &'static [&'static str],
    ) -> Result<Vec<TargetSpec>> {
        let mut specs = Vec::new();
        // Normalised domain -> where it first occurs in this direction.
        let mut seen: HashMap<String, Origin> = HashMap::new();
        for (loc, node) in sequence(section)? {
            let fields = mapping(node, &loc, Some(keys))?;
            if let Some(list_field) = fields.get("domains_file") {
                // Every domain of the list gets the entry's labels and overrides, and the summary
                // shape unless the entry says otherwise.
                let mut overrides = self.overrides(&fields, global, &loc)?;
                overrides.metrics = Some(overrides.metrics.unwrap_or(MetricsShape::Summary));
                let template = TargetSpec {
                    domain: String::new(),
                    labels: fields
                        .get("labels")
                        .map(labels)
                        .transpose()?
                        .unwrap_or_default(),
                    overrides,
                    services: Vec::new(),
                    certificates: Vec::new(),
                };
                let list = List {
                    fields: &fields,
                    field: list_field,
                    base_dir: self.base_dir,
                };
                list.expand(&template, &mut seen, &mut specs)?;
                continue;
            }
            let Some(domain_field) = fields.get("domain") else {
                return loc.fail(Problem::MissingEither("domain", "domains_file"));
            };
            let domain = domain_name(domain_field)?;
            match seen.get(&domain) {
                Some(Origin::Config(first_line)) => {
                    let first_line = *first_line;
                    return domain_field
                        .loc
                        .fail(Problem::DuplicateDomain { domain, first_line });
                }
                Some(first) => {
                    let first = first.to_string();
                    return domain_field
                        .loc
                        .fail(Problem::DuplicateListed { domain, first });
                }
                None => {}
            }
            seen.insert(domain.clone(), Origin::Config(domain_field.loc.line));

            let labels = match fields.get("labels") {
                Some(f) => labels(f)?,
                None => Default::default(),
            };
            let overrides = self.overrides(&fields, global, &loc)?;
            let services = match fields.get("services") {
                Some(f) => services(f)?,
                None => Vec::new(),
            };
            let certificates = match fields.get("certificates") {
                Some(f) => certificates::certificates(f, self.base_dir)?,
                None => Vec::new(),
            };
            specs.push(TargetSpec {
                domain,
                labels,
                overrides,
                services,
                certificates,
            });
        }
        Ok(specs)
    }

    fn modules(
        &self,
        section: &Field<'_, '_>,
        global: &Global,
    ) -> Result<BTreeMap<String, Module>> {
        let mut modules = BTreeMap::new();
        for entry in mapping(section.value, &section.loc, None)?.0 {
            let name = entry.name;
            if Module::BUILT_IN.contains(&name) {
                return entry.loc.fail(Problem::BuiltInModule(name.to_string()));
            }
            let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if name.is_empty() || !name.chars().all(plain) {
                return entry.loc.fail(Problem::InvalidModuleName(name.to_string()));
            }
            let fields = mapping(entry.value, &entry.loc, Some(MODULE_KEYS))?;
            let Some(direction) = fields.get("direction") else {
                return entry.loc.fail(Problem::MissingKey("direction"));
            };
            let direction = self::direction(direction)?;
            let overrides = self.overrides(&fields, global, &entry.loc)?;
            modules.insert(
                name.to_string(),
                Module {
                    direction,
                    overrides,
                },
            );
        }
        Ok(modules)
    }

    fn overrides(
        &self,
        fields: &Fields<'_, '_>,
        global: &Global,
        fallback: &Loc,
    ) -> Result<Overrides> {
        let interval = optional(fields, "interval", duration)?;
        let timeout = optional(fields, "timeout", duration)?;
        let step_timeout = optional(fields, "step_timeout", duration)?;
        check_timing(
            level(global.interval, interval.clone()),
            level(
                self.default_timeout(global.timeout, &interval),
                timeout.clone(),
            ),
            level(global.step_timeout, step_timeout.clone()),
            fallback,
        )?;
        Ok(Overrides {
            interval: interval.map(|(v, _)| v),
            timeout: timeout.map(|(v, _)| v),
            step_timeout: step_timeout.map(|(v, _)| v),
            dnssec_mode: fields.get("dnssec_mode").map(dnssec_mode).transpose()?,
            nameservers: fields.get("nameservers").map(nameservers).transpose()?,
            trust_anchor_file: fields
                .get("trust_anchor_file")
                .map(|f| self.trust_anchor_file(f))
                .transpose()?,
            mta_sts: fields.get("mta_sts").map(boolean).transpose()?,
            tls_rpt: fields.get("tls_rpt").map(boolean).transpose()?,
            metrics: fields.get("metrics").map(metrics_shape).transpose()?,
            expect: fields.get("expect").map(expectation).transpose()?,
        })
    }

    /// The whole-probe timeout inherited at a level whose interval may be `interval`: the written
    /// global one stands (and must fit), the default yields to a shorter interval.
    fn default_timeout(&self, inherited: Duration, interval: &Option<(Duration, Loc)>) -> Duration {
        match interval {
            Some((interval, _)) if !self.timeout_written.get() => inherited.min(*interval),
            _ => inherited,
        }
    }

    /// Reads the service CA bundle (relative to the config file) and checks that every
    /// certificate in it can be a trust anchor.
    fn service_ca_file(&self, field: &Field<'_, '_>) -> Result<(PathBuf, Vec<u8>)> {
        let written = PathBuf::from(string(field)?);
        let path = self.base_dir.join(&written);
        let unusable = |reason: String| {
            field.loc.fail(Problem::ServiceCaUnusable {
                path: written.clone(),
                reason,
            })
        };
        match read_service_ca(&path) {
            Ok(pem) => Ok((path, pem)),
            Err(reason) => unusable(reason),
        }
    }

    /// `mta_sts_ca_file`: resolved like `trust_anchor_file`, and read now, so that a file without
    /// a PEM certificate fails the load (with its line) instead of every probe.
    fn ca_file(&self, field: &Field<'_, '_>) -> Result<PathBuf> {
        let written = PathBuf::from(string(field)?);
        let path = self.base_dir.join(&written);
        match crate::checks::mta_sts::webpki::read_ca_file(&path) {
            Ok(_) => Ok(path),
            Err(error) => {
                let reason = match error {
                    crate::checks::mta_sts::TrustError::CaFile { detail, .. } => detail,
                    other => other.to_string(),
                };
                field.loc.fail(Problem::CaFileUnusable {
                    path: written,
                    reason,
                })
            }
        }
    }

    /// Resolves the path against the config file's directory and checks that it is a file.
    fn trust_anchor_file(&self, field: &Field<'_, '_>) -> Result<PathBuf> {
        let written = PathBuf::from(string(field)?);
        let path = self.base_dir.join(&written);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => field.loc.fail(Problem::TrustAnchorUnusable {
                path: written,
                reason: "not a regular file".to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                field.loc.fail(Problem::TrustAnchorMissing(written))
            }
            Err(e) => field.loc.fail(Problem::TrustAnchorUnusable {
                path: written,
                reason: e.to_string(),
            }),
        }
    }
}
