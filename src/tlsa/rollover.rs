//! Where a key rollover stands (RFC 7671 section 8, "current + next"), from what DNS publishes,
//! the keys the postmaster has, and the key the server presents. Pure: the facts come from
//! `super::check`, the words from `super::text`.
//!
//! The steps, in order:
//!
//! - **(a) add**: only the current key is published: publish the next key's record beside it.
//! - **(b) wait**: both are published, the next one for less than two TTLs of the RRset:
//!   resolvers may still hold the old RRset, so a switch now would fail for their users.
//! - **(c) switch**: both have been published for two TTLs: deploy the next key on the server.
//! - **(d) remove**: the server presents the next key, the old record is still published:
//!   remove it (after the switch is complete on every server). Usable records that pin none of
//!   the keys known to the run count as old too: after a switch a certbot lineage knows only
//!   its new keys.
//! - **(e) fix now**: the published RRset does not cover the key the server presents (or,
//!   when the server could not be reached, the current key): DANE senders defer mail now.
//!
//! "Published since" is not something DNS tells: a resolver answers the RRset, not when it
//! changed, and an RRSIG's inception is when a signer last signed it, which can be long after (or,
//! backdated, before) the record appeared. The exporter keeps that history itself
//! (`crate::history`, first seen by its probes); this one-off command knows it only when told
//! (`--published-at`), and otherwise says how long to wait after publishing.

use crate::core::{CertUsage, Finding, TlsaRecord, UnixSeconds};

use super::material::Material;

/// What DNS publishes for the TLSA name, as far as the rollover is concerned.
#[derive(Clone, Debug)]
pub enum Published {
    /// A secure RRset (possibly empty: a secure NXDOMAIN or NODATA), and its TTL when known.
    Secure {
        /// The records.
        records: Vec<TlsaRecord>,
        /// The TTL the answer carried.
        ttl: Option<u32>,
    },
    /// An insecure answer: DANE does not apply, whatever records it holds.
    Insecure,
    /// No trustworthy answer (SERVFAIL, bogus, timeout): DANE senders defer mail.
    Failed(String),
    /// This host cannot see (its resolver does not validate, or does not answer): nothing is
    /// known about what is published (`crate::probe::sight`).
    Blind(Finding),
}

/// Everything the step is decided from.
pub struct Facts<'a> {
    /// The current key (files, lineage live, or the served chain with `--connect`).
    pub current: &'a Material,
    /// The next key, when one was given.
    pub next: Option<&'a Material>,
    /// What the server presents, when it was reached.
    pub served: Option<&'a Material>,
    /// The published RRset.
    pub published: &'a Published,
    /// When the next key's record was published, when the postmaster said.
    pub published_at: Option<UnixSeconds>,
    /// The record the postmaster publishes for a key (the chosen usage, selector, matching).
    pub record_for: &'a dyn Fn(&Material) -> Option<TlsaRecord>,
    /// Now.
    pub now: UnixSeconds,
}

/// The step of the rollover, with what the next action needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// No secure TLSA RRset with records: DANE does not apply yet; publish these (current, and
    /// next when given) once the zone is signed.
    NotPublished {
        /// Records to publish.
        publish: Vec<TlsaRecord>,
        /// Whether the answer was insecure (an unsigned zone) rather than a secure denial.
        insecure: bool,
    },
    /// The TLSA lookup failed: senders defer mail until it answers again.
    LookupFailed(String),
    /// Nothing can be known from this host (its resolver): `check`'s exit status 2.
    Blind(Finding),
    /// (a) Only the current key is covered: add the next key's record (`None`: no next key was
    /// given; make one and add its record before the next renewal).
    AddNext(Option<TlsaRecord>),
    /// (b) Both covered, the next one not yet for two TTLs.
    Wait {
        /// When the switch is safe, when the publication time is known.
        until: Option<UnixSeconds>,
        /// Two TTLs, in seconds, when the TTL is known.
        required_seconds: Option<u64>,
    },
    /// (c) Both covered for two TTLs: switch the server to the next key.
    Switch,
    /// (d) The server presents the next key: remove these records of the old key.
    RemoveOld(Vec<TlsaRecord>),
    /// The server presents the next key and nothing old is published: the rollover is done.
    Done,
    /// (e) The key the server presents (or the current one) is not covered: publish this now.
    FixNow {
        /// The record for the key in use.
        publish: Option<TlsaRecord>,
        /// Whether the key in use is the served one (`false`: the server was not reached and
        /// the current file stands in for it).
        served: bool,
    },
}

