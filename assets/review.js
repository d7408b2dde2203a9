'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const DASH_MS = 2000;
  const hashParams = () => new URLSearchParams(location.hash.slice(1));
  const token = hashParams().get('token');
  let stopped = false;
  // The task runs the server serves (GET /api/review/runs): null until known, and for an older server
  // without that endpoint (then no call names a run). `run` is the chosen run's name ('' = name none).
  let runs = null;
  let run = '';
  let dashTimer = 0;
  let dashSeq = 0;
  let dashLoaded = false;
  let unitsLoaded = false;
  let lastDash = '';
  let lastCounts = '';
  let unitsSeq = 0;
  // GET /api/review/quality of the chosen run: agreement per field, estimated accuracy per worker, and each
  // item's majority share (the "disagreements first" order). Null until loaded or on an older server.
  let quality = null;

  // ---- helpers ------------------------------------------------------------------------------------
  // el('tag', {class, text, ...attributes}, ...children): strings become text nodes, never HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function show(text, kind) {
    const m = $('review-message');
    m.textContent = text || '';
    m.className = kind || '';
  }
  function ready() {
    if (dashLoaded && unitsLoaded && document.body.dataset.state !== 'error') document.body.dataset.state = 'ready';
  }
  function authFailed() {
    stopped = true;
    document.body.dataset.state = 'error';
    show('The requester token is not valid.', 'error');
  }
  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }
  // Every API path names the chosen run (`run=<name>`), when there is one.
  const withRun = (path) => (run ? path + (path.includes('?') ? '&' : '?') + 'run=' + encodeURIComponent(run) : path);
  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + token };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    let res;
    try { res = await fetch(withRun(path), init); } catch (e) { throw new ApiError('The server cannot be reached.'); }
    if (res.status === 401 || res.status === 403) { authFailed(); throw new ApiError('The requester token is not valid.'); }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) {
      const msg = json && json.error && json.error.message ? String(json.error.message) : 'Request failed (HTTP ' + res.status + ').';
      throw new ApiError(msg, res.status);
    }
    return json;
  }
  function asText(v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'string') return v === '' ? '—' : v;
    if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) return v.length ? v.map(String).join(', ') : '(none)';
    if (typeof v === 'object') return JSON.stringify(v, null, 2);
    return String(v);
  }
  function when(v) {
    if (typeof v === 'number' && isFinite(v)) return new Date(v * 1000).toLocaleString();
    return v === null || v === undefined ? '' : String(v);
  }
  const num = (v) => (typeof v === 'number' && isFinite(v) ? v : 0);

  // ---- dashboard ----------------------------------------------------------------------------------
  // Polls every DASH_MS; a call while one is waiting or in flight (another run chosen) takes over the polling,
  // and the older answer is dropped.
  async function loadDashboard() {
    if (stopped) return;
    clearTimeout(dashTimer);
    const seq = ++dashSeq;
    try {
      const d = await api('GET', '/api/review/dashboard');
      if (seq !== dashSeq) return;
      renderDashboard(d || {});
      if (!dashLoaded) { dashLoaded = true; ready(); }
    } catch (e) {
      if (seq !== dashSeq) return;
      if (!stopped && !dashLoaded) show('Dashboard: ' + e.message, 'error');
    }
    if (!stopped) dashTimer = setTimeout(loadDashboard, DASH_MS);
  }
  function renderDashboard(d) {
    const snapshot = JSON.stringify(d);
    if (snapshot === lastDash) return;
    lastDash = snapshot;

    const complete = $('complete');
    complete.textContent = d.complete ? 'Campaign complete' : 'In progress';
    complete.className = 'badge' + (d.complete ? ' complete' : '');
    markComplete(!!d.complete);

    const progress = Array.isArray(d.progress) ? d.progress : [];
    $('progress').replaceChildren(...(progress.length ? progress.map((p) => {
      const done = num(p.done), total = num(p.total);
      const pct = total > 0 ? Math.min(100, Math.round((done / total) * 100)) : 0;
      const label = p.key === null || p.key === undefined || p.key === '' ? '(all)' : String(p.key);
      const bar = el('div', { class: 'bar' + (total > 0 && done >= total ? ' full' : ''), role: 'progressbar',
        'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done, 'aria-label': label });
      const fill = el('span');
      fill.style.width = pct + '%';
      bar.append(fill);
      return el('div', { class: 'bar-row', dataset: { key: label } },
        el('span', { class: 'label', title: label, text: label }), bar,
        el('span', { class: 'num', text: done + ' / ' + total }));
    }) : [el('p', { class: 'empty', text: 'No items.' })]));

    const counts = d.units && typeof d.units === 'object' ? d.units : {};
    const entries = Object.entries(counts);
    $('unit-counts').replaceChildren(...(entries.length ? entries.map(([s, n]) =>
      el('li', { class: 'badge status-' + s, dataset: { status: s } }, s + ': ' + n)) : [el('li', { class: 'empty', text: 'none' })]));

    $('steals').textContent = String(num(d.steals));

    const starved = Array.isArray(d.starved) ? d.starved : [];
    $('starved').replaceChildren(...starved.map((s) => el('li', {},
      el('strong', { text: s.key === null || s.key === undefined || s.key === '' ? '(no key)' : String(s.key) }), ' — ',
      el('span', { text: typeof s.item === 'string' ? s.item
        : (s.item && typeof s.item.text === 'string') ? s.item.text : JSON.stringify(s.item ?? null) }),
      ...(typeof s.eligible_workers === 'number'
        ? [' ', el('span', { class: 'muted', text: '(' + s.eligible_workers + ' eligible worker' + (s.eligible_workers === 1 ? '' : 's') + ')' })]
        : []))));
    $('starved-box').classList.toggle('warning', starved.length > 0);
    $('starved-none').hidden = starved.length > 0;

    const workers = Array.isArray(d.workers) ? d.workers : [];
    const tbody = $('workers').tBodies[0];
    tbody.replaceChildren(...(workers.length ? workers.map((w) => el('tr', { dataset: { worker: String(w.worker_id) } },
      el('td', { text: w.name === null || w.name === undefined ? '' : String(w.name) }),
      el('td', { class: 'muted', text: String(w.worker_id) }),
      el('td', { text: w.joined ? 'yes' : 'no' }),
      el('td', { class: 'n', text: num(w.held) }),
      el('td', { class: 'n', text: num(w.queue) }),
      el('td', { class: 'n', text: num(w.done) }),
      el('td', {},
        el('button', { type: 'button', class: 'small block-worker', onclick: () => setBlocked(w, true) }, 'Block'), ' ',
        el('button', { type: 'button', class: 'small unblock-worker', onclick: () => setBlocked(w, false) }, 'Unblock'), ' ',
        el('button', { type: 'button', class: 'small revoke-link', onclick: () => changeLink(w, 'revoke') }, 'Revoke link'), ' ',
        el('button', { type: 'button', class: 'small renew-link', onclick: () => changeLink(w, 'renew') }, 'New link'))))
      : [el('tr', {}, el('td', { colspan: 7, class: 'empty', text: 'No workers yet.' }))]));

    // New submissions: refresh the list unless the reviewer is in the middle of typing a decision.
    const countsSnapshot = JSON.stringify(counts);
    if (lastCounts && countsSnapshot !== lastCounts && unitsLoaded && !editingDecision()) loadUnits(true);
    lastCounts = countsSnapshot;
  }
  function editingDecision() {
    const box = $('units');
    if (box.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') return true;
    for (const i of box.querySelectorAll('input.note, input.bonus')) if (i.value) return true;
    for (const i of box.querySelectorAll('input.block')) if (i.checked) return true;
    return false;
  }
  async function setBlocked(w, block) {
    const name = w.name ? String(w.name) : String(w.worker_id);
    try {
      await api('POST', '/api/review/block', { worker_id: w.worker_id, block });
      show((block ? 'Blocked ' : 'Unblocked ') + name + '.', 'success');
    } catch (e) {
      if (!stopped) show(e.message, 'error');
    }
  }

  // A leaked or unwanted invite link stops working for good; "New link" gives the worker another one.
  async function changeLink(w, action) {
    const name = w.name ? String(w.name) : String(w.worker_id);
    try {
      const r = await api('POST', '/api/review/link', { worker: name, action });
      if (action === 'revoke') show('Revoked ' + name + "'s link; the units it held go back to the pool.", 'success');
      else show('New link for ' + name + ' (the old one no longer works): ' + location.origin + '/?invite=' + r.invite +
        (runs && runs.length > 1 ? '&run=' + encodeURIComponent(run) : ''), 'success');
    } catch (e) {
      if (!stopped) show(e.message, 'error');
    }
  }

  // ---- units --------------------------------------------------------------------------------------
  async function loadUnits(quiet) {
    if (stopped) return;
    const seq = ++unitsSeq;
    const status = $('status-filter').value;
    try {
      const [d, q] = await Promise.all([api('GET', '/api/review/units?status=' + encodeURIComponent(status)),
        api('GET', '/api/review/quality').catch(() => null)]);  // no figures (an older server): units all the same
      if (seq !== unitsSeq) return;  // a newer request is on its way
      quality = q && typeof q === 'object' ? q : null;
      renderQuality(quality);
      renderUnits(d && Array.isArray(d.units) ? d.units : []);
      if (!unitsLoaded) { unitsLoaded = true; ready(); }
    } catch (e) {
      if (!stopped && !quiet) show('Units: ' + e.message, 'error');
    }
  }
  function kv(obj, answer) {
    if (obj === null || obj === undefined) return el('p', { class: 'empty', text: 'none' });
    if (typeof obj !== 'object' || Array.isArray(obj)) return el('pre', { class: 'json', text: asText(obj) });
    const keys = Object.keys(obj);
    if (!keys.length) return el('p', { class: 'empty', text: 'none' });
    return el('dl', { class: 'kv' }, keys.flatMap((k) => [
      el('dt', { text: k }),
      typeof obj[k] === 'object' && obj[k] !== null && !(Array.isArray(obj[k]) && obj[k].every((x) => typeof x !== 'object' || x === null))
        ? el('dd', {}, el('pre', { class: 'json', text: JSON.stringify(obj[k], null, 2) }))
        : el('dd', { class: answer ? 'answer' : '', text: asText(obj[k]) }),
    ]));
  }
  const fixed = (v) => (typeof v === 'number' && isFinite(v) ? v.toFixed(3) : '–');
  // The run's agreement per label field and each worker's estimated accuracy on the first field.
  function renderQuality(q) {
    const fields = q && Array.isArray(q.fields) ? q.fields : [];
    $('quality-fields').tBodies[0].replaceChildren(...(fields.length ? fields.map((f) => el('tr', { dataset: { field: String(f.field) } },
      el('td', { text: String(f.field) }),
      el('td', { class: 'n', text: num(f.items) }),
      el('td', { class: 'n', text: num(f.annotations) }),
      el('td', { class: 'n alpha', text: fixed(f.krippendorff_alpha) }),
      el('td', { class: 'n', text: fixed(f.fleiss_kappa) }),
      el('td', { class: 'n', text: num(f.majority_vote && f.majority_vote.ties) })))
      : [el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'No answers with a label field yet.' }))]));
    const workers = q && Array.isArray(q.workers) ? q.workers : [];
    $('quality-workers').tBodies[0].replaceChildren(...workers.map((w) => el('tr', { dataset: { worker: String(w.worker) } },
      el('td', { text: String(w.worker) }),
      el('td', { class: 'n', text: num(w.annotations) }),
      el('td', { class: 'n accuracy', text: fixed(w.estimated_accuracy) }))));
  }
  // Each item's majority share on the first label field, by assignment id.
  function agreementOf() {
    const items = quality && Array.isArray(quality.items) ? quality.items : [];
    return new Map(items.map((i) => [i.assignment_id, i]));
  }
  function renderUnits(all) {
    const agreement = agreementOf();
    let units = all;
    if ($('disagreements-first').checked) {  // the least agreed items first; units of one item together
      const share = (u) => (agreement.has(u.assignment_id) ? num(agreement.get(u.assignment_id).agreement) : 2);
      units = all.map((u, i) => [u, i]).sort((a, b) => share(a[0]) - share(b[0]) ||
        num(a[0].assignment_id) - num(b[0].assignment_id) || a[1] - b[1]).map((p) => p[0]);
    }
    for (const u of units) u.agreement = agreement.get(u.assignment_id);
    $('units-count').textContent = units.length + (units.length === 1 ? ' unit' : ' units');
    $('units').replaceChildren(...(units.length ? units.map(renderUnit)
      : [el('p', { class: 'empty', text: 'No units with this status.' })]));
  }
  // A unit's decision, by unit status: only a `completed` unit awaits one (the server refuses a second).
  const DECISIONS = { accepted: 'Approved', rejected: 'Rejected', soft_rejected: 'Soft-rejected' };
  function renderUnit(u) {
    const status = String(u.status || '');
    const awaiting = status === 'completed';
    const node = el('article', { class: 'unit', dataset: { agent: String(u.agent_id), unit: String(u.unit_id), status } },
      el('div', { class: 'unit-head' },
        el('span', { class: 'worker', text: (u.worker_name === null || u.worker_name === undefined ? 'worker' : String(u.worker_name)) }),
        el('span', { class: 'muted', text: 'worker ' + u.worker_id }),
        el('span', { class: 'status status-' + status, text: status }),
        u.key === null || u.key === undefined ? null : el('span', { class: 'badge key', text: String(u.key) }),
        u.agreement ? el('span', { class: 'badge agreement' + (u.agreement.agreement < 1 ? ' disagree' : ''),
          title: 'Share of this item\'s answers on "' + u.agreement.field + '" that agree with the majority' + (u.agreement.tie ? ' (a tie)' : ''),
          text: 'agreement ' + Math.round(num(u.agreement.agreement) * 100) + '%' + (u.agreement.tie ? ' · tie' : '') }) : null,
        el('span', { class: 'muted', text: 'unit ' + u.unit_id + ' · agent ' + u.agent_id }),
        u.submitted_at === null || u.submitted_at === undefined ? null : el('span', { class: 'muted', text: 'submitted ' + when(u.submitted_at) })),
      el('div', { class: 'unit-body' },
        el('div', {}, el('h3', { text: 'Inputs' }), kv(u.inputs, false)),
        el('div', {}, el('h3', { text: 'Answer' }), kv(u.outputs, true))),
      awaiting ? decisionControls(u) : el('p', { class: 'decision decision-' + status },
        'Decision: ', el('strong', { text: DECISIONS[status] || status || 'unknown' })));
    return node;
  }
  // Note, bonus, "block worker" and the three decision buttons of a unit awaiting a decision.
  function decisionControls(u) {
    const note = el('input', { type: 'text', class: 'note', placeholder: 'Note to the worker (optional)', 'aria-label': 'Note' });
    const bonus = el('input', { type: 'number', class: 'bonus', min: 0, step: '0.01', placeholder: 'Bonus', 'aria-label': 'Bonus amount' });
    const block = el('input', { type: 'checkbox', class: 'block' });
    const box = el('div', { class: 'decide' }, note, bonus, el('label', {}, block, 'block worker'),
      el('button', { type: 'button', class: 'approve' }, 'Approve'),
      el('button', { type: 'button', class: 'reject' }, 'Reject'),
      el('button', { type: 'button', class: 'soft-reject' }, 'Soft-reject'));
    const act = (action) => () => decide(u, box, action, note, bonus, block);
    box.querySelector('button.approve').addEventListener('click', act('approve'));
    box.querySelector('button.reject').addEventListener('click', act('reject'));
    box.querySelector('button.soft-reject').addEventListener('click', act('soft_reject'));
    return box;
  }
  async function decide(u, node, action, note, bonus, block) {
    const body = { agent_id: u.agent_id, action };
    const text = note.value.trim();
    if (text) body.note = text;
    if (bonus.value !== '') {
      const amount = Number(bonus.value);
      if (!isFinite(amount) || amount < 0) { show('The bonus must be a number ≥ 0.', 'error'); bonus.focus(); return; }
      if (amount > 0) body.bonus = amount;
    }
    if (block.checked) body.block = true;
    const buttons = node.querySelectorAll('button');
    for (const b of buttons) b.disabled = true;
    try {
      const r = await api('POST', '/api/review/decide', body);
      const done = { approve: 'Approved', reject: 'Rejected', soft_reject: 'Soft-rejected' }[action];
      show(done + ' ' + (u.worker_name ? String(u.worker_name) + '’s ' : '') + 'unit ' + u.unit_id +
        (r && r.status ? ' (now ' + r.status + ')' : '') + (body.bonus ? ', bonus ' + body.bonus : '') +
        (body.block ? ', worker blocked' : '') + '.', 'success');
      await loadUnits();
      lastDash = '';
    } catch (e) {
      if (stopped) return;
      show(e.message, 'error');
      // 409: decided meanwhile (another tab or reviewer): show the unit as it now is, without buttons.
      if (e.status === 409) { await loadUnits(true); lastDash = ''; return; }
      for (const b of buttons) b.disabled = false;
    }
  }

  // ---- export -------------------------------------------------------------------------------------
  async function exportJsonl() {
    const button = $('export');
    button.disabled = true;
    try {
      const res = await fetch(withRun('/api/export?format=jsonl'), { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
      if (res.status === 401 || res.status === 403) { authFailed(); return; }
      if (!res.ok) {
        let msg = 'Export failed (HTTP ' + res.status + ').';
        try { const j = await res.json(); if (j && j.error && j.error.message) msg = String(j.error.message); } catch { /* keep */ }
        show(msg, 'error');
        return;
      }
      const blob = new Blob([await res.text()], { type: 'application/x-ndjson' });
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: runs && runs.length > 1 ? 'crowdline-export-' + run.replace(/[^\w-]+/g, '_') + '.jsonl' : 'crowdline-export.jsonl' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      show('Export downloaded (' + blob.size + ' bytes).', 'success');
    } catch (e) {
      show('Export failed: the server cannot be reached.', 'error');
    } finally {
      button.disabled = false;
    }
  }

  // ---- runs ---------------------------------------------------------------------------------------
  // A server with several runs: a selector (its choice kept in the hash, #token=…&run=<name>); with one
  // run, its name as a heading; an older server (no /api/review/runs): neither, and no call names a run.
  const runLabel = (r) => r.name + (r.complete ? ' (complete)' : '');
  async function loadRuns() {
    if (stopped) return;
    let d;
    try {
      d = await api('GET', '/api/review/runs');
    } catch (e) {
      if (stopped) return;
      if (e.status === 404) { runs = null; return begin(); }  // an older server: one run, never named
      show('Runs: ' + e.message + ' Trying again…', 'error');
      setTimeout(loadRuns, DASH_MS);
      return;
    }
    show('');
    runs = (d && Array.isArray(d.runs) ? d.runs : [])
      .filter((r) => r && (typeof r.name === 'string' || typeof r.name === 'number') && String(r.name) !== '')
      .map((r) => ({ id: r.id, name: String(r.name), active: !!r.active, complete: !!r.complete }));
    if (runs.length === 1) {
      run = runs[0].name;
      const heading = $('run-name');
      heading.textContent = run;
      heading.hidden = false;
      document.title = 'crowdline — review — ' + run;
    } else if (runs.length > 1) {
      const wanted = hashParams().get('run');
      const chosen = runs.find((r) => r.name === wanted) || runs.find((r) => r.active && !r.complete) || runs[0];
      const select = $('run-select');
      select.replaceChildren(...runs.map((r) => el('option', { value: r.name, text: runLabel(r) })));
      select.value = chosen.name;
      $('run-picker').hidden = false;
      setRun(chosen.name, false);
    }
    begin();
  }
  function begin() {
    loadDashboard();
    loadUnits();
  }
  // Chooses a run: kept in the hash; `reload`: the dashboard and the units list are loaded for it.
  function setRun(name, reload) {
    run = name;
    const select = $('run-select');
    if (select.value !== name) select.value = name;
    document.title = 'crowdline — review — ' + name;
    const h = hashParams();
    if (h.get('run') !== name) {
      h.set('run', name);
      history.replaceState(null, '', location.pathname + location.search + '#' + h.toString());
    }
    if (!reload || stopped) return;
    show('');
    lastDash = '';
    lastCounts = '';
    const complete = $('complete');
    complete.textContent = 'Loading…';
    complete.className = 'badge';
    $('units').replaceChildren();
    $('units-count').textContent = '';
    loadDashboard();
    loadUnits();
  }
  // The dashboard's word on the chosen run's completion, shown in the selector too.
  function markComplete(complete) {
    if (!runs || runs.length < 2) return;
    const r = runs.find((x) => x.name === run);
    if (!r || r.complete === complete) return;
    r.complete = complete;
    for (const o of $('run-select').options) if (o.value === r.name) o.textContent = runLabel(r);
  }

  // ---- go -----------------------------------------------------------------------------------------
  if (!token) {
    document.body.dataset.state = 'error';
    show('This page needs the requester link (it ends in #token=…).', 'error');
    return;
  }
  $('export').addEventListener('click', exportJsonl);
  $('status-filter').addEventListener('change', () => loadUnits());
  $('refresh-units').addEventListener('click', () => loadUnits());
  $('disagreements-first').addEventListener('change', () => loadUnits());
  $('run-select').addEventListener('change', (e) => { if (e.target.value && e.target.value !== run) setRun(e.target.value, true); });
  window.addEventListener('hashchange', () => {
    const wanted = hashParams().get('run');
    if (runs && runs.length > 1 && wanted && wanted !== run && runs.some((r) => r.name === wanted)) setRun(wanted, true);
  });
  loadRuns();
})();
