//! Whether this host can open SMTP connections at all: the monitoring host's own egress.
//!
//! Clouds commonly block outgoing port 25, and a host may lose its route. Then every domain's
//! SMTP connects fail, and each would read as the domain's failure. What tells the two apart is
//! that the failures are the same everywhere: every address of every MX host, in one round of
//! probes, failed to connect in the same way, and none connected.
//!
//! - [`ConnectOutcome::of`]: the TCP connect of one session (from its result): it connected
//!   (whatever came after), or failed with a [`ConnectFailure`] class.
//! - [`EgressWindow`]: the latest connect outcome per address over a window (one round: the
//!   shortest target interval, twice over), judged by [`EgressWindow::state`].
//! - [`judge`]: the same rule over any set of outcomes (`dane_exporter check` uses one report's).
//!
//! The rule ([`judge`]): blocked when at least [`MIN_ADDRESSES`] distinct addresses were tried,
//! none connected, and all failed with one class of [`ConnectFailure::EGRESS`]: no route
//! (`ENETUNREACH`, `EHOSTUNREACH`), refused by the local firewall (`EPERM`, `EACCES`), or a connect
//! timeout (a firewall that drops). A refused connection (`ECONNREFUSED`) never counts: a server's
//! reset proves the packets get out. Up as soon as one connect succeeded. Unknown otherwise (no
//! connect tried, too few addresses, mixed failures).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::core::{MxReport, SmtpError, SmtpStage};

/// Fewest distinct addresses that must have failed alike before egress is called blocked: one
/// dead server is its own business.
pub const MIN_ADDRESSES: usize = 2;

/// How a TCP connect failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectFailure {
    /// No route to the address (`ENETUNREACH`, `EHOSTUNREACH`).
    Unreachable,
    /// Refused by this host's own packet filter (`EPERM`, `EACCES`).
    Prohibited,
    /// No answer within the connect timeout (a filter that drops).
    Timeout,
    /// The peer (or a filter) answered with a reset (`ECONNREFUSED`).
    Refused,
    /// Anything else.
    Other,
}

impl ConnectFailure {
    /// The classes that can mean this host's egress is blocked.
    pub const EGRESS: [ConnectFailure; 3] = [
        ConnectFailure::Unreachable,
        ConnectFailure::Prohibited,
        ConnectFailure::Timeout,
    ];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectFailure::Unreachable => "unreachable",
            ConnectFailure::Prohibited => "prohibited",
            ConnectFailure::Timeout => "timeout",
            ConnectFailure::Refused => "refused",
            ConnectFailure::Other => "other",
        }
    }

    /// A phrase for humans.
    pub fn text(self) -> &'static str {
        match self {
            ConnectFailure::Unreachable => "no route to the address",
            ConnectFailure::Prohibited => "refused by this host's packet filter",
            ConnectFailure::Timeout => "no answer to the connect (dropped)",
            ConnectFailure::Refused => "connection refused",
            ConnectFailure::Other => "connect failed",
        }
    }

    /// The class of a connect error's text: `std::io::Error` shows an OS error as
    /// "... (os error N)", which is what the SMTP session keeps of it.
    fn of_detail(detail: &str) -> Self {
        let code = detail
            .rsplit_once("(os error ")
            .and_then(|(_, rest)| rest.strip_suffix(')'))
            .and_then(|n| n.trim().parse::<i32>().ok());
        match code {
            // Linux errno values: ENETUNREACH 101, EHOSTUNREACH 113, EPERM 1, EACCES 13,
            // ETIMEDOUT 110, ECONNREFUSED 111.
            Some(101 | 113) => ConnectFailure::Unreachable,
            Some(1 | 13) => ConnectFailure::Prohibited,
            Some(110) => ConnectFailure::Timeout,
            Some(111) => ConnectFailure::Refused,
            _ => ConnectFailure::Other,
        }
    }
}

/// The TCP connect of one SMTP session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// The connection was made (whatever happened after).
    Connected,
    /// It was not.
    Failed(ConnectFailure),
}

