//! Turns config text into a [`Config`]: parses it into a `saphyr` tree that keeps the position of
//! every node, then walks the tree section by section, checking keys, types and values, and
//! remembering where each came from so that every error names the line of its key.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, ScanError, YamlData};

use super::error::{ConfigError, Problem};
use super::names::{check_label_name, normalize_domain, parse_nameserver, DomainPattern};
use super::{
    CertificateSource, CertificateSpec, Config, Global, Overrides, TargetSpec, MAX_CONCURRENCY,
    MIN_INTERVAL,
};
use crate::dns::DnssecMode;
use crate::service::{ServiceProtocol, ServiceSpec, TlsMode};
use crate::yaml::{
    boolean, data, mapping, scalar_string, sequence, string, wrong_type, Field, Fields, Invalid,
    Loc, Node, TreeProblem,
};

const TOP_KEYS: &[&str] = &["global", "probe_allow", "inbound", "outbound"];
const GLOBAL_KEYS: &[&str] = &[
    "interval",
    "timeout",
    "step_timeout",
    "concurrency",
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
];
const TARGET_KEYS: &[&str] = &[
    "domain",
    "labels",
    "interval",
    "timeout",
    "step_timeout",
    "dnssec_mode",
    "nameservers",
    "trust_anchor_file",
    "mta_sts",
    "tls_rpt",
    "services",
];
/// Inbound targets may also name local certificate files.
const INBOUND_TARGET_KEYS: &[&str] = &[
    "domain",
    "labels",
    "interval",
    "timeout",
    "step_timeout",
    "dnssec_mode",
    "nameservers",
    "trust_anchor_file",
    "mta_sts",
    "tls_rpt",
    "services",
    "certificates",
];
const CERTIFICATE_KEYS: &[&str] = &["mx", "live", "staged", "lineage"];
const SERVICE_KEYS: &[&str] = &["host", "port", "protocol", "tls"];

type Result<T, E = Invalid<Problem>> = std::result::Result<T, E>;

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

/// A duration and, when it was set at the level being checked, where.
#[derive(Clone)]
struct Setting {
    value: Duration,
    at: Option<Loc>,
}

