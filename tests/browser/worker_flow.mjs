// End-to-end: two annotators and a requester, in headless Chromium, against the real `crowdline serve`.
//
//   node worker_flow.mjs CROWDLINE_BINARY ARTIFACTS_DIR
//
// The scenario:
//   1. ana (en, fr) and ben (en) open their invite links in two browser contexts and annotate a few units
//      each: ana with the keyboard shortcuts (digit, Enter), ben with the mouse (option, Submit button);
//   2. ana chooses an answer and reloads before submitting: the same unit comes back with the draft answer,
//      still hers after the disconnect grace period, and submitting it saves exactly one answer;
//   3. ben closes his page while holding a unit; after the grace period ana gets that unit's text; nobody is
//      ever shown a text in a language they do not read;
//   4. ana answers, the server saves it, and dies (SIGKILL) before its reply reaches her page (the test's proxy
//      between page and server drops that reply); the page keeps the answer in its outbox and says it waits for
//      the server; restarted on the same database and port, the server gets the answer again (same key) and
//      acknowledges it as saved; it is saved once, and the page goes on to the next unit;
//   5. ana answers, the submit never reaches the server (dropped), and she reloads: the reloaded page sends the
//      answer from its outbox with the same key; it is saved once;
//   6. ana works until the page says there is no work left; the de items (nobody reads de) are starved;
//   7. the requester approves two units on the review page; exactly those are accepted, and decided units show
//      their decision instead of the decision buttons;
//   8. the server stops on SIGTERM and `crowdline export` holds exactly the answers submitted in the browser.
// Every page runs under the server's Content-Security-Policy (checked to be sent): a violation reported on any
// page's console fails the test, as an uncaught error does.
// Screenshots go to ARTIFACTS_DIR, with the server's output. Exits 0 on success, 1 with a message otherwise.
//
// Environment: CROWDLINE_CHROMIUM (default /usr/bin/chromium), CROWDLINE_BROWSER_TIMEOUT_MS (default 120000).

import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { CheckFailed, api, check, makeLog, sleep, waitUntil as waitUntilWithin } from './harness.mjs';

const execFileP = promisify(execFile);
const [binaryArg, artifactsArg] = process.argv.slice(2);
if (!binaryArg || !artifactsArg) {
  console.error('usage: node worker_flow.mjs CROWDLINE_BINARY ARTIFACTS_DIR');
  process.exit(2);
}
const binary = path.resolve(binaryArg);
const artifacts = path.resolve(artifactsArg);
const chromiumPath = process.env.CROWDLINE_CHROMIUM || '/usr/bin/chromium';
const overallMs = Number(process.env.CROWDLINE_BROWSER_TIMEOUT_MS || 120000);
const GRACE_S = 2;        // server.disconnect_grace_seconds
const WAIT_MS = 15000;    // any single wait for the page or the server

const { started, elapsed, log } = makeLog();

// ---- the campaign ---------------------------------------------------------------------------------------
// Each text names its language and a number, so it is unique and the page shows which language it is in.
const TEXTS = {
  en: ['The new library opened today and the reading room is wonderful.', 'My train was cancelled again, the third time this week.',
    'The report is due on Friday.', 'What a lovely surprise to find the garden in bloom!',
    'The soup was cold and the waiter ignored us.', 'The museum is open from nine to five.'],
  fr: ["Le concert d'hier soir était magnifique.", 'Je suis déçu, le colis est arrivé cassé.',
    'La réunion commence à dix heures.', 'Quelle belle journée pour une promenade !',
    'Le service client ne répond jamais.', 'Le marché ouvre le samedi matin.'],
  de: ['Das Essen war ausgezeichnet und der Service freundlich.', 'Der Zug hatte schon wieder zwei Stunden Verspätung.'],
};
const TASKS = Object.entries(TEXTS).flatMap(([lang, texts]) => texts.map((t, i) => ({ lang, text: `[${lang} ${i + 1}] ${t}` })));
const LANG_OF = new Map(TASKS.map((t) => [t.text, t.lang]));
const WORKERS = [{ name: 'ana', languages: ['en', 'fr'] }, { name: 'ben', languages: ['en'] }];
const READS = Object.fromEntries(WORKERS.map((w) => [w.name, new Set(w.languages)]));
const CHOICES = ['negative', 'neutral', 'positive'];  // data-key 1, 2, 3

// ---- state shared with cleanup --------------------------------------------------------------------------
let server = null;        // the `crowdline serve` child
let serverExit = null;    // promise of [code, signal]
let serverRuns = 0;       // processes started on the campaign's database
let browser = null;
let workDir = null;
const pageErrors = [];    // uncaught exceptions and Content-Security-Policy violations on any page: always a failure

/** Records a CSP violation (Chromium reports each on the console) as a page error. */
function watchConsole(name, page) {
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) pageErrors.push(`${name}: ${m.text()}`);
    // Chromium asks for /favicon.ico where a page names no icon: the server's 404 is fine.
    if (m.type() === 'error' && !/\/favicon\.ico$/.test(m.location().url)) log(`(${name} console error) ${m.text()} at ${m.location().url}`);
  });
}

// What the browser submitted: text -> {unit, worker, sentiment}; and every unit each worker was shown.
const submitted = new Map();
const shown = { ana: [], ben: [] };

