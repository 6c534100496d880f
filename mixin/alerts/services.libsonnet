// The rules of alerts/services.rules.yml, as a function of the mixin's _config (config.libsonnet).
// The comment:: fields become the comments of the generated file: they say why a rule is as it is.
function(config) {
  comment:: |||
    Alert rules for the other TLS services of a domain (submission, IMAP, POP3, HTTPS), each checked
    against its own TLSA RRset (dane_service_* metrics; README "Other TLS services").

    Load together with thresholds.rules.yml (DaneServiceDivergenceSoon and
    DaneServiceTLSASignatureExpiringSoon compare against its thresholds, with the same per-domain
    overrides as dane.rules.yml). Services do not carry mail between MTAs, so nothing here pages for
    a recipient domain: problems with our own services (direction="inbound") that make DANE clients
    refuse them now are critical, everything else is a warning.

    Runbook: runbook.md, one section per alert name.
  |||,
  groups: [
    {
      name: 'dane-services',
      rules: [
        {
          comment:: |||
            --- DANE clients refuse the service now -------------------------------------------------
          |||,
          alert: 'DaneServiceTLSAMismatch',
          expr: |||
            dane_service_failure_info{%(sel)sdirection="inbound", reason=~"tlsa_mismatch|dane_ta_name_mismatch|dane_ta_chain_invalid|pkix_chain_invalid|pkix_name_mismatch|no_certificate|bad_certificate|certificate_key_too_small"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'A TLS service of our domain does not match its TLSA records.',
            description: 'Service {{ $labels.host }}:{{ $labels.port }} ({{ $labels.protocol }}) of {{ $labels.domain }} at {{ $labels.address }} presents a certificate that no usable TLSA record authenticates (reason {{ $labels.reason }}): DANE-validating clients refuse to connect.',
            runbook_url: config.runbookURL + '#daneservicetlsamismatch',
          },
        },
        {
          alert: 'DaneServiceTLSAMismatch',
          expr: |||
            dane_service_failure_info{%(sel)sdirection="outbound", reason=~"tlsa_mismatch|dane_ta_name_mismatch|dane_ta_chain_invalid|pkix_chain_invalid|pkix_name_mismatch|no_certificate|bad_certificate|certificate_key_too_small"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'A watched TLS service does not match its TLSA records.',
            description: 'Service {{ $labels.host }}:{{ $labels.port }} ({{ $labels.protocol }}) of {{ $labels.domain }} at {{ $labels.address }} presents a certificate that no usable TLSA record authenticates (reason {{ $labels.reason }}): DANE-validating clients refuse to connect.',
            runbook_url: config.runbookURL + '#daneservicetlsamismatch',
          },
        },
        {
          alert: 'DaneServiceSTARTTLSMissing',
          expr: |||
            dane_service_failure_info{%(sel)sdirection="inbound", reason=~"starttls_not_offered|starttls_rejected"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'A STARTTLS service of our domain with TLSA records no longer offers STARTTLS.',
            description: 'Service {{ $labels.host }}:{{ $labels.port }} ({{ $labels.protocol }}) of {{ $labels.domain }} at {{ $labels.address }} has TLSA records but {{ $labels.reason }}: DANE clients refuse it, others may fall back to plaintext.',
            runbook_url: config.runbookURL + '#daneservicestarttlsmissing',
          },
        },
        {
          alert: 'DaneServiceSTARTTLSMissing',
          expr: |||
            dane_service_failure_info{%(sel)sdirection="outbound", reason=~"starttls_not_offered|starttls_rejected"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'A watched STARTTLS service with TLSA records no longer offers STARTTLS.',
            description: 'Service {{ $labels.host }}:{{ $labels.port }} ({{ $labels.protocol }}) of {{ $labels.domain }} at {{ $labels.address }} has TLSA records but {{ $labels.reason }}: DANE clients refuse it, others may fall back to plaintext.',
            runbook_url: config.runbookURL + '#daneservicestarttlsmissing',
          },
        },
        {
          comment:: |||
            Every other failure: lookups that fail, connections, dialogues and handshakes.
          |||,
          alert: 'DaneServiceUnavailable',
          expr: |||
            dane_service_failure_info{%(sel)sreason!~"tlsa_mismatch|dane_ta_name_mismatch|dane_ta_chain_invalid|pkix_chain_invalid|pkix_name_mismatch|no_certificate|bad_certificate|certificate_key_too_small|starttls_not_offered|starttls_rejected"} == 1
          ||| % config,
          'for': '10m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'A TLS service with TLSA records cannot be reached or checked.',
            description: 'Service {{ $labels.host }}:{{ $labels.port }} ({{ $labels.protocol }}) of {{ $labels.domain }} ({{ $labels.direction }}) fails: {{ $labels.reason }}{{ with $labels.address }} at {{ . }}{{ end }}.',
            runbook_url: config.runbookURL + '#daneserviceunavailable',
          },
        },
        {
          comment:: |||
            --- DANE clients will refuse the service unless someone acts ---------------------------
          |||,
          alert: 'DaneServiceTLSASignatureExpiringSoon',
          expr: |||
            (dane_service_tlsa_expiration_timestamp_seconds%(selBraces)s - time())
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
            summary: 'The DNSSEC signatures of a service TLSA RRset expire soon.',
            description: 'The RRSIG of the TLSA RRset of {{ $labels.host }}:{{ $labels.port }} ({{ $labels.protocol }}, domain {{ $labels.domain }}) expires in {{ $value | humanizeDuration }}; once it has, the RRset is bogus and DANE clients refuse the service.',
            runbook_url: config.runbookURL + '#daneservicetlsasignatureexpiringsoon',
          },
        },
        {
          comment:: |||
            The service's chain and TLSA RRset stop matching soon: the leaf (DANE-EE), the chain
            (DANE-TA and the PKIX usages, whose WebPKI validation also needs unexpired certificates)
            or the TLSA signatures expire.
          |||,
          alert: 'DaneServiceDivergenceSoon',
          expr: |||
            (dane_service_divergence_timestamp_seconds%(selBraces)s - time())
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
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'The certificate of a TLS service diverges from its TLSA records soon.',
            description: 'Service {{ $labels.host }}:{{ $labels.port }} ({{ $labels.protocol }}) of {{ $labels.domain }} at {{ $labels.address }} stops matching its TLSA records in {{ $value | humanizeDuration }}.',
            runbook_url: config.runbookURL + '#daneservicedivergencesoon',
          },
        },
      ],
    },
  ],
}
