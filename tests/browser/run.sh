#!/usr/bin/env bash
# The browser tests: annotators and a requester in headless Chromium against the real `crowdline serve`.
#   tests/browser/run.sh CROWDLINE_BINARY ARTIFACTS_DIR [SCENARIO]
# SCENARIO is a script in this folder (default worker_flow.mjs; two_runs.mjs: a two-run campaign).
# Exits 77 (ctest's "skipped") when Chromium, node or playwright-core is missing:
#   apt-get install -y chromium nodejs npm && (cd tests/browser && npm ci)
# CROWDLINE_CHROMIUM names another Chromium binary (default /usr/bin/chromium).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -ne 2 && $# -ne 3 ]]; then
  echo "usage: $0 CROWDLINE_BINARY ARTIFACTS_DIR [SCENARIO]" >&2
  exit 2
fi
binary=$1
artifacts=$2
scenario=${3:-worker_flow.mjs}
test_name=browser.${scenario%.mjs}
chromium=${CROWDLINE_CHROMIUM:-/usr/bin/chromium}
skip() { echo "SKIPPED $test_name: $*" >&2; exit 77; }
[[ -x $chromium ]] || skip "no Chromium at $chromium (apt-get install -y chromium, or set CROWDLINE_CHROMIUM)"
node=${NODE:-$(command -v node || true)}
[[ -n $node ]] || skip "node not found (apt-get install -y nodejs)"
[[ -f $here/node_modules/playwright-core/package.json ]] ||
  skip "playwright-core is not installed (cd tests/browser && npm ci)"
[[ -x $binary ]] || { echo "$test_name: $binary: not an executable" >&2; exit 2; }
[[ $scenario != */* && -f $here/$scenario ]] || { echo "$test_name: no scenario $scenario in $here" >&2; exit 2; }
mkdir -p "$artifacts"
export CROWDLINE_CHROMIUM=$chromium
exec "$node" "$here/$scenario" "$binary" "$artifacts"
