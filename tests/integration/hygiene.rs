//! Hygiene warnings from zones that have each problem: the real stack's ops7dns zones (and its
//! `unusable` and `brokends` zones), probed in-process through `Prober::probe_domain` with the
//! authoritative checks on, in both DNSSEC modes. Each zone must give its own `reason` and keep
//! its verdict; a clean zone gives none of them.

use std::time::Duration;

use dane_exporter::consistency::{AuthoritativeSettings, OperationsSettings};
use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use dane_exporter::hygiene::HygieneLimits;
use dane_exporter::probe::Prober;
use dane_exporter::report::{DomainReport, Verdict};
use dane_exporter::smtp::SmtpSettings;

use crate::support::stack::Stack;

/// Every reason the hygiene rules give (`src/hygiene.rs`).
const HYGIENE_REASONS: &[&str] = &[
    "tlsa_duplicate_record",
    "tlsa_too_many_records",
    "tlsa_full_certificate",
    "tlsa_pkix_usage",
    "tlsa_ttl_too_long",
    "dane_ta_not_sent",
    "tlsa_record_stale",
    "dnskey_algorithm_deprecated",
    "ds_missing",
    "ds_digest_sha1_only",
    "ds_no_matching_dnskey",
    "ds_unmatched",
    "nameserver_inconsistent",
];

fn prober(stack: &Stack, validate: bool) -> Prober {
    let (mode, resolver, anchor) = if validate {
        (
            DnssecMode::Validate,
            stack.var("AUTH"),
            Some(stack.var("TRUST_ANCHOR").into()),
        )
    } else {
        (DnssecMode::TrustResolver, stack.var("RESOLVER"), None)
    };
    let resolver = resolver.parse().expect("resolver address");
    let timeout = Duration::from_secs(3);
    let dns = DnsClient::new(&DnsSettings {
        mode,
        nameservers: vec![resolver],
        trust_anchor_file: anchor,
        timeout,
    })
    .expect("DNS client");
    let smtp = SmtpSettings {
        port: stack.var("SMTP_PORT").parse().expect("SMTP port"),
        ehlo_name: "hygiene.test".into(),
        step_timeout: timeout,
    };
    let nsd_port = stack.var("AUTH").rsplit(':').next().unwrap_or_default();
    Prober::new(dns, smtp).with_operations(OperationsSettings {
        authoritative: Some(AuthoritativeSettings {
            port: nsd_port.parse().expect("NSD port"),
            timeout,
            resolvers: vec![resolver],
        }),
        // httl.test publishes TTL 50000 s; resolvers cap cached TTLs at a day, so the tests
        // use a threshold below both.
        hygiene: HygieneLimits {
            max_ttl: 3600,
            ..HygieneLimits::default()
        },
    })
}

fn hygiene_reasons(report: &DomainReport) -> Vec<&str> {
    let mut reasons: Vec<&str> = report
        .warnings
        .iter()
        .map(|w| w.reason.as_str())
        .filter(|r| HYGIENE_REASONS.contains(r))
        .collect();
    reasons.sort_unstable();
    reasons
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_zone_gives_its_warning() {
    let stack = Stack::up();
    // domain, expected verdict, expected hygiene reasons (sorted)
    let cases: &[(&str, Verdict, &[&str])] = &[
        ("ok311.test", Verdict::Pass, &[]),
        ("hfull.test", Verdict::Pass, &["tlsa_full_certificate"]),
        ("httl.test", Verdict::Pass, &["tlsa_ttl_too_long"]),
        ("hmany.test", Verdict::Pass, &["tlsa_too_many_records"]),
        ("unusable.test", Verdict::Pass, &["tlsa_pkix_usage"]),
        (
            "hsha1.test",
            Verdict::Pass,
            &["dnskey_algorithm_deprecated"],
        ),
        ("hds1.test", Verdict::Pass, &["ds_digest_sha1_only"]),
        ("hdsstale.test", Verdict::Pass, &["ds_unmatched"]),
        // The DS in test. is for another key: bogus, and the zone check says why.
        ("brokends.test", Verdict::Fail, &["ds_no_matching_dnskey"]),
        ("lag.test", Verdict::Pass, &["nameserver_inconsistent"]),
    ];
    for validate in [false, true] {
        let mode = if validate {
            "validate"
        } else {
            "trust-resolver"
        };
        let prober = prober(&stack, validate);
        for (domain, verdict, expected) in cases {
            let report = tokio::time::timeout(Duration::from_secs(30), prober.probe_domain(domain))
                .await
                .unwrap_or_else(|_| panic!("[{mode}] {domain}: probe did not finish"));
            let warnings: Vec<(&str, &str)> = report
                .warnings
                .iter()
                .map(|w| (w.reason.as_str(), w.message.as_str()))
                .collect();
            assert_eq!(report.verdict, *verdict, "[{mode}] {domain}: {warnings:#?}");
            assert_eq!(
                hygiene_reasons(&report),
                *expected,
                "[{mode}] {domain}: {warnings:#?}"
            );
        }
    }
}
