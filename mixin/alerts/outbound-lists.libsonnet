// The rules of alerts/outbound-lists.rules.yml, as a function of the mixin's _config (config.libsonnet).
// The comment:: fields become the comments of the generated file: they say why a rule is as it is.
function(config) {
  comment:: |||
    Alert rules for lists of recipient domains (docs/scaling.md): the aggregates the exporter
    computes over every stored result (dane_domains, dane_mx_host_failing_domains), so that a list
    of 100,000 domains raises a few alerts about the list and its providers, not one per domain.
    The per-domain alerts of dane.rules.yml that select dane_probe_failure_info still fire for
    listed domains (in the summary shape too), as warnings.

    Load with thresholds.rules.yml (dane:outbound_failing_share_threshold:ratio).
    Runbook: runbook.md, one section per alert name.
  |||,
  groups: [
    {
      name: 'dane-outbound-lists',
      rules: [
        {
          comment:: |||
            More than the threshold's share (default 5%) of a list's domains would have mail
            deferred by a DANE-enforcing sender. A list is a group of the aggregates: direction and
            the targets' extra labels (a domains_file entry's labels), per exporter instance.
          |||,
          alert: 'DaneOutboundDomainsFailing',
          expr: |||
            (
                sum without (verdict) (dane_domains{%(sel)sdirection="outbound", verdict="fail"})
              / sum without (verdict) (dane_domains{%(sel)sdirection="outbound"})
            )
              > on () group_left ()
              max (dane:outbound_failing_share_threshold:ratio)
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'DANE-enforcing delivery to a share of our recipient domains would fail.',
            description: '{{ $value | humanizePercentage }} of the recipient domains{{ with $labels.list }} of list {{ . }}{{ end }} ({{ $labels.instance }}) would have mail deferred by a DANE-enforcing sender: see dane_domains_failing for the reasons and dane_mx_host_failing_domains for the providers.',
            runbook_url: config.runbookURL + '#daneoutbounddomainsfailing',
          },
        },
        {
          comment:: |||
            One MX host breaks several recipient domains at once: a provider's problem (an expired
            certificate, a stale TLSA record, a broken signer), one alert instead of one per domain.
          |||,
          alert: 'DaneOutboundMXHostFailing',
          expr: |||
            dane_mx_host_failing_domains{%(sel)sdirection="outbound"} >= 3
          ||| % config,
          'for': '30m',
          labels: {
            severity: 'warning',
          },
          annotations: {
            summary: 'An MX host breaks DANE delivery for several recipient domains.',
            description: 'MX host {{ $labels.mx }} is where {{ $value }} recipient domains{{ with $labels.list }} of list {{ . }}{{ end }} fail for a DANE-enforcing sender: one provider, one fix.',
            runbook_url: config.runbookURL + '#daneoutboundmxhostfailing',
          },
        },
      ],
    },
  ],
}
