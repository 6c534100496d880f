// The recording rules of alerts/thresholds.rules.yml: the threshold defaults of _config
// (config.libsonnet) as series, so that the alert expressions compare against a series a user can
// override per domain, instead of a number baked into each alert.
local number(x) = if std.floor(x) == x then '%d' % x else '%g' % x;

function(config) {
  comment:: |||
    Default alert thresholds of dane.rules.yml, as recording rules: the alert rules compare against
    these series, so a threshold changes without editing an alert. See README.md ("Thresholds").

    - A series WITHOUT a domain label is the default for every domain.
    - A series WITH a domain label overrides the default for that domain only. Put such overrides in
      a rule file of your own (see thresholds.override.example.yml) so that upgrades of this file
      do not clobber them.

    Load this file next to dane.rules.yml: without it the threshold-based alerts
    (DaneRRSIGExpiringSoon, DaneDivergenceWithoutNextKey, DaneProbeStale, DaneExporterDown,
    DaneExporterAbsent) can never fire.
  |||,
  groups: [
    {
      name: 'dane-alert-thresholds',
      rules: [
        {
          comment:: |||
            DaneRRSIGExpiringSoon: alert when the earliest RRSIG of an RRset expires within this
            many seconds. 3 days sits below the re-signing margin of common signers (BIND, Knot,
            PowerDNS, OpenDNSSEC re-sign a week or more before expiry), so it only fires when
            signing has stopped. Lower it per domain for signers with short-lived signatures.
          |||,
          record: 'dane:rrsig_expiry_threshold:seconds',
          expr: 'vector(%s)' % number(config.thresholds.rrsigExpirySeconds),
        },
        {
          comment:: |||
            DaneDivergenceWithoutNextKey: alert when the TLSA records and the served chain are
            expected to stop matching within this many seconds and no next-key record is published.
          |||,
          record: 'dane:divergence_threshold:seconds',
          expr: 'vector(%s)' % number(config.thresholds.divergenceSeconds),
        },
        {
          comment:: |||
            DaneProbeStale: alert when the last probe of a domain started more than this many
            seconds ago. 900 = 3 probes at the default interval of 5m; raise it per domain for
            targets with a longer interval.
          |||,
          record: 'dane:probe_stale_threshold:seconds',
          expr: 'vector(%s)' % number(config.thresholds.probeStaleSeconds),
        },
        {
          comment:: |||
            DaneOutboundDomainsFailing (outbound-lists.rules.yml): alert when more than this share of
            a list's recipient domains would have mail deferred. One global value (no domain label).
          |||,
          record: 'dane:outbound_failing_share_threshold:ratio',
          expr: 'vector(%s)' % number(config.thresholds.outboundFailingShare),
        },
      ] + [
        {
          comment:: |||
            DaneExporterDown/DaneExporterAbsent: the Prometheus scrape job(s) of dane_exporter, one
            series per job name (_config.exporterJobs).
          |||,
          record: 'dane:exporter_job:info',
          expr: 'vector(1)',
          labels: { job: job },
        }
        for job in config.exporterJobs
      ],
    },
  ],
}
