// The dane_exporter monitoring mixin (monitoring-mixins conventions): Prometheus alerts and
// recording rules and Grafana dashboards, all from one _config (config.libsonnet). Use it as
// `(import 'mixin.libsonnet') + { _config+:: { ... } }`; docs/mixin.md has the details.
(import 'config.libsonnet') + {
  // The shipped rule files, file name -> {comment, groups}: what mixin/generate.sh writes to
  // alerts/, kept apart so that each file can be loaded (or left out) on its own.
  ruleFiles:: {
    local c = $._config,
    'dane.rules.yml': (import 'alerts/dane.libsonnet')(c) { source:: 'alerts/dane.libsonnet' },
    'services.rules.yml': (import 'alerts/services.libsonnet')(c) { source:: 'alerts/services.libsonnet' },
    'operations-tls.rules.yml': (import 'alerts/operations-tls.libsonnet')(c) { source:: 'alerts/operations-tls.libsonnet' },
    'operations-dns.rules.yml': (import 'alerts/operations-dns.libsonnet')(c) { source:: 'alerts/operations-dns.libsonnet' },
    'mta-sts.rules.yml': (import 'alerts/mta-sts.libsonnet')(c) { source:: 'alerts/mta-sts.libsonnet' },
    'outbound-lists.rules.yml': (import 'alerts/outbound-lists.libsonnet')(c) { source:: 'alerts/outbound-lists.libsonnet' },
    'tlsrpt.rules.yml': (import 'alerts/tlsrpt.libsonnet')(c) { source:: 'alerts/tlsrpt.libsonnet' },
    'thresholds.rules.yml': (import 'alerts/thresholds.libsonnet')(c) { source:: 'alerts/thresholds.libsonnet' },
  },

  local recordingOnly(file) = [r for g in file.groups for r in g.rules if std.objectHas(r, 'alert')] == [],
  local files = [$.ruleFiles[name] for name in std.objectFields($.ruleFiles)],

  prometheusAlerts+:: {
    groups+: std.flattenArrays([f.groups for f in files if !recordingOnly(f)]),
  },
  prometheusRules+:: {
    groups+: std.flattenArrays([f.groups for f in files if recordingOnly(f)]),
  },
  grafanaDashboards+:: (import 'dashboards/dashboards.libsonnet')($._config),
}
