//! The JSON of a report (RFC 8460 section 4.4) validated into a [`Report`]: required fields
//! present and of their type, a date range that is a range and not in the future, registered
//! policy types, result types as tokens, counts as integers, names as domain names, and every
//! list bounded. Unknown fields are ignored, as the RFC's extensibility asks.
//!
//! Senders differ in small ways the RFC leaves open, all accepted: `mx-host` as one string or a
//! list (and `mx-host-pattern` for it), date-times with `Z` or an offset and with fractions.

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::model::{FailureDetail, PolicyResult, PolicyType, Report, ResultType};
use super::{Limits, ReportError};
use crate::core::{normalize_domain, UnixSeconds};

/// Longest free-text field kept (organisation, report id, contact, reason code, URI).
const MAX_TEXT: usize = 1024;
/// Clock skew allowed between a sender and us for the end of the range.
const FUTURE_SLACK: UnixSeconds = 86_400;

/// Validates `json` (already bounded by `crate::tlsrpt::decode_body`) as received at `now`.
pub fn parse_report(json: &[u8], limits: &Limits, now: UnixSeconds) -> Result<Report, ReportError> {
    let value: Value =
        serde_json::from_slice(json).map_err(|e| ReportError::Json(e.to_string()))?;
    let root = object(&value, "report")?;
    let range = object(field(root, "", "date-range")?, "date-range")?;
    let start = datetime(range, "date-range", "start-datetime")?;
    let end = datetime(range, "date-range", "end-datetime")?;
    if end <= start {
        return Err(ReportError::DateRange(
            "end-datetime is not after start-datetime",
        ));
    }
    if end - start > limits.max_range_seconds {
        return Err(ReportError::DateRange("the range is longer than 31 days"));
    }
    if end > now + FUTURE_SLACK {
        return Err(ReportError::DateRange("end-datetime is in the future"));
    }
    let policies = array(root, "", "policies")?;
    if policies.is_empty() {
        return Err(ReportError::Invalid {
            field: "policies".into(),
            problem: "is empty",
        });
    }
    if policies.len() > limits.max_policies {
        return Err(ReportError::TooMany {
            what: "policies",
            limit: limits.max_policies,
        });
    }
    let mut details = 0usize;
    let policies = policies
        .iter()
        .enumerate()
        .map(|(i, p)| policy(p, &format!("policies[{i}]"), limits, &mut details))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Report {
        organization: text(root, "", "organization-name")?,
        report_id: text(root, "", "report-id")?,
        contact_info: text(root, "", "contact-info")?,
        start,
        end,
        policies,
    })
}

fn policy(
    value: &Value,
    at: &str,
    limits: &Limits,
    details: &mut usize,
) -> Result<PolicyResult, ReportError> {
    let entry = object(value, at)?;
    let at_policy = format!("{at}.policy");
    let desc = object(field(entry, at, "policy")?, &at_policy)?;
    let type_text = text(desc, &at_policy, "policy-type")?;
    let policy_type = PolicyType::parse(&type_text).ok_or_else(|| ReportError::Invalid {
        field: format!("{at_policy}.policy-type"),
        problem: "is not tlsa, sts or no-policy-found",
    })?;
    let policy_domain = domain(
        &text(desc, &at_policy, "policy-domain")?,
        &at_policy,
        "policy-domain",
    )?;
    let policy_strings = optional_strings(desc, &at_policy, "policy-string", limits.max_list)?;
    let mx_key = if desc.contains_key("mx-host") {
        "mx-host"
    } else {
        "mx-host-pattern"
    };
    let mx_hosts = optional_strings(desc, &at_policy, mx_key, limits.max_list)?
        .into_iter()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    let at_summary = format!("{at}.summary");
    let summary = object(field(entry, at, "summary")?, &at_summary)?;
    let successful_sessions = count(summary, &at_summary, "total-successful-session-count")?;
    let failed_sessions = count(summary, &at_summary, "total-failure-session-count")?;
    let mut failures = Vec::new();
    if let Some(list) = entry.get("failure-details") {
        let at_list = format!("{at}.failure-details");
        let list = list
            .as_array()
            .ok_or_else(|| wrong_type(&at_list, "an array"))?;
        *details += list.len();
        if *details > limits.max_failure_details {
            return Err(ReportError::TooMany {
                what: "failure details",
                limit: limits.max_failure_details,
            });
        }
        for (i, detail) in list.iter().enumerate() {
            failures.push(failure(detail, &format!("{at_list}[{i}]"))?);
        }
    }
    Ok(PolicyResult {
        policy_type,
        policy_domain,
        policy_strings,
        mx_hosts,
        successful_sessions,
        failed_sessions,
        failures,
    })
}

