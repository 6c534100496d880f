// The Grafana dashboards of the mixin: the JSON files beside this one (edited in Grafana or by
// hand, then exported here) with _config.selector applied. An empty selector leaves them as
// they are, so the shipped dashboards/ are these files, formatted.
local sources = {
  'dane-overview.json': import 'dane-overview.json',
  'dane-domain.json': import 'dane-domain.json',
  'dane-services.json': import 'dane-services.json',
  'mail-transport-security.json': import 'mail-transport-security.json',
  'dane-operations-tls.json': import 'dane-operations-tls.json',
  'dane-operations.json': import 'dane-operations.json',
};

// Every panel query filters on job=~"$job": the selector goes beside it, so "All" (.*) still
// means the selected exporters only.
local inQueries(value, config) =
  if std.isString(value) then
    std.strReplace(value, 'job=~"$job"', config.sel + 'job=~"$job"')
  else if std.isArray(value) then
    [inQueries(v, config) for v in value]
  else if std.isObject(value) then
    { [k]: inQueries(value[k], config) for k in std.objectFields(value) }
  else value;

// The job and domain variables list only the selected exporters' jobs and domains.
local inVariable(query, config) =
  std.strReplace(
    std.strReplace(query, 'dane_exporter_build_info,', 'dane_exporter_build_info%(selBraces)s,' % config),
    'dane_probe_verdict{',
    'dane_probe_verdict{' + config.sel,
  );

local withSelector(dashboard, config) =
  if config.selector == '' then dashboard
  else dashboard {
    panels: inQueries(dashboard.panels, config),
    templating+: {
      list: [
        variable + (
          if std.objectHas(variable, 'definition') && std.isString(variable.definition) then {
            definition: inVariable(variable.definition, config),
            query+: { query: inVariable(variable.query.query, config) },
          } else {}
        )
        for variable in dashboard.templating.list
      ],
    },
  };

function(config) {
  [name]: withSelector(sources[name], config)
  for name in std.objectFields(sources)
}
