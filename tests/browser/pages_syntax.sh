#!/usr/bin/env bash
# Checks the served pages against the server's Content-Security-Policy (script-src 'self'; style-src 'self'):
# no page may hold an inline <script> or <style> block, a style="…" or on…="…" attribute, and every script
# or stylesheet a page loads must be a file in assets/. Then every script in assets/ goes through
# `node --check`. Exits non-zero if a check fails, a page loads no script, or node is missing.
#   tests/browser/pages_syntax.sh [PAGE.html ...]    (default: every assets/*.html)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
node=${NODE:-$(command -v node || true)}
[[ -n $node ]] || { echo "pages_syntax: node not found (set NODE=...)" >&2; exit 2; }
pages=("$@")
[[ ${#pages[@]} -gt 0 ]] || pages=("$root"/assets/*.html)

failed=0
passed=0
for page in "${pages[@]}"; do
  [[ -f $page ]] || { echo "pages_syntax: $page: no such file" >&2; failed=$((failed + 1)); continue; }
  # Prints one problem per line (none: the page is fine), with its line number in the page.
  problems=$("$node" -e '
    const fs = require("fs");
    const path = require("path");
    const [page, assets] = process.argv.slice(1);
    const html = fs.readFileSync(page, "utf8");
    const lineOf = (i) => html.slice(0, i).split("\n").length;
    const out = [];
    let m;
    const scripts = /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi;
    let loaded = 0;
    while ((m = scripts.exec(html)) !== null) {
      const src = (m[1].match(/\bsrc\s*=\s*["\x27]?([^"\x27\s>]+)/i) || [])[1];
      if (!src) { out.push(`${lineOf(m.index)}: inline <script> block (CSP script-src: move it to a file in assets/)`); continue; }
      if (m[2].trim()) out.push(`${lineOf(m.index)}: <script src> with a body`);
      if (!/^\/[\w.-]+\.m?js$/.test(src) || !fs.existsSync(path.join(assets, src.slice(1))))
        out.push(`${lineOf(m.index)}: <script src="${src}">: not a file in assets/`);
      else ++loaded;
    }
    if (!loaded) out.push("1: the page loads no script from assets/");
    const styles = /<style\b/gi;
    while ((m = styles.exec(html)) !== null) out.push(`${lineOf(m.index)}: inline <style> block (CSP style-src: move it to a .css file)`);
    const links = /<link\b[^>]*\brel\s*=\s*["\x27]?stylesheet[^>]*>/gi;
    while ((m = links.exec(html)) !== null) {
      const href = (m[0].match(/\bhref\s*=\s*["\x27]?([^"\x27\s>]+)/i) || [])[1] || "";
      if (!/^\/[\w.-]+\.css$/.test(href) || !fs.existsSync(path.join(assets, href.slice(1))))
        out.push(`${lineOf(m.index)}: stylesheet "${href}": not a file in assets/`);
    }
    const tags = /<[a-z][^>]*>/gi;
    while ((m = tags.exec(html)) !== null) {
      const attr = m[0].match(/\s(style|on[a-z]+)\s*=/i);
      if (attr) out.push(`${lineOf(m.index)}: ${attr[1]}="…" attribute (blocked by the CSP)`);
    }
    console.log(out.join("\n"));
  ' "$page" "$root/assets")
  if [[ -n $problems ]]; then
    while IFS= read -r p; do echo "FAIL $(basename "$page"):$p" >&2; done <<<"$problems"
    failed=$((failed + 1))
  else
    echo "ok   $(basename "$page") (no inline script, style or handler; its files exist)"
    passed=$((passed + 1))
  fi
done

scripts=("$root"/assets/*.js)
[[ -e ${scripts[0]} ]] || { echo "FAIL assets/: no script" >&2; failed=$((failed + 1)); scripts=(); }
for f in "${scripts[@]}"; do
  if grep -nE '\beval\s*\(|new Function\b' "$f" >&2; then
    echo "FAIL $(basename "$f"): eval or new Function (blocked by the CSP)" >&2
    failed=$((failed + 1))
  elif "$node" --check "$f"; then
    echo "ok   $(basename "$f") (node --check)"
    passed=$((passed + 1))
  else
    echo "FAIL $(basename "$f") (node --check)" >&2
    failed=$((failed + 1))
  fi
done
echo "pages_syntax: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
