// End-to-end: a campaign of two task runs served at once, in headless Chromium, against the real `crowdline serve`.
//
//   node two_runs.mjs CROWDLINE_BINARY ARTIFACTS_DIR
//
// The scenario:
//   1. a campaign file with two runs: "sentiment" (English texts routed by "lang", ana reads en, overlap 1, the
//      built-in sentiment form) and "topics" (headlines, its own inline form, no routing, full overlap, bo and
//      cy); `crowdline serve --campaign` prints each run's invite links (each ending in &run=<name>) under its
//      run; the packet API refuses cy's link on the other run (403 forbidden), and a packet naming no run (400)
//      or a run not served (404);
//   2. ana and bo open their links in two browser contexts; while each page holds a unit, a link tampered to the
//      other run (ana's invite with &run=topics, bo's with &run=sentiment), opened in the same browser, shows
//      "This invite link is not valid." and never a unit (only "forbidden" replies reach it), and the worker's
//      own page keeps its unit;
//   3. ana (keyboard) and bo (mouse) annotate, taking turns, until their pages say there is no more work: ana
//      only ever sees sentiment texts and the sentiment form, bo only headlines and the topic form; ana's
//      tampered link is still refused after her run is complete;
//   4. the review page lists both runs in its selector; each run shows only its own answers, switching back and
//      forth and after a reload (the run is kept in the hash); approving a sentiment unit on the page accepts
//      exactly that unit, in sentiment only;
//   5. cy answers topics through the HTTP packet API until none is left; the server says "Every run is
//      complete."; on SIGTERM it exits 0;
//   6. `crowdline export` holds exactly the answers given, each with its run's task_name and task_run_id;
//   7. no page logs a console error, a Content-Security-Policy violation or an uncaught exception.
// Screenshots go to ARTIFACTS_DIR, with the server's output. Exits 0 on success, 1 with a message otherwise.
//
// Environment: CROWDLINE_CHROMIUM (default /usr/bin/chromium), CROWDLINE_BROWSER_TIMEOUT_MS (default 60000).

import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { CheckFailed, watchConsole as watchPage, api, check, makeLog, sleep, waitUntil as waitUntilWithin } from './harness.mjs';

const execFileP = promisify(execFile);
const [binaryArg, artifactsArg] = process.argv.slice(2);
if (!binaryArg || !artifactsArg) {
  console.error('usage: node two_runs.mjs CROWDLINE_BINARY ARTIFACTS_DIR');
  process.exit(2);
}
const binary = path.resolve(binaryArg);
const artifacts = path.resolve(artifactsArg);
const chromiumPath = process.env.CROWDLINE_CHROMIUM || '/usr/bin/chromium';
const overallMs = Number(process.env.CROWDLINE_BROWSER_TIMEOUT_MS || 60000);
const WAIT_MS = 15000;    // any single wait for the page or the server
const NAME = 'browser.two_runs';

const { started, elapsed, log } = makeLog();
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// ---- the campaign ---------------------------------------------------------------------------------------
const SENTIMENT_TEXTS = ['[en 1] The new library opened today and the reading room is wonderful.',
  '[en 2] My train was cancelled again, the third time this week.', '[en 3] The report is due on Friday.'];
const HEADLINES = { '[h 1] Parliament passes the budget by twelve votes': 'politics',
  '[h 2] Late goal wins the cup final': 'sport', '[h 3] Telescope finds a new moon around Saturn': 'science' };
const TOPICS = ['politics', 'sport', 'science'];
const SENTIMENTS = ['negative', 'neutral', 'positive'];
const RUNS = {
  sentiment: { field: 'sentiment', choices: SENTIMENTS, texts: new Set(SENTIMENT_TEXTS), workers: ['ana'] },
  topics: { field: 'topic', choices: TOPICS, texts: new Set(Object.keys(HEADLINES)), workers: ['bo', 'cy'] },
};
const RUN_OF_WORKER = { ana: 'sentiment', bo: 'topics', cy: 'topics' };
const CAMPAIGN = {
  runs: [
    {
      name: 'sentiment',
      tasks: SENTIMENT_TEXTS.map((text) => ({ lang: 'en', text })),
      workers: [{ name: 'ana', languages: ['en'] }],
      routing: { route_by: 'lang', overlap: 1 },
      // no "form": the built-in sentiment form (the text, then negative / neutral / positive)
    },
    {
      name: 'topics',
      tasks: Object.keys(HEADLINES).map((text) => ({ text })),
      workers: [{ name: 'bo' }, { name: 'cy' }],
      form: {
        fields: [
          { type: 'display_text', name: 'headline', label: 'Headline', text: '{{text}}' },
          { type: 'single_choice', name: 'topic', label: 'Topic', options: TOPICS },
        ],
      },
      routing: { route_by: '', overlap: 'full' },
      task: { task_title: 'Pick the topic', task_description: 'Read each headline and pick its topic' },
    },
  ],
};

