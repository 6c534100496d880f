//! What a target is expected to be, held against its verdict by the probe (`crate::probe`).
//!
//! A monitor that only reports what it finds stays green when a domain silently loses DANE: the
//! DS removed from the parent, the zone re-published unsigned, the TLSA records deleted. All of
//! those read "not applicable", which is a success for a domain that never had DANE. With
//! `expect: dane` (the default for our own, inbound, domains) not applicable is a failure with
//! reason `dane_expected`.

use serde::Serialize;

use super::facts::Direction;

/// What the verdict of a target is held to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// DANE must apply: "not applicable" fails with `dane_expected`.
    Dane,
    /// Any verdict stands as it is (a domain without DANE is not applicable, a success).
    #[default]
    Any,
}

impl Expectation {
    /// The accepted spellings, in the configuration file and on the command line.
    pub const NAMES: [&'static str; 2] = ["dane", "any"];

    /// Parses one of [`Self::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "dane" => Some(Self::Dane),
            "any" => Some(Self::Any),
            _ => None,
        }
    }

    /// Stable name, as in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dane => "dane",
            Self::Any => "any",
        }
    }

    /// The default of a direction: our own (inbound) domains are expected to have DANE, the
    /// domains we send to are taken as they are.
    pub fn default_for(direction: Direction) -> Self {
        match direction {
            Direction::Inbound => Self::Dane,
            Direction::Outbound => Self::Any,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_directions_have_their_defaults() {
        for name in Expectation::NAMES {
            assert_eq!(
                Expectation::parse(name).map(Expectation::as_str),
                Some(name)
            );
        }
        assert_eq!(Expectation::parse("DANE"), None);
        assert_eq!(
            Expectation::default_for(Direction::Inbound),
            Expectation::Dane
        );
        assert_eq!(
            Expectation::default_for(Direction::Outbound),
            Expectation::Any
        );
    }
}
