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

use crate::dane::PkixTrust;
use crate::dane::{self, describe_certificate, EndpointInput, TlsaRecord};
use crate::dns::{
    normalize_name, Answer, DnsClient, DnssecStatus, MxRecord, RecordSet, RecordType, UnixSeconds,
};
use crate::key_algorithms::{
    leaf_key_algorithm, KeyAlgorithm, KeyAlgorithmReport, KeyAlgorithmState,
};
use crate::mta_sts::MtaStsSettings;
use crate::report::{DomainReport, EndpointReport, HostDane, MxHostReport, RrsetReport};
use crate::service::{probe_service, ServiceSettings, ServiceSpec};
use crate::smtp::{
    probe_starttls, probe_starttls_restricted, RestrictedError, SmtpError, SmtpSettings, TlsSession,
};
use crate::verdict;

/// Probes domains with one DNS client and one set of SMTP settings.
pub struct Prober {
    dns: Arc<DnsClient>,
    smtp: SmtpSettings,
    endpoints: Option<Arc<EndpointCache>>,
    /// Other TLS services to probe with the domain, and the roots for their PKIX usages.
    services: Vec<ServiceSpec>,
    pkix: Arc<PkixTrust>,
    mta_sts: MtaStsSettings,
    operations: crate::consistency::OperationsSettings,
    /// Whether endpoints where DANE applies get the extra session per other key algorithm
    /// (`crate::key_algorithms`); the configuration turns it off for outbound targets by default.
    key_algorithms: bool,
}

/// The outcome of one STARTTLS session and how long it took.
type SessionOutcome = (Result<TlsSession, SmtpError>, f64);

/// Shares STARTTLS sessions between domains whose MX hosts coincide (a hosting provider's MX
/// serves thousands of domains): within `ttl`, one address, port and SNI is probed once, and
/// concurrent askers wait for the same session instead of opening their own.
pub struct EndpointCache {
    ttl: Duration,
    entries: SessionMap<SessionOutcome>,
    /// Sessions restricted to one key algorithm (`crate::key_algorithms`), kept apart because
    /// their failures carry "not offered".
    restricted: SessionMap<RestrictedOutcome>,
}

/// Shared sessions by address, port and SNI.
type SessionMap<T> = Mutex<Sessions<T>>;

/// The cached sessions, and the size at which expired ones are next swept out.
struct Sessions<T> {
    map: HashMap<(SocketAddr, String), Arc<CacheEntry<T>>>,
    sweep_at: usize,
}

impl<T> Sessions<T> {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            sweep_at: SWEEP_MIN,
        }
    }
}

/// Fewest entries before expired sessions are swept out.
const SWEEP_MIN: usize = 1024;

/// The outcome of one restricted STARTTLS session and how long it took.
type RestrictedOutcome = (Result<TlsSession, RestrictedError>, f64);

struct CacheEntry<T> {
    created: Instant,
    outcome: tokio::sync::OnceCell<T>,
}

