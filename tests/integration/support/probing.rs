//! The probe as the tests drive it: one prober and a target template whose domain each call sets,
//! so a test names the settings it cares about and probes domain after domain.

use std::sync::Arc;

use dane_exporter::checks::authoritative::{AuthoritativeSettings, HygieneLimits};
use dane_exporter::checks::mta_sts::MtaStsSettings;
use dane_exporter::checks::services::ServiceSpec;
use dane_exporter::core::Direction;
use dane_exporter::dane::PkixTrust;
use dane_exporter::dns::DnsClient;
use dane_exporter::history::History;
use dane_exporter::probe::Prober;
use dane_exporter::report::DomainReport;
use dane_exporter::smtp::{SessionCache, SmtpSettings};
use dane_exporter::target::Target;

/// A [`Prober`] and the target settings every probe of it uses.
pub struct TestProber {
    prober: Prober,
    target: Target,
}

impl TestProber {
    /// Probes with `dns` and `smtp`; everything else as `Target::new` has it (key-algorithm
    /// sessions on, MTA-STS and the authoritative checks off, no services, no history).
    pub fn new(dns: DnsClient, smtp: SmtpSettings) -> Self {
        let mut target = Target::new("", Direction::Inbound);
        target.smtp = smtp;
        Self {
            prober: Prober::new(dns),
            target,
        }
    }

    /// The same prober with the target settings changed by `change`.
    pub fn configure(mut self, change: impl FnOnce(&mut Target)) -> Self {
        change(&mut self.target);
        self
    }

    /// Probes `services` with every domain; `trust` holds the roots of their PKIX usages.
    pub fn with_services(self, services: Vec<ServiceSpec>, trust: Arc<PkixTrust>) -> Self {
        self.configure(|t| {
            t.services = services;
            t.service_trust = trust;
        })
    }

    /// Checks MTA-STS and TLS-RPT as `settings` says.
    pub fn with_mta_sts(self, settings: MtaStsSettings) -> Self {
        self.configure(|t| t.mta_sts = settings)
    }

    /// Asks the authoritative nameservers as `settings` says.
    pub fn with_authoritative(self, settings: AuthoritativeSettings) -> Self {
        self.configure(|t| t.authoritative = Some(settings))
    }

    /// Warns by the hygiene thresholds `limits`.
    pub fn with_hygiene(self, limits: HygieneLimits) -> Self {
        self.configure(|t| t.hygiene = limits)
    }

    /// Shares STARTTLS sessions through `cache`.
    pub fn with_sessions(mut self, cache: Arc<SessionCache>) -> Self {
        self.prober = self.prober.with_sessions(cache);
        self
    }

    /// Keeps what crosses rounds in `history`.
    pub fn with_history(mut self, history: Arc<History>) -> Self {
        self.prober = self.prober.with_history(history);
        self
    }

    /// Probes `domain` with the template's settings.
    pub async fn probe_domain(&self, domain: &str) -> DomainReport {
        self.probe_changed(domain, |_| {}).await
    }

    /// Probes `domain` with the template's settings changed by `change` for this probe only.
    pub async fn probe_changed(
        &self,
        domain: &str,
        change: impl FnOnce(&mut Target),
    ) -> DomainReport {
        let mut target = self.target.clone();
        target.domain = domain.to_string();
        change(&mut target);
        self.prober.probe(&target).await
    }
}
