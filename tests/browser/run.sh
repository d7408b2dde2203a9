#!/usr/bin/env bash
# The browser test: two annotators and a requester in headless Chromium against the real `crowdline serve`.
#   tests/browser/run.sh CROWDLINE_BINARY ARTIFACTS_DIR
# Exits 77 (ctest's "skipped") when Chromium, node or playwright-core is missing:
#   apt-get install -y chromium nodejs npm && (cd tests/browser && npm ci)
# CROWDLINE_CHROMIUM names another Chromium binary (default /usr/bin/chromium).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -ne 2 ]]; then
  echo "usage: $0 CROWDLINE_BINARY ARTIFACTS_DIR" >&2
  exit 2
fi
binary=$1
artifacts=$2
chromium=${CROWDLINE_CHROMIUM:-/usr/bin/chromium}
skip() { echo "SKIPPED browser.worker_flow: $*" >&2; exit 77; }
[[ -x $chromium ]] || skip "no Chromium at $chromium (apt-get install -y chromium, or set CROWDLINE_CHROMIUM)"
node=${NODE:-$(command -v node || true)}
[[ -n $node ]] || skip "node not found (apt-get install -y nodejs)"
[[ -f $here/node_modules/playwright-core/package.json ]] ||
  skip "playwright-core is not installed (cd tests/browser && npm ci)"
[[ -x $binary ]] || { echo "browser.worker_flow: $binary: not an executable" >&2; exit 2; }
mkdir -p "$artifacts"
export CROWDLINE_CHROMIUM=$chromium
exec "$node" "$here/worker_flow.mjs" "$binary" "$artifacts"