impl EndpointCache {
    /// A cache whose sessions are reused for `ttl` (the scheduler passes its probe interval).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(Sessions::new()),
            restricted: Mutex::new(Sessions::new()),
        }
    }

    /// The entry for `key`, fresh or new; expired entries are dropped on the way.
    fn entry(&self, key: (SocketAddr, String)) -> Arc<CacheEntry<SessionOutcome>> {
        fresh_entry(&self.entries, self.ttl, key)
    }

    /// Like [`EndpointCache::entry`], for restricted sessions.
    fn restricted_entry(&self, key: (SocketAddr, String)) -> Arc<CacheEntry<RestrictedOutcome>> {
        fresh_entry(&self.restricted, self.ttl, key)
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

/// The entry for `key` in `map`, fresh or new; expired entries are dropped on the way.
fn fresh_entry<T>(
    map: &SessionMap<T>,
    ttl: Duration,
    key: (SocketAddr, String),
) -> Arc<CacheEntry<T>> {
    let mut entries = match map.lock() {
        Ok(guard) => guard,
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(entry) = entries.map.get(&key) {
        if entry.created.elapsed() < ttl {
            return Arc::clone(entry);
        }
    }
    // Sweeping looks at every entry, so it runs only when the map has doubled since the last
    // sweep: with thousands of distinct MX hosts live within the ttl, sweeping on every insert
    // cost a clock read per entry per probe (a quarter of the exporter's CPU at 10,000 domains,
    // tests/bench/run.sh).
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

/// An MX host to probe, with what the MX lookup said about it.
struct Candidate {
    name: String,
    preference: u16,
}

/// What the TLSA step decided for one host. Shared with `crate::service`, which makes the same
/// lookups for other ports.
pub(crate) struct TlsaDecision {
    /// Whether DANE applies, and if not why.
    pub(crate) dane: HostDane,
    /// Where the TLSA RRset was found.
    pub(crate) base_domain: Option<String>,
    /// The TLSA lookups made.
    pub(crate) lookups: Vec<RrsetReport>,
    /// The secure TLSA RRset, when DANE applies.
    pub(crate) records: Vec<TlsaRecord>,
    /// Its earliest RRSIG expiration.
    pub(crate) signature_expiration: Option<UnixSeconds>,
}

/// A host's addresses and its TLSA decision: what `Prober::probe_mx_host` and
/// `crate::service::probe_service` both need before connecting.
pub(crate) struct HostLookups {
    /// The A and AAAA lookups.
    pub(crate) address_lookups: Vec<RrsetReport>,
    /// Every address found, A first.
    pub(crate) addresses: Vec<IpAddr>,
    /// The TLSA step's result.
    pub(crate) decision: TlsaDecision,
}

/// Looks up a host's addresses, then (when they are secure) its TLSA RRset at
/// `_<port>._tcp.<name>`, following RFC 7672 2.2.2 (which RFC 7671 7 generalises to every
/// service): addresses must validate, then TLSA at the CNAME-expanded name first, then at the
/// original name.
pub(crate) async fn lookup_host(dns: &DnsClient, host: &str, port: u16) -> HostLookups {
    let (a, aaaa) = tokio::join!(
        dns.lookup_addresses(host, RecordType::A),
        dns.lookup_addresses(host, RecordType::Aaaa)
    );
    let address_lookups = vec![
        RrsetReport::from_answer(&a),
        RrsetReport::from_answer(&aaaa),
    ];
    let addresses: Vec<IpAddr> = a.records().iter().chain(aaaa.records()).copied().collect();
    let decision = if a.result.is_err() || aaaa.result.is_err() {
        TlsaDecision::without(HostDane::AddressLookupFailed)
    } else if !(a.is_secure() && aaaa.is_secure()) {
        // Postfix looks up TLSA only for hosts whose address records validated: an attacker
        // who can forge the address could otherwise steer delivery (RFC 7672 2.2.2).
        TlsaDecision::without(HostDane::AddressesInsecure)
    } else {
        let expanded = expanded_host_name(host, &a, &aaaa);
        decide_tlsa(dns, port, host, expanded.as_deref()).await
    };
    HostLookups {
        address_lookups,
        addresses,
        decision,
    }
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
            services: Vec::new(),
            pkix: Arc::new(PkixTrust::empty()),
            mta_sts: MtaStsSettings::default(),
            operations: crate::consistency::OperationsSettings::default(),
            key_algorithms: true,
        }
    }

    /// Probes `services` with every domain (see `crate::service`); `pkix` holds the roots for
    /// their PKIX-TA and PKIX-EE records.
    pub fn with_services(mut self, services: Vec<ServiceSpec>, pkix: Arc<PkixTrust>) -> Self {
        self.services = services;
        self.pkix = pkix;
        self
    }

    /// Also checks MTA-STS and/or TLS-RPT as `settings` says (both off by default).
    pub fn with_mta_sts(mut self, settings: MtaStsSettings) -> Self {
        self.mta_sts = settings;
        self
    }

    /// Runs the operational checks (hygiene, authoritative consistency) as `operations` says.
    pub fn with_operations(mut self, operations: crate::consistency::OperationsSettings) -> Self {
        self.operations = operations;
        self
    }

    /// Makes (`true`, the default) or skips the extra STARTTLS session per other key algorithm
    /// (`crate::key_algorithms`). Skipped, `EndpointReport::key_algorithms` stays empty and the
    /// normal session is all each endpoint sees of the prober.
    pub fn with_key_algorithms(mut self, enabled: bool) -> Self {
        self.key_algorithms = enabled;
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

        let settings = ServiceSettings {
            step_timeout: self.smtp.step_timeout,
            ehlo_name: &self.smtp.ehlo_name,
            pkix: &self.pkix,
        };
        // MTA-STS/TLS-RPT lookups and the policy fetch need nothing from the MX probing, so they
        // run alongside it; their judgement needs the hosts' chains and comes after. The other
        // TLS services (crate::service) are independent of both.
        let (hosts, services, gathered) = tokio::join!(
            join_all(candidates.iter().map(|c| self.probe_mx_host(
                &domain,
                c,
                mx_secure,
                implicit_mx,
                now
            )),),
            join_all(
                self.services
                    .iter()
                    .map(|spec| probe_service(&self.dns, spec, settings, now))
            ),
            crate::mta_sts::gather(&self.dns, &self.mta_sts, &domain, self.smtp.step_timeout)
        );

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
            services,
            mta_sts: None,
            tls_rpt: None,
            local_certificates: Vec::new(),
            zones: Vec::new(),
        };
        verdict::judge(&mut report);
        crate::mta_sts::judge::evaluate(&mut report, gathered);
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
        // An insecure MX RRset does not stop the TLSA lookup: Postfix 3.6 and later
        // (smtp_tls_dane_insecure_mx_policy = dane) still enforces the MX hosts' secure TLSA
        // records, so a mismatch there defers mail just the same (RFC 7672 2.2.1 allows this).
        let HostLookups {
            address_lookups,
            addresses,
            decision,
        } = lookup_host(&self.dns, host, self.smtp.port).await;

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
}

/// Finds the TLSA RRset of a host whose addresses validated (RFC 7672 2.2.2): at the fully
/// CNAME-expanded name first, then at the name from the MX record (or service configuration).
async fn decide_tlsa(
    dns: &DnsClient,
    port: u16,
    host: &str,
    expanded: Option<&str>,
) -> TlsaDecision {
    let mut lookups = Vec::new();
    let mut names = Vec::new();
    if let Some(expanded) = expanded {
        names.push(expanded.to_string());
    }
    names.push(host.to_string());

    let mut decision = TlsaDecision::without(HostDane::NoTlsa);
    for base in names {
        // `_<port>._tcp.<base>`: the TLSA owner name follows the port (RFC 6698 3).
        let answer = dns.lookup_tlsa(&format!("_{port}._tcp.{base}")).await;
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

impl Prober {
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
                let evaluate = |chain: &[Vec<u8>]| {
                    dane::evaluate_endpoint(&EndpointInput {
                        tlsa: &decision.records,
                        chain,
                        reference_names,
                        tlsa_signature_expiration: decision.signature_expiration,
                        now,
                    })
                };
                let evaluation =
                    (decision.dane == HostDane::Applies).then(|| evaluate(&session.chain));
                // Every key algorithm's chain, only where DANE makes it matter and the target's
                // direction has the extra sessions.
                let key_algorithms = match &evaluation {
                    Some(main) if self.key_algorithms => {
                        self.key_algorithm_reports(address, sni, &session, main, &evaluate)
                            .await
                    }
                    _ => Vec::new(),
                };
                EndpointReport {
                    address,
                    starttls_offered: Some(true),
                    tls: Some(session),
                    smtp_error: None,
                    chain,
                    evaluation,
                    duration_seconds,
                    key_algorithms,
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
                key_algorithms: Vec::new(),
            },
        }
    }

    /// One report per key algorithm: the normal session stands for its leaf's algorithm, and one
    /// restricted session per other algorithm (`crate::key_algorithms`).
    async fn key_algorithm_reports(
        &self,
        address: IpAddr,
        sni: &str,
        main: &TlsSession,
        main_evaluation: &dane::EndpointEvaluation,
        evaluate: &(dyn Fn(&[Vec<u8>]) -> dane::EndpointEvaluation + Sync),
    ) -> Vec<KeyAlgorithmReport> {
        let main_algorithm = main.chain.first().and_then(|der| leaf_key_algorithm(der));
        let mut reports = Vec::with_capacity(KeyAlgorithm::ALL.len());
        for algorithm in KeyAlgorithm::ALL {
            if main_algorithm == Some(algorithm) {
                reports.push(KeyAlgorithmReport {
                    key_algorithm: algorithm,
                    state: KeyAlgorithmState::Offered {
                        leaf: main_evaluation.leaf.clone(),
                        evaluation: Some(Box::new(main_evaluation.clone())),
                    },
                    from_main_session: true,
                    duration_seconds: 0.0,
                });
                continue;
            }
            let (result, duration_seconds) = self.restricted_session(address, sni, algorithm).await;
            let state = match result {
                Ok(session) => {
                    let evaluation = evaluate(&session.chain);
                    KeyAlgorithmState::Offered {
                        leaf: evaluation.leaf.clone(),
                        evaluation: Some(Box::new(evaluation)),
                    }
                }
                Err(RestrictedError::NotOffered { detail }) => {
                    KeyAlgorithmState::NotOffered { detail }
                }
                Err(RestrictedError::Smtp(error)) => KeyAlgorithmState::Failed { error },
            };
            reports.push(KeyAlgorithmReport {
                key_algorithm: algorithm,
                state,
                from_main_session: false,
                duration_seconds,
            });
        }
        reports
    }

    /// One STARTTLS session restricted to `algorithm`, shared through the endpoint cache (its
    /// own entry: the cache key's name carries the algorithm after a NUL, which no SNI holds).
    async fn restricted_session(
        &self,
        address: IpAddr,
        sni: &str,
        algorithm: KeyAlgorithm,
    ) -> (Result<TlsSession, RestrictedError>, f64) {
        let socket = SocketAddr::new(address, self.smtp.port);
        let run = || async {
            let started = Instant::now();
            let result = probe_starttls_restricted(socket, sni, &self.smtp, algorithm).await;
            (result, started.elapsed().as_secs_f64())
        };
        match &self.endpoints {
            Some(cache) => {
                let key = (socket, format!("{sni}\0{}", algorithm.as_str()));
                let entry = cache.restricted_entry(key);
                entry.outcome.get_or_init(run).await.clone()
            }
            None => run().await,
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
    pub(crate) fn without(dane: HostDane) -> Self {
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