impl Step {
    /// The step's letter in RFC 7671's sequence (the module docs), for the text.
    pub fn letter(&self) -> Option<char> {
        match self {
            Step::AddNext(_) => Some('a'),
            Step::Wait { .. } => Some('b'),
            Step::Switch => Some('c'),
            Step::RemoveOld(_) | Step::Done => Some('d'),
            Step::FixNow { .. } => Some('e'),
            Step::NotPublished { .. } | Step::LookupFailed(_) | Step::Blind(_) => None,
        }
    }

    /// Whether DANE senders defer mail to this host now: the exit status 1 of `check`.
    pub fn mail_deferred(&self) -> bool {
        matches!(self, Step::FixNow { .. } | Step::LookupFailed(_))
    }
}

/// Decides the step. Records that cover none of the keys are the caller's to list as stale.
pub fn step(facts: &Facts<'_>) -> Step {
    let (records, ttl) = match facts.published {
        Published::Failed(detail) => return Step::LookupFailed(detail.clone()),
        Published::Blind(finding) => return Step::Blind(finding.clone()),
        Published::Insecure => return not_published(facts, true),
        Published::Secure { records, ttl } if !records.is_empty() => (records, *ttl),
        Published::Secure { .. } => return not_published(facts, false),
    };
    let covered = |key: &Material| records.iter().any(|r| key.covered_by(r));
    let in_use = facts.served.unwrap_or(facts.current);
    if !covered(in_use) {
        return Step::FixNow {
            publish: (facts.record_for)(in_use),
            served: facts.served.is_some(),
        };
    }
    // Usable records that pin none of the keys known here: an old key's, left after a switch
    // (a lineage only knows its keys from the switch on). Unusable ones are not ours to judge.
    let known = [Some(facts.current), facts.next, facts.served];
    let stale = records.iter().filter(|r| {
        matches!(r.usage, CertUsage::DaneEe | CertUsage::DaneTa)
            && !known.iter().flatten().any(|k| k.covered_by(r))
    });
    let Some(next) = facts.next else {
        let stale: Vec<TlsaRecord> = stale.cloned().collect();
        return match stale.is_empty() {
            true => Step::AddNext(None),
            false => Step::RemoveOld(stale),
        };
    };
    if in_use.same_key(next) {
        // Switched: what still pins the old key (and not the next) goes.
        let old: Vec<TlsaRecord> = records
            .iter()
            .filter(|r| facts.current.covered_by(r) && !next.covered_by(r))
            .chain(stale)
            .cloned()
            .collect();
        return if old.is_empty() {
            Step::Done
        } else {
            Step::RemoveOld(old)
        };
    }
    let stale: Vec<TlsaRecord> = stale.cloned().collect();
    if !stale.is_empty() {
        return Step::RemoveOld(stale);
    }
    if !covered(next) {
        return Step::AddNext((facts.record_for)(next));
    }
    let required_seconds = ttl.map(|ttl| 2 * u64::from(ttl));
    let until = match (facts.published_at, required_seconds) {
        (Some(at), Some(required)) => Some(at.saturating_add(required as i64)),
        _ => None,
    };
    match until {
        Some(until) if facts.now >= until => Step::Switch,
        _ => Step::Wait {
            until,
            required_seconds,
        },
    }
}

