//! Every probe metric's name and help text, in one table; the order the exposition writes them.

/// The metrics whose value is a time left ([`crate::core::Sink::countdown`]): stored as their
/// deadline, written as the seconds left when the scrape begins.
pub const COUNTDOWNS: &[&str] = &["dane_divergence_remaining_seconds"];

/// Every probe metric: name and help text. docs/metrics.md's table mirrors this list.
pub const PROBE_METRICS: &[(&str, &str)] = &[
    ("dane_probe_success", "1 when no DANE-enforcing sender would defer mail to the domain (verdict pass, encrypt_only or not applicable), else 0. Absent while the verdict is unknown (the exporter cannot see)."),
    ("dane_probe_verdict", "Verdict of the last probe in the verdict label (pass, fail, encrypt_only: TLSA records but none usable, not_applicable, or unknown: the exporter could not see): one series, for the current verdict, value 1."),
    ("dane_probe_unknown_info", "One series per reason the verdict is unknown (resolver_not_validating, resolver_unavailable): the exporter could not see, and the domain's other series are left out."),
    ("dane_domain_protected", "1 when the MX RRset is signed and every MX host has DANE and authenticates."),
    ("dane_probe_duration_seconds", "Seconds the last probe of the domain took."),
    ("dane_probe_timestamp_seconds", "Unix time the last probe of the domain started."),
    ("dane_probe_verdict_since_timestamp_seconds", "Unix time of the first probe with the current verdict, as the exporter's history records it (kept in the database across restarts)."),
    ("dane_probe_failure_info", "One series per reason a DANE sender would defer mail, with the MX host and address concerned."),
    ("dane_probe_warning_info", "One series per finding that does not defer mail today but needs attention."),
    ("dane_dnssec_valid", "1 when the RRset validated secure, else 0."),
    ("dane_dnssec_status", "Why the RRset is not secure, in the status label (insecure, bogus, indeterminate): one series, for the current state, value 1; none for a secure RRset (dane_dnssec_valid 1)."),
    ("dane_rrsig_expiration_timestamp_seconds", "Earliest RRSIG expiration of the RRset (Unix time)."),
    ("dane_mx_dane_state", "Whether DANE applies to the MX host, in the state label (applies, no_tlsa, tlsa_insecure, addresses_insecure, tlsa_lookup_failed, address_lookup_failed): one series, for the current state, value 1."),
    ("dane_tlsa_rollover_ready", "1 when the TLSA RRset survives a key change: a record for a next key, or a DANE-TA match (RFC 7671 section 8)."),
    ("dane_tlsa_records", "Number of TLSA records published for the MX host."),
    ("dane_tlsa_record_state", "State of each TLSA record against each endpoint's chain in the state label (matched, no_match, unusable): one series per record and endpoint, value 1."),
    ("dane_tlsa_match", "1 when the endpoint's certificate chain is authenticated by a usable TLSA record, else 0 (a mismatch, a failed session, or no usable record at all). Only where DANE applies and the endpoint was reached."),
    ("dane_endpoint_reachable", "1 when the endpoint greeted with 220, 0 when it refused, stayed silent or greeted with 4xx/5xx (senders try the next address); absent when the monitoring host has no route to its address (skipped)."),
    ("dane_address_family_reachable", "1 when some MX address of the family (ipv4, ipv6) was reached from the monitoring host, else 0. Only for families the domain has addresses of."),
    ("dane_starttls_offered", "1 when the endpoint offered STARTTLS in its EHLO reply, else 0."),
    ("dane_tls_version_info", "TLS version negotiated with the endpoint, and the engine that completed the handshake (rustls; openssl for servers only Postfix's OpenSSL settings can speak to)."),
    ("dane_certificate_not_after_timestamp_seconds", "notAfter of the endpoint's leaf certificate (Unix time)."),
    ("dane_divergence_timestamp_seconds", "Earliest moment the TLSA RRset and the endpoint's chain are expected to stop matching if nobody acts (Unix time)."),
    ("dane_divergence_remaining_seconds", "Seconds from now (the scrape) until dane_divergence_timestamp_seconds (divide by 86400 for days to divergence); 0 when the endpoint does not authenticate now."),
    ("dane_smtp_duration_seconds", "Seconds the SMTP and TLS dialogue with the endpoint took."),
    // Other TLS services of the domain (crate::checks::services).
    ("dane_service_success", "1 when the service's verdict is pass or not_applicable (no DANE client would refuse it), else 0."),
    ("dane_service_verdict", "Verdict of the service in the verdict label (pass, fail or not_applicable): one series, for the current verdict, value 1."),
    ("dane_service_dane_state", "Whether DANE applies to the service, in the state label (applies, no_tlsa, tlsa_insecure, addresses_insecure, tlsa_lookup_failed, address_lookup_failed): one series, for the current state, value 1."),
    ("dane_service_failure_info", "One series per reason a DANE client would refuse the service, with the address concerned."),
    ("dane_service_warning_info", "One series per service finding that needs attention but fails nothing."),
    ("dane_service_tlsa_records", "Number of TLSA records published for the service."),
    ("dane_service_tlsa_expiration_timestamp_seconds", "Earliest RRSIG expiration of the service's TLSA RRset (Unix time)."),
    ("dane_service_tlsa_match", "1 when the service endpoint's chain authenticates against its TLSA RRset (PKIX usages included), else 0. Only where DANE applies."),
    ("dane_service_tlsa_record_state", "State of each TLSA record of the service against each endpoint's chain in the state label (matched, no_match, unusable): one series per record and endpoint, value 1."),
    ("dane_service_starttls_offered", "1 when the STARTTLS service endpoint offered STARTTLS (STLS), else 0."),
    ("dane_service_certificate_not_after_timestamp_seconds", "notAfter of the service endpoint's leaf certificate (Unix time)."),
    ("dane_service_divergence_timestamp_seconds", "Earliest moment the service's TLSA RRset and the endpoint's chain are expected to stop matching (Unix time)."),
    ("dane_service_duration_seconds", "Seconds the dialogue and TLS handshake with the service endpoint took."),
    ("dane_mta_sts_policy_valid", "1 when the domain has exactly one valid _mta-sts TXT record and its policy was fetched over validated HTTPS and parsed, else 0 (RFC 8461). Only for targets with MTA-STS checks."),
    ("dane_mta_sts_mode", "Mode of the MTA-STS policy in the mode label (enforce, testing, none): one series, value 1. Only when a valid policy was fetched."),
    ("dane_mta_sts_max_age_seconds", "max_age of the MTA-STS policy: seconds senders may cache it."),
    ("dane_mta_sts_policy_fetch_duration_seconds", "Seconds the HTTPS fetch of the MTA-STS policy took."),
    ("dane_mta_sts_mx_covered", "1 when the MX host matches an mx pattern of the MTA-STS policy, else 0. Only when a valid policy was fetched."),
    ("dane_mta_sts_certificate_valid", "1 when the endpoint's STARTTLS certificate passes MTA-STS validation (WebPKI chain to a trusted root, MX host name), else 0. Only while the domain has an MTA-STS policy."),
    ("dane_mta_sts_problem_info", "One series per MTA-STS problem, with the MX host and address concerned. Does not affect the DANE verdict."),
    ("dane_tls_rpt_valid", "1 when the domain has exactly one valid _smtp._tls TLS-RPT record (RFC 8460), else 0. Only for targets with TLS-RPT checks."),
    ("dane_tls_rpt_problem_info", "One series per TLS-RPT problem (missing, malformed, several records, lookup failed)."),
    // Key algorithms (crate::checks::key_algorithms).
    ("dane_key_algorithm_offered", "1 when the endpoint presents a certificate with a key of that algorithm (ecdsa, rsa), 0 when it refuses a handshake limited to it; absent when that probe failed. Only where DANE applies, for targets global.key_algorithm_checks covers (inbound by default)."),
    ("dane_key_algorithm_tlsa_match", "1 when the chain the endpoint presents for that key algorithm authenticates against the TLSA RRset, else 0. Only for offered algorithms where DANE applies, for targets global.key_algorithm_checks covers."),
    // Local certificate files (crate::checks::local_certs).
    ("dane_local_certificate_tlsa_match", "1 when the certificate file (slot live or staged) is authenticated by the published TLSA RRset, else 0. Only where DANE applies to the MX host."),
    ("dane_local_certificate_safe_to_deploy", "1 when a TLSA record matching the certificate file has been published for at least two TTLs of the RRset (RFC 7671 section 8.1), or the file is already served by every address, else 0."),
    ("dane_local_certificate_published_seconds", "Seconds the oldest TLSA record matching the certificate file has been published, as first seen by the exporter's probes, as of the last probe."),
    ("dane_local_certificate_required_publication_seconds", "Two TTLs of the MX host's TLSA RRset: how long a record must be published before its key is deployed (RFC 7671 section 8.1)."),
    ("dane_local_certificate_served", "1 when every endpoint of the MX host presents the certificate file's key, else 0 (a live file not served means a reload is pending)."),
    ("dane_local_certificate_not_after_timestamp_seconds", "notAfter of the certificate file's leaf (Unix time)."),
    ("dane_zone_consistent", "1 when every authoritative nameserver address of the zone serves the newest SOA serial, the same TLSA/MX RRsets and valid signatures, else 0."),
    ("dane_nameserver_consistent", "1 when this authoritative nameserver address serves the zone's newest SOA serial, the same TLSA/MX RRsets as the others and valid signatures, else 0."),
    ("dane_nameserver_soa_serial", "SOA serial this authoritative nameserver address serves for the zone."),
    ("dane_nameserver_rrset_match", "1 when this authoritative nameserver address serves the RRset exactly as the servers with the newest serial do, else 0."),
    ("dane_nameserver_signatures_valid", "1 when this authoritative nameserver address serves the SOA and compared RRsets with RRSIGs that are in their validity period and verify with the zone's DNSKEYs (always 1 for an unsigned zone), else 0."),
    ("dane_zone_warning_info", "One series per zone-level finding: DNSKEY/DS health and nameserver disagreement."),
];

