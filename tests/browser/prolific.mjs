// End-to-end: a Prolific participant in headless Chromium, against the real `crowdline serve` serving a Prolific
// run, which talks to the local HTTPS fake of Prolific's API (tests/prolific/fake_server.cpp).
//
//   node prolific.mjs CROWDLINE_BINARY ARTIFACTS_DIR      (CROWDLINE_FAKE_PROLIFIC: the fake's binary)
//
// The scenario:
//   1. the fake starts (its certificate in a file); `crowdline serve --campaign` with one Prolific run of three
//      texts, overlap 1, `--sandbox <fake>` `--sandbox-ca <certificate>`: the study is made and published, and
//      serve prints it;
//   2. a page opened as Prolific opens it (`?run=labels&PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…`) names the
//      participant by their Prolific id, and the participant answers every text with the page's controls;
//   3. after the last answer is saved, the page takes them to Prolific's completion URL with the study's
//      completion code (`https://app.prolific.com/submissions/complete?cc=…`; the request is caught here and
//      never leaves the machine) — and not before: no navigation happens while work is left;
//   4. a page opened with another study's id is refused ("This study link is not valid."), shows no unit, and
//      is never sent to Prolific;
//   5. the fake refused no request for its shape; no page logs a console error, a Content-Security-Policy
//      violation or an uncaught exception.
// Screenshots go to ARTIFACTS_DIR, with the server's output. Exits 0 on success, 1 with a message otherwise;
// 77 (skipped) without the fake's binary (a build without CROWDLINE_WITH_PROLIFIC).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';
import { CheckFailed, watchConsole as watchPage, check, makeLog, sleep, waitUntil as waitUntilWithin } from './harness.mjs';

const [binaryArg, artifactsArg] = process.argv.slice(2);
if (!binaryArg || !artifactsArg) {
  console.error('usage: node prolific.mjs CROWDLINE_BINARY ARTIFACTS_DIR');
  process.exit(2);
}
const NAME = 'browser.prolific';
const fakeBinary = process.env.CROWDLINE_FAKE_PROLIFIC;
if (!fakeBinary || !fs.existsSync(fakeBinary)) {
  console.error(`SKIPPED ${NAME}: no fake Prolific server (CROWDLINE_FAKE_PROLIFIC; built with CROWDLINE_WITH_PROLIFIC=ON)`);
  process.exit(77);
}
const binary = path.resolve(binaryArg);
const artifacts = path.resolve(artifactsArg);
const chromiumPath = process.env.CROWDLINE_CHROMIUM || '/usr/bin/chromium';
const overallMs = Number(process.env.CROWDLINE_BROWSER_TIMEOUT_MS || 60000);
const WAIT_MS = 15000;
const COMPLETION = 'https://app.prolific.com/submissions/complete';

const { elapsed, log } = makeLog();
const waitUntil = (cond, what) => waitUntilWithin(cond, what, WAIT_MS);

const TEXTS = ['A lovely day at the seaside.', 'The train was late again.', 'The meeting is on Tuesday.'];
const SENTIMENTS = ['negative', 'neutral', 'positive'];

let fake = null;        // the fake Prolific API
let fakeLines = null;   // its standard output, line by line
let server = null;      // `crowdline serve`
let serverExit = null;
let browser = null;
let workDir = null;
const pageErrors = [];

/** The next line the fake prints. */
async function fakeLine() {
  const { value, done } = await fakeLines.next();
  check(!done, 'the fake Prolific server ended');
  return value;
}
/** Asks the fake what it saw ("studies", "shape_errors"): its JSON answer. */
async function askFake(what) {
  fake.stdin.write(what + '\n');
  return JSON.parse(await fakeLine());
}

async function startFake() {
  const pem = path.join(workDir, 'fake.pem');
  fake = spawn(fakeBinary, [pem], { stdio: ['pipe', 'pipe', 'inherit'] });
  fakeLines = readline.createInterface({ input: fake.stdout })[Symbol.asyncIterator]();
  const said = {};
  for (let i = 0; i < 3; ++i) {
    const [key, value] = (await fakeLine()).split(' ');
    said[key] = value;
  }
  check(said.url && said.token && said.workspace, `the fake printed ${JSON.stringify(said)}`);
  return { ...said, pem };
}