// ---- state shared with cleanup --------------------------------------------------------------------------
let server = null;        // the `crowdline serve` child
let serverExit = null;    // promise of [code, signal]
let browser = null;
let workDir = null;
const pageErrors = [];    // uncaught exceptions, console errors and CSP violations on any page: always a failure

// What was answered: `${worker}\n${text}` -> {run, worker, text, unit, agent, answer}; and what each worker was shown.
const answers = new Map();
const shown = { ana: [], bo: [], cy: [] };
const answerKey = (worker, text) => `${worker}\n${text}`;

// ---- the server -----------------------------------------------------------------------------------------
/** Starts `crowdline serve --campaign` in a new temporary folder; parses its links. */
async function startServer() {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crowdline-two-runs-'));
  fs.writeFileSync(path.join(workDir, 'campaign.json'), JSON.stringify(CAMPAIGN, null, 2));
  fs.copyFileSync(path.join(workDir, 'campaign.json'), path.join(artifacts, 'campaign.json'));
  const args = ['serve', '--campaign', 'campaign.json', '--db', 'campaign.db', '--port', '0'];
  log('starting', binary, args.join(' '));
  server = spawn(binary, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  serverExit = once(server, 'exit');
  const outLog = fs.createWriteStream(path.join(artifacts, 'server.stdout.txt'));
  const errLog = fs.createWriteStream(path.join(artifacts, 'server.stderr.txt'));
  server.stderr.pipe(errLog);
  let out = '';
  server.stdout.on('data', (chunk) => { out += chunk; outLog.write(chunk); });
  const deadline = Date.now() + WAIT_MS;
  while (!/\/review#token=\S+\s*\n/.test(out)) {
    if (server.exitCode !== null || server.signalCode !== null)
      throw new CheckFailed(`crowdline serve exited early (${server.exitCode ?? server.signalCode}); see ${artifacts}/server.stderr.txt`);
    if (Date.now() > deadline) throw new CheckFailed(`crowdline serve printed no review link within ${WAIT_MS} ms:\n${out}`);
    await sleep(50);
  }
  const base = out.match(/^Serving 2 task runs at (http:\/\/127\.0\.0\.1:\d+)\s*$/m);
  check(base, `no "Serving 2 task runs at http://127.0.0.1:PORT" line in:\n${out}`);
  // Each run's section: its header, then one line per worker; a worker's link must be in its own run's section.
  const sections = {};
  for (const part of out.split(/^(?=Run ")/m).slice(1)) {
    const head = part.match(/^Run "([^"]+)" \(task run (\d+), (\d+) tasks\)\. Invite links \(send each person their own\):\s*$/m);
    check(head, `a run's section does not start as expected:\n${part}`);
    sections[head[1]] = { id: Number(head[2]), tasks: Number(head[3]), text: part.split(/^\s*$/m)[0] };
  }
  check(same(Object.keys(sections).sort(), ['sentiment', 'topics']), `runs printed: ${JSON.stringify(Object.keys(sections))}\n${out}`);
  for (const [name, r] of Object.entries(RUNS))
    check(sections[name].tasks === r.texts.size, `run "${name}" printed ${sections[name].tasks} tasks, expected ${r.texts.size}`);
  const invites = {};
  for (const [worker, runName] of Object.entries(RUN_OF_WORKER)) {
    const keys = worker === 'ana' ? ' \\(\\["en"\\]\\)' : '';
    const re = new RegExp(`^  ${worker}${keys}  (http://\\S+/\\?invite=([0-9A-Za-z]+)&run=([^\\s&]+))\\s*$`, 'm');
    const m = sections[runName].text.match(re);
    check(m, `no invite line for ${worker} in the section of run "${runName}":\n${sections[runName].text}`);
    check(m[1].startsWith(base[1] + '/'), `${worker}'s link ${m[1]} is not on ${base[1]}`);
    check(decodeURIComponent(m[3]) === runName, `${worker}'s link names run ${JSON.stringify(m[3])}, expected ${runName}`);
    for (const [other, o] of Object.entries(sections))
      if (other !== runName) check(!new RegExp(`^  ${worker}\\b`, 'm').test(o.text), `${worker} is listed in run "${other}" too`);
    invites[worker] = { url: m[1], token: m[2] };
  }
  const review = out.match(/^Review page, every run \(keep it private\):\s*\n\s+(http:\/\/\S+\/review#token=([0-9A-Za-z]+))\s*$/m);
  check(review, `no "Review page, every run" link in:\n${out}`);
  return { base: base[1], invites, reviewUrl: review[1], reviewToken: review[2], runIds: { sentiment: sections.sentiment.id, topics: sections.topics.id }, stdout: () => out };
}

/** One packet through the HTTP packet API (`POST /api/<type>`): the reply packet, whatever the HTTP status. */
async function packet(ctx, type, body) {
  const res = await fetch(`${ctx.base}/api/${type}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let reply;
  try { reply = JSON.parse(text); } catch { throw new CheckFailed(`POST /api/${type}: HTTP ${res.status}, not JSON: ${text}`); }
  return { status: res.status, reply };
}

/** Waits until `cond()` holds, polling; fails with `what` after WAIT_MS. */
const waitUntil = (cond, what) => waitUntilWithin(cond, what, WAIT_MS);

// ---- the worker page ------------------------------------------------------------------------------------
/** A page in `context` (a new context when none) on `url`, its console watched and the packets it receives kept. */
async function openWorker(name, url, context = null) {
  context = context || await browser.newContext({ viewport: { width: 900, height: 720 } });
  const page = await context.newPage();
  watchPage(pageErrors, name, page);
  const received = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    try { received.push(JSON.parse(typeof f.payload === 'string' ? f.payload : f.payload.toString())); } catch { /* not JSON */ }
  }));
  await page.goto(url);
  return { name, context, page, received };
}

/** The page's state, and the unit it shows. */
async function pageState(w) {
  return w.page.evaluate(() => ({
    state: document.body.dataset.state,
    unit: document.body.dataset.unit,
    text: document.querySelector('#task .crowdline-text')?.textContent ?? null,
    legend: document.querySelector('#task legend')?.textContent ?? null,
    options: [...document.querySelectorAll('#task input[type="radio"]')].map((i) => `${i.name}=${i.value}`),
    checked: document.querySelector('#task input[type="radio"]:checked')?.value ?? null,
    done: document.getElementById('done-count').textContent,
    name: document.getElementById('worker-name').textContent,
    message: document.getElementById('message').textContent,
    task: document.getElementById('task').innerHTML,
  }));
}

/** Waits until the page shows a unit other than `prev` (or no work, or an error), checks it is of the worker's
 *  run, and returns what it shows. */
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
    const runName = RUN_OF_WORKER[w.name];
    const run = RUNS[runName];
    shown[w.name].push({ unit: st.unit, text: st.text });
    for (const [other, o] of Object.entries(RUNS))
      if (other !== runName) check(!o.texts.has(st.text), `${w.name} (run "${runName}") was shown a unit of run "${other}": unit ${st.unit} ${JSON.stringify(st.text)}`);
    check(run.texts.has(st.text), `${w.name}: unit ${st.unit} shows an unknown text ${JSON.stringify(st.text)}`);
    check(same(st.options, run.choices.map((c) => `${run.field}=${c}`)), `${w.name}: unit ${st.unit} offers ${JSON.stringify(st.options)}, not the ${runName} form's`);
    check(st.name === w.name, `${w.name}'s page names the worker ${JSON.stringify(st.name)}`);
  }
  return st;
}

function doneBy(name) {
  return [...answers.values()].filter((s) => s.worker === name).length;
}

let choiceCounter = 0;
/** The answer a worker gives a text: bo the headline's topic, cy the next topic after it, ana a rotation. */
function answerFor(worker, text) {
  if (worker === 'bo') return HEADLINES[text];
  if (worker === 'cy') return TOPICS[(TOPICS.indexOf(HEADLINES[text]) + 1) % TOPICS.length];
  return SENTIMENTS[choiceCounter++ % SENTIMENTS.length];
}

/** Chooses the answer with the page's controls (keyboard: its digit and Enter; mouse: its label and the Submit
 *  button), submits, records the answer, and waits for the next unit. */
async function annotate(w, st, how) {
  check(st.state === 'working', `${w.name}: expected a unit to work on, the page is ${st.state}: ${st.message}`);
  const run = RUNS[RUN_OF_WORKER[w.name]];
  check(!answers.has(answerKey(w.name, st.text)), `${w.name}: was given ${JSON.stringify(st.text)} again after answering it`);
  const choice = answerFor(w.name, st.text);
  if (how === 'keyboard') await w.page.keyboard.press(String(run.choices.indexOf(choice) + 1));
  else await w.page.locator('#task label.crowdline-option', { hasText: choice }).click();
  const chosen = (await pageState(w)).checked;
  check(chosen === choice, `${w.name}: choosing "${choice}" by ${how} left ${JSON.stringify(chosen)} checked`);
  if (how === 'keyboard') await w.page.keyboard.press('Enter');
  else await w.page.locator('#task button.crowdline-submit').click();
  answers.set(answerKey(w.name, st.text), { run: RUN_OF_WORKER[w.name], worker: w.name, text: st.text, unit: st.unit, answer: choice });
  const next = await waitForUnit(w, st.unit, `after submitting unit ${st.unit}`);
  check(next.done === String(doneBy(w.name)), `${w.name}: #done-count shows ${next.done} after ${doneBy(w.name)} submissions`);
  return next;
}

/** Opens `worker`'s invite with `&run=<runName>` (the other run) in `context`: the page must say the link is not
 *  valid, show no unit, and get only "forbidden" errors (never agent_details) from the server. */
async function checkTampered(ctx, worker, runName, context, when) {
  const url = `${ctx.base}/?invite=${ctx.invites[worker].token}&run=${runName}`;
  const what = `${worker}'s link with &run=${runName} (${when})`;
  const t = await openWorker(`${worker}-tampered`, url, context);
  await t.page.waitForFunction(() => ['error', 'working', 'no_work'].includes(document.body.dataset.state), null, { timeout: WAIT_MS })
    .catch(async () => { throw new CheckFailed(`${what}: the page is still ${JSON.stringify(await pageState(t))}`); });
  await sleep(500);  // a unit handed out late would show by now
  const st = await pageState(t);
  check(st.state === 'error' && st.message === 'This invite link is not valid.',
    `${what}: the page is ${st.state}, saying ${JSON.stringify(st.message)}; expected "This invite link is not valid."`);
  check(st.unit === undefined && st.task === '', `${what}: the page shows a unit: ${JSON.stringify(st)}`);
  const replies = t.received.filter((p) => p && p.id !== undefined);
  check(!t.received.some((p) => p && p.type === 'agent_details'), `${what}: agent_details reached the page: ${JSON.stringify(t.received)}`);
  check(replies.length >= 1 && replies.every((p) => p.type === 'error' && p.data?.reason === 'forbidden'),
    `${what}: the server replied ${JSON.stringify(replies)}, expected errors with reason forbidden`);
  await t.page.screenshot({ path: path.join(artifacts, `worker-${worker}-tampered-${when}.png`), fullPage: true });
  await t.page.close();
}

// ---- the review page --------------------------------------------------------------------------------------
/** The units the review page lists: agent, unit, status, worker and the text of its inputs. */
async function listedUnits(rp) {
  return rp.evaluate(() => [...document.querySelectorAll('#units .unit')].map((u) => ({
    agent: u.dataset.agent, unit: u.dataset.unit, status: u.dataset.status,
    worker: u.querySelector('.worker')?.textContent ?? null,
    inputs: u.querySelector('.unit-body > div:first-child')?.textContent ?? '',
    answer: u.querySelector('.unit-body > div:nth-child(2) dd')?.textContent ?? null,
  })));
}

/** Chooses `name` in the run selector (when it is not chosen already) and waits until the page lists exactly the
 *  completed units `want` (agent ids) of that run. */
async function showRun(ctx, rp, name, want) {
  if ((await rp.locator('#run-select').inputValue()) !== name) await rp.selectOption('#run-select', name);
  await rp.waitForFunction(([n, agents]) => {
    const listed = [...document.querySelectorAll('#units .unit')].map((u) => u.dataset.agent).sort();
    return new URLSearchParams(location.hash.slice(1)).get('run') === n && document.getElementById('units-count').textContent !== '' &&
      JSON.stringify(listed) === JSON.stringify(agents);
  }, [name, [...want].sort()], { timeout: WAIT_MS }).catch(async () => {
    throw new CheckFailed(`review page: with run "${name}" chosen (hash ${JSON.stringify(await rp.evaluate(() => location.hash.replace(/token=[^&]*/, 'token=…')))}) ` +
      `it lists ${JSON.stringify(await listedUnits(rp))}, expected the agents ${JSON.stringify([...want].sort())}`);
  });
  const units = await listedUnits(rp);
  const run = RUNS[name];
  for (const u of units) {
    check(run.workers.includes(u.worker), `review page: run "${name}" lists a unit of ${JSON.stringify(u.worker)}: ${JSON.stringify(u)}`);
    const texts = [...run.texts].filter((t) => u.inputs.includes(t));
    check(texts.length === 1, `review page: run "${name}" lists a unit whose inputs are not one of its texts: ${JSON.stringify(u)}`);
    const given = answers.get(answerKey(u.worker, texts[0]));
    check(given && given.answer === u.answer, `review page: ${u.worker}'s unit ${u.unit} shows the answer ${JSON.stringify(u.answer)}, given ${JSON.stringify(given)}`);
  }
  return units;
}

/** Waits until the dashboard's "units by status" chips show `want` ({status: count}) for the chosen run. */
async function chipsShow(rp, name, want) {
  await rp.waitForFunction((w) => Object.entries(w).every(([st, n]) =>
    document.querySelector(`#unit-counts li[data-status="${st}"]`)?.textContent === `${st}: ${n}`), want, { timeout: WAIT_MS })
    .catch(async () => { throw new CheckFailed(`review page: run "${name}"'s dashboard shows ${JSON.stringify(await rp.locator('#unit-counts').innerText())}, expected ${JSON.stringify(want)}`); });
}

// ---- the scenario ---------------------------------------------------------------------------------------
async function scenario() {
  fs.mkdirSync(artifacts, { recursive: true });
  for (const f of fs.readdirSync(artifacts)) if (f.endsWith('.png') || f.startsWith('campaign.db')) fs.rmSync(path.join(artifacts, f));
  // 1. The campaign, served; the packet API keeps the runs apart.
  const ctx = await startServer();
  log('serving at', ctx.base, 'task runs', JSON.stringify(ctx.runIds));
  // The policy the pages must work under is really sent (the test would prove nothing without it).
  for (const page of ['/', '/review']) {
    const res = await fetch(ctx.base + page);
    const csp = res.headers.get('content-security-policy') || '';
    check(/script-src 'self'/.test(csp) && /style-src 'self'/.test(csp) && !/unsafe/.test(csp),
      `GET ${page}: Content-Security-Policy ${JSON.stringify(csp)}`);
  }
  const runsBefore = (await api(ctx, '/api/review/runs')).runs;
  check(same(runsBefore.map((r) => [r.name, r.id, r.complete]).sort(), [['sentiment', ctx.runIds.sentiment, false], ['topics', ctx.runIds.topics, false]]),
    `GET /api/review/runs: ${JSON.stringify(runsBefore)}`);

  // The packet API, while both runs are open: cy's link is refused by the other run (403), and so is a packet naming
  // no run (400) or a run not served (404).
  const cyInvite = ctx.invites.cy.token;
  for (const [runName, status, reason] of [['sentiment', 403, 'forbidden'], [undefined, 400, null], ['nosuchrun', 404, null]]) {
    const r = await packet(ctx, 'register', { data: { invite: cyInvite, ...(runName ? { run: runName } : {}) } });
    check(r.status === status && r.reply.type === 'error' && (!reason || r.reply.data?.reason === reason),
      `cy: register with run ${JSON.stringify(runName)}: HTTP ${r.status} ${JSON.stringify(r.reply)}, expected ${status}${reason ? ' ' + reason : ''}`);
  }
  log('step 1: each run printed its own links; the packet API refuses another run\'s link, no run and an unknown run');

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking'],
  });
  log('chromium', browser.version());

  // 2. ana and bo open their links; links tampered to the other run are refused.
  const ana = await openWorker('ana', ctx.invites.ana.url);
  const bo = await openWorker('bo', ctx.invites.bo.url);
  let a = await waitForUnit(ana, null, 'opening the invite link');
  let b = await waitForUnit(bo, null, 'opening the invite link');
  check(a.state === 'working' && b.state === 'working', `fresh pages: ana ${a.state} (${a.message}), bo ${b.state} (${b.message})`);
  check(/Sentiment/.test(a.legend ?? '') && /Topic/.test(b.legend ?? ''), `the forms' legends read ${JSON.stringify(a.legend)} and ${JSON.stringify(b.legend)}`);
  await ana.page.screenshot({ path: path.join(artifacts, 'worker-ana-working.png'), fullPage: true });
  await bo.page.screenshot({ path: path.join(artifacts, 'worker-bo-working.png'), fullPage: true });
  // While both runs are open and each page holds a unit: a link tampered to the other run, opened in the same
  // browser, is refused as not valid, never shows a unit, and leaves the worker's own page and unit alone.
  // (Only while the run is open: a completed run answers every register "run_not_active", even a tampered link.)
  await checkTampered(ctx, 'ana', 'topics', ana.context, 'before');
  await checkTampered(ctx, 'bo', 'sentiment', bo.context, 'before');
  for (const [w, st] of [[ana, a], [bo, b]]) {
    const now = await pageState(w);
    check(now.state === 'working' && now.unit === st.unit && now.text === st.text,
      `${w.name}: after the tampered link the own page shows ${JSON.stringify(now)}, expected unit ${st.unit}`);
  }
  log(`step 2: ana holds sentiment unit ${a.unit}, bo topics unit ${b.unit}; links tampered to the other run are refused as not valid (forbidden), no unit shown`);

  // 3. ana and bo annotate, taking turns, until neither page has work left.
  for (let i = 0; a.state === 'working' || b.state === 'working'; ++i) {
    check(i < SENTIMENT_TEXTS.length + Object.keys(HEADLINES).length, 'the pages keep giving work after more units than there are tasks');
    if (a.state === 'working') a = await annotate(ana, a, 'keyboard');
    if (b.state === 'working') b = await annotate(bo, b, 'mouse');
  }
  for (const [w, st] of [[ana, a], [bo, b]]) {
    check(st.state === 'no_work', `${w.name}: the page ended in state ${st.state}: ${st.message}`);
    check(/no work left|finished/i.test(st.message), `${w.name}: the no-work message reads ${JSON.stringify(st.message)}`);
    await w.page.screenshot({ path: path.join(artifacts, `worker-${w.name}-no-work.png`), fullPage: true });
  }
  check(same(shown.ana.map((s) => s.text).sort(), [...SENTIMENT_TEXTS].sort()), `ana was shown ${JSON.stringify(shown.ana)}, expected each sentiment text once`);
  check(same(shown.bo.map((s) => s.text).sort(), Object.keys(HEADLINES).sort()), `bo was shown ${JSON.stringify(shown.bo)}, expected each headline once`);
  log(`step 3: ana answered ${doneBy('ana')} texts ("${a.message}"), bo ${doneBy('bo')} headlines ("${b.message}")`);

  // ana's link tampered to topics (which cy has not finished) is still refused after her own run is complete.
  await checkTampered(ctx, 'ana', 'topics', ana.context, 'after');
  check((await pageState(ana)).state === 'no_work', 'ana: the tampered link changed her own page');
  log('step 3: with sentiment complete, ana\'s link with &run=topics is still refused (forbidden), no unit shown');

  // 4. The review page: both runs in the selector; each run shows its own answers; approve one sentiment unit.
  const completed = {};
  for (const name of Object.keys(RUNS)) completed[name] = (await api(ctx, `/api/review/units?run=${name}&status=completed`)).units;
  check(completed.sentiment.length === doneBy('ana') && completed.sentiment.every((u) => u.worker_name === 'ana'),
    `review API: completed units of sentiment: ${JSON.stringify(completed.sentiment)}`);
  check(completed.topics.length === doneBy('bo') && completed.topics.every((u) => u.worker_name === 'bo'),
    `review API: completed units of topics: ${JSON.stringify(completed.topics)}`);
  for (const name of Object.keys(RUNS)) {
    for (const u of completed[name]) {
      const given = answers.get(answerKey(u.worker_name, u.inputs?.text));
      check(given && given.run === name && u.outputs?.[RUNS[name].field] === given.answer,
        `review API: run "${name}" holds ${JSON.stringify(u)}; the page gave ${JSON.stringify(given)}`);
      given.agent = String(u.agent_id);
    }
  }
  const reviewCtx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const rp = await reviewCtx.newPage();
  watchPage(pageErrors, 'review', rp);
  await rp.goto(ctx.reviewUrl);
  await rp.waitForSelector('body[data-state="ready"]', { timeout: WAIT_MS })
    .catch(async () => { throw new CheckFailed(`review page: not ready; it says ${JSON.stringify(await rp.locator('#review-message').innerText())}`); });
  check(await rp.locator('#run-picker').isVisible(), 'review page: the run selector is not shown');
  const options = await rp.evaluate(() => [...document.querySelectorAll('#run-select option')].map((o) => ({ value: o.value, label: o.textContent })));
  check(same(options.map((o) => o.value), ['sentiment', 'topics']), `review page: the run selector offers ${JSON.stringify(options)}`);
  check(options[0].label === 'sentiment (complete)' && options[1].label === 'topics',
    `review page: the run selector's labels read ${JSON.stringify(options.map((o) => o.label))}, expected sentiment marked complete`);
  const agentsOf = (name) => completed[name].map((u) => String(u.agent_id));
  await showRun(ctx, rp, 'topics', agentsOf('topics'));
  await rp.screenshot({ path: path.join(artifacts, 'review-topics.png'), fullPage: true });
  await showRun(ctx, rp, 'sentiment', agentsOf('sentiment'));
  await showRun(ctx, rp, 'topics', agentsOf('topics'));
  const listed = await showRun(ctx, rp, 'sentiment', agentsOf('sentiment'));
  await rp.waitForFunction(() => document.getElementById('complete').textContent === 'Campaign complete', null, { timeout: WAIT_MS })
    .catch(async () => { throw new CheckFailed(`review page: sentiment (every text answered) shows ${JSON.stringify(await rp.locator('#complete').innerText())}`); });
  const approved = listed[0];
  await rp.locator(`#units .unit[data-agent="${approved.agent}"] button.approve`).click();
  await rp.waitForFunction((ag) => !document.querySelector(`#units .unit[data-agent="${ag}"]`), approved.agent, { timeout: WAIT_MS })
    .catch(() => { throw new CheckFailed(`review page: agent ${approved.agent} is still listed as to review after Approve`); });
  const msg = await rp.locator('#review-message').innerText();
  check(/Approved/.test(msg), `review page: after Approve the message reads ${JSON.stringify(msg)}`);
  await chipsShow(rp, 'sentiment', { accepted: 1, completed: doneBy('ana') - 1 });
  await rp.screenshot({ path: path.join(artifacts, 'review-sentiment.png'), fullPage: true });
  const accepted = {};
  for (const name of Object.keys(RUNS)) accepted[name] = (await api(ctx, `/api/review/units?run=${name}&status=accepted`)).units.map((u) => String(u.agent_id));
  check(same(accepted.sentiment, [approved.agent]), `review API: accepted in sentiment ${JSON.stringify(accepted.sentiment)}, approved on the page ${approved.agent}`);
  check(accepted.topics.length === 0, `review API: accepted in topics ${JSON.stringify(accepted.topics)} after approving a sentiment unit`);
  await showRun(ctx, rp, 'topics', agentsOf('topics'));  // its units still await review, and its dashboard is its own
  await chipsShow(rp, 'topics', { accepted: 0, completed: doneBy('bo') });
  // The chosen run is kept in the hash: a reload comes back to topics, with its units.
  await rp.reload();
  await rp.waitForSelector('body[data-state="ready"]', { timeout: WAIT_MS });
  check(await rp.locator('#run-select').inputValue() === 'topics', `review page: after a reload the selector shows ${await rp.locator('#run-select').inputValue()}, expected topics`);
  await showRun(ctx, rp, 'topics', agentsOf('topics'));
  await reviewCtx.close();
  log(`step 4: the review page shows each run's own answers; approved ${approved.worker}'s unit ${approved.unit} (agent ${approved.agent}) in sentiment`);

  // 5. cy answers topics through the HTTP packet API until nothing is handed out; every run is then complete.
  let last = null;
  for (let i = 0; ; ++i) {
    check(i <= Object.keys(HEADLINES).length, 'cy: the API keeps handing out units after more than there are headlines');
    const { status, reply } = await packet(ctx, 'register', { data: { invite: cyInvite, run: 'topics' } });
    if (reply.type !== 'agent_details') { last = { status, reply }; break; }
    const d = reply.data || {};
    const page = String(d.page || '');
    const texts = [...RUNS.topics.texts].filter((t) => page.includes(t));
    check(texts.length === 1 && !SENTIMENT_TEXTS.some((t) => page.includes(t)), `cy: unit ${d.unit_id} shows ${JSON.stringify(page)}, not one headline`);
    const text = texts[0];
    shown.cy.push({ unit: String(d.unit_id), text });
    check(!answers.has(answerKey('cy', text)), `cy: was given ${JSON.stringify(text)} again`);
    const choice = answerFor('cy', text);
    const sub = await packet(ctx, 'submit', { agent: d.agent_id, data: { run: 'topics', token: d.token, submission: { topic: choice } } });
    check(sub.status === 200 && sub.reply.type === 'submitted', `cy: submitting unit ${d.unit_id}: HTTP ${sub.status} ${JSON.stringify(sub.reply)}`);
    answers.set(answerKey('cy', text), { run: 'topics', worker: 'cy', text, unit: String(d.unit_id), agent: String(d.agent_id), answer: choice });
  }
  check(last.reply.type === 'no_work', `cy: after ${doneBy('cy')} answers register replied HTTP ${last.status} ${JSON.stringify(last.reply)}`);
  check(same(shown.cy.map((s) => s.text).sort(), Object.keys(HEADLINES).sort()), `cy was handed ${JSON.stringify(shown.cy)}, expected each headline once`);
  await waitUntil(() => /^Every run is complete\./m.test(ctx.stdout()), 'crowdline serve did not print "Every run is complete."');
  const runsAfter = (await api(ctx, '/api/review/runs')).runs;
  check(runsAfter.every((r) => r.complete), `GET /api/review/runs after every answer: ${JSON.stringify(runsAfter)}`);
  log(`step 5: cy answered ${doneBy('cy')} headlines by the API (then ${last.reply.type}: ${last.reply.data?.reason}); the server says every run is complete`);

  // 6. Stop the server (exit 0 on SIGTERM), export, compare with the answers given.
  await browser.close();
  browser = null;
  server.kill('SIGTERM');
  const exitTimer = setTimeout(() => server.kill('SIGKILL'), WAIT_MS);
  const [code, signal] = await serverExit;
  clearTimeout(exitTimer);
  check(code === 0, `crowdline serve exited with ${code ?? signal} on SIGTERM`);
  server = null;
  const serverErr = fs.readFileSync(path.join(artifacts, 'server.stderr.txt'), 'utf8');
  check(!/runtime error|Sanitizer/.test(serverErr), `crowdline serve reported on stderr:\n${serverErr}`);
  const { stdout: exported } = await execFileP(binary, ['export', '--db', 'campaign.db'], { cwd: workDir, maxBuffer: 16 << 20 });
  fs.writeFileSync(path.join(artifacts, 'export.jsonl'), exported);
  const rows = exported.split('\n').filter((l) => l.trim()).map((l, i) => {
    try { return JSON.parse(l); } catch { throw new CheckFailed(`export line ${i + 1} is not JSON: ${l}`); }
  });
  check(rows.length === answers.size, `export: ${rows.length} rows, ${answers.size} answers were given`);
  const seen = new Set();
  for (const row of rows) {
    const text = row.state?.inputs?.text;
    const key = answerKey(row.worker_name, text);
    const want = answers.get(key);
    check(want, `export: an answer nobody gave: ${JSON.stringify(row)}`);
    check(!seen.has(key), `export: ${row.worker_name}'s answer to ${JSON.stringify(text)} appears twice`);
    seen.add(key);
    check(row.task_name === want.run, `export: ${row.worker_name}'s answer to ${JSON.stringify(text)} has task_name ${JSON.stringify(row.task_name)}, expected ${want.run}`);
    check(row.task_run_id === ctx.runIds[want.run], `export: ${JSON.stringify(text)} has task_run_id ${row.task_run_id}, run "${want.run}" is ${ctx.runIds[want.run]}`);
    const field = RUNS[want.run].field;
    check(same(Object.keys(row.state?.outputs ?? {}), [field]) && row.state.outputs[field] === want.answer,
      `export: ${row.worker_name}'s answer to ${JSON.stringify(text)} is ${JSON.stringify(row.state?.outputs)}, expected {${field}: "${want.answer}"}`);
    check(String(row.unit_id) === want.unit, `export: ${row.worker_name}'s answer to ${JSON.stringify(text)} is unit ${row.unit_id}, expected ${want.unit}`);
    const status = want.agent === approved.agent && want.run === 'sentiment' ? 'accepted' : 'completed';
    check(row.status === status, `export: unit ${row.unit_id} (${row.worker_name}) has status ${JSON.stringify(row.status)}, expected ${status}`);
  }
  log(`step 6: export holds exactly the ${rows.length} answers given (ana ${doneBy('ana')}, bo ${doneBy('bo')}, cy ${doneBy('cy')}), each with its run's task_name`);

  // 7. Nothing went wrong on any page.
  check(pageErrors.length === 0, `errors on the pages:\n  ${pageErrors.join('\n  ')}`);
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
  console.error(`FAIL ${NAME}: still running after ${overallMs} ms`);
  await cleanup().catch(() => {});
  process.exit(1);
}, overallMs);

try {
  await scenario();
  await cleanup();
  clearTimeout(watchdog);
  log(`PASS ${NAME} (${answers.size} answers in 2 runs; screenshots in ${artifacts})`);
  process.exit(0);
} catch (e) {
  console.error(`FAIL ${NAME}: ${e instanceof CheckFailed ? e.message : e.stack || e}`);
  if (Object.values(shown).some((s) => s.length)) console.error('units shown:', JSON.stringify(shown));
  if (pageErrors.length) console.error(`errors on the pages:\n  ${pageErrors.join('\n  ')}`);
  await cleanup(true).catch(() => {});
  console.error(`screenshots, server output and the database are in ${artifacts}`);
  clearTimeout(watchdog);
  process.exit(1);
}
