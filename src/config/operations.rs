//! The `global` keys of the operational checks (authoritative consistency, TLSA/DNSSEC hygiene,
//! the extra key-algorithm sessions), as the file sets them.
//!
//! Parsed by `reader.rs` with the other `global` keys; [`super::Config::resolve`] turns them into
//! each target's `authoritative`, `hygiene` and `key_algorithms` settings.

use crate::checks::authoritative::HygieneLimits;
use crate::core::Direction;

/// Which targets, by direction, get a check that costs their servers extra traffic
/// (`authoritative_checks`: queries to their nameservers; `key_algorithm_checks`: a second SMTP
/// session per endpoint). Outbound targets are other organisations' servers, and what such a
/// check finds only they can fix, so by default only our own (inbound) targets get it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DirectionScope {
    /// Never.
    None,
    /// Inbound targets only (our own domains: what the check finds is ours to fix). The default.
    #[default]
    Inbound,
    /// Inbound and outbound targets.
    All,
}

impl DirectionScope {
    /// The accepted spellings, in the file.
    pub const NAMES: [&'static str; 3] = ["none", "inbound", "all"];

    /// Parses one of [`Self::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "inbound" => Some(Self::Inbound),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    /// Whether targets of `direction` are in the scope.
    pub fn covers(self, direction: Direction) -> bool {
        match self {
            Self::None => false,
            Self::Inbound => direction == Direction::Inbound,
            Self::All => true,
        }
    }
}

/// The operational checks' settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationsConfig {
    /// Whose zones get their authoritative nameservers asked directly.
    pub authoritative_checks: DirectionScope,
    /// Whose endpoints get the extra STARTTLS session per key algorithm the normal session did
    /// not show (`crate::checks::key_algorithms`).
    pub key_algorithm_checks: DirectionScope,
    /// Port the authoritative nameservers are asked on. NS records carry no port, so this is 53
    /// everywhere but in tests, whose nameservers listen on unprivileged loopback ports.
    pub authoritative_port: u16,
    /// Thresholds of the hygiene warnings.
    pub hygiene: HygieneLimits,
}

impl Default for OperationsConfig {
    fn default() -> Self {
        Self {
            authoritative_checks: DirectionScope::default(),
            key_algorithm_checks: DirectionScope::default(),
            authoritative_port: 53,
            hygiene: HygieneLimits::default(),
        }
    }
}

impl OperationsConfig {
    /// Whether targets of `direction` get the authoritative checks.
    pub fn authoritative_for(&self, direction: Direction) -> bool {
        self.authoritative_checks.covers(direction)
    }

    /// Whether targets of `direction` get the extra key-algorithm sessions.
    pub fn key_algorithms_for(&self, direction: Direction) -> bool {
        self.key_algorithm_checks.covers(direction)
    }
}