async function startServer(f) {
  const campaign = {
    db: 'campaign.db',
    runs: [{
      name: 'labels',
      tasks: TEXTS.map((text) => ({ text })),
      routing: { overlap: 1 },
      provider: { prolific: { token_env: 'CROWDLINE_BROWSER_PROLIFIC_TOKEN', workspace_id: f.workspace, reward_cents: 50, places: 3 } },
      task: { task_title: 'Label three texts', task_description: 'Say how each text feels' },
    }],
  };
  fs.writeFileSync(path.join(workDir, 'campaign.json'), JSON.stringify(campaign, null, 2));
  fs.copyFileSync(path.join(workDir, 'campaign.json'), path.join(artifacts, 'campaign.json'));
  const args = ['serve', '--campaign', 'campaign.json', '--port', '0', '--sandbox', f.url, '--sandbox-ca', f.pem];
  log('starting', binary, args.join(' '));
  server = spawn(binary, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CROWDLINE_BROWSER_PROLIFIC_TOKEN: f.token } });
  serverExit = once(server, 'exit');
  const outLog = fs.createWriteStream(path.join(artifacts, 'server.stdout.txt'));
  server.stderr.pipe(fs.createWriteStream(path.join(artifacts, 'server.stderr.txt')));
  let out = '';
  server.stdout.on('data', (chunk) => { out += chunk; outLog.write(chunk); });
  const deadline = Date.now() + WAIT_MS;
  while (!/\/review#token=\S+\s*\n/.test(out)) {
    if (server.exitCode !== null || server.signalCode !== null)
      throw new CheckFailed(`crowdline serve exited early (${server.exitCode ?? server.signalCode}); see ${artifacts}/server.stderr.txt`);
    if (Date.now() > deadline) throw new CheckFailed(`crowdline serve printed no review link within ${WAIT_MS} ms:\n${out}`);
    await sleep(50);
  }
  const base = out.match(/^Serving task run \d+ at (http:\/\/127\.0\.0\.1:\d+)/m);
  check(base, `no "Serving task run N at http://127.0.0.1:PORT" line in:\n${out}`);
  const study = out.match(/^ {2}Prolific study (\S+): participants open (\S+)\/\?run=labels&PROLIFIC_PID=/m);
  check(study, `no "Prolific study <id>: participants open …" line in:\n${out}`);
  check(study[2] === base[1], `participants are sent to ${study[2]}, the server is at ${base[1]}`);
  return { base: base[1], study: study[1] };
}

/** A participant's page, opened as Prolific opens the study URL; navigations to Prolific are caught and kept. */
async function openParticipant(ctx, pid, study) {
  const context = await browser.newContext({ viewport: { width: 900, height: 720 } });
  const sentTo = [];
  await context.route('https://app.prolific.com/**', (route) => {
    sentTo.push(route.request().url());
    return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Prolific</title><p>Completed</p>' });
  });
  const page = await context.newPage();
  watchPage(pageErrors, pid, page);
  const url = `${ctx.base}/?run=labels&PROLIFIC_PID=${encodeURIComponent(pid)}&STUDY_ID=${encodeURIComponent(study)}&SESSION_ID=session-${pid}`;
  await page.goto(url);
  return { pid, context, page, sentTo };
}

async function pageState(p) {
  return p.page.evaluate(() => ({
    url: location.href,
    state: document.body?.dataset.state,
    unit: document.body?.dataset.unit,
    text: document.querySelector('#task .crowdline-text')?.textContent ?? null,
    name: document.getElementById('worker-name')?.textContent ?? null,
    message: document.getElementById('message')?.textContent ?? null,
  }));
}

/** Waits for a unit other than `prev`, or for the page to have left for Prolific; returns the page's state. */
async function nextUnit(p, prev, what) {
  await waitUntil(async () => {
    if (p.sentTo.length) return true;
    const s = await pageState(p).catch(() => null);  // null while the page navigates
    return s && (s.state === 'error' || s.state === 'no_work' || (s.state === 'working' && s.unit !== undefined && s.unit !== prev));
  }, `${p.pid}: ${what}: a new unit, no work, or the way to Prolific`);
  if (p.sentTo.length) return { left: true };
  return pageState(p);
}

