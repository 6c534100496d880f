//! One probe of one domain: the lookups and connections a DANE-enforcing sender makes, in its
//! order (RFC 7672 section 2), gathered into a [`DomainReport`].
//!
//! This is the only module that sequences I/O. It asks `crate::dns` for the MX RRset, then, per MX
//! host and concurrently, for A/AAAA and TLSA; it runs one STARTTLS session per address through
//! `crate::smtp`; it hands each presented chain to the pure rules in `crate::dane`; and it lets
//! `crate::verdict` judge the whole. `dane_exporter check` and the exporter's scheduler both call
//! [`Prober::probe_domain`], so the command line and the metrics can never disagree.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;

use crate::dane::{self, describe_certificate, EndpointInput, TlsaRecord};
use crate::dns::{
    normalize_name, Answer, DnsClient, DnssecStatus, MxRecord, RecordSet, RecordType, UnixSeconds,
};
use crate::report::{DomainReport, EndpointReport, HostDane, MxHostReport, RrsetReport};
use crate::smtp::{probe_starttls, SmtpError, SmtpSettings, TlsSession};
use crate::verdict;

/// Probes domains with one DNS client and one set of SMTP settings.
pub struct Prober {
    dns: Arc<DnsClient>,
    smtp: SmtpSettings,
    endpoints: Option<Arc<EndpointCache>>,
    operations: crate::consistency::OperationsSettings,
}

/// The outcome of one STARTTLS session and how long it took.
type SessionOutcome = (Result<TlsSession, SmtpError>, f64);

/// Shares STARTTLS sessions between domains whose MX hosts coincide (a hosting provider's MX
/// serves thousands of domains): within `ttl`, one address, port and SNI is probed once, and
/// concurrent askers wait for the same session instead of opening their own.
pub struct EndpointCache {
    ttl: Duration,
    entries: Mutex<Sessions>,
}

/// The cached sessions, and the size at which expired ones are next swept out.
struct Sessions {
    map: HashMap<(SocketAddr, String), Arc<CacheEntry>>,
    sweep_at: usize,
}

/// Fewest entries before expired sessions are swept out.
const SWEEP_MIN: usize = 1024;

struct CacheEntry {
    created: Instant,
    outcome: tokio::sync::OnceCell<SessionOutcome>,
}

impl EndpointCache {
    /// A cache whose sessions are reused for `ttl` (the scheduler passes its probe interval).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(Sessions {
                map: HashMap::new(),
                sweep_at: SWEEP_MIN,
            }),
        }
    }

    /// The entry for `key`, fresh or new; expired entries are dropped on the way.
    fn entry(&self, key: (SocketAddr, String)) -> Arc<CacheEntry> {
        let mut entries = match self.entries.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while holding the lock leaves a map that is still consistent.
            Err(poisoned) => poisoned.into_inner(),
        };
        let ttl = self.ttl;
        if let Some(entry) = entries.map.get(&key) {
            if entry.created.elapsed() < ttl {
                return Arc::clone(entry);
            }
        }
        // Sweeping looks at every entry, so it runs only when the map has doubled since the last
        // sweep: with thousands of distinct MX hosts live within the ttl, sweeping on every insert
        // cost a clock read per entry per probe (a quarter of the exporter's CPU at 10,000
        // domains, tests/bench/run.sh).
        if entries.map.len() >= entries.sweep_at {
            let now = Instant::now();
            entries
                .map
                .retain(|_, e| now.saturating_duration_since(e.created) < ttl);
            entries.sweep_at = (2 * entries.map.len()).max(SWEEP_MIN);
        }
        let entry = Arc::new(CacheEntry {
            created: Instant::now(),
            outcome: tokio::sync::OnceCell::new(),
        });
        entries.map.insert(key, Arc::clone(&entry));
        entry
    }

    /// Number of sessions currently held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.map.len()).unwrap_or(0)
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An MX host to probe, with what the MX lookup said about it.
struct Candidate {
    name: String,
    preference: u16,
}

/// What the TLSA step decided for one host.
struct TlsaDecision {
    dane: HostDane,
    base_domain: Option<String>,
    lookups: Vec<RrsetReport>,
    records: Vec<TlsaRecord>,
    signature_expiration: Option<UnixSeconds>,
}

