//! The key-algorithm check's series: `dane_key_algorithm_offered` and
//! `dane_key_algorithm_tlsa_match` per endpoint and algorithm.

use crate::core::sink::{flag, join};
use crate::core::{MxReport, Sink};

/// Adds the series of every endpoint of `mx` after the target's base labels `base`.
pub fn add(f: &mut dyn Sink, base: &[(&str, &str)], mx: &MxReport) {
    for host in &mx.hosts {
        for endpoint in &host.endpoints {
            let address = endpoint.address.to_string();
            let at = join(base, &[("mx", &host.name), ("address", &address)]);
            for report in &endpoint.key_algorithms {
                let labels = join(&at, &[("key_algorithm", report.key_algorithm.as_str())]);
                if let Some(offered) = report.offered() {
                    f.gauge("dane_key_algorithm_offered", &labels, flag(offered));
                }
                if let Some(evaluation) = report.evaluation() {
                    f.gauge(
                        "dane_key_algorithm_tlsa_match",
                        &labels,
                        flag(evaluation.passes()),
                    );
                }
            }
        }
    }
}
