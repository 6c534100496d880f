//! The local-certificate check's series, per MX host, slot and key algorithm.

use super::report::{algorithm_label, same_series, LocalCertReport};
use crate::core::sink::flag;
use crate::core::Sink;

/// The series of one report's local certificates, labelled `mx` and `slot` after `base`.
pub fn add(f: &mut dyn Sink, base: &[(&str, &str)], certs: &[LocalCertReport]) {
    for (i, cert) in certs.iter().enumerate() {
        // Unreadable files have no series; of two with the same labels the first counts (see the
        // `local_certificate_ambiguous` warning).
        if cert.leaf.is_none()
            || certs[..i]
                .iter()
                .any(|c| c.leaf.is_some() && same_series(c, cert))
        {
            continue;
        }
        let mut labels = base.to_vec();
        labels.push(("mx", &cert.mx));
        labels.push(("slot", cert.slot.as_str()));
        labels.push(("key_algorithm", algorithm_label(cert.key_algorithm)));
        if let Some(leaf) = &cert.leaf {
            f.gauge(
                "dane_local_certificate_not_after_timestamp_seconds",
                &labels,
                leaf.not_after as f64,
            );
        }
        if let Some(served) = cert.served {
            f.gauge("dane_local_certificate_served", &labels, flag(served));
        }
        let Some(tlsa) = &cert.tlsa else { continue };
        f.gauge(
            "dane_local_certificate_tlsa_match",
            &labels,
            flag(tlsa.matches),
        );
        f.gauge(
            "dane_local_certificate_safe_to_deploy",
            &labels,
            flag(tlsa.safe_to_deploy),
        );
        if let Some(seconds) = tlsa.published_seconds {
            f.gauge(
                "dane_local_certificate_published_seconds",
                &labels,
                seconds as f64,
            );
        }
        if let Some(seconds) = tlsa.required_seconds {
            f.gauge(
                "dane_local_certificate_required_publication_seconds",
                &labels,
                seconds as f64,
            );
        }
    }
}
