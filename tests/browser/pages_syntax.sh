#!/usr/bin/env bash
# Checks the JavaScript of the served pages: every inline <script> block of each assets/*.html goes through
# `node --check`. Exits non-zero if a block fails, a page has no script, or node is missing.
#   tests/browser/pages_syntax.sh [PAGE.html ...]    (default: assets/worker.html assets/review.html)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
node=${NODE:-$(command -v node || true)}
[[ -n $node ]] || { echo "pages_syntax: node not found (set NODE=...)" >&2; exit 2; }
pages=("$@")
[[ ${#pages[@]} -gt 0 ]] || pages=("$root/assets/worker.html" "$root/assets/review.html")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
passed=0
for page in "${pages[@]}"; do
  [[ -f $page ]] || { echo "pages_syntax: $page: no such file" >&2; failed=$((failed + 1)); continue; }
  name=$(basename "$page" .html)
  # Extract the blocks with node itself: one file per <script> without src (JSON/template types skipped).
  count=$("$node" -e '
    const fs = require("fs");
    const [page, dir, name] = process.argv.slice(1);
    const html = fs.readFileSync(page, "utf8");
    const re = /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi;
    let m, n = 0;
    while ((m = re.exec(html)) !== null) {
      const attrs = m[1];
      if (/\bsrc\s*=/i.test(attrs)) { console.error(page + ": external <script src> is not allowed"); process.exit(3); }
      const type = (attrs.match(/\btype\s*=\s*["\x27]?([^"\x27\s>]+)/i) || [])[1];
      if (type && !/^(text|application)\/(java|ecma)script$|^module$/i.test(type)) continue;
      const line = html.slice(0, m.index).split("\n").length;
      const ext = type && /^module$/i.test(type) ? ".mjs" : ".js";
      // Pad with blank lines so node reports the line number in the page.
      fs.writeFileSync(`${dir}/${name}.${++n}${ext}`, "\n".repeat(line - 1) + m[2]);
    }
    console.log(n);
  ' "$page" "$tmp" "$name")
  if [[ $count -eq 0 ]]; then
    echo "FAIL $page: no <script> block found" >&2
    failed=$((failed + 1))
    continue
  fi
  for f in "$tmp/$name".*; do
    if "$node" --check "$f" 2>"$tmp/err"; then
      echo "ok   $(basename "$page") script $(basename "$f" | cut -d. -f2) (node --check)"
      passed=$((passed + 1))
    else
      echo "FAIL $(basename "$page") script $(basename "$f" | cut -d. -f2):" >&2
      sed "s|$f|$page|g" "$tmp/err" >&2
      failed=$((failed + 1))
    fi
  done
done
echo "pages_syntax: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
