//! The configuration as read ([`Config`]: global defaults, the `/probe` allow-list, the targets
//! by direction, each with its overrides) and its resolution into fully resolved targets.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::checks::authoritative::AuthoritativeSettings;
use crate::checks::mta_sts::MtaStsSettings;
use crate::checks::services::ServiceSpec;
use crate::core::{Direction, Expectation};
use crate::dane::PkixTrust;
use crate::dns::{CanarySettings, DnsSettings, DnssecMode};
use crate::smtp::SmtpSettings;

use super::names::DomainPattern;
use super::operations::OperationsConfig;
use crate::checks::local_certs::CertificateSpec;
use crate::target::{MetricsShape, Target, TargetSettings};

/// Shortest allowed probe interval: probing more often only loads the remote mail servers.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Largest allowed `concurrency`.
pub const MAX_CONCURRENCY: usize = 10_000;
/// Largest allowed `host_concurrency`.
pub const MAX_HOST_CONCURRENCY: usize = 1_000;

/// Settings that apply to every target unless it overrides them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// Time between the starts of two probes of one target.
    pub interval: Duration,
    /// Deadline of one whole probe (all MX hosts and addresses).
    pub timeout: Duration,
    /// Deadline of each DNS lookup, TCP connect and TLS handshake.
    pub step_timeout: Duration,
    /// Deadline of each SMTP reply (greeting, EHLO, STARTTLS); a target's is at most its
    /// `timeout`.
    pub smtp_reply_timeout: Duration,
    /// How many probes may run at once.
    pub concurrency: usize,
    /// How many SMTP connections may be open at once to one MX host address, across all probes.
    pub host_concurrency: usize,
    /// How DNSSEC security is established.
    pub dnssec_mode: DnssecMode,
    /// Nameservers to ask; empty means those of `/etc/resolv.conf`.
    pub nameservers: Vec<SocketAddr>,
    /// DNSKEY file replacing the built-in root trust anchor in validate mode; resolved against the
    /// config file's directory.
    pub trust_anchor_file: Option<PathBuf>,
    /// Our name in EHLO.
    pub ehlo_name: String,
    /// SMTP port; 25 except in tests.
    pub smtp_port: u16,
    /// PEM bundle of extra CAs trusted, next to Mozilla's roots, for the PKIX usages (0, 1) of
    /// the services' TLSA records; resolved against the config file's directory.
    pub service_ca_file: Option<PathBuf>,
    /// Its content, read and checked when the file was loaded.
    pub service_ca_pem: Option<Vec<u8>>,
    /// PEM roots trusted for MTA-STS besides Mozilla's; resolved against the config file's
    /// directory.
    pub mta_sts_ca_file: Option<PathBuf>,
    /// Port of MTA-STS policy hosts; 443 except in tests.
    pub https_port: u16,
    /// Authoritative consistency, hygiene and key-algorithm settings (`authoritative_checks`,
    /// `authoritative_port`, `key_algorithm_checks`, `tlsa_max_records`, `tlsa_max_ttl`,
    /// `tlsa_stale_after`).
    pub operations: OperationsConfig,
    /// What every target's verdict is held to (`expect`); `None`: `dane` for inbound targets,
    /// `any` for outbound ones.
    pub expect: Option<Expectation>,
    /// The resolver canary's name that must validate (`canary_secure_name`, `.` by default: see
    /// `crate::dns::CanarySettings`).
    pub canary_secure_name: String,
    /// The resolver canary's name that must fail validation (`canary_bogus_name`); `None`
    /// (written as `""`) skips it.
    pub canary_bogus_name: Option<String>,
}

impl Default for Global {
    fn default() -> Self {
        let smtp = SmtpSettings::default();
        Self {
            interval: Duration::from_secs(300),
            // Room for a greet-pausing server's minute-long reply wait and the rest of the probe.
            timeout: Duration::from_secs(120),
            step_timeout: smtp.step_timeout,
            smtp_reply_timeout: smtp.reply_timeout,
            concurrency: 64,
            host_concurrency: crate::smtp::DEFAULT_HOST_CONCURRENCY,
            dnssec_mode: DnssecMode::default(),
            nameservers: Vec::new(),
            trust_anchor_file: None,
            ehlo_name: smtp.ehlo_name,
            smtp_port: smtp.port,
            service_ca_file: None,
            service_ca_pem: None,
            mta_sts_ca_file: None,
            https_port: 443,
            operations: OperationsConfig::default(),
            expect: None,
            canary_secure_name: CanarySettings::default().secure_name,
            canary_bogus_name: CanarySettings::default().bogus_name,
        }
    }
}

impl Global {
    /// What the resolver canary asks: the configured names, each query bounded by the step
    /// timeout and by 5 s (a validating resolver answers the root from its cache at once).
    pub fn canary(&self) -> CanarySettings {
        CanarySettings {
            secure_name: self.canary_secure_name.clone(),
            bogus_name: self.canary_bogus_name.clone(),
            timeout: self.step_timeout.min(CanarySettings::default().timeout),
        }
    }
}

