// The mixin's settings and their defaults. The defaults give exactly the shipped alerts/ and
// dashboards/; override any of them with `(import 'mixin.libsonnet') + { _config+:: { ... } }`
// (docs/mixin.md).
{
  _config+:: {
    // Label matchers added to every selector of an exporter metric (and `up`) in the rules, and
    // to the queries and variables of the dashboards, e.g. 'job="dane"' or
    // 'cluster="eu", job=~"dane.*"'. Empty: the shipped files select the metrics by name alone.
    selector: '',

    // The runbook (alerts/runbook.md as a web page); each alert's runbook_url is this plus
    // '#' and its name in lower case, the anchor of its section. Point it at your own copy
    // (wiki, internal Git host) when the public repository is not what your on-call reads.
    runbookURL: 'https://github.com/dane-exporter/dane_exporter/blob/main/alerts/runbook.md',

    // The Prometheus scrape jobs of dane_exporter: DaneExporterDown and DaneExporterAbsent
    // watch these (dane:exporter_job:info), so an exporter that is gone still alerts.
    exporterJobs: ['dane'],

    // Defaults of the thresholds.rules.yml series, for every domain; per-domain overrides
    // stay recording rules of your own (alerts/thresholds.override.example.yml).
    thresholds: {
      // DaneRRSIGExpiringSoon, DaneServiceTLSASignatureExpiringSoon.
      rrsigExpirySeconds: 3 * 86400,
      // DaneDivergenceWithoutNextKey, DaneServiceDivergenceSoon.
      divergenceSeconds: 14 * 86400,
      // DaneProbeStale: 3 probes at the default interval of 5m.
      probeStaleSeconds: 15 * 60,
      // DaneOutboundDomainsFailing: share of a list's recipient domains.
      outboundFailingShare: 0.05,
    },

    // Derived from selector for the expressions: `metric{%(sel)sother="x"}` and
    // `metric%(selBraces)s` read as the bare metric when selector is empty.
    sel: if self.selector == '' then '' else self.selector + ', ',
    selBraces: if self.selector == '' then '' else '{' + self.selector + '}',
  },
}
