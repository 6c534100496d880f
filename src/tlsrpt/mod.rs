//! TLS-RPT (RFC 8460): what sending MTAs report about their sessions to our domains, pure.
//!
//! Reports arrive over HTTPS (`crate::web`'s TLS-RPT listener) or by mail (`dane_exporter tlsrpt
//! ingest`, `crate::ingest`); both hand the bytes here: [`report_part`] finds the report in a
//! message, [`decode_body`] decompresses and bounds it, [`parse_report`] validates it against RFC
//! 8460 section 4 into a [`Report`]. The database (`crate::database`) stores reports and the
//! counters they add ([`contributions`]); [`SendersView`] adds up the latest reports of a domain
//! per receiving MX host, and [`correlate`] compares that view with a probe's MX facts. No I/O
//! here: every input is bytes, every bound is a [`Limits`] field.

mod correlate;
mod decode;
mod mail;
mod model;
mod parse;
#[cfg(test)]
mod tests;
mod text;
mod view;

pub use correlate::{correlate, side_by_side, HostComparison, ProbeView};
pub use decode::decode_body;
pub use mail::report_part;
pub use model::{FailureDetail, MediaType, PolicyResult, PolicyType, Report, ResultType};
pub use parse::{parse_report, parse_rfc3339};
pub use text::render;
pub use view::{
    contributions, report_domains, Contribution, FailureCount, HostFailures, SendersView,
    SessionResult, SessionTotal, SourceTotal, Totals, RECENT_SECONDS,
};

use crate::core::UnixSeconds;

/// Every bound on a report's way in. [`Default`] is what the exporter and `tlsrpt ingest` use.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest body (HTTPS) or report part (mail) taken, before decompression.
    pub max_compressed_bytes: usize,
    /// Largest JSON text, after decompression.
    pub max_json_bytes: usize,
    /// Largest decompressed-to-compressed ratio, once the output passes `ratio_floor_bytes`.
    pub max_ratio: usize,
    /// Output size below which the ratio is not checked (small reports compress very well).
    pub ratio_floor_bytes: usize,
    /// Deepest nesting of JSON arrays and objects (a report nests five deep).
    pub max_json_depth: usize,
    /// Most policies in one report.
    pub max_policies: usize,
    /// Most failure details in one report, all policies together.
    pub max_failure_details: usize,
    /// Most entries of `policy-string` or `mx-host`.
    pub max_list: usize,
    /// Longest date range.
    pub max_range_seconds: UnixSeconds,
    /// Largest mail message.
    pub max_message_bytes: usize,
    /// Most MIME parts in one message.
    pub max_mime_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_compressed_bytes: 1 << 20,
            max_json_bytes: 8 << 20,
            max_ratio: 100,
            ratio_floor_bytes: 1 << 20,
            max_json_depth: 8,
            max_policies: 100,
            max_failure_details: 10_000,
            max_list: 1_000,
            max_range_seconds: 31 * 86_400,
            max_message_bytes: 4 << 20,
            max_mime_parts: 32,
        }
    }
}

/// Why a report was refused. Every variant's text is what a sender (or Postfix's bounce) sees.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The body or message is larger than its bound.
    #[error("too large: {bytes} bytes, at most {limit} are accepted")]
    TooLarge {
        /// Size received.
        bytes: usize,
        /// The bound.
        limit: usize,
    },
    /// An `application/tlsrpt+gzip` body that is not gzip.
    #[error("not gzip data (application/tlsrpt+gzip must be gzip-compressed JSON)")]
    NotGzip,
    /// The gzip stream ends before its end.
    #[error("truncated gzip stream")]
    GzipTruncated,
    /// The gzip stream is damaged (bad header, deflate data or checksum).
    #[error("corrupt gzip stream: {0}")]
    GzipCorrupt(String),
    /// Decompressed, the report is larger than its bound.
    #[error("decompressed report larger than {limit} bytes")]
    DecompressedTooLarge {
        /// The bound.
        limit: usize,
    },
    /// Decompressed, the report is more than `limit` times its compressed size: a gzip bomb.
    #[error("decompresses to more than {limit} times its size (a gzip bomb?)")]
    RatioTooHigh {
        /// The bound.
        limit: usize,
    },
    /// Arrays and objects nest deeper than a report does.
    #[error("JSON nested deeper than {limit} levels")]
    TooDeep {
        /// The bound.
        limit: usize,
    },
    /// Not JSON.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// A required field is missing (RFC 8460 4.4).
    #[error("required field {0} is missing")]
    Missing(String),
    /// A field has the wrong JSON type.
    #[error("field {field} must be {expected}")]
    WrongType {
        /// Where.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A field has a value RFC 8460 does not allow.
    #[error("field {field} {problem}")]
    Invalid {
        /// Where.
        field: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// The date range is not a plausible report period.
    #[error("date-range: {0}")]
    DateRange(&'static str),
    /// A list is longer than its bound.
    #[error("more than {limit} {what}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// The bytes are no RFC 5322 message.
    #[error("not an RFC 5322 message")]
    NotAMessage,
    /// The message is not `multipart/report; report-type=tlsrpt` (RFC 8460 5.3).
    #[error("not a TLS-RPT message: the top part must be multipart/report; report-type=tlsrpt")]
    NotAReportMessage,
    /// No `application/tlsrpt+gzip` or `application/tlsrpt+json` part.
    #[error("no application/tlsrpt+gzip or application/tlsrpt+json part")]
    NoReportPart,
    /// More than one report part.
    #[error("more than one report part")]
    SeveralReportParts,
}
