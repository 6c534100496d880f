//! Where the checks hand their metric series: one [`Sink`] trait, so every check writes series
//! the same way and `crate::metrics` decides what becomes of them (text exposition, protobuf
//! families for tests).
//!
//! A check's `series` part calls [`Sink::gauge`] with a metric name from `crate::metrics`' table,
//! the labels (the target's base labels first, then its own) and the value, or
//! [`Sink::countdown`] for a time left, which the sink counts when the series is read.

/// Receives gauge series.
pub trait Sink {
    /// One gauge series; labels with an empty value are left out.
    fn gauge(&mut self, name: &'static str, labels: &[(&str, &str)], value: f64);

    /// One gauge of the seconds left until `until` (Unix seconds; 0 once past, and for `None`),
    /// counted when the series is read: a scrape between two probes sees it fall, never a
    /// figure as old as the probe.
    fn countdown(&mut self, name: &'static str, labels: &[(&str, &str)], until: Option<i64>);
}

/// `base` followed by `extra`.
pub fn join<'a>(
    base: &[(&'a str, &'a str)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut labels = Vec::with_capacity(base.len() + extra.len());
    labels.extend_from_slice(base);
    labels.extend_from_slice(extra);
    labels
}

/// One `*_info` series (value 1) of `finding` after `base`: its reason, MX host and address,
/// the last two left out when the finding has none.
pub fn finding_info(
    f: &mut dyn Sink,
    name: &'static str,
    base: &[(&str, &str)],
    finding: &crate::core::Finding,
) {
    let address = finding.address.map(|a| a.to_string()).unwrap_or_default();
    let own = [
        ("reason", finding.reason.as_str()),
        ("mx", finding.mx.as_deref().unwrap_or("")),
        ("address", address.as_str()),
    ];
    f.gauge(name, &join(base, &own), 1.0);
}

/// The label values naming one TLSA record on its state series (`usage`, `selector`, `mtype`,
/// `digest`): bounded, where the whole RDATA of a full-certificate record is kilobytes.
pub struct RecordLabels {
    usage: String,
    selector: String,
    mtype: String,
    digest: String,
}

impl RecordLabels {
    /// The labels of `record`.
    pub fn of(record: &crate::core::TlsaRecord) -> Self {
        let (usage, selector, mtype) = record.params();
        RecordLabels {
            usage: usage.to_string(),
            selector: selector.to_string(),
            mtype: mtype.to_string(),
            digest: record.digest_label(),
        }
    }

    /// As label pairs.
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            ("usage", &self.usage),
            ("selector", &self.selector),
            ("mtype", &self.mtype),
            ("digest", &self.digest),
        ]
    }
}

/// 1 for true, 0 for false: the value of a boolean gauge.
pub fn flag(value: bool) -> f64 {
    if value {
        1.0
    } else {
        0.0
    }
}