async function scenario() {
  fs.mkdirSync(artifacts, { recursive: true });
  for (const f of fs.readdirSync(artifacts)) if (f.endsWith('.png')) fs.rmSync(path.join(artifacts, f));
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crowdline-prolific-'));

  // 1. The fake, then serve against it: one study, published.
  const f = await startFake();
  log('fake Prolific at', f.url);
  const ctx = await startServer(f);
  const studies = await askFake('studies');
  check(Object.keys(studies).length === 1 && studies[ctx.study], `the fake holds the studies ${JSON.stringify(Object.keys(studies))}, serve printed ${ctx.study}`);
  check(studies[ctx.study].status === 'ACTIVE', `study ${ctx.study} is ${studies[ctx.study].status}, expected ACTIVE`);
  const code = (studies[ctx.study].completion_codes || [])[0]?.code;
  check(typeof code === 'string' && code.length > 0, `study ${ctx.study} has no completion code: ${JSON.stringify(studies[ctx.study])}`);
  log('step 1: study', ctx.study, 'published with completion code', code);

  browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking'] });

  // 4 (first, while work is left). Another study's id: refused, no unit, never sent to Prolific.
  const stranger = await openParticipant(ctx, 'p-stranger', 'not-our-study');
  await stranger.page.waitForFunction(() => ['error', 'working', 'no_work'].includes(document.body.dataset.state), null, { timeout: WAIT_MS });
  await sleep(300);
  const ss = await pageState(stranger);
  check(ss.state === 'error' && ss.unit === undefined && ss.message === 'This study link is not valid. Open the study again from Prolific.',
    `a page of another study shows ${JSON.stringify(ss)}; expected "This study link is not valid. …" and no unit`);
  check(stranger.sentTo.length === 0, `a page of another study was sent to ${JSON.stringify(stranger.sentTo)}`);
  await stranger.page.screenshot({ path: path.join(artifacts, 'participant-other-study.png'), fullPage: true });
  await stranger.context.close();
  log('step 4: a page of another study is refused:', JSON.stringify(ss.message));

  // 2. p1 opens the study URL and answers every text with the page's controls.
  const p1 = await openParticipant(ctx, 'p1', ctx.study);
  let st = await nextUnit(p1, null, 'opening the study URL');
  check(!st.left, `p1 was sent to Prolific before answering anything: ${JSON.stringify(p1.sentTo)}`);
  check(st.state === 'working', `p1's page is ${st.state}: ${st.message}`);
  check(st.name === 'p1', `the page names the worker ${JSON.stringify(st.name)}, expected the Prolific id p1`);
  const seen = new Set();
  for (let i = 0; i < TEXTS.length; ++i) {
    check(st.state === 'working', `p1: expected unit ${i + 1} of ${TEXTS.length}, the page is ${st.state}: ${st.message}`);
    check(TEXTS.includes(st.text) && !seen.has(st.text), `p1 was shown ${JSON.stringify(st.text)} (seen ${JSON.stringify([...seen])})`);
    seen.add(st.text);
    check(p1.sentTo.length === 0, `p1 was sent to Prolific with work left: ${JSON.stringify(p1.sentTo)}`);
    await p1.page.locator('#task label.crowdline-option', { hasText: SENTIMENTS[i % SENTIMENTS.length] }).click();
    if (i === 0) await p1.page.screenshot({ path: path.join(artifacts, 'participant-working.png'), fullPage: true });
    await p1.page.locator('#task button.crowdline-submit').click();
    st = await nextUnit(p1, st.unit, `after answer ${i + 1}`);
    if (i < TEXTS.length - 1) check(!st.left, `p1 was sent to Prolific after ${i + 1} of ${TEXTS.length} answers: ${JSON.stringify(p1.sentTo)}`);
  }
  log('step 2: p1 answered', seen.size, 'texts');

  // 3. No work left: the page goes to the completion URL with the study's code.
  await waitUntil(async () => p1.sentTo.length > 0, 'p1\'s page going to Prolific after the last answer');
  check(p1.sentTo.length === 1, `p1's page went to Prolific ${p1.sentTo.length} times: ${JSON.stringify(p1.sentTo)}`);
  const to = new URL(p1.sentTo[0]);
  check(to.origin + to.pathname === COMPLETION, `p1 was sent to ${p1.sentTo[0]}, expected ${COMPLETION}?cc=…`);
  check(to.searchParams.get('cc') === code, `p1 was sent with cc=${to.searchParams.get('cc')}, the study's code is ${code}`);
  await waitUntil(async () => p1.page.url().startsWith(COMPLETION), 'the page at the completion URL');
  await p1.page.screenshot({ path: path.join(artifacts, 'participant-completed.png'), fullPage: true });
  log('step 3: the page went to', p1.sentTo[0]);

  // 5. The fake saw only well-formed requests; no page error.
  const shapes = await askFake('shape_errors');
  check(Array.isArray(shapes) && shapes.length === 0, `the fake refused requests for their shape: ${JSON.stringify(shapes)}`);
  check(pageErrors.length === 0, `errors on the pages:\n  ${pageErrors.join('\n  ')}`);
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    const t = setTimeout(() => server.kill('SIGKILL'), 5000);
    await serverExit.catch(() => {});
    clearTimeout(t);
  }
  if (fake && fake.exitCode === null) {
    fake.stdin.end();
    const t = setTimeout(() => fake.kill('SIGKILL'), 5000);
    await once(fake, 'exit').catch(() => {});
    clearTimeout(t);
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
  log(`PASS ${NAME} (${elapsed()}; screenshots in ${artifacts})`);
  process.exit(0);
} catch (e) {
  console.error(`FAIL ${NAME}: ${e instanceof CheckFailed ? e.message : e.stack || e}`);
  if (pageErrors.length) console.error(`errors on the pages:\n  ${pageErrors.join('\n  ')}`);
  await cleanup().catch(() => {});
  console.error(`screenshots and the server's output are in ${artifacts}`);
  clearTimeout(watchdog);
  process.exit(1);
}