impl Prober {
    /// A prober that resolves with `dns` and speaks SMTP as `smtp` says.
    pub fn new(dns: DnsClient, smtp: SmtpSettings) -> Self {
        Self::shared(Arc::new(dns), smtp)
    }

    /// A prober on a DNS client shared with others (its caches and sockets too).
    pub fn shared(dns: Arc<DnsClient>, smtp: SmtpSettings) -> Self {
        Self {
            dns,
            smtp,
            endpoints: None,
            operations: crate::consistency::OperationsSettings::default(),
        }
    }

    /// Runs the operational checks (hygiene, authoritative consistency) as `operations` says.
    pub fn with_operations(mut self, operations: crate::consistency::OperationsSettings) -> Self {
        self.operations = operations;
        self
    }

    /// Shares STARTTLS sessions through `cache` (see [`EndpointCache`]).
    pub fn with_endpoint_cache(mut self, cache: Arc<EndpointCache>) -> Self {
        self.endpoints = Some(cache);
        self
    }

    /// The SMTP settings in use.
    pub fn smtp_settings(&self) -> &SmtpSettings {
        &self.smtp
    }

    /// Probes `domain` and judges it. Never fails: every problem is part of the report.
    pub async fn probe_domain(&self, domain: &str) -> DomainReport {
        let started = Instant::now();
        let now = unix_now();
        let domain = normalize_name(domain);

        let mx = self.dns.lookup_mx(&domain).await;
        let mx_secure = mx.is_secure();
        let mut implicit_mx = false;
        let candidates: Vec<Candidate> = match &mx.result {
            Ok(response) => match &response.set {
                RecordSet::Records(records) => mx_candidates(records),
                // RFC 5321 5.1: without MX records the domain itself is the mail host.
                RecordSet::NoData => {
                    implicit_mx = true;
                    vec![Candidate {
                        name: domain.clone(),
                        preference: 0,
                    }]
                }
                RecordSet::NxDomain => Vec::new(),
            },
            Err(_) => Vec::new(),
        };

        let hosts = join_all(
            candidates
                .iter()
                .map(|c| self.probe_mx_host(&domain, c, mx_secure, implicit_mx, now)),
        )
        .await;

        let mut report = DomainReport {
            domain,
            checked_at: now,
            duration_seconds: 0.0,
            mx_lookup: RrsetReport::from_answer(&mx),
            mx_records: mx.records().to_vec(),
            implicit_mx,
            hosts,
            verdict: crate::report::Verdict::NotApplicable,
            protected: false,
            failures: Vec::new(),
            warnings: Vec::new(),
            divergence: None,
            zones: Vec::new(),
        };
        verdict::judge(&mut report);
        crate::consistency::add_operational_findings(&mut report, &self.operations).await;
        report.duration_seconds = started.elapsed().as_secs_f64();
        report
    }

    /// Everything about one MX host: addresses, TLSA, and one STARTTLS session per address.
    async fn probe_mx_host(
        &self,
        domain: &str,
        candidate: &Candidate,
        mx_secure: bool,
        implicit_mx: bool,
        now: UnixSeconds,
    ) -> MxHostReport {
        let host = candidate.name.as_str();
        let (a, aaaa) = tokio::join!(
            self.dns.lookup_addresses(host, RecordType::A),
            self.dns.lookup_addresses(host, RecordType::Aaaa)
        );
        let address_lookups = vec![
            RrsetReport::from_answer(&a),
            RrsetReport::from_answer(&aaaa),
        ];
        let addresses: Vec<IpAddr> = a.records().iter().chain(aaaa.records()).copied().collect();

        // An insecure MX RRset does not stop the TLSA lookup: Postfix 3.6 and later
        // (smtp_tls_dane_insecure_mx_policy = dane) still enforces the MX hosts' secure TLSA
        // records, so a mismatch there defers mail just the same (RFC 7672 2.2.1 allows this).
        let decision = if a.result.is_err() || aaaa.result.is_err() {
            TlsaDecision::without(HostDane::AddressLookupFailed)
        } else if !(a.is_secure() && aaaa.is_secure()) {
            // Postfix looks up TLSA only for hosts whose address records validated: an attacker
            // who can forge the address could otherwise steer delivery (RFC 7672 2.2.2).
            TlsaDecision::without(HostDane::AddressesInsecure)
        } else {
            let expanded = expanded_host_name(host, &a, &aaaa);
            self.decide_tlsa(host, expanded.as_deref()).await
        };

        // Reference identifiers (RFC 7672 3.2.2): the TLSA base domain, plus the MX host name
        // (or the next-hop domain for an implicit MX) only when the MX RRset validated, since an
        // insecure MX host name may be forged.
        let mut reference_names = Vec::new();
        if let Some(base) = &decision.base_domain {
            reference_names.push(base.clone());
        }
        let extra = if implicit_mx { domain } else { host };
        if mx_secure && !reference_names.iter().any(|n| n == extra) {
            reference_names.push(extra.to_string());
        }
        let sni = decision
            .base_domain
            .clone()
            .unwrap_or_else(|| host.to_string());

        let endpoints =
            join_all(addresses.iter().map(|address| {
                self.probe_endpoint(*address, &sni, &decision, &reference_names, now)
            }))
            .await;

        let rollover_ready = match decision.dane {
            HostDane::Applies => {
                let evaluations: Vec<_> = endpoints
                    .iter()
                    .filter_map(|e| e.evaluation.as_ref())
                    .collect();
                Some(!evaluations.is_empty() && evaluations.iter().all(|e| e.rollover_ready))
            }
            _ => None,
        };

        MxHostReport {
            name: host.to_string(),
            preference: candidate.preference,
            dane: decision.dane,
            tlsa_base_domain: decision.base_domain,
            tlsa_lookups: decision.lookups,
            tlsa_records: decision.records,
            address_lookups,
            endpoints,
            rollover_ready,
        }
    }

