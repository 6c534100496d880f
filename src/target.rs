//! One target with every setting resolved: what the probe takes.
//!
//! `crate::config` resolves each configured domain (global defaults merged with its overrides,
//! direction-dependent defaults applied, files read) into a [`Target`], once per load; so does
//! `dane_exporter check` for its one domain, through the same resolution. Nothing below reads the
//! configuration again.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use crate::checks::authoritative::{AuthoritativeSettings, HygieneLimits};
use crate::checks::local_certs::CertificateSpec;
use crate::checks::mta_sts::MtaStsSettings;
use crate::checks::services::ServiceSpec;
use crate::core::{Direction, Expectation, TargetKey};
use crate::dane::PkixTrust;
use crate::dns::DnsSettings;
use crate::smtp::SmtpSettings;

/// A domain to probe, with every setting resolved.
///
/// The settings are read through `Deref` (`target.smtp.port`) and shared: every domain of one
/// configuration entry (a `domains_file` list of 100,000 domains) holds one [`TargetSettings`].
/// Writing one (`target.smtp.port = 2525`, through `DerefMut`) copies it first when it is shared.
#[derive(Clone, Debug)]
pub struct Target {
    /// The mail domain, normalised.
    pub domain: String,
    /// Which list it came from.
    pub direction: Direction,
    /// Everything else about it.
    pub settings: Arc<TargetSettings>,
}

/// The settings of a [`Target`], shared by the targets of one configuration entry.
#[derive(Clone, Debug)]
pub struct TargetSettings {
    /// What its verdict is held to (`expect`): DANE, or anything that delivers.
    pub expect: Expectation,
    /// Extra labels on its metrics, shared by every target of one configuration entry.
    pub labels: Arc<BTreeMap<String, String>>,
    /// Time between the starts of two probes.
    pub interval: Duration,
    /// Deadline of one whole probe.
    pub timeout: Duration,
    /// How to do its DNS lookups.
    pub dns: DnsSettings,
    /// How to talk SMTP to its MX hosts.
    pub smtp: SmtpSettings,
    /// Other TLS services to probe with the domain.
    pub services: Vec<ServiceSpec>,
    /// Roots for those services' PKIX usages: Mozilla's plus `global.service_ca_file`.
    pub service_trust: Arc<PkixTrust>,
    /// Whether and how MTA-STS and TLS-RPT are checked.
    pub mta_sts: MtaStsSettings,
    /// Local certificate files to compare with the TLSA records (inbound only).
    pub certificates: Vec<CertificateSpec>,
    /// How the authoritative nameservers are asked; `None` when they are not (the direction is
    /// outside `authoritative_checks`).
    pub authoritative: Option<AuthoritativeSettings>,
    /// Thresholds of the hygiene warnings.
    pub hygiene: HygieneLimits,
    /// Whether endpoints where DANE applies get the extra session per other key algorithm
    /// (the direction is inside `key_algorithm_checks`).
    pub key_algorithms: bool,
    /// Which of its series `/metrics` serves.
    pub metrics: MetricsShape,
}

impl Deref for Target {
    type Target = TargetSettings;

    fn deref(&self) -> &TargetSettings {
        &self.settings
    }
}

impl DerefMut for Target {
    fn deref_mut(&mut self) -> &mut TargetSettings {
        Arc::make_mut(&mut self.settings)
    }
}

/// Which series a target's results become on `/metrics` (`metrics:` in the configuration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetricsShape {
    /// Every series of every check: per MX host, address, RRset and record.
    #[default]
    Full,
    /// Only what says whether mail to the domain would be deferred and why (success, verdict,
    /// failure reasons, probe time): a few series per domain, for lists of thousands of
    /// recipient domains, which the aggregates (`crate::metrics`) sum up.
    Summary,
}

impl MetricsShape {
    /// The accepted names, in the configuration's words.
    pub const NAMES: [&'static str; 2] = ["full", "summary"];

    /// The shape named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "full" => Some(Self::Full),
            "summary" => Some(Self::Summary),
            _ => None,
        }
    }
}

impl Target {
    /// `domain` in `direction` with the defaults of an empty configuration file, except that
    /// MTA-STS and TLS-RPT are not checked, the authoritative nameservers are not asked, the
    /// key-algorithm sessions are made and any verdict is taken as it is (`expect: any`): what a
    /// test or a one-off probe usually wants.
    pub fn new(domain: &str, direction: Direction) -> Self {
        let smtp = SmtpSettings::default();
        Self::with_settings(
            domain,
            direction,
            TargetSettings {
                expect: Expectation::Any,
                labels: Arc::default(),
                interval: Duration::from_secs(300),
                timeout: Duration::from_secs(30),
                dns: DnsSettings {
                    timeout: smtp.step_timeout,
                    ..DnsSettings::default()
                },
                smtp,
                services: Vec::new(),
                service_trust: Arc::new(PkixTrust::empty()),
                mta_sts: MtaStsSettings::default(),
                certificates: Vec::new(),
                authoritative: None,
                hygiene: HygieneLimits::default(),
                key_algorithms: true,
                metrics: MetricsShape::Full,
            },
        )
    }

    /// `domain` in `direction` with `settings`.
    pub fn with_settings(domain: &str, direction: Direction, settings: TargetSettings) -> Self {
        Self {
            domain: domain.to_string(),
            direction,
            settings: Arc::new(settings),
        }
    }

    /// The key of this target: its direction and domain.
    pub fn key(&self) -> TargetKey {
        TargetKey {
            direction: self.direction,
            domain: self.domain.clone(),
        }
    }
}
