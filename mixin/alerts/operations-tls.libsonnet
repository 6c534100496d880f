// The rules of alerts/operations-tls.rules.yml, as a function of the mixin's _config (config.libsonnet).
// The comment:: fields become the comments of the generated file: they say why a rule is as it is.
function(config) {
  comment:: |||
    Alert rules for the TLS side of DANE operations (issue 7): every key algorithm a server offers,
    and local certificate files (live and staged) against the published TLSA records.

    Load beside dane.rules.yml. Same conventions: problems with our own domains (inbound) that will
    defer mail as soon as someone reloads a server are critical; latent problems are warnings
    (inbound) or info (outbound). Local certificate files exist only for inbound domains.

    Runbook: runbook.md, one section per alert name.
  |||,
  groups: [
    {
      name: 'dane-operations-tls',
      rules: [
        {
          comment:: |||
            --- A reload, restart or deployment will defer mail ------------------------------------

            The certificate file Postfix loads matches no published TLSA record. If it is not served
            yet (dane_local_certificate_served == 0: renewed on disk, Postfix not reloaded), the next
            reload breaks delivery; if it is served, DaneTLSAMismatch fires as well. Pages at once:
            the reload may be minutes away (certbot deploy hooks reload right after renewing).
          |||,
          alert: 'DaneLiveCertificateUnpublished',
          expr: |||
            dane_local_certificate_tlsa_match{%(sel)sdirection="inbound", slot="live"} == 0
          ||| % config,
          'for': '0m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'The certificate file our MX host loads matches no published TLSA record.',
            description: 'The live {{ $labels.key_algorithm }} certificate file of MX host {{ $labels.mx }} ({{ $labels.domain }}) matches no published TLSA record: once Postfix serves it (reload, restart, renewal hook), DANE-enforcing senders defer mail.',
            runbook_url: config.runbookURL + '#danelivecertificateunpublished',
          },
        },
        {
          comment:: |||
            The staged next certificate did match a published record within the last day and no
            longer does: the record was withdrawn (a "stale record" cleanup) or the file was
            replaced by one with another key. Deploying it now breaks delivery.
          |||,
          alert: 'DaneStagedCertificateNoLongerPublished',
          expr: |||
            (dane_local_certificate_tlsa_match{%(sel)sdirection="inbound", slot="staged"} == 0)
              and
            (max_over_time(dane_local_certificate_tlsa_match{%(sel)sdirection="inbound", slot="staged"}[1d]) == 1)
          ||| % config,
          'for': '0m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'The staged certificate of our MX host no longer matches any published TLSA record.',
            description: 'The staged {{ $labels.key_algorithm }} certificate file of MX host {{ $labels.mx }} ({{ $labels.domain }}) matched a published TLSA record until recently and matches none now: deploying it would make DANE-enforcing senders defer mail.',
            runbook_url: config.runbookURL + '#danestagedcertificatenolongerpublished',
          },
        },
        {
          comment:: |||
            --- Do not deploy yet --------------------------------------------------------------------

            A staged certificate whose key has no TLSA record: the first step of the rollover
            (publish 3 1 1 of the next key, RFC 7671 section 8.1) is missing.
          |||,
          alert: 'DaneStagedCertificateUnpublished',
          expr: |||
            dane_local_certificate_tlsa_match{%(sel)sdirection="inbound", slot="staged"} == 0
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'The staged certificate of our MX host has no TLSA record yet.',
            description: 'The staged {{ $labels.key_algorithm }} certificate file of MX host {{ $labels.mx }} ({{ $labels.domain }}) matches no published TLSA record: publish its record at least two TTLs before deploying it.',
            runbook_url: config.runbookURL + '#danestagedcertificateunpublished',
          },
        },
        {
          comment:: |||
            --- Latent: a sender restricted to one key algorithm defers ------------------------------

            The endpoint authenticates with the chain it prefers, but the chain it presents for
            another key algorithm (RSA or ECDSA) matches no TLSA record.
          |||,
          alert: 'DaneKeyAlgorithmTLSAMismatch',
          expr: |||
            (dane_key_algorithm_tlsa_match{%(sel)sdirection="inbound"} == 0)
              and on (domain, direction, mx, address)
            (dane_tlsa_match%(selBraces)s == 1)
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'An MX host of our domain presents a certificate for one key algorithm that no TLSA record matches.',
            description: 'MX host {{ $labels.mx }} at {{ $labels.address }} of {{ $labels.domain }} ({{ $labels.direction }}) presents a {{ $labels.key_algorithm }} certificate that no TLSA record authenticates: senders limited to {{ $labels.key_algorithm }}, or all senders once the server prefers it, defer mail.',
            runbook_url: config.runbookURL + '#danekeyalgorithmtlsamismatch',
          },
        },
        {
          alert: 'DaneKeyAlgorithmTLSAMismatch',
          expr: |||
            (dane_key_algorithm_tlsa_match{%(sel)sdirection="outbound"} == 0)
              and on (domain, direction, mx, address)
            (dane_tlsa_match%(selBraces)s == 1)
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'info',
          },
          annotations: {
            summary: 'An MX host of a recipient domain presents a certificate for one key algorithm that no TLSA record matches.',
            description: 'MX host {{ $labels.mx }} at {{ $labels.address }} of {{ $labels.domain }} ({{ $labels.direction }}) presents a {{ $labels.key_algorithm }} certificate that no TLSA record authenticates: senders limited to {{ $labels.key_algorithm }}, or all senders once the server prefers it, defer mail.',
            runbook_url: config.runbookURL + '#danekeyalgorithmtlsamismatch',
          },
        },
        {
          comment:: |||
            --- The exporter cannot judge the files --------------------------------------------------
          |||,
          alert: 'DaneLocalCertificateUnusable',
          expr: |||
            dane_probe_warning_info{%(sel)sdirection="inbound", reason=~"local_certificate_unreadable|local_certificate_mx_not_found|local_certificate_ambiguous"} == 1
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'A configured certificate file cannot be checked against the TLSA records.',
            description: 'A certificate file configured for {{ $labels.mx }} ({{ $labels.domain }}) cannot be checked: {{ $labels.reason }}. Its match with the TLSA records is unknown.',
            runbook_url: config.runbookURL + '#danelocalcertificateunusable',
          },
        },
      ],
    },
  ],
}