    /// Finds the TLSA RRset of a host whose addresses validated (RFC 7672 2.2.2): at the fully
    /// CNAME-expanded name first, then at the name from the MX record.
    async fn decide_tlsa(&self, host: &str, expanded: Option<&str>) -> TlsaDecision {
        let mut lookups = Vec::new();
        let mut names = Vec::new();
        if let Some(expanded) = expanded {
            names.push(expanded.to_string());
        }
        names.push(host.to_string());

        let mut decision = TlsaDecision::without(HostDane::NoTlsa);
        for base in names {
            let answer = self.dns.lookup_tlsa(&self.tlsa_name(&base)).await;
            lookups.push(RrsetReport::from_answer(&answer));
            match &answer.result {
                Err(_) => {
                    // The sender cannot tell whether DANE applies, so it must not deliver.
                    decision = TlsaDecision::without(HostDane::TlsaLookupFailed);
                    break;
                }
                Ok(response) => match (&response.set, response.status) {
                    (RecordSet::Records(records), DnssecStatus::Secure) => {
                        decision = TlsaDecision {
                            dane: HostDane::Applies,
                            base_domain: Some(base),
                            lookups: Vec::new(),
                            records: records.clone(),
                            signature_expiration: response.signature_expiration,
                        };
                        break;
                    }
                    (RecordSet::Records(_), _) => {
                        decision = TlsaDecision::without(HostDane::TlsaInsecure);
                    }
                    (_, DnssecStatus::Secure) => {
                        decision = TlsaDecision::without(HostDane::NoTlsa);
                    }
                    _ => decision = TlsaDecision::without(HostDane::TlsaInsecure),
                },
            }
        }
        decision.lookups = lookups;
        decision
    }

    /// `_<port>._tcp.<base>`: the TLSA owner name follows the SMTP port (RFC 6698 3).
    fn tlsa_name(&self, base: &str) -> String {
        format!("_{}._tcp.{}", self.smtp.port, base)
    }

    /// One STARTTLS session with one address, and the DANE evaluation of what it presented.
    async fn probe_endpoint(
        &self,
        address: IpAddr,
        sni: &str,
        decision: &TlsaDecision,
        reference_names: &[String],
        now: UnixSeconds,
    ) -> EndpointReport {
        let (result, duration_seconds) = self.starttls_session(address, sni).await;
        match result {
            Ok(session) => {
                let chain = session
                    .chain
                    .iter()
                    .filter_map(|der| describe_certificate(der).ok())
                    .collect();
                let evaluation = (decision.dane == HostDane::Applies).then(|| {
                    dane::evaluate_endpoint(&EndpointInput {
                        tlsa: &decision.records,
                        chain: &session.chain,
                        reference_names,
                        tlsa_signature_expiration: decision.signature_expiration,
                        now,
                    })
                });
                EndpointReport {
                    address,
                    starttls_offered: Some(true),
                    tls: Some(session),
                    smtp_error: None,
                    chain,
                    evaluation,
                    duration_seconds,
                }
            }
            Err(error) => EndpointReport {
                address,
                starttls_offered: error.starttls_offered(),
                tls: None,
                smtp_error: Some(error),
                chain: Vec::new(),
                evaluation: None,
                duration_seconds,
            },
        }
    }
}

