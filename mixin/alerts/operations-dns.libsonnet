// The rules of alerts/operations-dns.rules.yml, as a function of the mixin's _config (config.libsonnet).
// The comment:: fields become the comments of the generated file: they say why a rule is as it is.
function(config) {
  comment:: |||
    Alert rules for the DNS side of DANE operations (dane_exporter, issue 7): authoritative
    nameserver consistency, TLSA hygiene, DNSKEY/DS health. Load next to dane.rules.yml.

    Severity follows dane.rules.yml: inbound (our zones) is ours to fix, outbound only informs.
    Problems that make validating resolvers fail now (invalid signatures on a server, a DS matching
    no key) are critical/warning; problems that make the next rollover unsafe are warning/info.
    The numeric thresholds (records, TTL, stale period) live in the exporter's configuration
    (tlsa_max_records, tlsa_max_ttl, tlsa_stale_after): the series here are already judgements.

    Runbook: runbook.md, one section per alert name.
  |||,
  groups: [
    {
      name: 'dane-operations-dns',
      rules: [
        {
          alert: 'DaneNameserverSignaturesInvalid',
          expr: |||
            dane_nameserver_signatures_valid{%(sel)sdirection="inbound"} == 0
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'An authoritative nameserver of our mail domain serves invalid DNSSEC signatures.',
            description: 'Nameserver {{ $labels.nameserver }} ({{ $labels.address }}) of zone {{ $labels.zone }} (domain {{ $labels.domain }}, {{ $labels.direction }}) serves RRSIGs that are missing, expired or not made by a DNSKEY of the zone: resolvers that ask it get bogus answers and DANE senders defer mail.',
            runbook_url: config.runbookURL + '#danenameserversignaturesinvalid',
          },
        },
        {
          alert: 'DaneNameserverSignaturesInvalid',
          expr: |||
            dane_nameserver_signatures_valid{%(sel)sdirection="outbound"} == 0
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'An authoritative nameserver of a recipient domain serves invalid DNSSEC signatures.',
            description: 'Nameserver {{ $labels.nameserver }} ({{ $labels.address }}) of zone {{ $labels.zone }} (domain {{ $labels.domain }}, {{ $labels.direction }}) serves RRSIGs that are missing, expired or not made by a DNSKEY of the zone: resolvers that ask it get bogus answers and DANE senders defer mail.',
            runbook_url: config.runbookURL + '#danenameserversignaturesinvalid',
          },
        },
        {
          alert: 'DaneNameserverInconsistent',
          expr: |||
            dane_nameserver_consistent{%(sel)sdirection="inbound"} == 0
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'The authoritative nameservers of our mail domain disagree: hold any TLSA change.',
            description: 'Nameserver {{ $labels.nameserver }} ({{ $labels.address }}) of zone {{ $labels.zone }} (domain {{ $labels.domain }}, {{ $labels.direction }}) does not serve the newest SOA serial and the same TLSA/MX RRsets as the others (or does not answer): a resolver that asks it sees old records, so a key change that relies on a new TLSA record breaks mail for part of the senders.',
            runbook_url: config.runbookURL + '#danenameserverinconsistent',
          },
        },
        {
          alert: 'DaneNameserverInconsistent',
          expr: |||
            dane_nameserver_consistent{%(sel)sdirection="outbound"} == 0
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: 'The authoritative nameservers of a recipient domain disagree.',
            description: 'Nameserver {{ $labels.nameserver }} ({{ $labels.address }}) of zone {{ $labels.zone }} (domain {{ $labels.domain }}, {{ $labels.direction }}) does not serve the newest SOA serial and the same TLSA/MX RRsets as the others (or does not answer): a resolver that asks it sees old records, so a key change that relies on a new TLSA record breaks mail for part of the senders.',
            runbook_url: config.runbookURL + '#danenameserverinconsistent',
          },
        },
        {
          alert: 'DaneTLSAHygiene',
          expr: |||
            dane_probe_warning_info{%(sel)sdirection="inbound", reason=~"tlsa_duplicate_record|tlsa_too_many_records|tlsa_full_certificate|tlsa_pkix_usage|tlsa_ttl_too_long|dane_ta_not_sent"} == 1
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'The TLSA records of our MX host make the next rollover fragile.',
            description: 'MX host {{ $labels.mx }} of {{ $labels.domain }} ({{ $labels.direction }}): {{ $labels.reason }}. Mail flows today; the next certificate or key change is at risk.',
            runbook_url: config.runbookURL + '#danetlsahygiene',
          },
        },
        {
          alert: 'DaneTLSAHygiene',
          expr: |||
            dane_probe_warning_info{%(sel)sdirection="outbound", reason=~"tlsa_duplicate_record|tlsa_too_many_records|tlsa_full_certificate|tlsa_pkix_usage|tlsa_ttl_too_long|dane_ta_not_sent"} == 1
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: 'The TLSA records of a recipient MX host are fragile.',
            description: 'MX host {{ $labels.mx }} of {{ $labels.domain }} ({{ $labels.direction }}): {{ $labels.reason }}. Mail flows today; the next certificate or key change is at risk.',
            runbook_url: config.runbookURL + '#danetlsahygiene',
          },
        },
        {
          alert: 'DaneDNSSECKeyHygiene',
          expr: |||
            dane_zone_warning_info{%(sel)sdirection="inbound", reason=~"dnskey_algorithm_deprecated|ds_digest_sha1_only|ds_unmatched|ds_missing"} == 1
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'The DNSKEY/DS setup of our mail zone is weak or left over.',
            description: 'Zone {{ $labels.zone }} (domain {{ $labels.domain }}, {{ $labels.direction }}): {{ $labels.reason }}.',
            runbook_url: config.runbookURL + '#danednsseckeyhygiene',
          },
        },
        {
          alert: 'DaneDNSSECKeyHygiene',
          expr: |||
            dane_zone_warning_info{%(sel)sdirection="outbound", reason=~"dnskey_algorithm_deprecated|ds_digest_sha1_only|ds_unmatched|ds_missing"} == 1
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: 'The DNSKEY/DS setup of a recipient zone is weak.',
            description: 'Zone {{ $labels.zone }} (domain {{ $labels.domain }}, {{ $labels.direction }}): {{ $labels.reason }}.',
            runbook_url: config.runbookURL + '#danednsseckeyhygiene',
          },
        },
        {
          alert: 'DaneDSMismatch',
          expr: |||
            dane_zone_warning_info{%(sel)sdirection="inbound", reason="ds_no_matching_dnskey"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'No DS record of our mail zone matches its key-signing key.',
            description: 'Zone {{ $labels.zone }} (domain {{ $labels.domain }}, {{ $labels.direction }}): no DS in the parent matches a DNSKEY with the SEP flag; validating resolvers call the zone bogus and senders defer mail.',
            runbook_url: config.runbookURL + '#danedsmismatch',
          },
        },
        {
          alert: 'DaneDSMismatch',
          expr: |||
            dane_zone_warning_info{%(sel)sdirection="outbound", reason="ds_no_matching_dnskey"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'No DS record of a recipient zone matches its key-signing key.',
            description: 'Zone {{ $labels.zone }} (domain {{ $labels.domain }}, {{ $labels.direction }}): no DS in the parent matches a DNSKEY with the SEP flag; validating resolvers call the zone bogus and senders defer mail.',
            runbook_url: config.runbookURL + '#danedsmismatch',
          },
        },
      ],
    },
  ],
}
