//! Time as the reports hold it: Unix seconds, and the two ways a human report shows them.
//!
//! Every deadline in the crate (RRSIG expirations, certificate notAfter, divergence) is a
//! [`UnixSeconds`]; metrics expose them as `_timestamp_seconds`, `dane_exporter check` prints them
//! with [`format_time`] and [`days_from`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the time unit of every deadline in this crate.
pub type UnixSeconds = i64;

/// The current time in Unix seconds.
pub fn unix_now() -> UnixSeconds {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as UnixSeconds)
        .unwrap_or(0)
}

/// "in 12.3 days" or "3.0 days ago".
pub fn days_from(now: UnixSeconds, then: UnixSeconds) -> String {
    let days = (then - now) as f64 / 86_400.0;
    if days >= 0.0 {
        format!("in {days:.1} days")
    } else {
        format!("{:.1} days ago", -days)
    }
}

/// RFC 3339 in UTC, to the second; the number itself when it is before the epoch.
pub fn format_time(t: UnixSeconds) -> String {
    let Ok(secs) = u64::try_from(t) else {
        return t.to_string();
    };
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}
