//! Sharding one configuration over several replicas (`--shard=I/N`), the way Prometheus's
//! `hashmod` relabelling splits targets: each replica probes and exposes only the targets whose
//! hash falls to it, so a StatefulSet of N pods (or N hosts) with the same file covers every
//! target exactly once, with no coordination between them.
//!
//! The hash is FNV-1a (64 bit) of the bytes `DIRECTION/DOMAIN` (`outbound/example.org`, the
//! domain normalised), taken modulo N. It depends on nothing but the target, so a replica
//! restarted, or started elsewhere, owns the same targets, and a domain keeps its replica when
//! others are added to or removed from the file. `crate::exporter` applies it to the resolved
//! targets on every load; `/probe` is not sharded.

use std::fmt;

use crate::core::Direction;
use crate::target::Target;

/// Which share of the targets this replica owns: index `I` of `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

/// Why a `--shard` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("shard {0:?}: expected I/N with 0 <= I < N, e.g. 0/2")]
pub struct ShardError(String);

impl Shard {
    /// The whole set: one replica.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Self, ShardError> {
        let invalid = || ShardError(text.to_string());
        let (index, count) = text.trim().split_once('/').ok_or_else(invalid)?;
        let index: u64 = index.trim().parse().map_err(|_| invalid())?;
        let count: u64 = count.trim().parse().map_err(|_| invalid())?;
        if count == 0 || index >= count {
            return Err(invalid());
        }
        Ok(Self { index, count })
    }

    /// True when this replica owns `domain` in `direction`.
    pub fn owns(&self, direction: Direction, domain: &str) -> bool {
        self.count == 1 || shard_hash(direction, domain) % self.count == self.index
    }

    /// True when this replica owns `target`.
    pub fn owns_target(&self, target: &Target) -> bool {
        self.owns(target.direction, &target.domain)
    }
}

impl Default for Shard {
    fn default() -> Self {
        Self::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a, 64 bit, of `DIRECTION/DOMAIN`.
pub fn shard_hash(direction: Direction, domain: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = direction
        .as_str()
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(domain.bytes());
    bytes.fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Shard::parse("1/3").unwrap().to_string(), "1/3");
        assert_eq!(Shard::parse("0/1").unwrap(), Shard::ALL);
        for bad in ["2/2", "0/0", "1", "a/2", "-1/2", "1/2/3", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    /// The published FNV-1a 64 test vectors, through the same fold, and the key's form.
    #[test]
    fn hash_is_fnv1a_of_direction_and_domain() {
        let fnv = |text: &str| {
            text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
        };
        assert_eq!(fnv(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv("foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(
            shard_hash(Direction::Outbound, "example.org"),
            fnv("outbound/example.org")
        );
    }

    /// Every domain is owned by exactly one of N shards, and the shares are about even.
    #[test]
    fn shards_partition_the_targets() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        let mut sizes = [0usize; 3];
        for k in 0..3000 {
            let domain = format!("d{k}.example");
            let owners: Vec<usize> = (0..3)
                .filter(|&i| shards[i].owns(Direction::Outbound, &domain))
                .collect();
            assert_eq!(owners.len(), 1, "{domain}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| (850..1150).contains(&n)), "{sizes:?}");
    }
}