impl Prober {
    /// One STARTTLS session with `address`, shared through the endpoint cache when there is one.
    async fn starttls_session(&self, address: IpAddr, sni: &str) -> SessionOutcome {
        let socket = SocketAddr::new(address, self.smtp.port);
        let run = || async {
            let started = Instant::now();
            let result = probe_starttls(socket, sni, &self.smtp).await;
            (result, started.elapsed().as_secs_f64())
        };
        match &self.endpoints {
            Some(cache) => {
                let entry = cache.entry((socket, sni.to_string()));
                entry.outcome.get_or_init(run).await.clone()
            }
            None => run().await,
        }
    }
}

impl TlsaDecision {
    fn without(dane: HostDane) -> Self {
        Self {
            dane,
            base_domain: None,
            lookups: Vec::new(),
            records: Vec::new(),
            signature_expiration: None,
        }
    }
}

/// MX hosts in the order a sender tries them, without duplicates and without the null MX.
fn mx_candidates(records: &[MxRecord]) -> Vec<Candidate> {
    let mut sorted: Vec<&MxRecord> = records.iter().filter(|r| !r.exchange.is_empty()).collect();
    sorted.sort_by(|a, b| (a.preference, &a.exchange).cmp(&(b.preference, &b.exchange)));
    let mut candidates: Vec<Candidate> = Vec::with_capacity(sorted.len());
    for record in sorted {
        if !candidates.iter().any(|c| c.name == record.exchange) {
            candidates.push(Candidate {
                name: record.exchange.clone(),
                preference: record.preference,
            });
        }
    }
    candidates
}

/// The fully CNAME-expanded name of `host`, when its address lookups followed an alias.
fn expanded_host_name(host: &str, a: &Answer<IpAddr>, aaaa: &Answer<IpAddr>) -> Option<String> {
    [a, aaaa]
        .into_iter()
        .filter_map(|answer| answer.result.as_ref().ok())
        .filter_map(|response| response.expanded_name())
        .find(|name| *name != host)
        .map(str::to_string)
}

/// The current time in Unix seconds.
pub fn unix_now() -> UnixSeconds {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as UnixSeconds)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_ordered_deduplicated_and_skip_null_mx() {
        let records = vec![
            MxRecord {
                preference: 20,
                exchange: "b.example".into(),
            },
            MxRecord {
                preference: 10,
                exchange: "c.example".into(),
            },
            MxRecord {
                preference: 10,
                exchange: "a.example".into(),
            },
            MxRecord {
                preference: 30,
                exchange: "a.example".into(),
            },
            MxRecord {
                preference: 0,
                exchange: String::new(),
            },
        ];
        let names: Vec<_> = mx_candidates(&records)
            .into_iter()
            .map(|c| (c.preference, c.name))
            .collect();
        assert_eq!(
            names,
            vec![
                (10, "a.example".to_string()),
                (10, "c.example".to_string()),
                (20, "b.example".to_string())
            ]
        );
    }

    /// Expired sessions are still swept out (the map stays bounded), and live ones are kept
    /// however many distinct MX hosts there are.
    #[test]
    fn endpoint_cache_sweeps_expired_sessions_and_keeps_live_ones() {
        let key = |i: u32| {
            let address = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            (
                SocketAddr::new(IpAddr::V4(address), 25),
                format!("mx{i}.example"),
            )
        };
        let expired = EndpointCache::new(Duration::ZERO);
        for i in 0..3000 {
            expired.entry(key(i));
            assert!(
                expired.len() <= SWEEP_MIN,
                "{} sessions after {i}",
                expired.len()
            );
        }
        let live = EndpointCache::new(Duration::from_secs(3600));
        for i in 0..3000 {
            live.entry(key(i));
        }
        assert_eq!(live.len(), 3000);
        let again = live.entry(key(7));
        assert!(Arc::ptr_eq(&again, &live.entry(key(7))));
    }
}