/// Per-target replacements of [`Global`] settings; `None` keeps the global value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Replaces [`Global::interval`].
    pub interval: Option<Duration>,
    /// Replaces [`Global::timeout`].
    pub timeout: Option<Duration>,
    /// Replaces [`Global::step_timeout`].
    pub step_timeout: Option<Duration>,
    /// Replaces [`Global::dnssec_mode`].
    pub dnssec_mode: Option<DnssecMode>,
    /// Replaces [`Global::nameservers`] (an empty list means `/etc/resolv.conf`).
    pub nameservers: Option<Vec<SocketAddr>>,
    /// Replaces [`Global::trust_anchor_file`].
    pub trust_anchor_file: Option<PathBuf>,
    /// Check MTA-STS; `None`: yes for inbound, no for outbound.
    pub mta_sts: Option<bool>,
    /// Check TLS-RPT; `None`: yes for inbound, no for outbound.
    pub tls_rpt: Option<bool>,
    /// The shape of the target's series; `None`: full (entries of a `domains_file` list get
    /// summary unless they say otherwise).
    pub metrics: Option<MetricsShape>,
    /// Replaces [`Global::expect`].
    pub expect: Option<Expectation>,
}

/// One entry of `inbound` or `outbound`, as written (after validation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSpec {
    /// The mail domain, normalised.
    pub domain: String,
    /// Extra labels on this target's metrics (shared by the domains of one list).
    pub labels: Arc<BTreeMap<String, String>>,
    /// Settings replacing the global ones.
    pub overrides: Overrides,
    /// Other TLS services of the domain to check against their TLSA records (`crate::checks::services`).
    pub services: Vec<ServiceSpec>,
    /// Local certificate files per MX host (inbound only; see `certificates.rs`).
    pub certificates: Vec<CertificateSpec>,
}

impl TargetSpec {
    /// Whether `other` resolves to the same settings (every key but the domain is the same).
    fn same_settings(&self, other: &TargetSpec) -> bool {
        (Arc::ptr_eq(&self.labels, &other.labels) || self.labels == other.labels)
            && self.overrides == other.overrides
            && self.services == other.services
            && self.certificates == other.certificates
    }
}

/// A `/probe` module: the direction its series are labelled with and the settings it replaces
/// (like blackbox_exporter's modules). `inbound` and `outbound` are built in, with no overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// The direction the probe is judged and labelled in.
    pub direction: Direction,
    /// Settings replacing the global ones.
    pub overrides: Overrides,
}

impl Module {
    /// The names of the built-in modules.
    pub const BUILT_IN: [&'static str; 2] = ["inbound", "outbound"];

    /// The built-in module of `direction`.
    pub fn built_in(direction: Direction) -> Self {
        Module {
            direction,
            overrides: Overrides::default(),
        }
    }
}

/// A validated configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Defaults for every target.
    pub global: Global,
    /// Domains `/probe` may be asked for; `None` (key absent) allows the configured targets
    /// only, an empty list none.
    pub probe_allow: Option<Vec<DomainPattern>>,
    /// Named `/probe` modules besides the built-in `inbound` and `outbound`.
    pub modules: BTreeMap<String, Module>,
    /// Our own domains: others send to us.
    pub inbound: Vec<TargetSpec>,
    /// Domains we send to.
    pub outbound: Vec<TargetSpec>,
}

impl Config {
    /// Every target, inbound first, in file order, with global defaults and overrides merged.
    /// Consecutive specs that differ only in their domain (the domains of one `domains_file`
    /// list) share one [`TargetSettings`].
    pub fn targets(&self) -> Vec<Target> {
        let inbound = self.inbound.iter().map(|t| (t, Direction::Inbound));
        let outbound = self.outbound.iter().map(|t| (t, Direction::Outbound));
        let trust = self.service_trust();
        let mut previous: Option<(&TargetSpec, Direction, Arc<TargetSettings>)> = None;
        let mut targets = Vec::with_capacity(self.inbound.len() + self.outbound.len());
        for (spec, direction) in inbound.chain(outbound) {
            let settings = match &previous {
                Some((before, was, settings))
                    if *was == direction && before.same_settings(spec) =>
                {
                    Arc::clone(settings)
                }
                _ => Arc::new(self.settings(spec, direction, &trust)),
            };
            previous = Some((spec, direction, Arc::clone(&settings)));
            targets.push(Target {
                domain: spec.domain.clone(),
                direction,
                settings,
            });
        }
        targets
    }

    /// Mozilla's roots plus the configured service CA bundle (checked when it was loaded).
    pub fn service_trust(&self) -> Arc<PkixTrust> {
        let roots = PkixTrust::public_roots();
        let trust = match &self.global.service_ca_pem {
            Some(pem) => roots.clone().with_pem_bundle(pem).unwrap_or(roots),
            None => roots,
        };
        Arc::new(trust)
    }

    /// Whether `/probe` may probe this domain (normalise it first with [`normalize_domain`]):
    /// one matching `probe_allow`, or without that key one of the configured targets, so that an
    /// exporter reachable by others does not connect to any host they name.
    pub fn probe_allowed(&self, domain: &str) -> bool {
        match &self.probe_allow {
            None => self
                .inbound
                .iter()
                .chain(&self.outbound)
                .any(|t| t.domain == domain),
            Some(patterns) => patterns.iter().any(|p| p.matches(domain)),
        }
    }