// ---- the server -----------------------------------------------------------------------------------------
/** Starts `crowdline serve` on the campaign (made on the first call); `port` 0 picks a free one. */
async function startServer(port = 0) {
  if (!workDir) {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crowdline-browser-'));
    fs.writeFileSync(path.join(workDir, 'tasks.jsonl'), TASKS.map((t) => JSON.stringify(t)).join('\n') + '\n');
    fs.writeFileSync(path.join(workDir, 'workers.json'), JSON.stringify(WORKERS, null, 2));
  }
  const args = ['serve', '--tasks', 'tasks.jsonl', '--workers', 'workers.json', '--db', 'campaign.db', '--port', String(port),
    'overlap=1', `server.disconnect_grace_seconds=${GRACE_S}`, 'status_every_seconds=1'];
  log('starting', binary, args.join(' '));
  server = spawn(binary, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  serverExit = once(server, 'exit');
  const suffix = ++serverRuns === 1 ? '' : `-${serverRuns}`;
  const outLog = fs.createWriteStream(path.join(artifacts, `server${suffix}.stdout.txt`));
  const errLog = fs.createWriteStream(path.join(artifacts, `server${suffix}.stderr.txt`));
  server.stderr.pipe(errLog);
  let out = '';
  server.stdout.on('data', (chunk) => { out += chunk; outLog.write(chunk); });
  const deadline = Date.now() + WAIT_MS;
  while (!/\/review#token=\S+\s*\n/.test(out)) {
    if (server.exitCode !== null || server.signalCode !== null)
      throw new CheckFailed(`crowdline serve exited early (${server.exitCode ?? server.signalCode}); see ${artifacts}/server${suffix}.stderr.txt`);
    if (Date.now() > deadline) throw new CheckFailed(`crowdline serve printed no review link within ${WAIT_MS} ms:\n${out}`);
    await sleep(50);
  }
  const base = out.match(/^Serving task run \d+ at (http:\/\/127\.0\.0\.1:\d+)\s*$/m);
  check(base, `no "Serving task run N at http://127.0.0.1:PORT" line in:\n${out}`);
  const invites = {};
  for (const w of WORKERS) {
    const m = out.match(new RegExp(`^\\s+${w.name} \\((\\[.*\\])\\)\\s+(http://\\S+/\\?invite=[0-9A-Za-z]+)\\s*$`, 'm'));
    check(m, `no invite line for ${w.name} in:\n${out}`);
    check(JSON.stringify(JSON.parse(m[1])) === JSON.stringify(w.languages), `${w.name}'s languages printed as ${m[1]}`);
    invites[w.name] = m[2];
  }
  const review = out.match(/^\s+(http:\/\/\S+\/review#token=([0-9A-Za-z]+))\s*$/m);
  check(review, `no review link in:\n${out}`);
  return { base: base[1], invites, reviewUrl: review[1], reviewToken: review[2], stdout: () => out };
}

/** Waits until `cond()` holds, polling; fails with `what` after WAIT_MS. */
const waitUntil = (cond, what) => waitUntilWithin(cond, what, WAIT_MS);

// ---- the network between a page and the server -----------------------------------------------------------
/** A proxy on every WebSocket of a browser context: it passes packets both ways, records each submit the page
 *  sends, and drops the next submit (`dropSubmit`) or the next "submitted" reply (`dropAck`) when asked. */
async function proxyWebSockets(context) {
  const net = { dropSubmit: false, dropAck: false, dropped: [], submits: [] };
  const parse = (m) => { try { return typeof m === 'string' ? JSON.parse(m) : null; } catch { return null; } };
  await context.routeWebSocket(/\/ws$/, (ws) => {
    const srv = ws.connectToServer();
    ws.onMessage((m) => {
      const p = parse(m);
      if (p && p.type === 'submit') {
        net.submits.push(p);
        if (net.dropSubmit) { net.dropSubmit = false; net.dropped.push({ to: 'server', packet: p }); return; }
      }
      srv.send(m);
    });
    srv.onMessage((m) => {
      const p = parse(m);
      if (p && p.type === 'submitted' && net.dropAck) { net.dropAck = false; net.dropped.push({ to: 'page', packet: p }); return; }
      ws.send(m);
    });
  });
  return net;
}

// ---- the worker page ------------------------------------------------------------------------------------
async function openWorker(name, url, { proxy = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 900, height: 720 } });
  const net = proxy ? await proxyWebSockets(context) : null;
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  watchConsole(name, page);
  await page.goto(url);
  return { name, context, page, net };
}

/** The answers the page keeps in its outbox (localStorage), not yet acknowledged by the server. */
async function outboxOf(w) {
  return w.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('crowdline.outbox.'))
    .map((k) => JSON.parse(localStorage.getItem(k))));
}

/** The answers the store holds for a unit (the review API lists every saved answer). */
async function savedFor(ctx, unit) {
  return (await api(ctx, '/api/review/units?status=all')).units.filter((u) => String(u.unit_id) === String(unit));
}

