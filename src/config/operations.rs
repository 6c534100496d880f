//! The `global` keys of the operational checks (authoritative consistency and TLSA/DNSSEC
//! hygiene): what `crate::consistency` and `crate::hygiene` take, as the file sets it.
//!
//! Parsed by `reader.rs` with the other `global` keys; copied into every [`super::Target`], where
//! the scheduler's prober turns it into `crate::consistency::OperationsSettings`.

use crate::hygiene::HygieneLimits;
use crate::report::Direction;

/// Whose zones get their authoritative nameservers asked directly (`authoritative_checks`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthoritativeChecks {
    /// Never.
    None,
    /// Inbound targets only (our own zones: their consistency is ours to fix). The default.
    #[default]
    Inbound,
    /// Inbound and outbound targets.
    All,
}

impl AuthoritativeChecks {
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
}

/// The operational checks' settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationsConfig {
    /// Whose zones get their authoritative nameservers asked directly.
    pub authoritative_checks: AuthoritativeChecks,
    /// Port the authoritative nameservers are asked on. NS records carry no port, so this is 53
    /// everywhere but in tests, whose nameservers listen on unprivileged loopback ports.
    pub authoritative_port: u16,
    /// Thresholds of the hygiene warnings.
    pub hygiene: HygieneLimits,
}

impl Default for OperationsConfig {
    fn default() -> Self {
        Self {
            authoritative_checks: AuthoritativeChecks::default(),
            authoritative_port: 53,
            hygiene: HygieneLimits::default(),
        }
    }
}

impl OperationsConfig {
    /// Whether targets of `direction` get the authoritative checks.
    pub fn authoritative_for(&self, direction: Direction) -> bool {
        match self.authoritative_checks {
            AuthoritativeChecks::None => false,
            AuthoritativeChecks::Inbound => direction == Direction::Inbound,
            AuthoritativeChecks::All => true,
        }
    }
}
