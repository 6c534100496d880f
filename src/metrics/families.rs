//! The probe series as protobuf metric families (the prometheus crate's types): what tests
//! compare the text encoder with, and tools that want objects use.

use std::collections::BTreeMap;

use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use super::encoder::seconds_left;
use super::report::{add_report, LabelledReport};
use super::table::PROBE_METRICS;
use crate::core::time::unix_now;
use crate::core::Sink;

/// Collects series per metric name, then hands them out as families.
struct Families {
    series: BTreeMap<&'static str, Vec<Metric>>,
}

impl Families {
    fn new() -> Self {
        Self {
            series: BTreeMap::new(),
        }
    }
}

impl Sink for Families {
    fn gauge(&mut self, name: &'static str, labels: &[(&str, &str)], value: f64) {
        let mut gauge = Gauge::default();
        gauge.set_value(value);
        let mut metric = Metric::from_gauge(gauge);
        metric.set_label(
            labels
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| {
                    let mut pair = LabelPair::default();
                    pair.set_name((*k).to_string());
                    pair.set_value((*v).to_string());
                    pair
                })
                .collect(),
        );
        self.series.entry(name).or_default().push(metric);
    }

    fn countdown(&mut self, name: &'static str, labels: &[(&str, &str)], until: Option<i64>) {
        self.gauge(name, labels, seconds_left(until, unix_now()));
    }
}

impl Families {
    fn into_families(mut self) -> Vec<MetricFamily> {
        PROBE_METRICS
            .iter()
            .filter_map(|(name, help)| {
                let metrics = self.series.remove(name)?;
                let mut family = MetricFamily::default();
                family.set_name((*name).to_string());
                family.set_help((*help).to_string());
                family.set_field_type(MetricType::GAUGE);
                family.set_metric(metrics);
                Some(family)
            })
            .collect()
    }
}

/// Builds the probe metric families for `reports`.
pub fn probe_families(reports: &[LabelledReport<'_>]) -> Vec<MetricFamily> {
    let mut families = Families::new();
    for item in reports {
        add_report(&mut families, item);
    }
    families.into_families()
}
