// smdp lab console (issue 7). Plain JS, no build step, no dependencies.
// Data comes from the admin API with the bearer token kept in
// sessionStorage; "#token=..." in the address sets it (the fragment never
// reaches the server). Text from the server is only ever set with
// textContent: matchingIds, names and traces come from clients.
'use strict';

const state = { token: sessionStorage.getItem('smdpToken') || '', view: 'sessions', tx: '' };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function params() {
  const p = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (p.get('token')) {
    state.token = p.get('token');
    sessionStorage.setItem('smdpToken', state.token);
    p.delete('token');
    history.replaceState(null, '', '#' + p.toString());
  }
  state.view = p.get('view') || 'sessions';
  state.tx = p.get('tx') || '';
}

async function api(path, opts) {
  const o = Object.assign({ headers: {} }, opts || {});
  o.headers.Authorization = 'Bearer ' + state.token;
  const r = await fetch(path, o);
  if (r.status === 401) { showLogin('the token was refused'); throw new Error('401'); }
  return r;
}

async function apiJson(path, opts) {
  const r = await api(path, opts);
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
  return j;
}

function showLogin(msg) {
  document.getElementById('main').hidden = true;
  document.getElementById('login').hidden = false;
  document.getElementById('login-error').textContent = msg || '';
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function outcomeClass(o) {
  if (/^(ok|installed)/.test(o)) return 'ok';
  if (/injected|dropped|fault/.test(o)) return 'fault';
  if (/failed|expired|cancel/.test(o)) return 'bad';
  return '';
}

// --- sessions and traces ---
async function showSessions() {
  const j = await apiJson('/api/sessions');
  document.getElementById('inflight').textContent = j.inFlight + ' in flight';
  fill(document.querySelector('#sessions tbody'), j.sessions.map(s =>
    el('tr', { class: 'click', onclick: () => { location.hash = 'view=trace&tx=' + s.transactionId; } },
      el('td', { class: 'mono' }, s.transactionId),
      el('td', {}, s.started.replace('T', ' ').slice(0, 23)),
      el('td', { class: s.live ? 'live' : '' }, s.live ? 'live ' + s.state : s.state),
      el('td', {}, s.lastFunction),
      el('td', { class: outcomeClass(s.outcome) }, s.outcome),
      el('td', { class: 'mono' }, s.eid),
      el('td', {}, s.matchingId),
      el('td', {}, s.faults || ''))));
}

function eventView(e) {
  const head = el('div', { class: 'head' },
    el('span', { class: 't' }, '+' + e.ms.toFixed(1) + ' ms'),
    el('span', { class: 'k' }, e.kind),
    el('span', {}, e.function));
  const li = el('li', { class: e.kind }, head);
  if (e.kind === 'request' || e.kind === 'response') {
    const body = e.body || e.discardedBody;
    if (e.kind === 'response')
      head.append(...[el('span', {}, e.http ? 'HTTP ' + e.http : 'no answer'),
        el('span', { class: 'hint' }, e.durationMs.toFixed(1) + ' ms'),
        e.delivered ? el('span', { class: 'fault' }, e.delivered) : null].filter(Boolean));
    else head.append(el('span', { class: 'hint' }, e.binding + ' ' + e.bytes + ' bytes'));
    if (body) {
      const d = el('details', {}, el('summary', {}, 'decoded'),
        el('pre', {}, JSON.stringify(body, null, 2)));
      if (e.kind === 'response') d.open = false;
      li.append(d);
    }
  } else if (e.kind === 'fault') {
    head.append(el('span', { class: 'fault' }, 'rule ' + e.name + ' (' + e.action + '): ' + e.what));
  } else if (e.kind === 'state') {
    head.append(el('span', {}, e.from + ' \u2192 ' + e.to + (e.closeReason ? ' (' + e.closeReason + ')' : '')));
  } else if (e.kind === 'check') {
    if (e.note) head.append(el('span', { class: 'hint' }, e.note));
    const t = el('table', { class: 'checks' });
    for (const c of e.checks || [])
      t.append(el('tr', {},
        el('td', { class: c.outcome === 'passed' ? 'ok' : c.outcome === 'failed' ? 'bad' : 'hint' }, c.outcome),
        el('td', {}, c.check + (c.detail ? ': ' + c.detail : ''))));
    li.append(t);
  }
  return li;
}

async function showTrace() {
  const j = await apiJson('/api/traces/' + encodeURIComponent(state.tx));
  const s = j.transaction;
  document.getElementById('trace-tx').textContent = s.transactionId;
  document.getElementById('trace-summary').replaceChildren(
    el('p', {}, 'EID ', el('code', {}, s.eid || '?'), ', matchingId ', el('code', {}, s.matchingId),
      ', profile ', el('code', {}, s.profile), ' \u2014 ',
      el('span', { class: outcomeClass(s.outcome) }, s.outcome), ', state ' + s.state + ', ' +
      s.calls + ' calls, ' + s.faults + ' faults'));
  const a = document.getElementById('trace-download');
  a.href = URL.createObjectURL(new Blob([JSON.stringify(j, null, 2)], { type: 'application/json' }));
  a.download = 'trace-' + s.transactionId + '.json';
  fill(document.getElementById('trace-events'), j.events.map(eventView));
}

// --- orders and profiles ---
async function qrImage(url, alt) {
  const r = await api(url);
  if (!r.ok) return el('span', { class: 'error' }, 'no QR code');
  const img = el('img', { alt: alt, title: alt });
  img.src = URL.createObjectURL(await r.blob());
  return img;
}

async function showOrders() {
  const j = await apiJson('/api/profiles');
  const box = document.getElementById('orders');
  const withOrder = j.inventory.filter(p => p.order);
  if (!withOrder.length) {
    box.replaceChildren(el('p', { class: 'hint' }, 'No download orders.'));
    return;
  }
  const items = [];
  for (const p of withOrder) {
    const o = p.order;
    const dl = el('dl', {},
      el('dt', {}, 'ICCID'), el('dd', { class: 'mono' }, p.iccid),
      el('dt', {}, 'state'), el('dd', {}, p.state),
      el('dt', {}, 'profile type'), el('dd', {}, p.type),
      el('dt', {}, 'EID'), el('dd', { class: 'mono' }, o.eid || '\u2014'),
      el('dt', {}, 'matchingId'), el('dd', { class: 'mono' }, o.matchingId || '\u2014'),
      el('dt', {}, 'confirmation code'), el('dd', {}, o.confirmationCodeRequired ? 'required' : 'no'),
      el('dt', {}, 'attempts'), el('dd', {}, o.attempts),
      el('dt', {}, 'activation code'), el('dd', { class: 'mono ac' }, o.activationCode || '(not confirmed)'));
    const item = el('div', { class: 'order' }, dl);
    if (o.qr) item.prepend(await qrImage(o.qr, o.activationCode));
    items.push(item);
  }
  box.replaceChildren(...items);
}

async function showProfiles() {
  const j = await apiJson('/api/profiles');
  fill(document.querySelector('#inventory tbody'), j.inventory.map(p =>
    el('tr', {}, el('td', { class: 'mono' }, p.iccid), el('td', {}, p.type), el('td', {}, p.state),
      el('td', {}, p.file), el('td', {}, p.order ? (p.order.matchingId || '(default SM-DP+)') +
        (p.order.confirmed ? ', confirmed' : '') : ''))));
  document.getElementById('files-hint').textContent = j.mode === 'lab'
    ? 'Lab mode: a profile file is downloadable with its file name as matchingId.'
    : 'Orders mode: profile files are served through download orders only.';
  fill(document.querySelector('#files tbody'), j.files.map(f => {
    const cell = el('td', {});
    if (f.qr) cell.append(el('button', { onclick: async () => {
      cell.replaceChildren(el('div', { class: 'qr-pop' }, await qrImage(f.qr, f.activationCode)));
    } }, 'QR'));
    return el('tr', {}, el('td', {}, f.id), el('td', { class: 'mono' }, f.iccid),
      el('td', {}, f.profileName), el('td', { class: 'mono' }, f.activationCode || ''), cell);
  }));
}

// --- fault rules ---
async function faultAction(method, path) {
  await apiJson(path, { method: method });
  showFaults();
}

async function showFaults() {
  const j = await apiJson('/api/faults');
  fill(document.querySelector('#faults tbody'), j.faults.map(f =>
    el('tr', {}, el('td', {}, f.id), el('td', {}, f.name), el('td', { class: 'mono' }, f.spec),
      el('td', {}, f.seen), el('td', {}, f.fired), el('td', {}, f.origin),
      el('td', {},
        el('button', { onclick: () => faultAction('POST', '/api/faults/' + f.id + (f.enabled ? '/disable' : '/enable')) },
          f.enabled ? 'disable' : 'enable'), ' ',
        el('button', { onclick: () => faultAction('DELETE', '/api/faults/' + f.id) }, 'delete')))));
}

async function addFault(ev) {
  ev.preventDefault();
  const err = document.getElementById('fault-error');
  err.textContent = '';
  try {
    await apiJson('/api/faults', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: document.getElementById('fault-name').value,
                             spec: document.getElementById('fault-spec').value }) });
    showFaults();
  } catch (e) { err.textContent = e.message; }
}