impl ConnectOutcome {
    /// The connect of a session that ended with `error` (`None`: it completed).
    pub fn of(error: Option<&SmtpError>) -> Self {
        match error {
            Some(SmtpError::Connect { detail }) => {
                ConnectOutcome::Failed(ConnectFailure::of_detail(detail))
            }
            // No route from this host (ENETUNREACH, or the address family not configured here).
            Some(SmtpError::NoRoute { .. }) => ConnectOutcome::Failed(ConnectFailure::Unreachable),
            Some(SmtpError::Timeout {
                stage: SmtpStage::Connect,
            }) => ConnectOutcome::Failed(ConnectFailure::Timeout),
            _ => ConnectOutcome::Connected,
        }
    }
}

/// What the connects say about this host's egress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Egress {
    /// A connect succeeded.
    Up,
    /// At least [`MIN_ADDRESSES`] addresses failed alike and none connected.
    Blocked {
        /// How they failed.
        failure: ConnectFailure,
        /// How many distinct addresses.
        addresses: usize,
    },
    /// Nothing to go by.
    Unknown,
}

/// The rule of the module doc over `(address, outcome)` pairs (several per address allowed).
pub fn judge<'a>(outcomes: impl IntoIterator<Item = (&'a IpAddr, &'a ConnectOutcome)>) -> Egress {
    let mut failures: HashMap<IpAddr, ConnectFailure> = HashMap::new();
    for (address, outcome) in outcomes {
        match outcome {
            ConnectOutcome::Connected => return Egress::Up,
            ConnectOutcome::Failed(failure) => {
                failures.insert(*address, *failure);
            }
        }
    }
    let mut classes = failures.values();
    let Some(&first) = classes.next() else {
        return Egress::Unknown;
    };
    if failures.len() >= MIN_ADDRESSES
        && ConnectFailure::EGRESS.contains(&first)
        && classes.all(|c| *c == first)
    {
        Egress::Blocked {
            failure: first,
            addresses: failures.len(),
        }
    } else {
        Egress::Unknown
    }
}

/// The connect of every SMTP session of one probe's MX facts (key-algorithm sessions included).
pub fn report_outcomes(report: &MxReport) -> Vec<(IpAddr, ConnectOutcome)> {
    let mut outcomes = Vec::new();
    for endpoint in report.hosts.iter().flat_map(|h| h.endpoints.iter()) {
        outcomes.push((
            endpoint.address,
            ConnectOutcome::of(endpoint.session.error()),
        ));
        for extra in &endpoint.key_algorithms {
            if let crate::core::KeyAlgorithmState::Failed { error } = &extra.state {
                outcomes.push((endpoint.address, ConnectOutcome::of(Some(error))));
            } else if !extra.from_main_session {
                outcomes.push((endpoint.address, ConnectOutcome::Connected));
            }
        }
    }
    outcomes
}

/// The latest connect outcome per address within a window: one round of probes.
#[derive(Debug)]
pub struct EgressWindow {
    window: Duration,
    latest: HashMap<IpAddr, (Instant, ConnectOutcome)>,
}

