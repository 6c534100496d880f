//! The `dane_service_*` series of one domain's services, from its `ServiceReport`s.
//!
//! Called by `crate::metrics` with the target's base labels (domain, direction, extra labels);
//! names and help texts are in `crate::metrics`' table with all others. Each
//! series adds `host`, `port` and `protocol`, and per endpoint `address`, so a service on the MX
//! host never collides with the MX series.

use super::report::ServiceReport;
use crate::core::sink::{flag, join, RecordLabels};
use crate::core::{EndpointOutcome, HostDane, Sink, Verdict};

/// Adds the series of `services` to `f`.
pub fn add(f: &mut dyn Sink, base: &[(&str, &str)], services: &[ServiceReport]) {
    for service in services {
        let port = service.facts.port.to_string();
        let at_service = join(
            base,
            &[
                ("host", &service.facts.host),
                ("port", &port),
                ("protocol", service.facts.protocol.as_str()),
            ],
        );
        f.gauge(
            "dane_service_success",
            &at_service,
            flag(service.verdict != Verdict::Fail),
        );
        // The current state only, as for the MX (see `crate::metrics`).
        f.gauge(
            "dane_service_verdict",
            &join(&at_service, &[("verdict", service.verdict.as_str())]),
            1.0,
        );
        f.gauge(
            "dane_service_dane_state",
            &join(&at_service, &[("state", service.facts.dane.as_str())]),
            1.0,
        );
        for (name, findings) in [
            ("dane_service_failure_info", &service.failures),
            ("dane_service_warning_info", &service.warnings),
        ] {
            for finding in findings {
                let address = finding.address.map(|a| a.to_string()).unwrap_or_default();
                f.gauge(
                    name,
                    &join(
                        &at_service,
                        &[("reason", finding.reason.as_str()), ("address", &address)],
                    ),
                    1.0,
                );
            }
        }
        if service.facts.dane == HostDane::Applies {
            f.gauge(
                "dane_service_tlsa_records",
                &at_service,
                service.facts.tlsa_records.len() as f64,
            );
            let expiration = service
                .facts
                .tlsa_lookups
                .iter()
                .filter_map(|l| l.signature_expiration)
                .min();
            if let Some(expiration) = expiration {
                f.gauge(
                    "dane_service_tlsa_expiration_timestamp_seconds",
                    &at_service,
                    expiration as f64,
                );
            }
        }
        for endpoint in &service.facts.endpoints {
            let address = endpoint.address.to_string();
            let at = join(&at_service, &[("address", &address)]);
            if let Some(offered) = endpoint.session.starttls_offered() {
                f.gauge("dane_service_starttls_offered", &at, flag(offered));
            }
            if let Some(leaf) = endpoint.chain.first() {
                f.gauge(
                    "dane_service_certificate_not_after_timestamp_seconds",
                    &at,
                    leaf.not_after as f64,
                );
            }
            f.gauge(
                "dane_service_duration_seconds",
                &at,
                endpoint.duration_seconds,
            );
            if service.facts.dane != HostDane::Applies {
                continue;
            }
            let evaluation = endpoint.evaluation.as_ref();
            f.gauge(
                "dane_service_tlsa_match",
                &at,
                flag(evaluation.is_some_and(|e| e.passes())),
            );
            let Some(evaluation) = evaluation else {
                continue;
            };
            if let (Some(divergence), false) = (
                evaluation.divergence,
                matches!(evaluation.outcome, EndpointOutcome::NoUsableRecords),
            ) {
                f.gauge(
                    "dane_service_divergence_timestamp_seconds",
                    &at,
                    divergence as f64,
                );
            }
            for result in &evaluation.records {
                let record = RecordLabels::of(&result.record);
                let mut labels = join(&at, &record.pairs());
                labels.push(("state", result.state.label()));
                f.gauge("dane_service_tlsa_record_state", &labels, 1.0);
            }
        }
    }
}