async function showMetrics() {
  const r = await api('/metrics');
  document.getElementById('metrics').textContent = await r.text();
}

// --- navigation ---
const views = { sessions: showSessions, trace: showTrace, orders: showOrders,
                profiles: showProfiles, faults: showFaults, metrics: showMetrics };

async function render() {
  params();
  if (!state.token) { showLogin(''); return; }
  document.getElementById('login').hidden = true;
  document.getElementById('main').hidden = false;
  const view = views[state.view] ? state.view : 'sessions';
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== 'view-' + view;
  for (const a of document.querySelectorAll('#tabs a'))
    a.classList.toggle('active', a.dataset.view === view || (view === 'trace' && a.dataset.view === 'sessions'));
  try {
    const info = await apiJson('/api/info');
    document.getElementById('info').textContent = info.fqdn + ' \u00b7 ' + info.mode + ' mode \u00b7 ' +
      info.sessionsInFlight + ' sessions in flight';
    await views[view]();
    document.body.dataset.ready = view;
  } catch (e) {
    if (e.message !== '401') document.getElementById('info').textContent = 'error: ' + e.message;
  }
}

document.getElementById('login-form').addEventListener('submit', ev => {
  ev.preventDefault();
  state.token = document.getElementById('token').value.trim();
  sessionStorage.setItem('smdpToken', state.token);
  render();
});
document.getElementById('fault-form').addEventListener('submit', addFault);
window.addEventListener('hashchange', render);
render();
