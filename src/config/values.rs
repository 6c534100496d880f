//! The values of the config file, one reader each: durations, integers, names, nameservers,
//! label sets, services, the operational checks' keys; and the timing rules between the three
//! durations. `reader.rs` walks the sections and calls these for their keys.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use saphyr::{Scalar, YamlData};

use super::error::Problem;
use super::model::{Module, MIN_INTERVAL};
use super::names::{check_label_name, normalize_domain, parse_nameserver, DomainPattern};
use super::operations::{DirectionScope, OperationsConfig};
use crate::checks::local_certs::CertificateSource;
use crate::checks::services::{ServiceProtocol, ServiceSpec, TlsMode};
use crate::core::{Direction, Expectation};
use crate::dane::PkixTrust;
use crate::dns::DnssecMode;
use crate::target::MetricsShape;
use crate::yaml::{
    data, mapping, scalar_string, sequence, string, wrong_type, Field, Fields, Invalid, Loc,
};

pub(super) type Result<T, E = Invalid<Problem>> = std::result::Result<T, E>;

const SERVICE_KEYS: &[&str] = &["host", "port", "protocol", "tls"];

/// A duration and, when it was set at the level being checked, where.
#[derive(Clone)]
pub(super) struct Setting {
    pub(super) value: Duration,
    pub(super) at: Option<Loc>,
}

/// A value set at this level wins over the inherited one; only the former has a location.
pub(super) fn level(inherited: Duration, here: Option<(Duration, Loc)>) -> Setting {
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
pub(super) fn check_timing(
    interval: Setting,
    timeout: Setting,
    step: Setting,
    fallback: &Loc,
) -> Result<()> {
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
pub(super) fn optional<T>(
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
pub(super) fn source_path(source: &CertificateSource) -> &Path {
    match source {
        CertificateSource::Files { live, .. } => live,
        CertificateSource::Lineage(dir) => dir,
    }
}

/// A domain or host name, normalised (lower case, no trailing dot).
pub(super) fn domain_name(field: &Field<'_, '_>) -> Result<String> {
    let text = string(field)?;
    normalize_domain(text).or_else(|reason| {
        field.loc.fail(Problem::InvalidDomain {
            text: text.to_string(),
            reason,
        })
    })
}

pub(super) fn duration(field: &Field<'_, '_>) -> Result<Duration> {
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

pub(super) fn integer(field: &Field<'_, '_>, min: i64, max: i64) -> Result<i64> {
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
pub(super) fn operations(fields: &Fields<'_, '_>, ops: &mut OperationsConfig) -> Result<()> {
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

/// One of [`DirectionScope::NAMES`].
pub(super) fn direction_scope(field: &Field<'_, '_>) -> Result<DirectionScope> {
    let text = string(field)?;
    DirectionScope::parse(text.trim()).map_or_else(
        || {
            field.loc.fail(Problem::InvalidChoice {
                text: text.to_string(),
                expected: &DirectionScope::NAMES,
            })
        },
        Ok,
    )
}

/// `metrics:` of a target: one of [`MetricsShape::NAMES`].
pub(super) fn metrics_shape(field: &Field<'_, '_>) -> Result<MetricsShape> {
    choice(field, MetricsShape::parse, &MetricsShape::NAMES)
}

/// `inbound` or `outbound`.
pub(super) fn direction(field: &Field<'_, '_>) -> Result<Direction> {
    let parse = |text: &str| match text {
        "inbound" => Some(Direction::Inbound),
        "outbound" => Some(Direction::Outbound),
        _ => None,
    };
    choice(field, parse, &Module::BUILT_IN)
}

/// `expect:` of a target or of `global`: one of [`Expectation::NAMES`].
pub(super) fn expectation(field: &Field<'_, '_>) -> Result<Expectation> {
    choice(field, Expectation::parse, &Expectation::NAMES)
}

/// A string that must be one of `expected`, turned into its value by `parse`.
fn choice<T>(
    field: &Field<'_, '_>,
    parse: fn(&str) -> Option<T>,
    expected: &'static [&'static str],
) -> Result<T> {
    let text = string(field)?;
    parse(text.trim()).map_or_else(
        || {
            field.loc.fail(Problem::InvalidChoice {
                text: text.to_string(),
                expected,
            })
        },
        Ok,
    )
}

/// A canary name: `.` (the root) or a domain name, normalised; `""` when `may_be_empty` (the
/// bogus canary switched off) gives `None`.
pub(super) fn canary_name(field: &Field<'_, '_>, may_be_empty: bool) -> Result<Option<String>> {
    let text = string(field)?.trim();
    if text == "." {
        return Ok(Some(".".to_string()));
    }
    if text.is_empty() && may_be_empty {
        return Ok(None);
    }
    domain_name(field).map(Some)
}

pub(super) fn dnssec_mode(field: &Field<'_, '_>) -> Result<DnssecMode> {
    let text = string(field)?;
    // Through serde, so the accepted names are those `crate::dns` declares.
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .or_else(|_| field.loc.fail(Problem::InvalidDnssecMode(text.to_string())))
}

pub(super) fn nameservers(field: &Field<'_, '_>) -> Result<Vec<SocketAddr>> {
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

pub(super) fn probe_allow(field: &Field<'_, '_>) -> Result<Vec<DomainPattern>> {
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
pub(super) fn services(field: &Field<'_, '_>) -> Result<Vec<ServiceSpec>> {
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
        let known = crate::checks::services::well_known(port);
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

pub(super) fn labels(field: &Field<'_, '_>) -> Result<Arc<BTreeMap<String, String>>> {
    let mut labels = BTreeMap::new();
    for label in mapping(field.value, &field.loc, None)?.0 {
        check_label_name(label.name).or_else(|e| label.loc.fail(Problem::LabelName(e)))?;
        let value = string(&label)?;
        if value.is_empty() {
            return label.loc.fail(Problem::EmptyLabelValue);
        }
        labels.insert(label.name.to_string(), value.to_string());
    }
    Ok(Arc::new(labels))
}

/// Reads a PEM bundle of CA certificates for the services' PKIX usages and checks that every
/// certificate in it can be a trust anchor (`global.service_ca_file`, `check --service-ca`).
pub fn read_service_ca(path: &Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    PkixTrust::empty()
        .with_pem_bundle(&pem)
        .map_err(|e| e.to_string())?;
    Ok(pem)
}