struct Reader<'p> {
    base_dir: &'p Path,
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
        check_timing(
            level(global.interval, interval.clone()),
            level(global.timeout, timeout.clone()),
            level(global.step_timeout, step_timeout.clone()),
            &section.loc,
        )?;
        if let Some((value, _)) = interval {
            global.interval = value;
        }
        if let Some((value, _)) = timeout {
            global.timeout = value;
        }
        if let Some((value, _)) = step_timeout {
            global.step_timeout = value;
        }
        if let Some(f) = fields.get("concurrency") {
            let value = integer(f, 1, MAX_CONCURRENCY as i64)?;
            global.concurrency = usize::try_from(value).unwrap_or(MAX_CONCURRENCY);
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
        Ok(global)
    }

    fn targets(
        &self,
        section: &Field<'_, '_>,
        global: &Global,
        keys: &'static [&'static str],
    ) -> Result<Vec<TargetSpec>> {
        let mut specs = Vec::new();
        // Normalised domain -> line of its first occurrence in this direction.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (loc, node) in sequence(section)? {
            let fields = mapping(node, &loc, Some(keys))?;
            let Some(domain_field) = fields.get("domain") else {
                return loc.fail(Problem::MissingKey("domain"));
            };
            let domain = domain_name(domain_field)?;
            if let Some(&first_line) = seen.get(&domain) {
                return domain_field
                    .loc
                    .fail(Problem::DuplicateDomain { domain, first_line });
            }
            seen.insert(domain.clone(), domain_field.loc.line);

            let labels = match fields.get("labels") {
                Some(f) => labels(f)?,
                None => BTreeMap::new(),
            };
            let overrides = self.overrides(&fields, global, &loc)?;
            let services = match fields.get("services") {
                Some(f) => services(f)?,
                None => Vec::new(),
            };
            let certificates = match fields.get("certificates") {
                Some(f) => self.certificates(f)?,
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
            level(global.timeout, timeout.clone()),
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
        })
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
        let pem = match std::fs::read(&path) {
            Ok(pem) => pem,
            Err(e) => return unusable(e.to_string()),
        };
        if let Err(e) = crate::dane::PkixTrust::empty().with_pem_bundle(&pem) {
            return unusable(e.to_string());
        }
        Ok((path, pem))
    }

    /// `mta_sts_ca_file`: resolved like `trust_anchor_file`, and read now, so that a file without
    /// a PEM certificate fails the load (with its line) instead of every probe.
    fn ca_file(&self, field: &Field<'_, '_>) -> Result<PathBuf> {
        let written = PathBuf::from(string(field)?);
        let path = self.base_dir.join(&written);
        match crate::mta_sts::webpki::read_ca_file(&path) {
            Ok(_) => Ok(path),
            Err(error) => {
                let reason = match error {
                    crate::mta_sts::TrustError::CaFile { detail, .. } => detail,
                    other => other.to_string(),
                };
                field.loc.fail(Problem::CaFileUnusable {
                    path: written,
                    reason,
                })
            }
        }
    }

    /// `certificates` of an inbound target (see `certificates.rs`).
    fn certificates(&self, section: &Field<'_, '_>) -> Result<Vec<CertificateSpec>> {
        let mut specs = Vec::new();
        // (Normalised MX host, live file or lineage) -> line of its first entry. One MX host may
        // have several entries (an ECDSA and an RSA certificate), each file once.
        let mut seen: HashMap<(String, PathBuf), usize> = HashMap::new();
        for (loc, node) in sequence(section)? {
            let fields = mapping(node, &loc, Some(CERTIFICATE_KEYS))?;
            let Some(mx_field) = fields.get("mx") else {
                return loc.fail(Problem::MissingKey("mx"));
            };
            let mx = domain_name(mx_field)?;
            let path = |name: &str| -> Result<Option<PathBuf>> {
                let Some(field) = fields.get(name) else {
                    return Ok(None);
                };
                let text = string(field)?;
                if text.trim().is_empty() {
                    return field.loc.fail(Problem::EmptyPath);
                }
                Ok(Some(self.base_dir.join(text)))
            };
            let live = path("live")?;
            let staged = path("staged")?;
            let lineage = path("lineage")?;
            let source = match (live, lineage) {
                (Some(_), Some(_)) => {
                    // Blame whichever of the two comes second in the file.
                    let (a, b) = (&fields.get("live"), &fields.get("lineage"));
                    let (second, key, other) = match (a, b) {
                        (Some(a), Some(b)) if a.loc.line > b.loc.line => (a, "live", "lineage"),
                        (_, Some(b)) => (b, "lineage", "live"),
                        _ => return loc.fail(Problem::MissingEither("live", "lineage")),
                    };
                    return second.loc.fail(Problem::ConflictingKeys { key, other });
                }
                (None, None) => return loc.fail(Problem::MissingEither("live", "lineage")),
                (Some(live), None) => CertificateSource::Files { live, staged },
                (None, Some(dir)) => {
                    if let Some(f) = fields.get("staged") {
                        // A lineage finds its staged certificate itself.
                        return f.loc.fail(Problem::ConflictingKeys {
                            key: "staged",
                            other: "lineage",
                        });
                    }
                    CertificateSource::Lineage(dir)
                }
            };
            let key = (mx.clone(), source_path(&source).to_path_buf());
            if let Some(&first_line) = seen.get(&key) {
                return mx_field
                    .loc
                    .fail(Problem::DuplicateCertificate { mx, first_line });
            }
            seen.insert(key, mx_field.loc.line);
            specs.push(CertificateSpec { mx, source });
        }
        Ok(specs)
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

/// A value set at this level wins over the inherited one; only the former has a location.
fn level(inherited: Duration, here: Option<(Duration, Loc)>) -> Setting {
    match here {
        Some((value, loc)) => Setting {
            value,
            at: Some(loc),
        },
        None => Setting {
            value: inherited,
            at: None,
        },
    }
}

/// interval >= [`MIN_INTERVAL`], timeout <= interval, step_timeout <= timeout. A broken pair is
/// blamed on the dependent key when it was set at this level, else on the other one.
fn check_timing(interval: Setting, timeout: Setting, step: Setting, fallback: &Loc) -> Result<()> {
    if let Some(loc) = &interval.at {
        if interval.value < MIN_INTERVAL {
            return loc.fail(Problem::IntervalTooShort {
                interval: interval.value,
                minimum: MIN_INTERVAL,
            });
        }
    }
    let blame = |dependent: &Setting, other: &Setting| {
        dependent
            .at
            .clone()
            .or_else(|| other.at.clone())
            .unwrap_or_else(|| fallback.clone())
    };
    if timeout.value > interval.value {
        return blame(&timeout, &interval).fail(Problem::TimeoutExceedsInterval {
            timeout: timeout.value,
            interval: interval.value,
        });
    }
    if step.value > timeout.value {
        return blame(&step, &timeout).fail(Problem::StepTimeoutExceedsTimeout {
            step_timeout: step.value,
            timeout: timeout.value,
        });
    }
    Ok(())
}

/// Reads `name` with `read` when present, keeping where it was.
fn optional<T>(
    fields: &Fields<'_, '_>,
    name: &str,
    read: fn(&Field<'_, '_>) -> Result<T>,
) -> Result<Option<(T, Loc)>> {
    fields
        .get(name)
        .map(|f| read(f).map(|v| (v, f.loc.clone())))
        .transpose()
}

/// The live file or lineage directory of a certificate entry: what makes two entries the same.
fn source_path(source: &CertificateSource) -> &Path {
    match source {
        CertificateSource::Files { live, .. } => live,
        CertificateSource::Lineage(dir) => dir,
    }
}

/// A domain or host name, normalised (lower case, no trailing dot).
fn domain_name(field: &Field<'_, '_>) -> Result<String> {
    let text = string(field)?;
    normalize_domain(text).or_else(|reason| {
        field.loc.fail(Problem::InvalidDomain {
            text: text.to_string(),
            reason,
        })
    })
}

fn duration(field: &Field<'_, '_>) -> Result<Duration> {
    let text = match data(field.value, &field.loc)? {
        YamlData::Value(Scalar::String(text)) => text.as_ref(),
        _ => return wrong_type(field.value, &field.loc, "a duration such as \"5m\""),
    };
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => field.loc.fail(Problem::ZeroDuration),
        Ok(d) => Ok(d),
        Err(_) => field.loc.fail(Problem::InvalidDuration(text.to_string())),
    }
}

