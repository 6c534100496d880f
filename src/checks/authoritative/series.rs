//! The authoritative check's series: per zone whether its nameservers agree and its warnings,
//! per nameserver address its serial, signatures and RRsets.

use super::report::ZoneReport;
use crate::core::sink::{flag, join};
use crate::core::Sink;

/// The authoritative consistency series of every zone .
pub fn add(f: &mut dyn Sink, base: &[(&str, &str)], zones: &[ZoneReport]) {
    for zone in zones {
        let z = join(base, &[("zone", &zone.zone)]);
        f.gauge("dane_zone_consistent", &z, flag(zone.consistent));
        for warning in &zone.warnings {
            f.gauge(
                "dane_zone_warning_info",
                &join(&z, &[("reason", warning.reason.as_str())]),
                1.0,
            );
        }
        // A server the exporter's host cannot route to was not asked: no series, no alert.
        for server in zone.nameservers.iter().filter(|n| n.skipped.is_none()) {
            let address = server.address.to_string();
            let at = join(
                &z,
                &[("nameserver", &server.nameserver), ("address", &address)],
            );
            f.gauge("dane_nameserver_consistent", &at, flag(server.consistent));
            if let Some(serial) = server.serial {
                f.gauge("dane_nameserver_soa_serial", &at, f64::from(serial));
            }
            if server.error.is_none() {
                f.gauge(
                    "dane_nameserver_signatures_valid",
                    &at,
                    flag(server.signatures_valid),
                );
            }
            for rrset in &server.rrsets {
                f.gauge(
                    "dane_nameserver_rrset_match",
                    &join(
                        &at,
                        &[("name", &rrset.key.name), ("type", &rrset.key.rtype)],
                    ),
                    flag(rrset.matches),
                );
            }
        }
    }
}
