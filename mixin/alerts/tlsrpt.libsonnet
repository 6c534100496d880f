// The rules of alerts/tlsrpt.rules.yml, as a function of the mixin's _config (config.libsonnet).
// The comment:: fields become the comments of the generated file: they say why a rule is as it is.
function(config) {
  comment:: |||
    Alert rules for dane_exporter: what senders reported in TLS-RPT reports (RFC 8460) about our own
    (inbound) domains, received by the exporter (`--tlsrpt.listen-address`, `tlsrpt ingest`).

    Reports describe a past UTC day and arrive hours after it ends, so these rules look two days
    back: they tell what the probe alerts cannot (senders' own resolvers, address families and
    paths), a day late. A counter series appears with its first report's count, so "new failures"
    is the increase over two days or, for a series younger than that, its whole value.

    Runbook: runbook.md, one section per alert name.
  |||,
  groups: [
    {
      name: 'tlsrpt',
      rules: [
        {
          alert: 'DaneTLSRPTFailuresReported',
          expr: |||
            (
              increase(dane_tlsrpt_failed_sessions_total{%(sel)sdirection="inbound", result_type=~"tlsa-invalid|dnssec-invalid|dane-required"}[2d]) > 0
              or increase(dane_tlsrpt_failed_sessions_total{%(sel)sdirection="inbound", policy_type="tlsa", result_type=~"certificate-.+"}[2d]) > 0
            )
            or
            (
              (
                dane_tlsrpt_failed_sessions_total{%(sel)sdirection="inbound", result_type=~"tlsa-invalid|dnssec-invalid|dane-required"}
                or dane_tlsrpt_failed_sessions_total{%(sel)sdirection="inbound", policy_type="tlsa", result_type=~"certificate-.+"}
              )
              unless dane_tlsrpt_failed_sessions_total%(selBraces)s offset 2d
            ) > 0
          ||| % config,
          labels: {
            severity: 'critical',
          },
          annotations: {
            summary: 'Senders report DANE failures delivering to our domain: they deferred mail.',
            description: '{{ $labels.organization }} reported failed sessions with result {{ $labels.result_type }} (policy {{ $labels.policy_type }}) delivering to {{ $labels.domain }} in the last two days: a DANE-enforcing sender deferred that mail.',
            runbook_url: config.runbookURL + '#danetlsrptfailuresreported',
          },
        },
        {
          alert: 'DaneTLSRPTViewDiffers',
          expr: |||
            dane_probe_warning_info{%(sel)sdirection="inbound", reason=~"tlsrpt_failures_probe_passes|tlsrpt_success_probe_fails"} == 1
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'Senders and our probe disagree about an MX host of our domain.',
            description: 'For MX host {{ $labels.mx }} of {{ $labels.domain }} ({{ $labels.reason }}), the latest TLS-RPT reports and the probe see different outcomes: one of the two takes another path (resolver, address family, network).',
            runbook_url: config.runbookURL + '#danetlsrptviewdiffers',
          },
        },
        {
          alert: 'DaneTLSRPTReportsMissing',
          expr: |||
            (time() - max by (job, instance, domain, direction) (dane_tlsrpt_last_report_end_timestamp_seconds{%(sel)sdirection="inbound"}) > 3 * 86400)
            and on (job, instance, domain, direction) (dane_tls_rpt_valid%(selBraces)s == 1)
          ||| % config,
          'for': '1h',
          labels: {
            severity: 'warning',
            reports: 'stopped',
          },
          annotations: {
            summary: 'TLS-RPT reports stopped arriving for our domain.',
            description: 'The latest TLS-RPT report for {{ $labels.domain }} covers a day that ended {{ $value | humanizeDuration }} ago, though the domain publishes a TLS-RPT record: reports are lost on their way (rua= address, mail route, the TLS-RPT listener).',
            runbook_url: config.runbookURL + '#danetlsrptreportsmissing',
          },
        },
        {
          alert: 'DaneTLSRPTReportsMissing',
          expr: |||
            (dane_tls_rpt_valid{%(sel)sdirection="inbound"} == 1)
            unless on (job, instance, domain, direction) dane_tlsrpt_last_report_end_timestamp_seconds%(selBraces)s
          ||| % config,
          'for': '3d',
          labels: {
            severity: 'warning',
            reports: 'none',
          },
          annotations: {
            summary: 'No TLS-RPT report has arrived for our domain.',
            description: '{{ $labels.domain }} has published a TLS-RPT record for three days and no report for it reached the exporter: rua= does not point at it, or reports are lost on their way.',
            runbook_url: config.runbookURL + '#danetlsrptreportsmissing',
          },
        },
      ],
    },
  ],
}
