#!/usr/bin/env bash
# Writes alerts/*.rules.yml and dashboards/*.json from the mixin (mixin/mixin.libsonnet), so the
# shipped files and the mixin cannot drift apart (tests/integration/mixin.rs checks they equal).
# Usage: mixin/generate.sh [OUT_DIR [MIXIN_FILE]]
#   OUT_DIR     where alerts/ and dashboards/ go (default: the repository, i.e. the shipped files)
#   MIXIN_FILE  a jsonnet file giving the mixin, e.g. one that imports 'mixin.libsonnet' and
#               overrides its _config (docs/mixin.md); default mixin/mixin.libsonnet
# Needs jsonnet (Debian: jsonnet) and python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/..}
mixin=${2:-$here/mixin.libsonnet}
mkdir -p "$out/alerts" "$out/dashboards"
render() { jsonnet -J "$here" -m "$out" --tla-code-file mixin="$mixin" --tla-str part="$1" "${@:2}" "$here/generate.jsonnet" >/dev/null; }
render alerts -S
render dashboards
# jsonnet sorts keys already; python3 gives numbers their shortest form (jsonnet prints 0.1 as
# 0.10000000000000001) and the layout of the committed files.
for f in "$out"/dashboards/*.json; do
  python3 - "$f" <<'PY'
import json, sys
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    data = json.load(f)
with open(path, "w", encoding="utf-8") as f:
    f.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
PY
done
