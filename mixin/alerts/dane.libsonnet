// The rules of alerts/dane.rules.yml, as a function of the mixin's _config (config.libsonnet).
// The comment:: fields become the comments of the generated file: they say why a rule is as it is.
function(config) {
  comment:: |||
    Alert rules for dane_exporter: DANE (RFC 7672) health of mail domains.

    Load together with thresholds.rules.yml (the default thresholds these rules compare against).
    Severity follows the direction of the domain: a problem with one of OUR domains (inbound)
    defers mail to us and pages (critical); the same problem at a recipient domain (outbound) is
    theirs to fix and only warns. Each such alert is two rules sharing one name, with static
    severities, so routes and inhibitions can match on alertname and severity.

    Runbook: runbook.md, one section per alert name.
  |||,
  groups: [
    {
      name: 'dane-mail-flow',
      rules: [
        {
          comment:: |||
            --- Mail is deferred now -------------------------------------------------------------
          |||,
          alert: 'DaneTLSAMismatch',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="inbound", reason=~"tlsa_mismatch|dane_ta_name_mismatch|dane_ta_chain_invalid|no_certificate|bad_certificate|certificate_key_too_small"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'DANE senders defer mail to our domain: the certificate does not match the TLSA records.',
            description: 'Mail to {{ $labels.domain }} ({{ $labels.direction }}) is being deferred by DANE-enforcing senders: MX host {{ $labels.mx }} at {{ $labels.address }} presents a certificate that no usable TLSA record authenticates (reason {{ $labels.reason }}).',
            runbook_url: config.runbookURL + '#danetlsamismatch',
          },
        },
        {
          alert: 'DaneTLSAMismatch',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="outbound", reason=~"tlsa_mismatch|dane_ta_name_mismatch|dane_ta_chain_invalid|no_certificate|bad_certificate|certificate_key_too_small"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Our mail to a recipient domain is deferred: its certificate does not match its TLSA records.',
            description: 'Mail to {{ $labels.domain }} ({{ $labels.direction }}) is being deferred by DANE-enforcing senders: MX host {{ $labels.mx }} at {{ $labels.address }} presents a certificate that no usable TLSA record authenticates (reason {{ $labels.reason }}).',
            runbook_url: config.runbookURL + '#danetlsamismatch',
          },
        },
        {
          alert: 'DaneTLSALookupFailed',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="inbound", reason="tlsa_lookup_failed"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'DANE senders defer mail to our domain: the TLSA lookup of an MX host fails.',
            description: 'Mail to {{ $labels.domain }} ({{ $labels.direction }}) is being deferred by DANE-enforcing senders: the TLSA lookup for MX host {{ $labels.mx }} fails (neither records nor a secure proof of their absence; reason {{ $labels.reason }}).',
            runbook_url: config.runbookURL + '#danetlsalookupfailed',
          },
        },
        {
          alert: 'DaneTLSALookupFailed',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="outbound", reason="tlsa_lookup_failed"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Our mail to a recipient domain is deferred: the TLSA lookup of its MX host fails.',
            description: 'Mail to {{ $labels.domain }} ({{ $labels.direction }}) is being deferred by DANE-enforcing senders: the TLSA lookup for MX host {{ $labels.mx }} fails (neither records nor a secure proof of their absence; reason {{ $labels.reason }}).',
            runbook_url: config.runbookURL + '#danetlsalookupfailed',
          },
        },
        {
          alert: 'DaneDNSSECBogus',
          expr: |||
            dane_dnssec_status{%(sel)sdirection="inbound", status="bogus"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'A DNSSEC validation of our mail domain fails (bogus).',
            description: 'The {{ $labels.type }} RRset of {{ $labels.name }} (domain {{ $labels.domain }}, {{ $labels.direction }}) fails DNSSEC validation: validating resolvers answer SERVFAIL and senders defer mail.',
            runbook_url: config.runbookURL + '#danednssecbogus',
          },
        },
        {
          alert: 'DaneDNSSECBogus',
          expr: |||
            dane_dnssec_status{%(sel)sdirection="outbound", status="bogus"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'A DNSSEC validation of a recipient domain fails (bogus).',
            description: 'The {{ $labels.type }} RRset of {{ $labels.name }} (domain {{ $labels.domain }}, {{ $labels.direction }}) fails DNSSEC validation: validating resolvers answer SERVFAIL and senders defer mail.',
            runbook_url: config.runbookURL + '#danednssecbogus',
          },
        },
        {
          alert: 'DaneSTARTTLSMissing',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="inbound", reason=~"starttls_not_offered|starttls_rejected"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'DANE senders defer mail to our domain: an MX host with TLSA records does not do STARTTLS.',
            description: 'Mail to {{ $labels.domain }} ({{ $labels.direction }}) is being deferred by DANE-enforcing senders: MX host {{ $labels.mx }} at {{ $labels.address }} has TLSA records but STARTTLS fails (reason {{ $labels.reason }}).',
            runbook_url: config.runbookURL + '#danestarttlsmissing',
          },
        },
        {
          alert: 'DaneSTARTTLSMissing',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="outbound", reason=~"starttls_not_offered|starttls_rejected"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Our mail to a recipient domain is deferred: its MX host with TLSA records does not do STARTTLS.',
            description: 'Mail to {{ $labels.domain }} ({{ $labels.direction }}) is being deferred by DANE-enforcing senders: MX host {{ $labels.mx }} at {{ $labels.address }} has TLSA records but STARTTLS fails (reason {{ $labels.reason }}).',
            runbook_url: config.runbookURL + '#danestarttlsmissing',
          },
        },
        {
          comment:: |||
            Every other reason a DANE sender would defer (MX/address lookups, SMTP and TLS errors,
            and any reason a later version adds), except failures of the probe itself and the
            expectation failures (DaneMissing, DaneDomainNotFound below).
          |||,
          alert: 'DaneMailDeferred',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="inbound", reason!~"tlsa_mismatch|dane_ta_name_mismatch|dane_ta_chain_invalid|no_certificate|bad_certificate|certificate_key_too_small|tlsa_lookup_failed|starttls_not_offered|starttls_rejected|dane_expected|domain_not_found|probe_.*"} == 1
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'DANE senders defer mail to our domain.',
            description: 'Mail to {{ $labels.domain }} ({{ $labels.direction }}) is being deferred by DANE-enforcing senders: {{ $labels.reason }}{{ with $labels.mx }} at MX host {{ . }}{{ end }}{{ with $labels.address }} address {{ . }}{{ end }}.',
            runbook_url: config.runbookURL + '#danemaildeferred',
          },
        },
        {
          alert: 'DaneMailDeferred',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="outbound", reason!~"tlsa_mismatch|dane_ta_name_mismatch|dane_ta_chain_invalid|no_certificate|bad_certificate|certificate_key_too_small|tlsa_lookup_failed|starttls_not_offered|starttls_rejected|dane_expected|domain_not_found|probe_.*"} == 1
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Our mail to a recipient domain is deferred by DANE.',
            description: 'Mail to {{ $labels.domain }} ({{ $labels.direction }}) is being deferred by DANE-enforcing senders: {{ $labels.reason }}{{ with $labels.mx }} at MX host {{ . }}{{ end }}{{ with $labels.address }} address {{ . }}{{ end }}.',
            runbook_url: config.runbookURL + '#danemaildeferred',
          },
        },
        {
          comment:: |||
            --- The domain is not what it is expected to be ---------------------------------------
            A domain expected to have DANE (expect: dane, the default for inbound) that reads not
            applicable: DS removed, zone unsigned, TLSA records deleted. Mail still flows, without
            DANE's protection: senders fall back to unauthenticated TLS. Pages for our own domains:
            nobody else notices.
          |||,
          alert: 'DaneMissing',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="inbound", reason="dane_expected"} == 1
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'Our mail domain has lost DANE: it is expected but does not apply.',
            description: 'DANE is expected for {{ $labels.domain }} ({{ $labels.direction }}) but does not apply (reason {{ $labels.reason }}): its DS record, DNSSEC signatures or TLSA records are gone, and DANE senders deliver without authenticating the MX hosts.',
            runbook_url: config.runbookURL + '#danemissing',
          },
        },
        {
          alert: 'DaneMissing',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="outbound", reason="dane_expected"} == 1
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'A recipient domain expected to have DANE has lost it.',
            description: 'DANE is expected for {{ $labels.domain }} ({{ $labels.direction }}) but does not apply (reason {{ $labels.reason }}): our mail to it goes without authenticating its MX hosts.',
            runbook_url: config.runbookURL + '#danemissing',
          },
        },
        {
          comment:: |||
            A configured domain with nowhere mail can go: NXDOMAIN, a null MX, no MX host with an
            address.
          |||,
          alert: 'DaneDomainNotFound',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="inbound", reason="domain_not_found"} == 1
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'Our mail domain does not exist or has no MX host with an address.',
            description: '{{ $labels.domain }} ({{ $labels.direction }}) does not exist (NXDOMAIN), publishes a null MX, or none of its MX hosts has an address: nobody can send it mail.',
            runbook_url: config.runbookURL + '#danedomainnotfound',
          },
        },
        {
          alert: 'DaneDomainNotFound',
          expr: |||
            dane_probe_failure_info{%(sel)sdirection="outbound", reason="domain_not_found"} == 1
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'A recipient domain does not exist or has no MX host with an address.',
            description: '{{ $labels.domain }} ({{ $labels.direction }}) does not exist (NXDOMAIN), publishes a null MX, or none of its MX hosts has an address: our mail to it bounces.',
            runbook_url: config.runbookURL + '#danedomainnotfound',
          },
        },
        {
          comment:: |||
            --- Mail will be deferred unless someone acts ------------------------------------------
          |||,
          alert: 'DaneRRSIGExpiringSoon',
          expr: |||
            (dane_rrsig_expiration_timestamp_seconds{%(sel)sdirection="inbound"} - time())
              < on (domain) group_left ()
              (
                  max by (domain) (dane:rrsig_expiry_threshold:seconds{domain!=""})
                or on (domain)
                  (
                      group by (domain) (dane_probe_timestamp_seconds%(selBraces)s)
                    * on () group_left ()
                      max (dane:rrsig_expiry_threshold:seconds{domain=""})
                  )
              )
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'DNSSEC signatures of our mail domain expire soon.',
            description: 'The RRSIG of the {{ $labels.type }} RRset of {{ $labels.name }} (domain {{ $labels.domain }}, {{ $labels.direction }}) expires in {{ $value | humanizeDuration }}; once it has, the RRset is bogus and senders defer mail.',
            runbook_url: config.runbookURL + '#danerrsigexpiringsoon',
          },
        },
        {
          alert: 'DaneRRSIGExpiringSoon',
          expr: |||
            (dane_rrsig_expiration_timestamp_seconds{%(sel)sdirection="outbound"} - time())
              < on (domain) group_left ()
              (
                  max by (domain) (dane:rrsig_expiry_threshold:seconds{domain!=""})
                or on (domain)
                  (
                      group by (domain) (dane_probe_timestamp_seconds%(selBraces)s)
                    * on () group_left ()
                      max (dane:rrsig_expiry_threshold:seconds{domain=""})
                  )
              )
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'DNSSEC signatures of a recipient domain expire soon.',
            description: 'The RRSIG of the {{ $labels.type }} RRset of {{ $labels.name }} (domain {{ $labels.domain }}, {{ $labels.direction }}) expires in {{ $value | humanizeDuration }}; once it has, the RRset is bogus and senders defer mail.',
            runbook_url: config.runbookURL + '#danerrsigexpiringsoon',
          },
        },
        {
          comment:: |||
            The chain and the TLSA RRset stop matching soon (leaf or chain expiry, or TLSA RRSIG
            expiry) and there is no record for a next key (dane_tlsa_rollover_ready == 0): the next
            certificate will only match if it keeps the key. A ticket, not a page: it is days ahead.
          |||,
          alert: 'DaneDivergenceWithoutNextKey',
          expr: |||
            (
              (dane_divergence_timestamp_seconds{%(sel)sdirection="inbound"} - time())
                < on (domain) group_left ()
                (
                    max by (domain) (dane:divergence_threshold:seconds{domain!=""})
                  or on (domain)
                    (
                        group by (domain) (dane_probe_timestamp_seconds%(selBraces)s)
                      * on () group_left ()
                        max (dane:divergence_threshold:seconds{domain=""})
                    )
                )
            )
            and on (domain, direction, mx) (dane_tlsa_rollover_ready%(selBraces)s == 0)
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'The certificate of our MX host diverges from its TLSA records soon and no next-key record is published.',
            description: 'MX host {{ $labels.mx }} at {{ $labels.address }} of {{ $labels.domain }} ({{ $labels.direction }}) stops matching its TLSA records in {{ $value | humanizeDuration }} and no TLSA record for a next key is published: a certificate with a new key will make DANE senders defer mail.',
            runbook_url: config.runbookURL + '#danedivergencewithoutnextkey',
          },
        },
        {
          alert: 'DaneDivergenceWithoutNextKey',
          expr: |||
            (
              (dane_divergence_timestamp_seconds{%(sel)sdirection="outbound"} - time())
                < on (domain) group_left ()
                (
                    max by (domain) (dane:divergence_threshold:seconds{domain!=""})
                  or on (domain)
                    (
                        group by (domain) (dane_probe_timestamp_seconds%(selBraces)s)
                      * on () group_left ()
                        max (dane:divergence_threshold:seconds{domain=""})
                    )
                )
            )
            and on (domain, direction, mx) (dane_tlsa_rollover_ready%(selBraces)s == 0)
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: 'The certificate of a recipient MX host diverges from its TLSA records soon and no next-key record is published.',
            description: 'MX host {{ $labels.mx }} at {{ $labels.address }} of {{ $labels.domain }} ({{ $labels.direction }}) stops matching its TLSA records in {{ $value | humanizeDuration }} and no TLSA record for a next key is published: a certificate with a new key will make DANE senders defer mail.',
            runbook_url: config.runbookURL + '#danedivergencewithoutnextkey',
          },
        },
        {
          comment:: |||
            --- Weaker protection, no deferral -------------------------------------------------------

            Only unusable TLSA records (PKIX usages, unknown parameters, bad lengths): senders still
            insist on TLS but authenticate nothing (Postfix "encrypt"). Mail flows; an active
            attacker can take it.
          |||,
          alert: 'DaneNoUsableTLSA',
          expr: |||
            dane_probe_verdict{%(sel)sdirection="inbound", verdict="encrypt_only"} == 1
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Our domain publishes TLSA records, but none a sender can use: mail is encrypted, not authenticated.',
            description: 'Every TLSA record of an MX host of {{ $labels.domain }} ({{ $labels.direction }}) is unusable for SMTP (PKIX usages 0/1, unknown parameters or wrong digest lengths): DANE senders require TLS but authenticate nothing, so DANE protects nothing.',
            runbook_url: config.runbookURL + '#danenousabletlsa',
          },
        },
        {
          alert: 'DaneNoUsableTLSA',
          expr: |||
            dane_probe_verdict{%(sel)sdirection="outbound", verdict="encrypt_only"} == 1
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: 'A recipient domain publishes TLSA records, but none a sender can use.',
            description: 'Every TLSA record of an MX host of {{ $labels.domain }} ({{ $labels.direction }}) is unusable for SMTP (PKIX usages 0/1, unknown parameters or wrong digest lengths): our mail to it is encrypted but not authenticated.',
            runbook_url: config.runbookURL + '#danenousabletlsa',
          },
        },
        {
          comment:: |||
            One address of our MX hosts refuses, stays silent or greets with 4xx/5xx while others
            take mail: senders move on (no deferral), but the redundancy is gone. Only for our own
            domains: a recipient's dead backup MX is theirs to mind. Unroutable families (the
            monitoring host has no IPv6) have no series at all, so they never fire this.
          |||,
          alert: 'DaneMXAddressUnreachable',
          expr: |||
            dane_endpoint_reachable{%(sel)sdirection="inbound"} == 0
              unless on (domain, direction) (dane_probe_failure_info{%(sel)sreason="undeliverable"} == 1)
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'An address of one of our MX hosts does not take connections; senders use the others.',
            description: 'MX host {{ $labels.mx }} at {{ $labels.address }} of {{ $labels.domain }} ({{ $labels.direction }}) refuses, stays silent or greets with an error: senders try the next address or MX host, so mail still flows, with one path fewer.',
            runbook_url: config.runbookURL + '#danemxaddressunreachable',
          },
        },
        {
          alert: 'DaneMXHostWithoutDANE',
          expr: |||
            dane_probe_warning_info{%(sel)sdirection="inbound", reason="mx_host_without_dane"} == 1
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'An MX host of our domain has no DANE while the others have.',
            description: 'MX host {{ $labels.mx }} of {{ $labels.domain }} ({{ $labels.direction }}) has no DANE (no secure TLSA records or unsigned addresses) while other MX hosts of the domain have: senders fall back to unauthenticated TLS for it.',
            runbook_url: config.runbookURL + '#danemxhostwithoutdane',
          },
        },
        {
          alert: 'DaneMXHostWithoutDANE',
          expr: |||
            dane_probe_warning_info{%(sel)sdirection="outbound", reason="mx_host_without_dane"} == 1
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: 'An MX host of a recipient domain has no DANE while the others have.',
            description: 'MX host {{ $labels.mx }} of {{ $labels.domain }} ({{ $labels.direction }}) has no DANE (no secure TLSA records or unsigned addresses) while other MX hosts of the domain have: senders fall back to unauthenticated TLS for it.',
            runbook_url: config.runbookURL + '#danemxhostwithoutdane',
          },
        },
        {
          comment:: |||
            A usable TLSA record that has matched no endpoint of the MX host for a week while the
            endpoint authenticates through another record: a leftover of a past rollover, or a
            next-key record published long in advance. Both look the same, hence info and a long for.
          |||,
          alert: 'DaneStaleTLSARecord',
          expr: |||
            (
              dane_tlsa_record_state{%(sel)sstate="no_match"} == 1
                unless on (domain, direction, mx, usage, selector, mtype, digest) (dane_tlsa_record_state{%(sel)sstate="matched"} == 1)
            )
            and on (domain, direction, mx, address) (dane_tlsa_match%(selBraces)s == 1)
          ||| % config,
          'for': '7d',
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: 'A TLSA record has matched no certificate for a week.',
            description: 'TLSA record "{{ $labels.usage }} {{ $labels.selector }} {{ $labels.mtype }} {{ $labels.digest }}…" of MX host {{ $labels.mx }} ({{ $labels.domain }}, {{ $labels.direction }}) has matched no endpoint for 7 days (e.g. not {{ $labels.address }}): remove it if it is left over from a past key, keep it if it is the next key.',
            runbook_url: config.runbookURL + '#danestaletlsarecord',
          },
        },
      ],
    },
    {
      name: 'dane-exporter',
      rules: [
        {
          alert: 'DaneProbeError',
          expr: |||
            dane_probe_failure_info{%(sel)sreason=~"probe_.*"} == 1
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'dane_exporter cannot complete its probe of a domain.',
            description: 'The probe of {{ $labels.domain }} ({{ $labels.direction }}) fails with {{ $labels.reason }}: its DANE health is unknown.',
            runbook_url: config.runbookURL + '#daneprobeerror',
          },
        },
        {
          alert: 'DaneProbeStale',
          expr: |||
            (time() - dane_probe_timestamp_seconds%(selBraces)s)
              > on (domain) group_left ()
              (
                  max by (domain) (dane:probe_stale_threshold:seconds{domain!=""})
                or on (domain)
                  (
                      group by (domain) (dane_probe_timestamp_seconds%(selBraces)s)
                    * on () group_left ()
                      max (dane:probe_stale_threshold:seconds{domain=""})
                  )
              )
          ||| % config,
          'for': '5m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'dane_exporter has no fresh probe result for a domain.',
            description: 'The last probe of {{ $labels.domain }} ({{ $labels.direction }}) started {{ $value | humanizeDuration }} ago: its DANE health is unknown.',
            runbook_url: config.runbookURL + '#daneprobestale',
          },
        },
        {
          alert: 'DaneExporterDown',
          expr: |||
            up%(selBraces)s == 0 and on (job) dane:exporter_job:info
          ||| % config,
          'for': '5m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'dane_exporter cannot be scraped.',
            description: 'Prometheus cannot scrape dane_exporter {{ $labels.instance }} (job {{ $labels.job }}): no DANE health is known for its domains.',
            runbook_url: config.runbookURL + '#daneexporterdown',
          },
        },
        {
          alert: 'DaneExporterAbsent',
          expr: |||
            dane:exporter_job:info unless on (job) up%(selBraces)s
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Prometheus has no dane_exporter target.',
            description: 'Job {{ $labels.job }} has no target: no dane_exporter is scraped, so no DANE alert can fire.',
            runbook_url: config.runbookURL + '#daneexporterabsent',
          },
        },
        {
          alert: 'DaneExporterConfigReloadFailed',
          expr: |||
            dane_exporter_config_last_reload_successful%(selBraces)s == 0
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'dane_exporter failed to reload its configuration.',
            description: 'dane_exporter {{ $labels.instance }} (job {{ $labels.job }}) failed to load its configuration file and still runs the previous one.',
            runbook_url: config.runbookURL + '#daneexporterconfigreloadfailed',
          },
        },
        {
          comment:: |||
            --- The exporter cannot see ---------------------------------------------------------
            While these fire, the verdicts they concern are `unknown` (dane_probe_verdict) and the
            domains' other series are absent: no per-domain alert fires on what the exporter could
            not see, these fire instead. Critical: no DANE alert can fire meanwhile.
          |||,
          alert: 'DaneExporterResolverDown',
          expr: |||
            dane_exporter_resolver_up%(selBraces)s == 0
          ||| % config,
          'for': '5m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: "dane_exporter's resolver does not answer: DANE health is unknown.",
            description: 'Resolver {{ $labels.nameserver }} of dane_exporter {{ $labels.instance }} (job {{ $labels.job }}) does not answer (no answer, refused, or unreachable): the verdicts of the domains it resolves are unknown. A Postfix on the same host using it defers all mail.',
            runbook_url: config.runbookURL + '#daneexporterresolverdown',
          },
        },
        {
          alert: 'DaneExporterResolverNotValidating',
          expr: |||
            dane_exporter_resolver_validating%(selBraces)s == 0
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: "dane_exporter's resolver does not validate DNSSEC: DANE health is unknown.",
            description: 'Resolver {{ $labels.nameserver }} of dane_exporter {{ $labels.instance }} (job {{ $labels.job }}) does not validate DNSSEC (its canary answers lack AD, or bogus data passes): every verdict through it is unknown. Use a validating resolver or dnssec_mode: validate.',
            runbook_url: config.runbookURL + '#daneexporterresolvernotvalidating',
          },
        },
        {
          alert: 'DaneExporterSMTPEgressBlocked',
          expr: |||
            dane_exporter_smtp_egress_up%(selBraces)s == 0
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'dane_exporter cannot open SMTP connections: its SMTP results are its own problem.',
            description: "Every SMTP connect of dane_exporter {{ $labels.instance }} (job {{ $labels.job }}) in a round failed the same way (no route, filtered, dropped): outgoing port 25 of the monitoring host is blocked, and the domains' SMTP failures are not theirs. Per-domain pages are inhibited meanwhile (alerts/README.md).",
            runbook_url: config.runbookURL + '#daneexportersmtpegressblocked',
          },
        },
        {
          comment:: |||
            A safety net: verdicts unknown for a reason no resolver gauge shows (or with the resolver
            gauges' alerts silenced). One alert per exporter, not one per domain.
          |||,
          alert: 'DaneExporterProbesUnknown',
          expr: |||
            count by (job, instance) (dane_probe_verdict{%(sel)sverdict="unknown"} == 1) > 0
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'dane_exporter cannot give a verdict for some domains.',
            description: 'dane_exporter {{ $labels.instance }} (job {{ $labels.job }}) has {{ $value }} domain(s) with an unknown verdict (see dane_probe_unknown_info for why): their DANE health is not watched.',
            runbook_url: config.runbookURL + '#daneexporterprobesunknown',
          },
        },
      ],
    },
  ],
}