/// The aggregates over every stored result (`aggregate.rs`), computed at scrape time: name and
/// help text. Each carries `direction` and the targets' extra labels, then its own.
pub const AGGREGATE_METRICS: &[(&str, &str)] = &[
    ("dane_domains", "Number of domains whose last probe gave the verdict in the verdict label (pass, fail, encrypt_only, not_applicable); every verdict has a series."),
    ("dane_domains_failing", "Number of domains a DANE sender would defer mail to for the reason in the reason label (a domain failing for several reasons counts under each)."),
    ("dane_mx_host_domains", "Number of domains whose MX RRset names the MX host in the mx label (the hosts serving the most domains, at most 10,000)."),
    ("dane_mx_host_failing_domains", "Number of domains with a failure at the MX host in the mx label: domains a DANE sender would defer mail to because of that host."),
];

/// The TLS-RPT report metrics (`crate::metrics::tlsrpt`): name, type and help text, in
/// exposition order. docs/metrics.md lists them too.
pub const TLSRPT_METRICS: &[(&str, &str, &str)] = &[
    ("dane_tlsrpt_failed_sessions_total", "counter", "Failed sessions senders reported in TLS-RPT reports (RFC 8460) for the policy domain, by organisation, policy type and result type (unspecified: failures the summary counts beyond its failure details)."),
    ("dane_tlsrpt_last_report_end_timestamp_seconds", "gauge", "End of the period of the latest TLS-RPT report of the organisation for the policy domain (Unix time)."),
    ("dane_tlsrpt_last_report_start_timestamp_seconds", "gauge", "Start of the period of the latest TLS-RPT report of the organisation for the policy domain (Unix time)."),
    ("dane_tlsrpt_reports_total", "counter", "TLS-RPT reports received and stored for the policy domain, by reporting organisation."),
    ("dane_tlsrpt_successful_sessions_total", "counter", "Successful sessions senders reported in TLS-RPT reports for the policy domain, by organisation and policy type."),
];

/// Indices of [`PROBE_METRICS`] sorted by metric name: the exposition's family order, as the
/// prometheus crate and Prometheus' own exporters write it.
pub(super) fn metrics_by_name() -> &'static [usize] {
    static ORDER: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    ORDER.get_or_init(|| {
        let mut order: Vec<usize> = (0..PROBE_METRICS.len()).collect();
        order.sort_by_key(|&i| PROBE_METRICS[i].0);
        order
    })
}

/// The index of `name` in [`PROBE_METRICS`].
pub(super) fn index_of(name: &str) -> Option<usize> {
    PROBE_METRICS.iter().position(|(n, _)| *n == name)
}