/** The page's state, and the unit it shows. */
async function pageState(w) {
  return w.page.evaluate(() => ({
    state: document.body.dataset.state,
    unit: document.body.dataset.unit,
    text: document.querySelector('#task .crowdline-text')?.textContent ?? null,
    checked: document.querySelector('#task input[name="sentiment"]:checked')?.value ?? null,
    done: document.getElementById('done-count').textContent,
    name: document.getElementById('worker-name').textContent,
    message: document.getElementById('message').textContent,
  }));
}

/** Waits until the page shows a unit other than `prev` (or no work, or an error), and returns what it shows. */
async function waitForUnit(w, prev, what) {
  try {
    await w.page.waitForFunction((p) => {
      const s = document.body.dataset.state;
      return s === 'error' || s === 'no_work' || (s === 'working' && document.body.dataset.unit !== undefined && document.body.dataset.unit !== p);
    }, prev ?? null, { timeout: WAIT_MS });
  } catch (e) {
    const st = await pageState(w).catch(() => ({}));
    throw new CheckFailed(`${w.name}: ${what}: the page did not show a new unit within ${WAIT_MS} ms (state ${JSON.stringify(st)})`);
  }
  const st = await pageState(w);
  check(st.state !== 'error', `${w.name}: ${what}: the page shows an error: ${st.message}`);
  if (st.state === 'working') {
    check(st.text !== null && LANG_OF.has(st.text), `${w.name}: unit ${st.unit} shows an unknown text ${JSON.stringify(st.text)}`);
    const lang = LANG_OF.get(st.text);
    shown[w.name].push({ unit: st.unit, text: st.text, lang });
    check(READS[w.name].has(lang),
      `${w.name} (reads ${[...READS[w.name]].join(', ')}) was shown a "${lang}" text: unit ${st.unit} ${JSON.stringify(st.text)}`);
    check(st.name === w.name, `${w.name}'s page names the worker ${JSON.stringify(st.name)}`);
  }
  return st;
}

function doneBy(name) {
  return [...submitted.values()].filter((s) => s.worker === name).length;
}

/** Chooses `choice` by keyboard (its digit) or mouse (its label), as `how` says. */
async function choose(w, choice, how) {
  if (how === 'keyboard') await w.page.keyboard.press(String(CHOICES.indexOf(choice) + 1));
  else await w.page.locator('#task label.crowdline-option', { hasText: choice }).click();
  const st = await pageState(w);
  check(st.checked === choice, `${w.name}: choosing "${choice}" by ${how} left ${JSON.stringify(st.checked)} checked`);
}

/** Submits the shown unit (Enter or the Submit button), records the answer, and waits for the next unit. */
async function submitAndNext(w, st, choice, how) {
  check(!submitted.has(st.text), `${w.name}: the text of unit ${st.unit} was already submitted: ${JSON.stringify(st.text)}`);
  if (how === 'keyboard') await w.page.keyboard.press('Enter');
  else await w.page.locator('#task button.crowdline-submit').click();
  submitted.set(st.text, { unit: st.unit, worker: w.name, sentiment: choice, lang: LANG_OF.get(st.text) });
  const next = await waitForUnit(w, st.unit, `after submitting unit ${st.unit}`);
  check(next.done === String(doneBy(w.name)), `${w.name}: #done-count shows ${next.done} after ${doneBy(w.name)} submissions`);
  return next;
}

let choiceCounter = 0;
const nextChoice = () => CHOICES[choiceCounter++ % CHOICES.length];

async function annotate(w, st, how) {
  check(st.state === 'working', `${w.name}: expected a unit to work on, the page is ${st.state}: ${st.message}`);
  const choice = nextChoice();
  await choose(w, choice, how);
  return submitAndNext(w, st, choice, how);
}

