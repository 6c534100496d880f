//! Which nameservers to ask: the configured ones, or those of `/etc/resolv.conf`.
//!
//! Both backends start here. Data comes from [`DnsSettings::nameservers`] or, when that is empty,
//! from the `nameserver` lines of the system resolver configuration, read here rather than by
//! hickory so that nothing else in that file (search domains, ndots, options) changes what a name
//! means.
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::settings::{DnsSettings, DnsSetupError};

/// Where the system resolver configuration lives.
pub(super) const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The nameservers of `settings`, or of `/etc/resolv.conf` when none are configured.
pub(super) fn nameservers(settings: &DnsSettings) -> Result<Vec<SocketAddr>, DnsSetupError> {
    if !settings.nameservers.is_empty() {
        return Ok(settings.nameservers.clone());
    }
    from_file(Path::new(RESOLV_CONF))
}

/// Reads the `nameserver` lines of a resolv.conf-style file.
pub(super) fn from_file(path: &Path) -> Result<Vec<SocketAddr>, DnsSetupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| DnsSetupError::SystemConfig(format!("{}: {e}", path.display())))?;
    let servers = parse_resolv_conf(&text);
    if servers.is_empty() {
        return Err(DnsSetupError::SystemConfig(format!(
            "{}: no usable nameserver line",
            path.display()
        )));
    }
    Ok(servers)
}

/// The addresses of the `nameserver` lines, on port 53. Lines that do not parse are skipped, as
/// the C library does; an IPv6 zone index (`fe80::1%eth0`) cannot be expressed in a
/// `SocketAddr` without the interface index, so such lines are skipped too.
pub(super) fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("nameserver"), Some(address)) => address.parse::<IpAddr>().ok(),
                _ => None,
            }
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nameserver_lines_only() {
        let text = "# generated\nsearch example.com\nnameserver 127.0.0.53\nnameserver ::1 # local\n\
                    nameserver fe80::1%eth0\nnameserver bogus\n  nameserver\t10.0.0.1\noptions edns0\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "127.0.0.53:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                "10.0.0.1:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn empty_or_missing_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resolv.conf");
        std::fs::write(&path, "search example.com\n").unwrap();
        assert!(matches!(
            from_file(&path),
            Err(DnsSetupError::SystemConfig(_))
        ));
        let missing = dir.path().join("nope");
        assert!(matches!(
            from_file(&missing),
            Err(DnsSetupError::SystemConfig(_))
        ));
    }

    #[test]
    fn configured_servers_win() {
        let settings = DnsSettings {
            nameservers: vec!["127.0.0.1:5353".parse().unwrap()],
            ..DnsSettings::default()
        };
        assert_eq!(nameservers(&settings).unwrap(), settings.nameservers);
    }
}
