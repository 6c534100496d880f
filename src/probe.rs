//! One probe of one target: the checks run in their order, and one report assembled from their
//! outputs. `dane_exporter check` and the exporter's scheduler both come here (through
//! `crate::scheduler::run_one`), so the command line and the metrics can never disagree.
//!
//! Order: the MX check, concurrently with the checks that need nothing from it (other services,
//! the MTA-STS lookups and policy fetch, reading the local certificate files); then the checks
//! that read the MX facts (the key-algorithm sessions, the authoritative nameservers); then every
//! judgement, pure, with what the history of earlier rounds (`crate::history`) adds. The report
//! is built once, judged, and only then handed on.
//!
//! Two things are held against the checks' verdict last: whether the exporter could see at all
//! (`sight`: a resolver that does not validate or does not answer makes the verdict `unknown`,
//! never the domain's failure; a confirmed blindness skips the probe), and what is expected of the
//! target (`expect`: `domain_not_found`, `dane_expected`).

mod expect;
pub mod sight;

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;

use crate::checks::authoritative::{self, tlsa_zone_consistent, ZoneReport};
use crate::checks::local_certs::{self, CertificateContext};
use crate::checks::mx::{self, MxJudgement, MxProbe};
use crate::checks::services::{self, ServiceReport, ServiceSettings};
use crate::checks::{key_algorithms, mta_sts};
use crate::core::{normalize_name, unix_now, Direction, KeyAlgorithmReport, MxReport, Verdict};
use crate::dns::DnsClient;
use crate::history::History;
use crate::report::DomainReport;
use crate::smtp::{HostLimits, SessionCache};
use crate::target::Target;
use crate::tlsrpt;

/// Probes targets with one DNS client.
pub struct Prober {
    dns: Arc<DnsClient>,
    sessions: Option<Arc<SessionCache>>,
    limits: Arc<HostLimits>,
    history: Option<Arc<History>>,
}

impl Prober {
    /// A prober that resolves with `dns`, shares no sessions and keeps no history.
    pub fn new(dns: DnsClient) -> Self {
        Self::shared(Arc::new(dns))
    }

    /// A prober on a DNS client shared with others (its caches and sockets too).
    pub fn shared(dns: Arc<DnsClient>) -> Self {
        Self {
            dns,
            sessions: None,
            limits: Arc::new(HostLimits::default()),
            history: None,
        }
    }

    /// Caps the connections to one address together with every prober sharing `limits` (a
    /// prober of its own caps only its own).
    pub fn with_host_limits(mut self, limits: Arc<HostLimits>) -> Self {
        self.limits = limits;
        self
    }

    /// Shares STARTTLS sessions through `cache` (see [`SessionCache`]).
    pub fn with_sessions(mut self, cache: Arc<SessionCache>) -> Self {
        self.sessions = Some(cache);
        self
    }

    /// Remembers what crosses rounds in `history` (without one, every probe starts afresh: no
    /// stale clock, no publication clock, no MTA-STS comparison).
    pub fn with_history(mut self, history: Arc<History>) -> Self {
        self.history = Some(history);
        self
    }

