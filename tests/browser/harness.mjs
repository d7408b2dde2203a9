// What every browser scenario shares: checks that fail with a message, a clock for the log, polling, and
// the review API with the requester's token.

export class CheckFailed extends Error {}

export function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A log whose lines start with the seconds since the scenario started. */
export function makeLog() {
  const started = Date.now();
  const elapsed = () => ((Date.now() - started) / 1000).toFixed(1) + 's';
  return { started, elapsed, log: (...a) => console.log(`[${elapsed()}]`, ...a) };
}

/** Waits until `cond()` holds, polling every 50 ms; fails with `what` after `waitMs`. */
export async function waitUntil(cond, what, waitMs) {
  const deadline = Date.now() + waitMs;
  while (!(await cond())) {
    check(Date.now() < deadline, `${what} within ${waitMs} ms`);
    await sleep(50);
  }
}

/** `GET pathAndQuery` on the review API with the requester's token (`ctx.base`, `ctx.reviewToken`): its JSON. */
export async function api(ctx, pathAndQuery) {
  const res = await fetch(ctx.base + pathAndQuery, { headers: { Authorization: 'Bearer ' + ctx.reviewToken } });
  const text = await res.text();
  check(res.ok, `GET ${pathAndQuery}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** Records on `errors` every uncaught exception, Content-Security-Policy violation and console error of `page`
 *  (Chromium reports a CSP violation on the console); its request for /favicon.ico may 404. */
export function watchConsole(errors, name, page) {
  page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) errors.push(`${name}: ${m.text()}`);
    else if (m.type() === 'error' && !/\/favicon\.ico$/.test(m.location().url)) errors.push(`${name}: console error: ${m.text()} at ${m.location().url}`);
  });
}