fn not_published(facts: &Facts<'_>, insecure: bool) -> Step {
    let publish = std::iter::once(facts.served.unwrap_or(facts.current))
        .chain(facts.next)
        .filter_map(|key| (facts.record_for)(key))
        .collect();
    Step::NotPublished { publish, insecure }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh bare key: the rules compare SubjectPublicKeyInfo digests.
    fn key(n: u8) -> Material {
        use rcgen::PublicKeyData;
        Material {
            origin: format!("key{n}"),
            chain: Vec::new(),
            spki: rcgen::KeyPair::generate()
                .unwrap()
                .subject_public_key_info(),
            leaf: None,
        }
    }

    fn rec(k: &Material) -> TlsaRecord {
        k.record(Default::default()).unwrap()
    }

    fn run(
        current: &Material,
        next: Option<&Material>,
        served: Option<&Material>,
        published: Published,
        published_at: Option<UnixSeconds>,
    ) -> Step {
        let record_for = |k: &Material| Some(rec(k));
        step(&Facts {
            current,
            next,
            served,
            published: &published,
            published_at,
            record_for: &record_for,
            now: 10_000,
        })
    }

    fn secure(records: &[&Material]) -> Published {
        Published::Secure {
            records: records.iter().map(|k| rec(k)).collect(),
            ttl: Some(300),
        }
    }

    #[test]
    fn every_step_of_current_plus_next() {
        let (old, new, other) = (key(1), key(2), key(3));
        // (a) only the current key is published.
        assert_eq!(
            run(&old, Some(&new), Some(&old), secure(&[&old]), None),
            Step::AddNext(Some(rec(&new)))
        );
        assert_eq!(
            run(&old, None, None, secure(&[&old]), None),
            Step::AddNext(None)
        );
        // (b) both, since an unknown time or for less than two TTLs.
        let both = || secure(&[&old, &new]);
        assert_eq!(
            run(&old, Some(&new), Some(&old), both(), None),
            Step::Wait {
                until: None,
                required_seconds: Some(600)
            }
        );
        assert_eq!(
            run(&old, Some(&new), None, both(), Some(9_500)),
            Step::Wait {
                until: Some(10_100),
                required_seconds: Some(600)
            }
        );
        // (c) both for two TTLs (exactly at the boundary).
        assert_eq!(
            run(&old, Some(&new), Some(&old), both(), Some(9_400)),
            Step::Switch
        );
        // (d) the server presents the next key.
        assert_eq!(
            run(&old, Some(&new), Some(&new), both(), None),
            Step::RemoveOld(vec![rec(&old)])
        );
        assert_eq!(
            run(&old, Some(&new), Some(&new), secure(&[&new]), None),
            Step::Done
        );
        // (d) after a switch the inputs know only the new keys: what pins none of them is old.
        assert_eq!(
            run(&new, Some(&other), Some(&new), secure(&[&old, &new]), None),
            Step::RemoveOld(vec![rec(&old)])
        );
        assert_eq!(
            run(&new, None, None, secure(&[&old, &new]), None),
            Step::RemoveOld(vec![rec(&old)])
        );
        // Unusable records are left alone.
        let mut pkix = rec(&old);
        pkix.usage = CertUsage::PkixEe;
        let with_pkix = Published::Secure {
            records: vec![rec(&new), pkix],
            ttl: Some(300),
        };
        assert_eq!(run(&new, None, None, with_pkix, None), Step::AddNext(None));
        // (e) the served key is not covered, whatever the files say.
        assert_eq!(
            run(&old, Some(&new), Some(&other), both(), None),
            Step::FixNow {
                publish: Some(rec(&other)),
                served: true
            }
        );
        // Not reached: the current file stands in for the served key.
        assert_eq!(
            run(&old, None, None, secure(&[&other]), None),
            Step::FixNow {
                publish: Some(rec(&old)),
                served: false
            }
        );
        // The server presents the next key before its record is out.
        assert_eq!(
            run(&old, Some(&new), Some(&new), secure(&[&old]), None),
            Step::FixNow {
                publish: Some(rec(&new)),
                served: true
            }
        );
    }

    #[test]
    fn no_dane_and_failures() {
        let (old, new) = (key(1), key(2));
        assert_eq!(
            run(&old, Some(&new), None, Published::Insecure, None),
            Step::NotPublished {
                publish: vec![rec(&old), rec(&new)],
                insecure: true
            }
        );
        assert_eq!(
            run(&old, None, None, secure(&[]), None),
            Step::NotPublished {
                publish: vec![rec(&old)],
                insecure: false
            }
        );
        let failed = run(&old, None, None, Published::Failed("SERVFAIL".into()), None);
        assert!(failed.mail_deferred());
        assert_eq!(failed.letter(), None);
        // Unknown TTL: no time can be given even with a publication time.
        let unknown_ttl = Published::Secure {
            records: vec![rec(&old), rec(&new)],
            ttl: None,
        };
        assert_eq!(
            run(&old, Some(&new), None, unknown_ttl, Some(0)),
            Step::Wait {
                until: None,
                required_seconds: None
            }
        );
    }
}
