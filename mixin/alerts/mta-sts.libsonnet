// The rules of alerts/mta-sts.rules.yml, as a function of the mixin's _config (config.libsonnet).
// The comment:: fields become the comments of the generated file: they say why a rule is as it is.
function(config) {
  comment:: |||
    Alert rules for dane_exporter: MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) of our own (inbound)
    domains. These never follow from the DANE verdict: a domain can pass DANE and still have an
    MTA-STS policy that makes senders without DNSSEC (the large providers) refuse or report mail.

    Severity follows what senders do: with an `enforce` policy, an MX host that is not covered or
    whose certificate fails WebPKI validation gets no mail from MTA-STS senders (critical); with a
    `testing` policy they deliver and only report (warning). A domain that publishes no MTA-STS at
    all (`mta_sts_missing`) does not alert: that is a choice; see the dashboard.

    Runbook: runbook.md, one section per alert name.
  |||,
  groups: [
    {
      name: 'mail-transport-security',
      rules: [
        {
          alert: 'MtaStsMXNotCovered',
          expr: |||
            (dane_mta_sts_problem_info{%(sel)sdirection="inbound", reason="mta_sts_mx_not_covered"} == 1)
            and on (job, instance, domain, direction) (dane_mta_sts_mode{%(sel)smode="enforce"} == 1)
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'MTA-STS senders refuse an MX host of our domain: the enforce policy does not list it.',
            description: "MX host {{ $labels.mx }} of {{ $labels.domain }} matches no mx pattern of the domain's MTA-STS policy (mode enforce): MTA-STS senders do not deliver to it.",
            runbook_url: config.runbookURL + '#mtastsmxnotcovered',
          },
        },
        {
          alert: 'MtaStsMXNotCovered',
          expr: |||
            (dane_mta_sts_problem_info{%(sel)sdirection="inbound", reason="mta_sts_mx_not_covered"} == 1)
            and on (job, instance, domain, direction) (dane_mta_sts_mode{%(sel)smode="testing"} == 1)
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'An MX host of our domain is missing from its MTA-STS policy (testing mode).',
            description: "MX host {{ $labels.mx }} of {{ $labels.domain }} matches no mx pattern of the domain's MTA-STS policy (mode testing): senders deliver but report a failure; switching to enforce would stop mail to it.",
            runbook_url: config.runbookURL + '#mtastsmxnotcovered',
          },
        },
        {
          alert: 'MtaStsCertificateInvalid',
          expr: |||
            (dane_mta_sts_problem_info{%(sel)sdirection="inbound", reason="mta_sts_cert_invalid"} == 1)
            and on (job, instance, domain, direction) (dane_mta_sts_mode{%(sel)smode="enforce"} == 1)
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'MTA-STS senders refuse an MX host of our domain: its certificate fails WebPKI validation.',
            description: 'MX host {{ $labels.mx }} at {{ $labels.address }} ({{ $labels.domain }}) presents a certificate that does not chain to a trusted root or does not name the host; with the enforce policy, MTA-STS senders do not deliver to it.',
            runbook_url: config.runbookURL + '#mtastscertificateinvalid',
          },
        },
        {
          alert: 'MtaStsCertificateInvalid',
          expr: |||
            (dane_mta_sts_problem_info{%(sel)sdirection="inbound", reason="mta_sts_cert_invalid"} == 1)
            and on (job, instance, domain, direction) (dane_mta_sts_mode{%(sel)smode="testing"} == 1)
          ||| % config,
          'for': '15m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'An MX host of our domain fails MTA-STS certificate validation (testing mode).',
            description: 'MX host {{ $labels.mx }} at {{ $labels.address }} ({{ $labels.domain }}) presents a certificate that does not chain to a trusted root or does not name the host; senders report it (testing mode), enforce mode would stop mail to it.',
            runbook_url: config.runbookURL + '#mtastscertificateinvalid',
          },
        },
        {
          alert: 'MtaStsPolicyBroken',
          expr: |||
            dane_mta_sts_problem_info{%(sel)sdirection="inbound", reason=~"mta_sts_record_.*|mta_sts_policy_(fetch_failed|host_cert_invalid|redirect|http_status|content_type|too_large|invalid)"} == 1
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Our domain publishes MTA-STS, but senders cannot get a valid policy.',
            description: 'MTA-STS of {{ $labels.domain }} is broken (reason {{ $labels.reason }}): senders without a cached policy deliver without MTA-STS protection, and cached policies are not renewed.',
            runbook_url: config.runbookURL + '#mtastspolicybroken',
          },
        },
        {
          alert: 'MtaStsPolicyIdUnchanged',
          expr: |||
            dane_mta_sts_problem_info{%(sel)sdirection="inbound", reason="mta_sts_policy_id_unchanged"} == 1
          ||| % config,
          'for': '5m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'The MTA-STS policy of our domain changed but its TXT id did not.',
            description: 'The policy served for {{ $labels.domain }} changed while the id in _mta-sts.{{ $labels.domain }} stayed the same: senders holding the old policy keep using it until its max_age runs out.',
            runbook_url: config.runbookURL + '#mtastspolicyidunchanged',
          },
        },
        {
          alert: 'TlsRptRecordInvalid',
          expr: |||
            dane_tls_rpt_problem_info{%(sel)sdirection="inbound", reason=~"tls_rpt_record_invalid|tls_rpt_record_multiple|tls_rpt_lookup_failed"} == 1
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Senders cannot use the TLS-RPT record of our domain: no TLS failure reports arrive.',
            description: 'The _smtp._tls record of {{ $labels.domain }} is unusable (reason {{ $labels.reason }}): senders send no reports of DANE or MTA-STS failures to us.',
            runbook_url: config.runbookURL + '#tlsrptrecordinvalid',
          },
        },
      ],
    },
  ],
}