fn integer(field: &Field<'_, '_>, min: i64, max: i64) -> Result<i64> {
    match data(field.value, &field.loc)? {
        YamlData::Value(Scalar::Integer(value)) if (min..=max).contains(value) => Ok(*value),
        YamlData::Value(Scalar::Integer(value)) => field.loc.fail(Problem::OutOfRange {
            value: *value,
            min,
            max,
        }),
        _ => wrong_type(field.value, &field.loc, "an integer"),
    }
}

/// The `global` keys of the operational checks (`super::operations`).
fn operations(fields: &Fields<'_, '_>, ops: &mut super::OperationsConfig) -> Result<()> {
    if let Some(f) = fields.get("authoritative_checks") {
        ops.authoritative_checks = direction_scope(f)?;
    }
    if let Some(f) = fields.get("key_algorithm_checks") {
        ops.key_algorithm_checks = direction_scope(f)?;
    }
    if let Some(f) = fields.get("authoritative_port") {
        let value = integer(f, 1, i64::from(u16::MAX))?;
        ops.authoritative_port = u16::try_from(value).unwrap_or(ops.authoritative_port);
    }
    if let Some(f) = fields.get("tlsa_max_records") {
        let value = integer(f, 1, 1000)?;
        ops.hygiene.max_records = usize::try_from(value).unwrap_or(ops.hygiene.max_records);
    }
    if let Some(f) = fields.get("tlsa_max_ttl") {
        let value = duration(f)?;
        ops.hygiene.max_ttl = u32::try_from(value.as_secs()).unwrap_or(u32::MAX);
    }
    if let Some(f) = fields.get("tlsa_stale_after") {
        ops.hygiene.stale_after = duration(f)?;
    }
    Ok(())
}

/// One of [`super::DirectionScope::NAMES`].
fn direction_scope(field: &Field<'_, '_>) -> Result<super::DirectionScope> {
    let text = string(field)?;
    super::DirectionScope::parse(text.trim()).map_or_else(
        || {
            field.loc.fail(Problem::InvalidChoice {
                text: text.to_string(),
                expected: &super::DirectionScope::NAMES,
            })
        },
        Ok,
    )
}