fn failure(value: &Value, at: &str) -> Result<FailureDetail, ReportError> {
    let detail = object(value, at)?;
    let result_text = text(detail, at, "result-type")?;
    let token = result_text
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !token || result_text.len() > 64 {
        return Err(ReportError::Invalid {
            field: format!("{at}.result-type"),
            problem: "is not a result-type token (lower-case letters, digits, '-')",
        });
    }
    let mx = optional_text(detail, at, "receiving-mx-hostname")?
        .map(|h| domain(&h, at, "receiving-mx-hostname"))
        .transpose()?;
    Ok(FailureDetail {
        result_type: ResultType::parse(&result_text),
        sending_mta_ip: ip(detail, at, "sending-mta-ip")?,
        receiving_mx_hostname: mx,
        receiving_mx_helo: optional_text(detail, at, "receiving-mx-helo")?,
        receiving_ip: ip(detail, at, "receiving-ip")?,
        failed_sessions: count(detail, at, "failed-session-count")?,
        additional_information: optional_text(detail, at, "additional-information")?,
        failure_reason_code: optional_text(detail, at, "failure-reason-code")?,
    })
}

fn path(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_string()
    } else {
        format!("{at}.{name}")
    }
}

fn wrong_type(field: &str, expected: &'static str) -> ReportError {
    ReportError::WrongType {
        field: field.to_string(),
        expected,
    }
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ReportError> {
    value.as_object().ok_or_else(|| wrong_type(at, "an object"))
}

fn field<'a>(map: &'a Map<String, Value>, at: &str, name: &str) -> Result<&'a Value, ReportError> {
    match map.get(name) {
        Some(Value::Null) | None => Err(ReportError::Missing(path(at, name))),
        Some(value) => Ok(value),
    }
}

fn array<'a>(
    map: &'a Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<&'a Vec<Value>, ReportError> {
    field(map, at, name)?
        .as_array()
        .ok_or_else(|| wrong_type(&path(at, name), "an array"))
}

fn text(map: &Map<String, Value>, at: &str, name: &str) -> Result<String, ReportError> {
    let value = field(map, at, name)?
        .as_str()
        .ok_or_else(|| wrong_type(&path(at, name), "a string"))?;
    bounded_text(value, &path(at, name))
}

fn bounded_text(value: &str, field: &str) -> Result<String, ReportError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ReportError::Invalid {
            field: field.to_string(),
            problem: "is empty",
        });
    }
    if value.len() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(ReportError::Invalid {
            field: field.to_string(),
            problem: "is longer than 1024 bytes or holds control characters",
        });
    }
    Ok(value.to_string())
}

fn optional_text(
    map: &Map<String, Value>,
    at: &str,
    name: &str,
) -> Result<Option<String>, ReportError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => text(map, at, name).map(Some),
    }
}

/// A list of strings, also when a sender sent one string; absent is empty.
fn optional_strings(
    map: &Map<String, Value>,
    at: &str,
    name: &str,
    limit: usize,
) -> Result<Vec<String>, ReportError> {
    let field_path = path(at, name);
    let values: Vec<&Value> = match map.get(name) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::String(_)) => vec![one],
        Some(_) => return Err(wrong_type(&field_path, "a string or an array of strings")),
    };
    if values.len() > limit {
        return Err(ReportError::TooMany {
            what: "list entries",
            limit,
        });
    }
    values
        .into_iter()
        .map(|v| {
            let s = v
                .as_str()
                .ok_or_else(|| wrong_type(&field_path, "an array of strings"))?;
            bounded_text(s, &field_path)
        })
        .collect()
}

fn count(map: &Map<String, Value>, at: &str, name: &str) -> Result<u64, ReportError> {
    field(map, at, name)?
        .as_u64()
        .ok_or_else(|| wrong_type(&path(at, name), "a non-negative integer"))
}

fn ip(map: &Map<String, Value>, at: &str, name: &str) -> Result<Option<IpAddr>, ReportError> {
    optional_text(map, at, name)?
        .map(|t| {
            t.parse::<IpAddr>().map_err(|_| ReportError::Invalid {
                field: path(at, name),
                problem: "is not an IP address",
            })
        })
        .transpose()
}

fn domain(text: &str, at: &str, name: &str) -> Result<String, ReportError> {
    normalize_domain(text).map_err(|_| ReportError::Invalid {
        field: path(at, name),
        problem: "is not a domain name",
    })
}

fn datetime(map: &Map<String, Value>, at: &str, name: &str) -> Result<UnixSeconds, ReportError> {
    let value = text(map, at, name)?;
    parse_rfc3339(&value).ok_or_else(|| ReportError::Invalid {
        field: path(at, name),
        problem: "is not an RFC 3339 date-time",
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (RFC 3339 5.6) as Unix seconds; `t`, `z` and a space
/// for `T` are accepted, as RFC 3339 allows. Fractions are dropped.
pub fn parse_rfc3339(text: &str) -> Option<UnixSeconds> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| b.get(i) != Some(&c))
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let o = rest.as_bytes();
            if o.len() != 6 || !matches!(o[0], b'+' | b'-') || o[3] != b':' {
                return None;
            }
            let (h, m): (i64, i64) = (rest[1..3].parse().ok()?, rest[4..6].parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if o[0] == b'-' { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