// ---- the scenario ---------------------------------------------------------------------------------------
async function scenario() {
  fs.mkdirSync(artifacts, { recursive: true });
  for (const f of fs.readdirSync(artifacts)) if (f.endsWith('.png')) fs.rmSync(path.join(artifacts, f));
  const ctx = await startServer();
  log('serving at', ctx.base);
  // The policy the pages must work under is really sent (the test would prove nothing without it).
  for (const page of ['/', '/review']) {
    const res = await fetch(ctx.base + page);
    const csp = res.headers.get('content-security-policy') || '';
    check(/script-src 'self'/.test(csp) && /style-src 'self'/.test(csp) && !/unsafe/.test(csp),
      `GET ${page}: Content-Security-Policy ${JSON.stringify(csp)}`);
    check(res.headers.get('referrer-policy') === 'no-referrer', `GET ${page}: Referrer-Policy ${res.headers.get('referrer-policy')}`);
  }

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking'],
  });
  log('chromium', browser.version());

  // 1. Both annotators open their links and annotate a few units: ana by keyboard, ben by mouse.
  const ana = await openWorker('ana', ctx.invites.ana, { proxy: true });
  const ben = await openWorker('ben', ctx.invites.ben);
  let a = await waitForUnit(ana, null, 'opening the invite link');
  let b = await waitForUnit(ben, null, 'opening the invite link');
  check(a.done === '0' && b.done === '0', `a fresh page shows done counts ${a.done} and ${b.done}`);
  await ana.page.screenshot({ path: path.join(artifacts, 'worker-ana-working.png'), fullPage: true });
  await ben.page.screenshot({ path: path.join(artifacts, 'worker-ben-working.png'), fullPage: true });
  for (let i = 0; i < 2; ++i) {
    a = await annotate(ana, a, 'keyboard');
    b = await annotate(ben, b, 'mouse');
  }
  log(`step 1: ana submitted ${doneBy('ana')}, ben ${doneBy('ben')} (ana by keyboard, ben by mouse)`);

  // 2. ana chooses, reloads before submitting: the same unit and the draft come back, and stay hers past
  //    the disconnect grace period; submitting saves exactly one answer for it.
  check(a.state === 'working', `ana: expected a unit before the reload, the page is ${a.state}`);
  const draft = nextChoice();
  await choose(ana, draft, 'keyboard');
  const before = a;
  await ana.page.reload();
  await ana.page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: WAIT_MS });
  let r = await pageState(ana);
  check(r.state === 'working', `ana: after the reload the page is ${r.state}: ${r.message}`);
  check(r.unit === before.unit, `ana: the reload brought unit ${r.unit}, not the unit ${before.unit} she held`);
  check(r.text === before.text, `ana: after the reload unit ${r.unit} shows ${JSON.stringify(r.text)}, was ${JSON.stringify(before.text)}`);
  check(r.checked === draft, `ana: after the reload the draft answer is ${JSON.stringify(r.checked)}, expected "${draft}"`);
  check(r.done === String(doneBy('ana')), `ana: after the reload #done-count shows ${r.done}, expected ${doneBy('ana')}`);
  await sleep(GRACE_S * 1000 + 1000);  // the old page's socket is past its grace period: the unit must still be hers
  r = await pageState(ana);
  check(r.state === 'working' && r.unit === before.unit && r.checked === draft,
    `ana: ${GRACE_S + 1} s after the reload the page shows ${JSON.stringify(r)}, expected unit ${before.unit} with "${draft}"`);
  const held = (await api(ctx, '/api/review/dashboard')).workers.find((w) => w.name === 'ana');
  check(held && held.held === 1, `dashboard: ana holds ${held && held.held} units after the reload, expected 1`);
  a = await submitAndNext(ana, r, draft, 'keyboard');
  const reloadedUnit = before.unit;
  const sameUnit = (await api(ctx, '/api/review/units?status=all')).units.filter((u) => String(u.unit_id) === reloadedUnit);
  check(sameUnit.length === 1, `review API: ${sameUnit.length} saved answers for the reloaded unit ${reloadedUnit}: ${JSON.stringify(sameUnit)}`);
  check(sameUnit[0].outputs && sameUnit[0].outputs.sentiment === draft,
    `review API: the reloaded unit ${reloadedUnit} was saved as ${JSON.stringify(sameUnit[0].outputs)}, expected "${draft}"`);
  log(`step 2: reload kept unit ${reloadedUnit} and its draft "${draft}"; one answer saved`);

  // 3. ben closes his page while holding a unit; after the grace period ana can get that unit's text.
  check(b.state === 'working', `ben: expected a unit before closing, the page is ${b.state}: ${b.message}`);
  const abandoned = b;
  await ben.context.close();
  const closedAt = Date.now();
  log(`step 3: ben closed his page holding unit ${abandoned.unit} ${JSON.stringify(abandoned.text)}`);
  for (;;) {
    const bw = (await api(ctx, '/api/review/dashboard')).workers.find((w) => w.name === 'ben');
    if (bw && bw.held === 0) break;
    check(Date.now() - closedAt < GRACE_S * 1000 + 8000,
      `dashboard: ben still holds ${bw && bw.held} units ${((Date.now() - closedAt) / 1000).toFixed(1)} s after closing his page (grace ${GRACE_S} s)`);
    await sleep(200);
  }
  const releasedAfter = (Date.now() - closedAt) / 1000;
  check(releasedAfter >= GRACE_S - 0.5, `ben's unit was released ${releasedAfter.toFixed(1)} s after he closed the page, before the ${GRACE_S} s grace`);
  log(`step 3: ben's unit released ${releasedAfter.toFixed(1)} s after the close`);

  // 4. ana answers; the server saves it and is killed before its reply reaches her page; restarted on the same
  //    database and port, it hears the answer again and acknowledges it; the store holds it once.
  check(a.state === 'working', `ana: expected a unit before the server is killed, the page is ${a.state}: ${a.message}`);
  const killed = a;
  const killedChoice = nextChoice();
  await choose(ana, killedChoice, 'keyboard');
  ana.net.dropAck = true;
  await ana.page.keyboard.press('Enter');
  submitted.set(killed.text, { unit: killed.unit, worker: 'ana', sentiment: killedChoice, lang: LANG_OF.get(killed.text) });
  await waitUntil(() => ana.net.dropped.length === 1, `ana: the server's reply to unit ${killed.unit} was not seen`);
  const lostAck = ana.net.dropped[0].packet;
  check(lostAck.type === 'submitted' && String(lostAck.data.unit_id) === killed.unit,
    `ana: the dropped reply is ${JSON.stringify(lostAck)}, expected "submitted" for unit ${killed.unit}`);
  let kept = await outboxOf(ana);
  check(kept.length === 1 && String(kept[0].unit_id) === killed.unit && kept[0].submission.sentiment === killedChoice &&
    /^[0-9a-f]{32}$/.test(kept[0].key), `ana: the outbox holds ${JSON.stringify(kept)}, expected her answer to unit ${killed.unit}`);
  const killedKey = kept[0].key;
  const submitsBefore = ana.net.submits.length;
  server.kill('SIGKILL');
  const [, killSignal] = await serverExit;
  check(killSignal === 'SIGKILL', `crowdline serve ended with ${killSignal} instead of SIGKILL`);
  server = null;
  await ana.page.waitForFunction(() => document.getElementById('saving').dataset.save === 'waiting', null, { timeout: WAIT_MS })
    .catch(async () => { throw new CheckFailed(`ana: with the server down the page shows ${JSON.stringify(await ana.page.locator('#saving').innerText())}, not that it waits for the server`); });
  check(/waiting for the server/i.test(await ana.page.locator('#saving').innerText()), 'ana: the page does not say it waits for the server');
  check((await pageState(ana)).unit === killed.unit, 'ana: the page moved on without an acknowledgement');
  await ana.page.screenshot({ path: path.join(artifacts, 'worker-ana-waiting.png'), fullPage: true });
  const port = new URL(ctx.base).port;
  const again = await startServer(Number(port));
  check(again.base === ctx.base, `the restarted server serves at ${again.base}, not ${ctx.base}`);
  check(again.invites.ana === ctx.invites.ana && again.reviewToken === ctx.reviewToken, 'the restarted server printed other links');
  ctx.stdout = again.stdout;
  log(`step 4: killed the server after it saved unit ${killed.unit} and before ana heard; restarted at ${again.base}`);
  a = await waitForUnit(ana, killed.unit, `after the server restarted with unit ${killed.unit} in the outbox`);
  const notice = await ana.page.locator('#notice').innerText();
  check(/your answer was saved/i.test(notice), `ana: after the restart the page says ${JSON.stringify(notice)}, not that her answer was saved`);
  const resent = ana.net.submits.slice(submitsBefore).filter((p) => String(p.agent) === String(lostAck.agent));
  check(resent.length >= 1 && resent.every((p) => p.data.key === killedKey),
    `ana: the page resent ${JSON.stringify(resent.map((p) => p.data.key))}, expected the key ${killedKey}`);
  check((await outboxOf(ana)).length === 0, 'ana: the outbox still holds an answer after the acknowledgement');
  check(a.done === String(doneBy('ana')), `ana: #done-count shows ${a.done} after the restart, expected ${doneBy('ana')}`);
  let saved = await savedFor(ctx, killed.unit);
  check(saved.length === 1 && saved[0].outputs?.sentiment === killedChoice,
    `review API: unit ${killed.unit} has ${JSON.stringify(saved)}, expected one answer "${killedChoice}"`);
  log(`step 4: the page resent unit ${killed.unit} with the same key; saved once; next unit ${a.unit}`);

  // 5. ana answers, the submit is lost on the way, and she reloads: the page sends it from the outbox.
  check(a.state === 'working', `ana: expected a unit before the reload, the page is ${a.state}: ${a.message}`);
  const unsent = a;
  const unsentChoice = nextChoice();
  await choose(ana, unsentChoice, 'keyboard');
  ana.net.dropSubmit = true;
  await ana.page.keyboard.press('Enter');
  submitted.set(unsent.text, { unit: unsent.unit, worker: 'ana', sentiment: unsentChoice, lang: LANG_OF.get(unsent.text) });
  await waitUntil(() => ana.net.dropped.length === 2, `ana: the submit of unit ${unsent.unit} was not seen`);
  kept = await outboxOf(ana);
  check(kept.length === 1 && String(kept[0].unit_id) === unsent.unit && kept[0].submission.sentiment === unsentChoice,
    `ana: before the reload the outbox holds ${JSON.stringify(kept)}, expected her answer to unit ${unsent.unit}`);
  check(kept[0].key === ana.net.dropped[1].packet.data.key, 'ana: the outbox entry and the dropped submit have other keys');
  check((await savedFor(ctx, unsent.unit)).length === 0, `review API: unit ${unsent.unit} was saved though its submit was dropped`);
  const unsentKey = kept[0].key;
  // Beside it, an entry the server will never take (unit 7's agent, another token): shown once and dropped.
  const bogus = { agent_id: Number(lostAck.agent), token: 'f'.repeat(32), unit_id: Number(killed.unit), key: '0'.repeat(31) + '1',
    submission: { sentiment: 'negative' }, tries: 0, wait: 0 };
  const anaInvite = new URL(ctx.invites.ana).searchParams.get('invite');
  await ana.page.evaluate(([k, v]) => localStorage.setItem(k, JSON.stringify(v)), [`crowdline.outbox.${anaInvite}.${killed.unit}`, bogus]);
  const submitsBeforeReload = ana.net.submits.length;
  await ana.page.reload();
  a = await waitForUnit(ana, unsent.unit, `after reloading with unit ${unsent.unit} in the outbox`);
  await waitUntil(async () => (await outboxOf(ana)).length === 0, 'ana: the outbox was not emptied after the reload');
  await sleep(1500);  // past the outbox's first backoff: a refused entry must not be sent again
  const bogusSent = ana.net.submits.slice(submitsBeforeReload).filter((p) => p.data.key === bogus.key);
  check(bogusSent.length === 1, `ana: an entry the server refused was sent ${bogusSent.length} times, expected once`);
  check((await outboxOf(ana)).length === 0, 'ana: a refused outbox entry came back');
  const reloadResent = ana.net.submits.slice(submitsBeforeReload).filter((p) => p.data.key !== bogus.key);
  check(reloadResent.length >= 1 && reloadResent[0].data.key === unsentKey && String(reloadResent[0].data.submission?.sentiment) === unsentChoice,
    `ana: after the reload the page sent ${JSON.stringify(reloadResent)}, expected unit ${unsent.unit}'s answer with key ${unsentKey}`);
  check(a.done === String(doneBy('ana')), `ana: #done-count shows ${a.done} after the reload, expected ${doneBy('ana')}`);
  saved = await savedFor(ctx, unsent.unit);
  check(saved.length === 1 && saved[0].outputs?.sentiment === unsentChoice,
    `review API: unit ${unsent.unit} has ${JSON.stringify(saved)}, expected one answer "${unsentChoice}"`);
  saved = await savedFor(ctx, killed.unit);
  check(saved.length === 1 && saved[0].outputs?.sentiment === killedChoice, `review API: after the refused resend unit ${killed.unit} has ${JSON.stringify(saved)}`);
  log(`step 5: the reloaded page sent unit ${unsent.unit} from its outbox (saved once) and dropped an entry the server refused`);

  // 6. ana works until there is no work left for her.
  for (let i = 0; a.state === 'working'; ++i) {
    check(i < TASKS.length, 'ana: the page keeps giving work after more units than there are tasks');
    a = await annotate(ana, a, 'keyboard');
  }
  check(a.state === 'no_work', `ana: the page ended in state ${a.state}: ${a.message}`);
  check(/no work left/i.test(a.message), `ana: the no-work message reads ${JSON.stringify(a.message)}`);
  await ana.page.screenshot({ path: path.join(artifacts, 'worker-ana-no-work.png'), fullPage: true });
  const anaGot = shown.ana.filter((s) => s.text === abandoned.text);
  check(anaGot.length >= 1, `ana never got the text ben abandoned: ${JSON.stringify(abandoned.text)}`);
  check(submitted.get(abandoned.text)?.worker === 'ana', `ben's abandoned text was not submitted by ana: ${JSON.stringify(submitted.get(abandoned.text))}`);
  for (const t of TASKS.filter((t) => t.lang !== 'de'))
    check(submitted.has(t.text), `no one submitted ${JSON.stringify(t.text)} though someone reads "${t.lang}"`);
  for (const t of TASKS.filter((t) => t.lang === 'de'))
    check(!shown.ana.concat(shown.ben).some((s) => s.text === t.text), `a de text was shown to someone: ${t.text}`);
  const dash = await api(ctx, '/api/review/dashboard');
  const starvedKeys = dash.starved.map((s) => s.key).sort();
  check(JSON.stringify(starvedKeys) === JSON.stringify(['de', 'de']), `dashboard: starved keys ${JSON.stringify(starvedKeys)}, expected the two de items`);
  check(dash.complete === false, 'dashboard: the campaign says complete while the de items are open');
  log(`step 6: ana has no work left after ${doneBy('ana')} submissions; starved: ${JSON.stringify(dash.starved)}`);

  // 7. The requester approves two units on the review page.
  const reviewCtx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const rp = await reviewCtx.newPage();
  rp.on('pageerror', (e) => pageErrors.push(`review: ${e.message}`));
  watchConsole('review', rp);
  await rp.goto(ctx.reviewUrl);
  await rp.waitForSelector('body[data-state="ready"]', { timeout: WAIT_MS });
  const units = rp.locator('#units .unit');
  await rp.waitForFunction((n) => document.querySelectorAll('#units .unit').length === n, submitted.size, { timeout: WAIT_MS })
    .catch(async () => { throw new CheckFailed(`review page: ${await units.count()} units listed, expected ${submitted.size} submitted`); });
  await rp.waitForFunction(() => document.querySelectorAll('#starved li').length >= 1, null, { timeout: WAIT_MS })
    .catch(() => { throw new CheckFailed('review page: #starved lists no item, expected the de items'); });
  const starvedText = await rp.locator('#starved').innerText();
  check(/\bde\b/.test(starvedText), `review page: #starved does not name de: ${JSON.stringify(starvedText)}`);
  check(await rp.locator('#starved li').count() === 2, `review page: #starved lists ${await rp.locator('#starved li').count()} items, expected 2`);
  const steals = await rp.locator('#steals').innerText();
  check(/^\d+$/.test(steals.trim()), `review page: #steals shows ${JSON.stringify(steals)}`);
  // Agreement: the sentiment field with every answer (one per text: no alpha, shown as "–"), each worker
  // who answered with an estimate; "disagreements first" keeps every unit, each with its item's agreement.
  await rp.waitForFunction(() => !!document.querySelector('#quality-fields tr[data-field="sentiment"]'), null, { timeout: WAIT_MS })
    .catch(() => { throw new CheckFailed('review page: the Agreement table has no row for the sentiment field'); });
  const fieldCells = await rp.locator('#quality-fields tr[data-field="sentiment"] td').allInnerTexts();
  check(Number(fieldCells[2]) === submitted.size && fieldCells[3] === '–',
    `review page: Agreement row for sentiment reads ${JSON.stringify(fieldCells)}, expected ${submitted.size} answers and no alpha`);
  const answeredBy = new Set([...submitted.values()].map((s) => s.worker));
  const estimated = await rp.locator('#quality-workers tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.worker));
  check(JSON.stringify(estimated.sort()) === JSON.stringify([...answeredBy].sort()),
    `review page: estimated accuracy for ${JSON.stringify(estimated)}, expected those who answered ${JSON.stringify([...answeredBy])}`);
  await rp.check('#disagreements-first');
  await rp.waitForFunction((n) => document.querySelectorAll('#units .unit').length === n &&
    document.querySelectorAll('#units .unit .badge.agreement').length === n, submitted.size, { timeout: WAIT_MS })
    .catch(() => { throw new CheckFailed('review page: "disagreements first" does not list every unit with its agreement'); });
  await rp.uncheck('#disagreements-first');
  await rp.waitForFunction((n) => document.querySelectorAll('#units .unit').length === n, submitted.size, { timeout: WAIT_MS });
  const approved = [];
  for (let i = 0; i < 2; ++i) {
    const unit = units.first();
    const agent = await unit.getAttribute('data-agent');
    const unitId = await unit.getAttribute('data-unit');
    await unit.locator('button.approve').click();
    await rp.waitForFunction((ag) => !document.querySelector(`#units .unit[data-agent="${ag}"]`), agent, { timeout: WAIT_MS })
      .catch(() => { throw new CheckFailed(`review page: agent ${agent} is still listed as to review after Approve`); });
    const msg = await rp.locator('#review-message').innerText();
    check(/Approved/.test(msg), `review page: after Approve the message reads ${JSON.stringify(msg)}`);
    approved.push({ agent, unit: unitId });
  }
  check(await units.count() === submitted.size - 2, `review page: ${await units.count()} units left to review, expected ${submitted.size - 2}`);
  await rp.selectOption('#status-filter', 'accepted');
  await rp.waitForFunction(() => {
    const us = [...document.querySelectorAll('#units .unit')];
    return us.length === 2 && us.every((u) => u.dataset.status === 'accepted');
  }, null, { timeout: WAIT_MS }).catch(() => { throw new CheckFailed('review page: the accepted filter does not list the two approved units'); });
  // Decided units show their decision, not the buttons.
  check(await rp.locator('#units .unit button').count() === 0, 'review page: accepted units still show decision buttons');
  check(await rp.locator('#units .unit .decision').count() === 2, 'review page: accepted units do not show their decision');
  check((await rp.locator('#units .unit .decision').first().innerText()).includes('Approved'),
    `review page: an accepted unit's decision reads ${JSON.stringify(await rp.locator('#units .unit .decision').first().innerText())}`);
  await rp.screenshot({ path: path.join(artifacts, 'review-accepted.png'), fullPage: true });
  await rp.selectOption('#status-filter', 'all');
  await rp.waitForFunction((n) => document.querySelectorAll('#units .unit').length === n, submitted.size, { timeout: WAIT_MS })
    .catch(() => { throw new CheckFailed('review page: the "all" filter does not list every submitted unit'); });
  const buttonsByStatus = await rp.evaluate(() => [...document.querySelectorAll('#units .unit')].map((u) => ({
    status: u.dataset.status, buttons: u.querySelectorAll('button.approve, button.reject, button.soft-reject').length,
    decision: u.querySelector('.decision')?.textContent ?? null })));
  for (const u of buttonsByStatus) {
    if (u.status === 'completed') check(u.buttons === 3 && u.decision === null, `review page: a unit awaiting review shows ${u.buttons} buttons`);
    else check(u.buttons === 0 && /Approved/.test(u.decision ?? ''), `review page: a ${u.status} unit shows ${u.buttons} buttons, decision ${JSON.stringify(u.decision)}`);
  }
  check(buttonsByStatus.filter((u) => u.status === 'accepted').length === 2, `review page: "all" lists ${JSON.stringify(buttonsByStatus)}`);
  const counts = (await api(ctx, '/api/review/dashboard')).units;
  check(counts.accepted === 2 && counts.completed === submitted.size - 2,
    `dashboard API: units by status ${JSON.stringify(counts)} after approving 2 of ${submitted.size}`);
  await rp.waitForFunction((n) => {
    const chip = (s) => document.querySelector(`#unit-counts li[data-status="${s}"]`)?.textContent;
    return chip('accepted') === 'accepted: 2' && chip('completed') === `completed: ${n - 2}`;
  }, submitted.size, { timeout: WAIT_MS }).catch(async () => {
    throw new CheckFailed(`review page: the dashboard shows ${JSON.stringify(await rp.locator('#unit-counts').innerText())} after approving 2 units`);
  });
  await rp.screenshot({ path: path.join(artifacts, 'review.png'), fullPage: true });
  const accepted = (await api(ctx, '/api/review/units?status=accepted')).units;
  const acceptedAgents = accepted.map((u) => String(u.agent_id)).sort();
  const approvedAgents = approved.map((x) => x.agent).sort();
  check(JSON.stringify(acceptedAgents) === JSON.stringify(approvedAgents),
    `review API: accepted agents ${JSON.stringify(acceptedAgents)}, approved on the page ${JSON.stringify(approvedAgents)}`);
  log(`step 7: approved agents ${approvedAgents.join(', ')} (units ${approved.map((x) => x.unit).join(', ')})`);

  // 8. Stop the server, export, compare with what the browser submitted.
  await browser.close();
  browser = null;
  server.kill('SIGTERM');
  const exitTimer = setTimeout(() => server.kill('SIGKILL'), WAIT_MS);
  const [code, signal] = await serverExit;
  clearTimeout(exitTimer);
  check(code === 0, `crowdline serve exited with ${code ?? signal} on SIGTERM`);
  check(/Stopped; run the same command again to resume\./.test(ctx.stdout()), `crowdline serve did not say it stopped:\n${ctx.stdout()}`);
  server = null;
  const { stdout: exported } = await execFileP(binary, ['export', '--db', 'campaign.db', '--format', 'jsonl'], { cwd: workDir, maxBuffer: 16 << 20 });
  fs.writeFileSync(path.join(artifacts, 'export.jsonl'), exported);
  const rows = exported.split('\n').filter((l) => l.trim()).map((l, i) => {
    try { return JSON.parse(l); } catch { throw new CheckFailed(`export line ${i + 1} is not JSON: ${l}`); }
  });
  check(rows.length === submitted.size, `export: ${rows.length} rows, the browser submitted ${submitted.size}`);
  const seenUnits = new Set();
  const seenTexts = new Set();
  const approvedUnits = new Set(approved.map((x) => x.unit));
  for (const row of rows) {
    const text = row.state?.inputs?.text;
    const sentiment = row.state?.outputs?.sentiment;
    const want = submitted.get(text);
    check(want, `export: a unit the browser did not submit: ${JSON.stringify(row)}`);
    check(!seenTexts.has(text), `export: the text ${JSON.stringify(text)} appears twice`);
    check(!seenUnits.has(String(row.unit_id)), `export: unit ${row.unit_id} appears twice`);
    seenTexts.add(text);
    seenUnits.add(String(row.unit_id));
    check(String(row.unit_id) === want.unit, `export: ${JSON.stringify(text)} is unit ${row.unit_id}, the page showed unit ${want.unit}`);
    check(sentiment === want.sentiment, `export: unit ${row.unit_id} ${JSON.stringify(text)} has sentiment ${JSON.stringify(sentiment)}, ${want.worker} chose "${want.sentiment}"`);
    check(row.worker_name === want.worker, `export: unit ${row.unit_id} has worker_name ${JSON.stringify(row.worker_name)}, expected ${want.worker}`);
    check(row.state?.inputs?.lang === want.lang, `export: unit ${row.unit_id} has lang ${JSON.stringify(row.state?.inputs?.lang)}, expected ${want.lang}`);
    check(READS[row.worker_name].has(want.lang), `export: ${row.worker_name} answered a "${want.lang}" text`);
    const status = approvedUnits.has(String(row.unit_id)) ? 'accepted' : 'completed';
    check(row.status === status, `export: unit ${row.unit_id} has status ${JSON.stringify(row.status)}, expected ${status}`);
  }
  check(seenUnits.has(reloadedUnit), `export: the reloaded unit ${reloadedUnit} is missing`);
  check(submitted.get(abandoned.text).worker === 'ana' && rows.some((r) => r.state?.inputs?.text === abandoned.text && r.worker_name === 'ana'),
    'export: the text ben abandoned is not ana\'s answer');
  log(`step 8: export holds exactly the ${rows.length} submitted answers (ana ${doneBy('ana')}, ben ${doneBy('ben')})`);

  check(pageErrors.length === 0, `uncaught errors on the pages:\n  ${pageErrors.join('\n  ')}`);
}