impl EgressWindow {
    /// Keeps outcomes for `window` (twice the shortest target interval is one round with room).
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            latest: HashMap::new(),
        }
    }

    /// Changes the window (a reload changed the intervals).
    pub fn set_window(&mut self, window: Duration) {
        self.window = window;
    }

    /// Records the outcomes of one probe, seen at `at`.
    pub fn observe(&mut self, outcomes: &[(IpAddr, ConnectOutcome)], at: Instant) {
        // Within one probe a success at an address wins over a failure there.
        for (address, outcome) in outcomes {
            let keep_success = matches!(
                self.latest.get(address),
                Some((seen, ConnectOutcome::Connected)) if *seen == at
            );
            if !keep_success {
                self.latest.insert(*address, (at, *outcome));
            }
        }
    }

    /// The state at `now`, over the outcomes not older than the window.
    pub fn state(&mut self, now: Instant) -> Egress {
        let window = self.window;
        self.latest
            .retain(|_, (seen, _)| now.saturating_duration_since(*seen) <= window);
        judge(self.latest.iter().map(|(a, (_, o))| (a, o)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    fn failed(detail: &str) -> ConnectOutcome {
        ConnectOutcome::of(Some(&SmtpError::Connect {
            detail: detail.into(),
        }))
    }

    #[test]
    fn connect_errors_are_classified_by_their_os_error() {
        assert_eq!(
            failed("Network is unreachable (os error 101)"),
            ConnectOutcome::Failed(ConnectFailure::Unreachable)
        );
        assert_eq!(
            failed("No route to host (os error 113)"),
            ConnectOutcome::Failed(ConnectFailure::Unreachable)
        );
        assert_eq!(
            ConnectOutcome::of(Some(&SmtpError::NoRoute {
                detail: "Network is unreachable (os error 101)".into()
            })),
            ConnectOutcome::Failed(ConnectFailure::Unreachable)
        );
        assert_eq!(
            failed("Operation not permitted (os error 1)"),
            ConnectOutcome::Failed(ConnectFailure::Prohibited)
        );
        assert_eq!(
            failed("Connection refused (os error 111)"),
            ConnectOutcome::Failed(ConnectFailure::Refused)
        );
        assert_eq!(
            failed("something else"),
            ConnectOutcome::Failed(ConnectFailure::Other)
        );
        assert_eq!(
            ConnectOutcome::of(Some(&SmtpError::Timeout {
                stage: SmtpStage::Connect
            })),
            ConnectOutcome::Failed(ConnectFailure::Timeout)
        );
        // A timeout after the connect, or any later failure, means the connect worked.
        assert_eq!(
            ConnectOutcome::of(Some(&SmtpError::Timeout {
                stage: SmtpStage::Banner
            })),
            ConnectOutcome::Connected
        );
        assert_eq!(
            ConnectOutcome::of(Some(&SmtpError::StarttlsNotOffered)),
            ConnectOutcome::Connected
        );
        assert_eq!(ConnectOutcome::of(None), ConnectOutcome::Connected);
    }

    #[test]
    fn blocked_only_when_enough_addresses_fail_alike() {
        let unreachable = ConnectOutcome::Failed(ConnectFailure::Unreachable);
        let timeout = ConnectOutcome::Failed(ConnectFailure::Timeout);
        let refused = ConnectOutcome::Failed(ConnectFailure::Refused);
        let (a, b, c) = (addr(1), addr(2), addr(3));
        assert_eq!(judge([]), Egress::Unknown);
        // One address twice is still one address.
        assert_eq!(
            judge([(&a, &unreachable), (&a, &unreachable)]),
            Egress::Unknown
        );
        assert_eq!(
            judge([(&a, &unreachable), (&b, &unreachable)]),
            Egress::Blocked {
                failure: ConnectFailure::Unreachable,
                addresses: 2
            }
        );
        assert_eq!(
            judge([(&a, &unreachable), (&b, &timeout)]),
            Egress::Unknown,
            "mixed failures are the servers'"
        );
        assert_eq!(
            judge([(&a, &refused), (&b, &refused)]),
            Egress::Unknown,
            "a reset proves the packets got out"
        );
        assert_eq!(
            judge([
                (&a, &timeout),
                (&b, &timeout),
                (&c, &ConnectOutcome::Connected)
            ]),
            Egress::Up
        );
    }

    #[test]
    fn the_window_keeps_the_latest_outcome_per_address_for_one_round() {
        let start = Instant::now();
        let later = |s: u64| start + Duration::from_secs(s);
        let unreachable = ConnectOutcome::Failed(ConnectFailure::Unreachable);
        let mut window = EgressWindow::new(Duration::from_secs(20));
        window.observe(
            &[
                (addr(1), ConnectOutcome::Connected),
                (addr(2), ConnectOutcome::Connected),
            ],
            start,
        );
        assert_eq!(window.state(later(1)), Egress::Up);
        // Egress breaks: address 1 is re-probed and fails; address 2's success still stands.
        window.observe(&[(addr(1), unreachable)], later(5));
        assert_eq!(window.state(later(6)), Egress::Up);
        // Once address 2 failed too, the round is all failures.
        window.observe(&[(addr(2), unreachable)], later(10));
        assert!(matches!(
            window.state(later(11)),
            Egress::Blocked { addresses: 2, .. }
        ));
        // Old outcomes leave the window: nothing to go by.
        assert_eq!(window.state(later(40)), Egress::Unknown);
        // Within one probe a success at an address wins over a failure there.
        window.observe(
            &[(addr(3), ConnectOutcome::Connected), (addr(3), unreachable)],
            later(41),
        );
        assert_eq!(window.state(later(41)), Egress::Up);
    }
}
