'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $('status'), saving: $('saving'), message: $('message'), notice: $('notice'), task: $('task'),
    done: $('done-count'), name: $('worker-name'), skip: $('skip'), actions: $('actions'), shortcuts: $('shortcuts'),
  };
  const HEARTBEAT_MS = 10000;
  const RETRY_MS = 15000;
  const BACKOFF_MS = [500, 1000, 2000, 4000, 5000];
  const SUBMIT_TIMEOUT_MS = 15000;   // no reply to a submit on an open socket: send it again (the key dedups)
  const OUTBOX_BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];
  const SAVED_SHOWN_MS = 4000;

  const NO_WORK = {
    not_qualified: { text: 'You are not qualified for this task. Thank you for your interest!', retry: false },
    blocked: { text: 'Your access was suspended.', retry: false },
    no_available_units: { text: 'No work left for you right now — thank you! This page checks again every 15 s.', retry: true },
    too_many_concurrent: { text: 'You already hold as many items as allowed (perhaps in another tab or window). Finish those first — this page checks again every 15 s.', retry: true },
    max_for_task: { text: 'You have done the most items allowed for this task — thank you!', retry: false },
    run_not_active: { text: 'This campaign is finished.', retry: false },
  };
  const FATAL = {
    forbidden: 'This invite link is not valid.',
    revoked: 'This invite link was revoked. Ask the campaign owner for a new one.',
  };
  // A page Prolific opened has no invite: its refusal speaks of the study.
  const FATAL_PROLIFIC = { forbidden: 'This study link is not valid. Open the study again from Prolific.' };
  // Error reasons that say the server is in trouble, not that the answer is wrong: the answer stays in the
  // outbox and is sent again later. Every other refusal would fail again, so it is shown and dropped.
  const TRANSIENT = new Set(['internal_error', 'unavailable', 'no_handler']);

  // ---- state --------------------------------------------------------------------------------------
  let ws = null;
  let connected = false;
  let attempt = 0;            // reconnect attempts since the last successful open
  let generation = 0;         // bumps on every new socket: replies to an older one are dropped
  let nextId = 1;
  const pending = new Map();  // id -> handler(reply)
  let current = null;         // {agent_id, token, unit_id} of the held unit
  let form = null;            // the rendered unit form
  let terminal = false;       // forbidden / revoked / a no_work reason without retry: stop asking
  let busy = false;           // a register / init / release is in flight
  let refused = null;         // {agent_id, errors}: a refusal of a unit not on screen yet (after a reload)
  let retryTimer = 0;
  let reconnectTimer = 0;
  let noticeTimer = 0;
  let flushTimer = 0;
  let savedTimer = 0;

  const query = new URLSearchParams(location.search);
  const invite = query.get('invite');
  // A Prolific study opens the page with the participant's ids (PROLIFIC_PID, STUDY_ID, SESSION_ID) instead
  // of an invite: they go in the register packet, and the participant id keys what the page keeps.
  const prolific = {
    prolific_pid: query.get('PROLIFIC_PID'), study_id: query.get('STUDY_ID'), session_id: query.get('SESSION_ID'),
  };
  const identity = invite || (prolific.prolific_pid ? 'prolific.' + prolific.prolific_pid : null);
  // The run this link is for (a server with several runs prints `?invite=…&run=<task name>`): every packet
  // names it in data.run, and the kept agent, drafts and outbox are the run's own (two runs in one browser
  // never mix). No run param (a one-run server): nothing is added and the keys are as they always were.
  const run = query.get('run') || '';
  const scope = identity + (run ? '.' + run : '');
  const completionKey = 'crowdline.completion.' + scope;
  const agentKey = 'crowdline.agent.' + scope;
  const draftKey = (agentId) => 'crowdline.draft.' + scope + '.' + agentId;
  const outboxPrefix = 'crowdline.outbox.' + scope + '.';  // + unit id

  // ---- storage (never fatal: private windows may refuse) -------------------------------------------
  const store = {
    get(key) { try { const v = localStorage.getItem(key); return v === null ? null : JSON.parse(v); } catch { return null; } },
    set(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* ignore */ } },
    del(key) { try { localStorage.removeItem(key); } catch { /* ignore */ } },
  };
  function storedAgent() {
    const a = store.get(agentKey);
    return a && a.agent_id !== undefined && a.agent_id !== null && typeof a.token === 'string' ? a : null;
  }
  function forgetAgent(agent) {
    if (agent) store.del(draftKey(agent.agent_id));
    store.del(agentKey);
  }

  // ---- outbox: every answer not yet acknowledged --------------------------------------------------
  // Kept in localStorage (one entry per unit, with the key made once for that submission) until the server
  // acknowledges it, so a reload, a dropped connection or a restarted server loses nothing: the entry is
  // sent again, and the server answers a resend of a saved answer as it did the first time.
  const outbox = new Map();   // unit id -> {agent_id, token, unit_id, key, submission, tries, wait}
  const sending = new Set();  // keys sent on the open socket whose reply has not come
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  function isEntry(e) {
    return !!e && typeof e === 'object' && e.agent_id !== undefined && e.agent_id !== null && e.unit_id !== undefined &&
      e.unit_id !== null && typeof e.token === 'string' && typeof e.key === 'string' && !!e.submission && typeof e.submission === 'object';
  }
  function loadOutbox() {
    const names = [];
    try {
      for (let i = 0; i < localStorage.length; i++) {
        const k = localStorage.key(i);
        // A unit id has no '.': a longer key is another run's (its run name follows the invite), not ours.
        if (k && k.startsWith(outboxPrefix) && !k.slice(outboxPrefix.length).includes('.')) names.push(k);
      }
    } catch { return; }
    for (const k of names) {
      const e = store.get(k);
      if (isEntry(e)) { e.wait = 0; outbox.set(String(e.unit_id), e); } else store.del(k);
    }
  }
  function keep(entry) {
    outbox.set(String(entry.unit_id), entry);
    store.set(outboxPrefix + entry.unit_id, entry);
  }
  function drop(entry) {
    sending.delete(entry.key);
    const id = String(entry.unit_id);
    const kept = outbox.get(id);
    if (!kept || kept.key !== entry.key) return;
    outbox.delete(id);
    store.del(outboxPrefix + id);
  }
  const isPending = (entry) => { const kept = outbox.get(String(entry.unit_id)); return !!kept && kept.key === entry.key; };
  function pendingFor(agentId) {
    for (const e of outbox.values()) if (e.agent_id === agentId) return e;
    return null;
  }

  // ---- display ------------------------------------------------------------------------------------
  function setState(s) { document.body.dataset.state = s; }
  function setMessage(text) { ui.message.textContent = text || ''; }
  function notify(text, ms) {
    clearTimeout(noticeTimer);
    ui.notice.textContent = text || '';
    if (text && ms) noticeTimer = setTimeout(() => { ui.notice.textContent = ''; }, ms);
  }
  function setConn(kind, text) { ui.status.dataset.conn = kind; ui.status.textContent = text; }
  function setSave(kind, text) { ui.saving.dataset.save = kind; ui.saving.textContent = text; }
  // The outbox as the worker sees it: saving… / saved / waiting for the server.
  function showOutbox(justSaved) {
    if (outbox.size === 0) {
      if (justSaved) {
        clearTimeout(savedTimer);
        setSave('saved', 'Saved');
        savedTimer = setTimeout(() => { if (outbox.size === 0) setSave('idle', ''); }, SAVED_SHOWN_MS);
      } else if (ui.saving.dataset.save !== 'saved') {
        setSave('idle', '');
      }
      return;
    }
    clearTimeout(savedTimer);
    const what = outbox.size === 1 ? 'your answer' : outbox.size + ' answers';
    const kept = outbox.size === 1 ? 'your answer is' : outbox.size + ' answers are';
    let inFlight = false;
    for (const e of outbox.values()) if (sending.has(e.key)) inFlight = true;
    if (connected && inFlight) setSave('saving', 'Saving ' + what + '…');
    else setSave('waiting', 'Waiting for the server — ' + kept + ' kept on this device');
  }
  function setDone(n) { if (typeof n === 'number' && isFinite(n)) ui.done.textContent = String(n); }
  function clearUnit() {
    current = null;
    form = null;
    ui.task.replaceChildren();
    ui.actions.hidden = true;
    ui.shortcuts.textContent = '';
    delete document.body.dataset.unit;
  }
  function showMessage(state, text) {
    clearUnit();
    setState(state);
    setMessage(text);
  }
  // Skipping needs the server; submitting does not (the outbox keeps the answer until it is back).
  function setBusyControls(on) {
    ui.skip.disabled = on || !connected;
    if (form) for (const b of form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]')) b.disabled = on;
  }

  // ---- socket -------------------------------------------------------------------------------------
  function connect() {
    clearTimeout(reconnectTimer);
    const gen = ++generation;
    setConn('connecting', attempt ? 'Reconnecting…' : 'Connecting…');
    let sock;
    try {
      sock = new WebSocket((location.protocol === 'https:' ? 'wss' : 'ws') + '://' + location.host + '/ws');
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onopen = () => {
      if (gen !== generation) return;
      connected = true;
      attempt = 0;
      setConn('connected', 'Connected');
      setBusyControls(document.body.dataset.state !== 'working');
      flush();
      resume();
    };
    sock.onmessage = (ev) => { if (gen === generation) receive(ev.data); };
    sock.onclose = () => {
      if (gen !== generation) return;
      connected = false;
      ws = null;
      pending.clear();
      sending.clear();
      busy = false;
      setBusyControls(document.body.dataset.state !== 'working');
      showOutbox();
      scheduleReconnect();
    };
    sock.onerror = () => { /* onclose follows */ };
  }
  function scheduleReconnect() {
    const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt++;
    setConn('offline', 'Offline — reconnecting in ' + (delay / 1000) + ' s');
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }
  function send(type, data, agent, onReply) {
    if (!ws || !connected) return false;
    const msg = { id: nextId++, type, data: data || {} };
    if (run && (msg.data.run === undefined || msg.data.run === null || msg.data.run === '')) msg.data = { ...msg.data, run };
    if (agent !== undefined && agent !== null) msg.agent = agent;
    if (onReply) pending.set(msg.id, onReply);
    try { ws.send(JSON.stringify(msg)); } catch { pending.delete(msg.id); return false; }
    return true;
  }
  function receive(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (!msg || typeof msg !== 'object') return;
    const data = msg.data && typeof msg.data === 'object' ? msg.data : {};
    if (msg.id === undefined || msg.id === null) {  // a server push
      if (typeof data.message === 'string' && data.message) notify(data.message, 10000);
      return;
    }
    const handler = pending.get(msg.id);
    if (!handler) return;
    pending.delete(msg.id);
    handler(String(msg.type || ''), data);
  }

  // ---- flow ---------------------------------------------------------------------------------------
  // After (re)connecting: continue the held unit, or ask for one.
  function resume() {
    if (terminal || busy) return;
    const agent = current || storedAgent();
    if (agent && pendingFor(agent.agent_id)) {  // its answer is in the outbox: the server's word on it decides
      setState('submitting');
      if (!form) setMessage('Saving your answer…');
      return;
    }
    if (agent) init(agent); else register();
  }
  function register() {
    if (terminal) return;
    clearTimeout(retryTimer);
    if (!form) { setState('loading'); setMessage('Looking for an item for you…'); }
    busy = true;
    const who = invite ? { invite } : {};
    for (const k of Object.keys(prolific)) if (prolific[k]) who[k] = prolific[k];
    if (!send('register', who, undefined, (type, data) => {
      busy = false;
      if (type === 'agent_details') return start(data);
      if (type === 'no_work') return noWork(data);
      failed(data, true);
    })) busy = false;
  }
  function init(agent) {
    clearTimeout(retryTimer);
    if (!form) { setState('loading'); setMessage('Picking up where you left off…'); }
    busy = true;
    if (!send('init', { token: agent.token }, agent.agent_id, (type, data) => {
      busy = false;
      if (type === 'agent_details') return start(data);
      if (type === 'error' && data.reason === 'unknown_agent') {
        forgetAgent(agent);
        clearUnit();
        return register();
      }
      if (type === 'no_work') return noWork(data);
      failed(data, true);
    })) busy = false;
  }
  // A crowd that pays on its own site (Prolific) gives a completion URL with each unit; it is kept once an
  // answer is saved, and when no more work is left for that worker the page takes them there (where they
  // are marked done and paid). A worker who saved nothing is never sent there.
  const FINISHED = new Set(['no_available_units', 'max_for_task', 'run_not_active']);
  let completionUrl = null;
  function finish(data) {
    const url = store.get(completionKey);
    if (!FINISHED.has(data.reason) || typeof url !== 'string' || !/^https:\/\//.test(url)) return false;
    terminal = true;
    showMessage('no_work', 'All done — thank you! Taking you back to Prolific to complete your submission…');
    const link = document.createElement('a');
    link.href = url;
    link.textContent = 'Continue to Prolific';
    link.id = 'completion-link';
    ui.message.append(' ', link);
    location.assign(url);
    return true;
  }
  function noWork(data) {
    if (finish(data)) return;
    const known = NO_WORK[data.reason];
    showMessage('no_work', known ? known.text : (data.message || 'There is no work for you right now. This page checks again every 15 s.'));
    if (known && !known.retry) { terminal = true; return; }
    retryTimer = setTimeout(() => { if (connected && !busy) register(); }, RETRY_MS);
  }
  // An `error` reply: forbidden/revoked end everything; anything else is shown and retried later.
  function failed(data, retry) {
    if (FATAL[data.reason]) {
      terminal = true;
      forgetAgent(storedAgent());
      showMessage('error', (!invite && prolific.prolific_pid && FATAL_PROLIFIC[data.reason]) || FATAL[data.reason]);
      return;
    }
    showMessage('error', (data.message || 'Something went wrong.') + (retry ? ' Trying again in 15 s.' : ''));
    if (retry) retryTimer = setTimeout(() => { if (connected && !busy) resume(); }, RETRY_MS);
  }
  // The unit was lost (lease ran out, or the server no longer knows this agent): get the next one.
  function lostUnit(text) {
    forgetAgent(current || storedAgent());
    clearUnit();
    notify(text, 10000);
    register();
  }

  function start(d) {
    const agent = { agent_id: d.agent_id, token: d.token, unit_id: d.unit_id };
    const same = current && form && current.agent_id === d.agent_id && ui.task.contains(form);
    current = { agent_id: d.agent_id, token: d.token, unit_id: d.unit_id };
    store.set(agentKey, agent);
    if (typeof d.worker_name === 'string') ui.name.textContent = d.worker_name;
    if (typeof d.completion_url === 'string') completionUrl = d.completion_url;
    setDone(d.done);
    document.body.dataset.unit = String(d.unit_id);
    setMessage('');
    if (!same) render(String(d.page || ''));
    ui.actions.hidden = false;
    setState('working');
    setBusyControls(false);
    if (refused && refused.agent_id === d.agent_id && form) showErrors(refused.errors);
    refused = null;
  }

  function render(page) {
    ui.task.innerHTML = page;  // trusted: generated and escaped by the server
    form = ui.task.querySelector('form.crowdline-form') || ui.task.querySelector('form');
    if (!form) { ui.shortcuts.textContent = ''; return; }
    form.noValidate = true;  // the server checks the answer and names each problem next to its field
    form.insertAdjacentHTML('afterbegin', '<div class="form-errors" role="alert"></div>');
    restoreDraft();
    form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
    const onEdit = (e) => {
      saveDraft();
      const box = e.target && e.target.closest ? e.target.closest('.has-error') : null;
      if (box) { box.classList.remove('has-error'); for (const el of box.querySelectorAll('.crowdline-error')) el.remove(); }
    };
    form.addEventListener('input', onEdit);
    form.addEventListener('change', onEdit);
    const keys = form.querySelectorAll('input[data-key]');
    const parts = [];
    if (keys.length) {
      const first = keys[0].name;
      let n = 0;
      for (const k of keys) if (k.name === first) n = Math.max(n, Number(k.dataset.key) || 0);
      parts.push(n > 1 ? 'press 1–' + n + ' to choose' : 'press 1 to choose');
    }
    parts.push('Enter to submit');
    ui.shortcuts.textContent = 'Shortcuts: ' + parts.join(', ') + '.';
    const focusable = form.querySelector('input[type="text"], textarea');
    if (focusable && !keys.length) focusable.focus({ preventScroll: true });
  }

  // ---- answers ------------------------------------------------------------------------------------
  function answers() {
    const out = {};
    if (!form) return out;
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      const tag = el.tagName;
      const type = (el.type || '').toLowerCase();
      if (tag === 'BUTTON' || tag === 'FIELDSET' || tag === 'OUTPUT' || tag === 'OBJECT') continue;
      if (['submit', 'button', 'reset', 'image', 'file'].includes(type)) continue;
      if (type === 'radio') {
        if (el.checked) out[el.name] = el.value;
      } else if (type === 'checkbox') {
        if (!Array.isArray(out[el.name])) out[el.name] = [];
        if (el.checked) out[el.name].push(el.value);
      } else if (tag === 'SELECT' && el.multiple) {
        out[el.name] = Array.from(el.selectedOptions, (o) => o.value);
      } else {
        out[el.name] = el.value;
      }
    }
    return out;
  }
  function saveDraft() {
    if (current && form) store.set(draftKey(current.agent_id), answers());
  }
  function restoreDraft() {
    if (!current || !form) return;
    const draft = store.get(draftKey(current.agent_id));
    if (!draft || typeof draft !== 'object') return;
    for (const el of form.elements) {
      if (!el.name || !Object.prototype.hasOwnProperty.call(draft, el.name)) continue;
      const v = draft[el.name];
      const type = (el.type || '').toLowerCase();
      if (type === 'radio') el.checked = el.value === v;
      else if (type === 'checkbox') el.checked = Array.isArray(v) && v.includes(el.value);
      else if (el.tagName === 'SELECT' && el.multiple) { for (const o of el.options) o.selected = Array.isArray(v) && v.includes(o.value); }
      else if (typeof v === 'string' && !['submit', 'button', 'reset', 'image', 'file'].includes(type)) el.value = v;
    }
  }
  function clearErrors() {
    if (!form) return;
    for (const el of form.querySelectorAll('.crowdline-error')) el.remove();
    for (const el of form.querySelectorAll('.has-error')) el.classList.remove('has-error');
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }
  function fieldBox(name) {
    if (!name || !form) return null;
    const q = CSS.escape(name);
    const box = form.querySelector('[data-field="' + q + '"]');
    if (box) return box;
    const input = form.querySelector('[name="' + q + '"]');
    return input ? (input.closest('fieldset, .crowdline-field') || input.parentElement) : null;
  }
  function showErrors(errors) {
    clearErrors();
    const general = form.querySelector('.form-errors');
    let firstBox = null;
    for (const err of Array.isArray(errors) ? errors : []) {
      const text = String((err && err.message) || 'invalid answer');
      const field = err && typeof err.field === 'string' ? err.field : '';
      const box = fieldBox(field);
      const note = document.createElement('div');
      note.className = 'crowdline-error';
      if (box) {
        note.textContent = text;
        box.classList.add('has-error');
        for (const inp of box.querySelectorAll('[name]')) inp.setAttribute('aria-invalid', 'true');
        box.appendChild(note);
        if (!firstBox) firstBox = box;
      } else if (general) {
        note.textContent = field ? field + ': ' + text : text;
        general.appendChild(note);
      }
    }
    const target = firstBox || general;
    if (target) target.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  // The answer goes into the outbox first (with its own key), then to the server: it is never only in flight.
  function submit() {
    if (!current || !form || busy) return;
    if (document.body.dataset.state !== 'working' || pendingFor(current.agent_id)) return;
    const agent = current;
    saveDraft();
    clearErrors();
    notify('');
    keep({ agent_id: agent.agent_id, token: agent.token, unit_id: agent.unit_id, key: newKey(), submission: answers(), tries: 0, wait: 0 });
    setState('submitting');
    setBusyControls(true);
    flush();
  }

  // Sends every outbox entry that is neither in flight nor waiting out a backoff.
  function flush() {
    clearTimeout(flushTimer);
    flushTimer = 0;
    if (connected) {
      const now = Date.now();
      let next = Infinity;
      for (const entry of outbox.values()) {
        if (sending.has(entry.key)) continue;
        if (entry.wait > now) next = Math.min(next, entry.wait);
        else deliver(entry);
      }
      if (next !== Infinity) flushTimer = setTimeout(flush, next - now);
    }
    showOutbox();
  }
  function deliver(entry) {
    const gen = generation;
    let timer = 0;
    const sent = send('submit', { token: entry.token, submission: entry.submission, key: entry.key }, entry.agent_id, (type, data) => {
      clearTimeout(timer);
      sending.delete(entry.key);
      settle(entry, type, data);
    });
    if (!sent) return;
    sending.add(entry.key);
    timer = setTimeout(() => {
      if (gen !== generation || !sending.has(entry.key)) return;
      sending.delete(entry.key);
      retryLater(entry);
    }, SUBMIT_TIMEOUT_MS);
  }
  function retryLater(entry) {
    if (!isPending(entry)) return;
    entry.tries = (entry.tries || 0) + 1;
    entry.wait = Date.now() + OUTBOX_BACKOFF_MS[Math.min(entry.tries, OUTBOX_BACKOFF_MS.length) - 1];
    keep(entry);
    flush();
  }
  // The server's word on an outbox entry: acknowledged (saved now, or saved before and sent again) → it
  // leaves the outbox; server trouble → sent again later; any other refusal → shown, and dropped.
  function settle(entry, type, data) {
    if (!isPending(entry)) return;  // a late reply to an entry settled already
    const held = current || storedAgent();
    const mine = !!held && held.agent_id === entry.agent_id;
    if (type === 'submitted') {
      drop(entry);
      showOutbox(true);
      if (!mine) return notify('An answer you gave earlier was saved.', 4000);
      forgetAgent(held);
      if (completionUrl) store.set(completionKey, completionUrl);
      setDone(data.done);
      clearUnit();
      notify('Thank you — your answer was saved.', 4000);
      return register();
    }
    if (type === 'error' && TRANSIENT.has(data.reason)) return retryLater(entry);
    drop(entry);
    showOutbox();
    const why = data.message || 'the server refused it';
    if (!mine) return notify('An answer you gave earlier could not be saved: ' + why, 15000);
    if (type === 'error' && FATAL[data.reason]) return failed(data, false);
    if (type === 'error' && data.reason === 'conflict') return lostUnit('This item was already answered (perhaps in another tab). Here is the next one.');
    if (type === 'error' && (data.reason === 'unknown_agent' || data.reason === 'not_your_unit'))
      return lostUnit('Your answer could not be saved: this item was no longer reserved for you (it may have timed out). Here is the next one.');
    const errors = type === 'submit_refused' ? data.errors : [{ field: '', message: data.message || 'The answer could not be saved. Please try again.' }];
    if (!form) {  // after a reload: bring the unit back (with the draft), then show what to fix
      refused = { agent_id: entry.agent_id, errors };
      return resume();
    }
    setState('working');
    setBusyControls(false);
    showErrors(errors);
  }

  function skip() {
    if (!current || busy || !connected || document.body.dataset.state !== 'working') return;
    const agent = current;
    busy = true;
    setBusyControls(true);
    const sent = send('release', { token: agent.token }, agent.agent_id, (type, data) => {
      busy = false;
      if (type === 'released' || (type === 'error' && data.reason === 'unknown_agent')) {
        forgetAgent(agent);
        clearUnit();
        notify('Skipped. Here is another item.', 4000);
        return register();
      }
      setBusyControls(false);
      if (type === 'error' && FATAL[data.reason]) return failed(data, false);
      notify(data.message || 'Could not skip this item.', 8000);
    });
    if (!sent) { busy = false; setBusyControls(false); }
  }

  function heartbeat() {
    if (!current || !connected || pendingFor(current.agent_id)) return;
    const agent = current;
    send('heartbeat', { token: agent.token }, agent.agent_id, (type, data) => {
      if (type === 'error' && data.reason === 'unknown_agent' && current === agent && !busy) {
        lostUnit('This item was no longer reserved for you (it timed out). Here is the next one.');
      }
    });
  }

  // ---- keyboard -----------------------------------------------------------------------------------
  function isTyping(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
    if (el.tagName !== 'INPUT') return false;
    return !['radio', 'checkbox', 'button', 'submit', 'reset', 'image', 'file', 'range', 'color'].includes((el.type || '').toLowerCase());
  }
  document.addEventListener('keydown', (e) => {
    if (!form || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (document.body.dataset.state !== 'working') return;
    const t = e.target;
    if (e.key >= '1' && e.key <= '9' && e.key.length === 1) {
      if (isTyping(t)) return;
      const choices = form.querySelectorAll('input[data-key]');
      if (!choices.length) return;
      const group = choices[0].name;
      for (const c of choices) {
        if (c.name === group && c.dataset.key === e.key && !c.disabled) {
          e.preventDefault();
          c.click();
          break;
        }
      }
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      if (!t || !t.tagName) return;
      if (t.tagName === 'TEXTAREA' || t.tagName === 'BUTTON' || t.tagName === 'A' || t.tagName === 'SELECT' || t.isContentEditable) return;
      if (t.tagName === 'INPUT' && ['button', 'submit', 'reset', 'image', 'file'].includes((t.type || '').toLowerCase())) return;
      e.preventDefault();
      submit();
    }
  });

  ui.skip.addEventListener('click', skip);

  // ---- go -----------------------------------------------------------------------------------------
  if (!identity) {
    setConn('offline', 'Not connected');
    showMessage('error', 'This page needs your invite link. Open the link you were given (it ends in ?invite=…).');
    return;
  }
  setState('loading');
  setMessage('Connecting…');
  loadOutbox();
  showOutbox();
  setInterval(heartbeat, HEARTBEAT_MS);
  connect();
})();