fn dnssec_mode(field: &Field<'_, '_>) -> Result<DnssecMode> {
    let text = string(field)?;
    // Through serde, so the accepted names are those `crate::dns` declares.
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .or_else(|_| field.loc.fail(Problem::InvalidDnssecMode(text.to_string())))
}

fn nameservers(field: &Field<'_, '_>) -> Result<Vec<SocketAddr>> {
    sequence(field)?
        .into_iter()
        .map(|(loc, node)| {
            let text = scalar_string(node, &loc)?;
            parse_nameserver(text.trim()).map_or_else(
                || loc.fail(Problem::InvalidNameserver(text.to_string())),
                Ok,
            )
        })
        .collect()
}

fn probe_allow(field: &Field<'_, '_>) -> Result<Vec<DomainPattern>> {
    sequence(field)?
        .into_iter()
        .map(|(loc, node)| {
            let text = scalar_string(node, &loc)?;
            DomainPattern::parse(text).or_else(|reason| {
                loc.fail(Problem::InvalidPattern {
                    text: text.to_string(),
                    reason,
                })
            })
        })
        .collect()
}

/// `services:` of a target: host, port, and protocol and TLS mode (inferred from well-known
/// ports, required for others).
fn services(field: &Field<'_, '_>) -> Result<Vec<ServiceSpec>> {
    let mut specs: Vec<ServiceSpec> = Vec::new();
    let mut seen: HashMap<(String, u16), usize> = HashMap::new();
    for (loc, node) in sequence(field)? {
        let fields = mapping(node, &loc, Some(SERVICE_KEYS))?;
        let Some(host_field) = fields.get("host") else {
            return loc.fail(Problem::MissingKey("host"));
        };
        let text = string(host_field)?;
        let host = normalize_domain(text).or_else(|reason| {
            host_field.loc.fail(Problem::InvalidDomain {
                text: text.to_string(),
                reason,
            })
        })?;
        let Some(port_field) = fields.get("port") else {
            return loc.fail(Problem::MissingKey("port"));
        };
        let port = u16::try_from(integer(port_field, 1, i64::from(u16::MAX))?).unwrap_or(0);
        let protocol = fields
            .get("protocol")
            .map(|f| {
                let text = string(f)?;
                ServiceProtocol::parse(text).map_or_else(
                    || {
                        f.loc
                            .fail(Problem::InvalidServiceProtocol(text.to_string()))
                    },
                    Ok,
                )
            })
            .transpose()?;
        let tls = fields
            .get("tls")
            .map(|f| {
                let text = string(f)?;
                TlsMode::parse(text)
                    .map_or_else(|| f.loc.fail(Problem::InvalidTlsMode(text.to_string())), Ok)
            })
            .transpose()?;
        let known = crate::service::well_known(port);
        let (protocol, tls) = match (protocol, tls, known) {
            (Some(p), Some(t), _) => (p, t),
            (p, t, Some((known_p, known_t))) => (p.unwrap_or(known_p), t.unwrap_or(known_t)),
            (_, _, None) => return port_field.loc.fail(Problem::ServiceModeRequired { port }),
        };
        if protocol == ServiceProtocol::Https && tls == TlsMode::Starttls {
            let at = fields.get("tls").map_or(&loc, |f| &f.loc);
            return at.fail(Problem::HttpsStarttls);
        }
        if let Some(&first_line) = seen.get(&(host.clone(), port)) {
            return host_field.loc.fail(Problem::DuplicateService {
                host,
                port,
                first_line,
            });
        }
        seen.insert((host.clone(), port), host_field.loc.line);
        specs.push(ServiceSpec {
            host,
            port,
            protocol,
            tls,
        });
    }
    Ok(specs)
}

fn labels(field: &Field<'_, '_>) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for label in mapping(field.value, &field.loc, None)?.0 {
        check_label_name(label.name).or_else(|e| label.loc.fail(Problem::LabelName(e)))?;
        let value = string(&label)?;
        if value.is_empty() {
            return label.loc.fail(Problem::EmptyLabelValue);
        }
        labels.insert(label.name.to_string(), value.to_string());
    }
    Ok(labels)
}
