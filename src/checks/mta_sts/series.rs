//! The MTA-STS and TLS-RPT series: policy validity, mode, max_age, MX coverage, each MX
//! certificate under WebPKI validation, and one series per problem.

use super::report::{MtaStsReport, TlsRptReport};
use crate::core::sink::{finding_info, flag, join};
use crate::core::Sink;

/// The MTA-STS and TLS-RPT series of one target (none when they are not checked for it).
pub fn add(
    f: &mut dyn Sink,
    base: &[(&str, &str)],
    mta_sts: Option<&MtaStsReport>,
    tls_rpt: Option<&TlsRptReport>,
) {
    if let Some(sts) = mta_sts {
        f.gauge("dane_mta_sts_policy_valid", base, flag(sts.valid));
        if let Some(policy) = &sts.policy {
            f.gauge(
                "dane_mta_sts_mode",
                &join(base, &[("mode", policy.mode.as_str())]),
                1.0,
            );
            f.gauge("dane_mta_sts_max_age_seconds", base, policy.max_age as f64);
        }
        if let Some(seconds) = sts.fetch_duration_seconds {
            f.gauge("dane_mta_sts_policy_fetch_duration_seconds", base, seconds);
        }
        // Without a policy no sender checks coverage or certificates the MTA-STS way: a 0 there
        // would only alarm.
        let hosts = if sts.policy.is_some() {
            &sts.hosts[..]
        } else {
            &[]
        };
        for host in hosts {
            f.gauge(
                "dane_mta_sts_mx_covered",
                &join(base, &[("mx", &host.name)]),
                flag(host.covered_by.is_some()),
            );
            for endpoint in &host.endpoints {
                let address = endpoint.address.to_string();
                f.gauge(
                    "dane_mta_sts_certificate_valid",
                    &join(base, &[("mx", &host.name), ("address", &address)]),
                    flag(endpoint.certificate_valid),
                );
            }
        }
        for finding in &sts.findings {
            finding_info(f, "dane_mta_sts_problem_info", base, finding);
        }
    }
    if let Some(rpt) = tls_rpt {
        f.gauge("dane_tls_rpt_valid", base, flag(rpt.valid));
        for finding in &rpt.findings {
            f.gauge(
                "dane_tls_rpt_problem_info",
                &join(base, &[("reason", finding.reason.as_str())]),
                1.0,
            );
        }
    }
}