// ---- run ------------------------------------------------------------------------------------------------
async function cleanup(keep) {
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    const t = setTimeout(() => server.kill('SIGKILL'), 5000);
    await serverExit.catch(() => {});
    clearTimeout(t);
  }
  if (workDir && keep) {  // the campaign's database, for a look at what went wrong
    for (const f of fs.readdirSync(workDir)) if (f.startsWith('campaign.db') && !f.endsWith('.secrets.json')) fs.copyFileSync(path.join(workDir, f), path.join(artifacts, f));
  }
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  console.error(`FAIL browser.worker_flow: still running after ${overallMs} ms`);
  await cleanup().catch(() => {});
  process.exit(1);
}, overallMs);

try {
  await scenario();
  await cleanup();
  clearTimeout(watchdog);
  log(`PASS browser.worker_flow (${submitted.size} answers; screenshots in ${artifacts})`);
  process.exit(0);
} catch (e) {
  console.error(`FAIL browser.worker_flow: ${e instanceof CheckFailed ? e.message : e.stack || e}`);
  if (Object.values(shown).some((s) => s.length)) console.error('units shown:', JSON.stringify(shown));
  await cleanup(true).catch(() => {});
  console.error(`screenshots, server output and the database are in ${artifacts}`);
  clearTimeout(watchdog);
  process.exit(1);
}