    /// Probes `target` and judges it. Never fails: every problem is part of the report. The
    /// target's DNS settings are the client's; the rest comes from `target`.
    pub async fn probe(&self, target: &Target) -> DomainReport {
        let started = Instant::now();
        let now = unix_now();
        let domain = normalize_name(&target.domain);
        let dns = self.dns.as_ref();
        if let Some(blind) = sight::before(&dns.sight()) {
            return DomainReport::blind(&domain, now, started.elapsed().as_secs_f64(), blind);
        }
        let sessions = self.sessions.as_deref();
        let step_timeout = target.smtp.step_timeout;
        let service_settings = ServiceSettings {
            step_timeout,
            reply_timeout: target.smtp.reply_timeout,
            ehlo_name: &target.smtp.ehlo_name,
            pkix: &target.service_trust,
        };
        let limits = self.limits.as_ref();
        let mx_probe = MxProbe {
            dns,
            smtp: &target.smtp,
            sessions,
            limits,
        };
        // Each check's future lives on the heap: joined inline they made one large future,
        // which every caller's frame copies (a debug build's test thread overflowed its stack).
        let (mut mx, services, gathered, files) = tokio::join!(
            Box::pin(mx::run(mx_probe, &domain, now)),
            join_all(target.services.iter().map(|spec| services::run(
                dns,
                spec,
                service_settings,
                now
            ))),
            Box::pin(mta_sts::run(dns, &target.mta_sts, &domain, step_timeout)),
            Box::pin(local_certs::run(&target.certificates, step_timeout)),
        );
        let (key_algorithms, zones) = tokio::join!(
            async {
                match target.key_algorithms {
                    true => {
                        Box::pin(key_algorithms::run(&mx, &target.smtp, sessions, limits)).await
                    }
                    false => Vec::new(),
                }
            },
            async {
                match &target.authoritative {
                    Some(settings) => Some(Box::pin(authoritative::run(settings, &mx)).await),
                    None => None,
                }
            },
        );
        attach_key_algorithms(&mut mx, key_algorithms);
        // A lookup that got no answer, or an answer signed but not validated, is checked against
        // the resolver's health before anything is judged.
        dns.settle(started).await;
        // A round that could not see leaves the history as it was: what it holds (first seen,
        // first unmatched, the last MTA-STS policy) is what rounds that could see found.
        let unknown: Vec<_> = sight::after(&dns.sight(), &mx).into_iter().collect();
        let seeing = unknown.is_empty();

        let key = target.key();
        let fresh;
        let history = match &self.history {
            Some(history) => history.as_ref(),
            None => {
                fresh = History::new();
                &fresh
            }
        };
        let MxJudgement {
            mut verdict,
            mut protected,
            mut failures,
            mut warnings,
            mut divergence,
        } = mx::judge(&mx, &key_algorithms::judge_endpoint);
        let services: Vec<ServiceReport> =
            services.into_iter().map(ServiceReport::judged).collect();
        let previous = history.previous_mta_sts(&key);
        let transport = mta_sts::judge(&gathered, &mx, previous.as_ref());
        if let Some(sts) = transport.mta_sts.as_ref().filter(|_| seeing) {
            history.remember_mta_sts(&key, sts);
        }
        warnings.extend(authoritative::tlsa_hygiene(&mx, &target.hygiene));
        if let Some(zones) = &zones {
            warnings.extend(authoritative::judge(zones));
        }
        let zones: Vec<ZoneReport> = zones.and_then(Result::ok).unwrap_or_default();
        let zone_consistent = |owner: &str| tlsa_zone_consistent(&zones, owner);
        let local_certificates = if target.certificates.is_empty() {
            Vec::new()
        } else {
            if seeing {
                history.observe_publications(&key, &mx, &zone_consistent);
            }
            let seen = |host: &str, record: &str| history.published(&key, host, record);
            let context = CertificateContext {
                seen: &seen,
                zone_consistent: &zone_consistent,
            };
            let (certificates, found) =
                local_certs::judge(&mx, &target.certificates, &files, &context);
            warnings.extend(found);
            certificates
        };
        if seeing {
            warnings.extend(history.stale_findings(&key, &mx, &target.hygiene));
        }
        // What senders reported for our own domains, beside what this probe saw.
        let senders = match key.direction {
            Direction::Inbound => history.senders(&domain),
            Direction::Outbound => None,
        };
        if let Some(view) = &senders {
            warnings.extend(tlsrpt::correlate(&mx, view));
        }
        if seeing {
            expect::hold(
                target.expect,
                &mx,
                &mut verdict,
                &mut failures,
                &mut warnings,
            );
        } else {
            // What the checks found came through a resolver that cannot be trusted: none of it
            // is held against the domain.
            verdict = Verdict::Unknown;
            protected = false;
            divergence = None;
            failures.clear();
            warnings.clear();
        }
        // A round that could not see says nothing about the domain: its verdict clock stays as
        // the last round that could left it ("failing since" goes on across a resolver outage).
        let verdict_since =
            (verdict != Verdict::Unknown).then(|| history.verdict(&key, verdict, &failures, now));
        history.end_round(&key);

        DomainReport {
            mx,
            duration_seconds: started.elapsed().as_secs_f64(),
            verdict,
            protected,
            failures,
            unknown,
            warnings,
            divergence,
            services,
            mta_sts: transport.mta_sts,
            tls_rpt: transport.tls_rpt,
            local_certificates,
            zones,
            verdict_since,
            senders: senders.map(|view| view.as_ref().clone()),
        }
    }
}

/// Puts each endpoint's key-algorithm reports (by host and endpoint index) into the MX facts.
fn attach_key_algorithms(mx: &mut MxReport, reports: Vec<Vec<Vec<KeyAlgorithmReport>>>) {
    for (host, per_endpoint) in mx.hosts.iter_mut().zip(reports) {
        for (endpoint, reports) in host.endpoints.iter_mut().zip(per_endpoint) {
            endpoint.key_algorithms = reports;
        }
    }
}