    /// What `/probe` needs once the targets are resolved and scheduled: this configuration
    /// without its target specs (100,000 of them for a big list), and the configured domains
    /// it answers for without `probe_allow` (none with it: the patterns decide).
    pub fn into_probe_settings(self) -> (Config, HashSet<String>) {
        let configured = match self.probe_allow {
            Some(_) => HashSet::new(),
            None => self
                .inbound
                .iter()
                .chain(&self.outbound)
                .map(|spec| spec.domain.clone())
                .collect(),
        };
        let config = Config {
            inbound: Vec::new(),
            outbound: Vec::new(),
            ..self
        };
        (config, configured)
    }

    /// The module called `name`: a configured one, or a built-in one.
    pub fn module(&self, name: &str) -> Option<Module> {
        if let Some(module) = self.modules.get(name) {
            return Some(module.clone());
        }
        match name {
            "inbound" => Some(Module::built_in(Direction::Inbound)),
            "outbound" => Some(Module::built_in(Direction::Outbound)),
            _ => None,
        }
    }

    /// A target with the global settings only and no extra labels, for a `/probe` request. The
    /// domain should be normalised and allowed (see [`Config::probe_allowed`]).
    pub fn adhoc_target(&self, domain: &str, direction: Direction) -> Target {
        self.module_target(domain, &Module::built_in(direction))
    }

    /// A target with the global settings and those of `module`, for a `/probe` request.
    pub fn module_target(&self, domain: &str, module: &Module) -> Target {
        let spec = TargetSpec {
            domain: domain.to_string(),
            labels: Arc::default(),
            overrides: module.overrides.clone(),
            services: Vec::new(),
            certificates: Vec::new(),
        };
        self.resolve(&spec, module.direction, &Arc::new(PkixTrust::empty()))
    }

    /// `spec` in `direction` with every setting resolved: the global defaults and the target's
    /// overrides merged, the direction's defaults applied. `trust` holds the roots for the
    /// services' PKIX usages (see [`Config::service_trust`]).
    pub fn resolve(
        &self,
        spec: &TargetSpec,
        direction: Direction,
        trust: &Arc<PkixTrust>,
    ) -> Target {
        Target::with_settings(
            &spec.domain,
            direction,
            self.settings(spec, direction, trust),
        )
    }

    /// The settings of [`Config::resolve`]: everything but the domain.
    fn settings(
        &self,
        spec: &TargetSpec,
        direction: Direction,
        trust: &Arc<PkixTrust>,
    ) -> TargetSettings {
        let global = &self.global;
        let over = &spec.overrides;
        let step_timeout = over.step_timeout.unwrap_or(global.step_timeout);
        let interval = over.interval.unwrap_or(global.interval);
        // The default whole-probe timeout yields to a shorter interval (a written one was
        // checked to fit when the file was read).
        let timeout = over.timeout.unwrap_or(global.timeout).min(interval);
        let dns = DnsSettings {
            mode: over.dnssec_mode.unwrap_or(global.dnssec_mode),
            nameservers: over
                .nameservers
                .clone()
                .unwrap_or_else(|| global.nameservers.clone()),
            trust_anchor_file: over
                .trust_anchor_file
                .clone()
                .or_else(|| global.trust_anchor_file.clone()),
            timeout: step_timeout,
        };
        let ops = &global.operations;
        let authoritative = ops
            .authoritative_for(direction)
            .then(|| AuthoritativeSettings {
                port: ops.authoritative_port,
                timeout: step_timeout,
                // Without resolvers the zone cuts cannot be found; each zone then reports why.
                resolvers: crate::dns::resolver_addresses(&dns).unwrap_or_default(),
            });
        TargetSettings {
            expect: over
                .expect
                .or(global.expect)
                .unwrap_or_else(|| Expectation::default_for(direction)),
            labels: Arc::clone(&spec.labels),
            interval,
            timeout,
            dns,
            smtp: SmtpSettings {
                port: global.smtp_port,
                ehlo_name: global.ehlo_name.clone(),
                step_timeout,
                // No reply may outwait the whole probe.
                reply_timeout: global.smtp_reply_timeout.min(timeout),
                tls_fallback: true,
            },
            services: spec.services.clone(),
            service_trust: Arc::clone(trust),
            // Our own domains get MTA-STS and TLS-RPT checked unless told otherwise: they are ours
            // to fix. For domains we send to, it is opt-in.
            mta_sts: MtaStsSettings {
                mta_sts: over.mta_sts.unwrap_or(direction == Direction::Inbound),
                tls_rpt: over.tls_rpt.unwrap_or(direction == Direction::Inbound),
                ca_file: global.mta_sts_ca_file.clone(),
                https_port: global.https_port,
            },
            certificates: spec.certificates.clone(),
            authoritative,
            hygiene: ops.hygiene,
            key_algorithms: ops.key_algorithms_for(direction),
            metrics: over.metrics.unwrap_or_default(),
        }
    }
}
