// Renders a rule file ({comment, groups}) as the YAML Prometheus loads, in the layout of a
// hand-written one: rule keys in the usual order, a rule's comment:: above it, one blank line
// between alerts of different names. std.manifestYamlDoc would drop the comments, sort the keys
// (annotations before expr) and, in jsonnet 0.18, take half a minute for these files.
// An empty line stays a `#` line in the file's header and a blank line above a rule.
local comment(text, indent) =
  std.join('', [
    (if line == '' then (if indent == '' then '#' else '') else indent + '# ' + line) + '\n'
    for line in std.split(std.rstripChars(text, '\n'), '\n')
  ]);

// Plain when YAML cannot read it as anything but this string (names, durations, label values),
// else single-quoted. The checks use native builtins: std.set and std.findSubstr take seconds
// over these files in jsonnet 0.18.
local alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
// '#' starts a comment only after a space, and spaces are not plain here.
local plainChars = { [c]: true for c in std.stringChars(alnum + '_.-:()/#') };
local multiLine(s) = std.length(std.split(s, '\n')) > 1;
local scalar(s) =
  local plain = std.length(s) > 0 && std.length(std.split(s, ' ')) == 1
                && std.length(std.split(alnum, s[0])) > 1
                && [c for c in std.stringChars(s) if !std.objectHas(plainChars, c)] == []
                && s[std.length(s) - 1] != ':'
                && !std.member(['false', 'n', 'no', 'null', 'off', 'on', 'true', 'y', 'yes'], std.asciiLower(s));
  if multiLine(s) then error 'multi-line value outside expr: ' + s
  else if plain then s
  else "'" + std.strReplace(s, "'", "''") + "'";

// PromQL of several lines as a literal block; `|-` keeps a value without its final newline so.
local expr(s, indent) =
  if !multiLine(s) then scalar(s) + '\n'
  else (if std.endsWith(s, '\n') then '|\n' else '|-\n')
       + std.join('', [indent + line + '\n' for line in std.split(std.rstripChars(s, '\n'), '\n')]);

local map(name, values, indent, first) =
  local keys = [k for k in first if std.objectHas(values, k)]
               + [k for k in std.objectFields(values) if !std.member(first, k)];
  indent + name + ':\n' + std.join('', [indent + '  ' + k + ': ' + scalar(values[k]) + '\n' for k in keys]);

local rule(r) =
  local kind = if std.objectHas(r, 'alert') then 'alert' else 'record';
  (if std.objectHasAll(r, 'comment') then comment(r.comment, '      ') else '')
  + '      - ' + kind + ': ' + scalar(r[kind]) + '\n'
  + '        expr: ' + expr(r.expr, '          ')
  + (if std.objectHas(r, 'for') then '        for: ' + scalar(r['for']) + '\n' else '')
  + (if std.objectHas(r, 'labels') then map('labels', r.labels, '        ', ['severity']) else '')
  + (if std.objectHas(r, 'annotations') then map('annotations', r.annotations, '        ', ['summary', 'description', 'runbook_url']) else '');

local rules(list) =
  std.join('', [
    local r = list[i];
    local name(x) = if std.objectHas(x, 'alert') then x.alert else null;
    (if i > 0 && name(r) != null && name(r) != name(list[i - 1]) then '\n' else '') + rule(r)
    for i in std.range(0, std.length(list) - 1)
  ]);

local known = ['alert', 'record', 'expr', 'for', 'labels', 'annotations'];

function(file)
  local unknown = [k for g in file.groups for r in g.rules for k in std.objectFields(r) if !std.member(known, k)];
  if unknown != [] then error 'rule keys this renderer does not know: ' + std.join(', ', std.set(unknown))
  else
    comment(file.comment, '')
    + 'groups:\n'
    + std.join('\n', [
      (if std.objectHasAll(g, 'comment') then comment(g.comment, '  ') else '')
      + '  - name: ' + scalar(g.name) + '\n'
      + (if std.objectHas(g, 'interval') then '    interval: ' + scalar(g.interval) + '\n' else '')
      + '    rules:\n'
      + rules(g.rules)
      for g in file.groups
    ])
