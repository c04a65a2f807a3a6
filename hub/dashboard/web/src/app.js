// app.js: the NESS SMS dashboard. One page, sections chosen by the URL fragment (#keys,
// #numbers, #rentals, #messages, #provider). Private keys live in IndexedDB and are used here
// only: to sign the sign-in challenge and to open sealed messages.
import * as c from './crypto.js';
import { keys as keyStore, meta } from './store.js';
import { Api, ApiError } from './api.js';
import { barChart, lineChart } from './charts.js';

const $ = (sel, root = document) => root.querySelector(sel);
const SECTIONS = ['keys', 'numbers', 'rentals', 'messages', 'provider'];

const state = {
  api: new Api(),
  key: null, // { id, name, identity }
  account: null,
  ws: null,
  lastMessage: '',
  seen: new Set(),
  wsRetry: 0,
  numbersCursor: '',
  providerTimer: 0,
  samples: [], // provider health samples: { t, agent, slot, dbm, received }
};

// ---- small DOM helpers (textContent only: nothing from the hub becomes markup) ----

function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : String(k));
  return e;
}

function notice(msg) { $('#notice').textContent = msg; }
function showError(err) {
  console.error(err);
  $('#error').textContent = err ? `Error: ${err.message || err}` : '';
}
function clearError() { $('#error').textContent = ''; }

async function guard(fn) {
  clearError();
  try { return await fn(); } catch (e) {
    if (e instanceof ApiError && e.status === 401 && state.key) {
      await meta.delete(`token:${state.key.id}`);
      setSignedOut('Your session ended; sign in again.');
    }
    showError(e);
  }
}

function short(s, n = 10) { return s.length > n + 3 ? `${s.slice(0, n)}…` : s; }
function when(t) { return t ? new Date(t).toLocaleString() : '—'; }
function durationSelect(id, label) {
  return [h('label', { for: id, class: 'sr-only' }, label),
    h('select', { id }, h('option', { value: 'daily' }, 'a day'), h('option', { value: 'weekly' }, 'a week'), h('option', { value: 'monthly' }, 'a month'))];
}

// ---- routing ----

function route() {
  let id = location.hash.slice(1) || 'keys';
  if (!SECTIONS.includes(id)) id = 'keys';
  for (const s of SECTIONS) $(`#${s}`).hidden = s !== id;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === `#${id}`) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  clearInterval(state.providerTimer);
  if (id === 'numbers') guard(() => loadNumbers(false));
  if (id === 'rentals') guard(loadRentals);
  if (id === 'provider') {
    guard(loadProvider);
    const every = Number(new URLSearchParams(location.search).get('refresh')) || 10;
    state.providerTimer = setInterval(() => guard(loadProvider), every * 1000);
  }
  return id;
}

function go(id) {
  if (location.hash !== `#${id}`) location.hash = id; else route();
  const head = $(`#${id} h2`);
  head.tabIndex = -1;
  head.focus();
}

// ---- keys ----

async function renderKeys() {
  const all = (await keyStore.all()).sort((a, b) => a.created.localeCompare(b.created));
  const tb = $('#key-table tbody');
  tb.replaceChildren();
  if (!all.length) tb.append(h('tr', {}, h('td', { colspan: 4 }, 'No keys yet: create one or import a key file.')));
  for (const k of all) {
    const id = c.identityFromSeed(k.seed);
    const active = state.key?.id === k.id;
    tb.append(h('tr', { class: active ? 'active' : '' },
      h('th', { scope: 'row' }, k.name || '(unnamed)', active ? h('span', { class: 'badge' }, ' signed in') : null),
      h('td', {}, h('code', { class: 'key' }, c.b64(id.verify))),
      h('td', {}, h('code', { class: 'key' }, c.b64(id.public))),
      h('td', { class: 'actions' },
        h('button', { type: 'button', onclick: () => guard(() => signIn(k)), 'aria-label': `Sign in with ${k.name || 'key'}` }, 'Sign in'),
        h('button', { type: 'button', onclick: () => guard(() => exportKey(k)), 'aria-label': `Export ${k.name || 'key'}` }, 'Export'),
        h('button', { type: 'button', class: 'danger', onclick: () => guard(() => deleteKey(k)), 'aria-label': `Delete ${k.name || 'key'}` }, 'Delete'))));
  }
}

async function addKey(identity, name, source) {
  const id = c.b64(identity.verify);
  if (await keyStore.get(id)) { notice(`That key is already here${name ? ` (${name})` : ''}.`); return id; }
  await keyStore.put({ id, name, seed: identity.seed, source, created: new Date().toISOString() });
  await renderKeys();
  return id;
}

async function createKey(ev) {
  ev.preventDefault();
  const name = $('#key-name').value.trim();
  const identity = c.identityFromSeed(c.generateSeed());
  await addKey(identity, name, 'browser');
  $('#key-name').value = '';
  notice(`Key ${name || ''} created and kept in this browser. Export it to keep a copy.`.replace('  ', ' '));
}

async function importKey(ev) {
  const f = ev.target.files?.[0];
  if (!f) return;
  if (f.size > 1 << 20) throw new Error('key file larger than 1 MiB');
  const r = await c.parseKeyFile(await f.text());
  ev.target.value = '';
  await addKey(r.identity, r.name || f.name.replace(/\.[a-z]+$/i, ''), r.source);
  notice(`Imported ${r.name || f.name} (${r.source}).`);
}

async function exportKey(k) {
  const text = await c.keyFileJSON(c.identityFromSeed(k.seed), k.name, 'renter', new Date(k.created));
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = h('a', { href: url, download: `${(k.name || 'ness').replace(/[^A-Za-z0-9._-]+/g, '-')}.key` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  notice('Key file exported. It holds your private key: keep it safe.');
}

async function deleteKey(k) {
  if (!confirm(`Delete key ${k.name || k.id}? Messages sealed to it can no longer be opened unless you have an exported copy.`)) return;
  await keyStore.delete(k.id);
  await meta.delete(`token:${k.id}`);
  if (state.key?.id === k.id) setSignedOut('Signed out: key deleted.');
  await renderKeys();
}

// ---- sign-in ----

async function signIn(k) {
  const identity = c.identityFromSeed(k.seed);
  const api = new Api();
  const ch = await api.post('/v1/auth/challenge');
  // The signature is over the hub's origin: refuse to sign for an origin other than this page's,
  // so a page can never be used to sign someone else's hub in.
  if (ch.origin !== location.origin) throw new Error(`the hub asks for a signature for ${ch.origin}, but this page is ${location.origin}; open the dashboard at ${ch.origin}`);
  const challenge = c.unb64(ch.challenge, 'challenge');
  const sig = c.sign(c.signInBytes(ch.origin, challenge), identity);
  const t = await api.post('/v1/auth/token', { key: c.b64(identity.verify), challenge: ch.challenge, signature: c.b64(sig) });
  await meta.set(`token:${k.id}`, { token: t.token, expires: t.expires });
  await meta.set('active', k.id);
  await useKey(k, t.token, t.account);
  notice(`Signed in as ${k.name || short(k.id)}.`);
}

async function useKey(k, token, account) {
  state.key = { id: k.id, name: k.name, identity: c.identityFromSeed(k.seed) };
  state.api = new Api(token);
  state.account = account ?? await state.api.get('/v1/auth/whoami');
  $('#who').textContent = `Signed in as ${k.name || short(k.id)}`;
  $('#who').append(' ', h('button', { type: 'button', onclick: () => guard(signOut) }, 'Sign out'));
  state.samples = (await meta.get(`samples:${k.id}`)) ?? [];
  await renderKeys();
  resetMessages();
  connectStream();
}

function setSignedOut(msg) {
  state.key = null;
  state.api = new Api();
  state.ws?.close();
  state.ws = null;
  $('#who').textContent = 'Not signed in';
  $('#stream-state').textContent = 'Not connected';
  resetMessages();
  if (msg) notice(msg);
}

async function signOut() {
  try { await state.api.del('/v1/auth/token'); } catch { /* already gone */ }
  if (state.key) await meta.delete(`token:${state.key.id}`);
  await meta.delete('active');
  setSignedOut('Signed out.');
  await renderKeys();
}

async function restore() {
  const id = await meta.get('active');
  if (!id) return;
  const k = await keyStore.get(id);
  const t = await meta.get(`token:${id}`);
  if (!k || !t || Date.parse(t.expires) < Date.now()) return;
  try { await useKey(k, t.token); } catch { setSignedOut(); }
}

function needSignIn(where) {
  if (state.key) return false;
  where.replaceChildren(h('tr', {}, h('td', { colspan: 6 }, 'Sign in with a key first (Keys).')));
  return true;
}

// ---- numbers ----

async function loadNumbers(more) {
  const f = new FormData($('#number-filter'));
  const q = new URLSearchParams();
  for (const [k, v] of f) if (String(v).trim()) q.set(k, String(v).trim());
  if (more && state.numbersCursor) q.set('cursor', state.numbersCursor);
  q.set('limit', '50');
  const res = await new Api().get(`/v1/numbers?${q}`);
  const tb = $('#number-table tbody');
  if (!more) tb.replaceChildren();
  state.numbersCursor = res.next || '';
  $('#numbers-more').hidden = !res.next;
  if (!more && !res.numbers.length) tb.append(h('tr', {}, h('td', { colspan: 6 }, 'No numbers match.')));
  for (const n of res.numbers) {
    const sel = `dur-${n.number.slice(1)}`;
    tb.append(h('tr', {},
      h('th', { scope: 'row' }, n.number),
      h('td', {}, n.country),
      h('td', {}, n.features.join(', ') || '—'),
      h('td', {}, `${n.prices.day} / ${n.prices.week} / ${n.prices.month} / ${n.prices.sms}`),
      h('td', {}, h('meter', { min: 0, max: 100, value: n.reputation, 'aria-label': `Reputation ${n.reputation} of 100` }), ` ${n.reputation}`),
      h('td', { class: 'actions' }, ...durationSelect(sel, `Rental period for ${n.number}`),
        h('button', { type: 'button', 'aria-label': `Rent ${n.number}`, onclick: () => guard(() => rent(n.number, $(`#${sel}`).value)) }, 'Rent'))));
  }
}

async function rent(number, duration) {
  if (!state.key) throw new Error('sign in with a key first (Keys)');
  const r = await state.api.post('/v1/rentals', { number, duration, renter_key: c.b64(state.key.identity.public) });
  notice(`Rented ${r.number} until ${when(r.until)}${r.paid ? ` for ${r.paid} EMC` : ''}. Messages to it appear under Messages.`);
  go('rentals');
}

// ---- rentals ----

async function checkLease(r) {
  if (!r.lease) return 'no lease yet';
  try {
    const l = c.parseLease(c.unb64(r.lease, 'lease'));
    if (!c.verifySig(l.signed, l.sigBytes, l.hubKey)) return 'lease signature does NOT verify';
    if (l.renter !== c.b64(state.key.identity.public) && !c.equalBytes(c.unb64(l.renter), state.key.identity.public)) return 'lease is sealed to ANOTHER key';
    if (l.phone !== r.number) return 'lease is for another number';
    return `signed by hub ${short(l.hub, 8)}, seals to your key (#${l.seq})`;
  } catch (e) { return `lease unreadable: ${e.message}`; }
}

async function loadRentals() {
  const tb = $('#rental-table tbody');
  if (needSignIn(tb)) return;
  const res = await state.api.get('/v1/rentals');
  tb.replaceChildren();
  if (!res.rentals.length) tb.append(h('tr', {}, h('td', { colspan: 5 }, 'No rentals yet: rent a number under Numbers.')));
  for (const r of res.rentals.slice().reverse()) {
    const sel = `ext-${r.id}`;
    const active = r.status === 'active';
    tb.append(h('tr', {},
      h('th', { scope: 'row' }, r.number),
      h('td', {}, r.status),
      h('td', {}, when(r.until)),
      h('td', {}, await checkLease(r)),
      h('td', { class: 'actions' }, active ? [
        ...durationSelect(sel, `Extend ${r.number} by`),
        h('button', { type: 'button', 'aria-label': `Extend ${r.number}`, onclick: () => guard(() => extend(r, $(`#${CSS.escape(sel)}`).value)) }, 'Extend'),
        h('button', { type: 'button', class: 'danger', 'aria-label': `Cancel ${r.number}`, onclick: () => guard(() => cancelRental(r)) }, 'Cancel'),
      ] : '—')));
  }
}

async function extend(r, duration) {
  const x = await state.api.post(`/v1/rentals/${encodeURIComponent(r.id)}/extend`, { duration });
  notice(`Extended ${x.number} until ${when(x.until)}${x.paid ? ` for ${x.paid} EMC` : ''}.`);
  await loadRentals();
}

async function cancelRental(r) {
  if (!confirm(`Cancel the rental of ${r.number}? SMS to it will no longer reach you.`)) return;
  await state.api.del(`/v1/rentals/${encodeURIComponent(r.id)}`);
  notice(`Cancelled ${r.number}.`);
  await loadRentals();
}

// ---- messages ----

function resetMessages() {
  state.seen.clear();
  state.lastMessage = '';
  $('#message-list').replaceChildren();
}

function connectStream() {
  if (!state.key) return;
  state.ws?.close();
  const ws = state.api.stream(state.lastMessage);
  state.ws = ws;
  $('#stream-state').textContent = 'Connecting…';
  ws.onopen = () => { state.wsRetry = 0; $('#stream-state').textContent = 'Live: new messages appear here as they arrive.'; };
  ws.onmessage = (ev) => {
    let e;
    try { e = JSON.parse(ev.data); } catch { return; }
    if (e.type === 'message' && e.message) showMessage(e.message);
  };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    $('#stream-state').textContent = 'Disconnected; reconnecting…';
    const wait = Math.min(30000, 500 * 2 ** state.wsRetry++) * (0.5 + Math.random() / 2);
    setTimeout(() => { if (state.ws === ws) connectStream(); }, wait);
  };
}

const CODE = /(?:^|[^\d])(\d{4,8})(?!\d)/;

async function showMessage(m) {
  if (state.seen.has(m.id)) return;
  state.seen.add(m.id);
  state.lastMessage = m.id;
  const li = h('li', { class: 'msg', 'data-id': m.id });
  try {
    const v = await c.verifyMessage(c.unb64(m.signed, 'signed'), c.unb64(m.certificate, 'certificate'), state.key.identity);
    const p = v.plaintext;
    const code = CODE.exec(p.text)?.[1];
    li.append(
      h('p', { class: 'meta' }, h('strong', {}, p.sender), ` · ${when(p.smsc_time)}`, p.flags.length ? ` · ${p.flags.join(', ')}` : ''),
      h('p', { class: 'text' }, p.text || `(${p.encoding} data, ${p.data ? c.unb64(p.data).length : 0} bytes)`),
      code ? h('p', { class: 'code' }, h('span', { class: 'otp', 'aria-label': `Code ${code.split('').join(' ')}` }, code), ' ',
        h('button', { type: 'button', class: 'copy', 'aria-label': `Copy code ${code}`, onclick: () => copyCode(code) }, 'Copy code')) : null,
      h('p', { class: 'verified' }, h('span', { class: 'ok' }, '✓ Verified in your browser'),
        `: signed by agent ${v.sms.agent} (slot ${v.sms.slot}), certified by provider ${short(v.cert.provider_verify, 12)}`,
        v.cert.worm ? ` (${v.cert.worm})` : '', ', sealed to your key.'));
    li.classList.add('good');
  } catch (e) {
    li.classList.add('bad');
    li.append(h('p', { class: 'rejected' }, `✗ Rejected: ${e.message}. This message was not opened.`), h('p', { class: 'meta' }, `id ${m.id}`));
  }
  $('#message-list').prepend(li);
}

async function copyCode(code) {
  try {
    await navigator.clipboard.writeText(code);
    notice(`Code ${code} copied.`);
  } catch {
    notice(`Copy did not work here; the code is ${code}.`);
  }
}

// ---- provider ----

function csqDbm(csq) { return csq >= 0 && csq <= 31 ? -113 + 2 * csq : 0; }
const STALE_MS = 3 * 60 * 1000;

/** slotHealth decides what a provider must look at: anything but a registered slot on an online
 * agent that reported recently. The reason is shown in words, not colour alone. */
function slotHealth(agent, s, st) {
  if (!agent.online) return 'agent offline';
  if (Date.now() - Date.parse(s.updated) > STALE_MS) return `no report since ${when(s.updated)}`;
  if (s.state !== 'registered' && s.state !== 'ready') return s.state.replace(/_/g, ' ');
  if (st && st.outbox > 50) return `outbox backlog (${st.outbox})`;
  return '';
}

async function loadProvider() {
  const box = $('#agents');
  if (!state.key) { box.replaceChildren(h('p', {}, 'Sign in with your provider key first (Keys).')); return; }
  const [agents, numbers, earnings] = await Promise.all([
    state.api.get('/v1/provider/agents'), state.api.get('/v1/provider/numbers'), state.api.get('/v1/provider/earnings')]);
  const now = Date.now();
  const tables = [];
  if (!agents.agents.length) tables.push(h('p', {}, 'No agents enrolled with this key.'));
  for (const a of agents.agents) {
    const agentKey = c.unb64(a.key, 'key');
    const rows = a.slots.map((s) => {
      let st = null, check = 'no signed status';
      if (s.status) {
        try {
          const ps = c.parseStatus(c.unb64(s.status, 'status'));
          if (ps.agent !== a.id) check = 'status from another agent';
          else if (!c.verifySig(ps.signed, ps.sigBytes, agentKey)) check = 'status signature does NOT verify';
          else { st = ps.slots.find((x) => x.slot === s.slot) ?? null; check = '✓ signed by the agent'; }
        } catch (e) { check = `status unreadable: ${e.message}`; }
      }
      const dbm = st?.signal_dbm || csqDbm(s.signal);
      state.samples.push({ t: now, agent: a.id, slot: s.slot, dbm, received: st?.received ?? null });
      const problem = slotHealth(a, s, st);
      return h('tr', { class: problem ? 'unhealthy' : 'healthy', 'data-slot': s.slot },
        h('th', { scope: 'row' }, String(s.slot)),
        h('td', { class: 'health' }, problem ? `⚠ Unhealthy: ${problem}` : '✓ Healthy'),
        h('td', {}, s.state),
        h('td', {}, dbm ? `${dbm} dBm` : 'unknown'),
        h('td', {}, [s.registration, s.operator].filter(Boolean).join(', ') || '—'),
        h('td', {}, st ? String(st.outbox) : '—'),
        h('td', {}, when(s.updated)),
        h('td', {}, s.iccid || 'no SIM'),
        h('td', {}, check));
    });
    tables.push(h('table', { class: 'agent', 'data-agent': a.id },
      h('caption', {}, `Agent ${a.id} · ${a.online ? 'online' : 'OFFLINE'} · last seen ${when(a.last_seen)} · certificate until ${when(a.cert_not_after)}`),
      h('thead', {}, h('tr', {}, ...['Slot', 'Health', 'State', 'Signal', 'Network', 'Outbox', 'Last report', 'SIM', 'Status check'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 9 }, 'No slot has reported yet.')))));
  }
  box.replaceChildren(...tables);
  state.samples = state.samples.filter((x) => now - x.t < 24 * 3600 * 1000).slice(-5000);
  await meta.set(`samples:${state.key.id}`, state.samples);
  renderCharts();

  const tb = $('#pnumber-table tbody');
  tb.replaceChildren();
  if (!numbers.numbers.length) tb.append(h('tr', {}, h('td', { colspan: 6 }, 'No numbers bound to your agents.')));
  for (const n of numbers.numbers) {
    const id = `price-${n.number.slice(1)}`;
    tb.append(h('tr', {},
      h('th', { scope: 'row' }, n.number), h('td', {}, n.iccid), h('td', {}, n.features.join(', ') || '—'),
      h('td', {}, `${n.prices.day} / ${n.prices.week} / ${n.prices.month} / ${n.prices.sms}`),
      h('td', {}, n.rented ? 'rented' : 'free'),
      h('td', { class: 'actions' }, h('label', { for: id, class: 'sr-only' }, `Price per day for ${n.number} (EMC)`),
        h('input', { id, inputmode: 'decimal', size: 8, value: n.prices.day }),
        h('button', { type: 'button', 'aria-label': `Save price for ${n.number}`, onclick: () => guard(() => setPrice(n.number, $(`#${id}`).value)) }, 'Save'))));
  }
  $('#earnings-total').textContent = `Total earned: ${earnings.total} EMC from ${earnings.payments.length} payment(s).`;
  const eb = $('#earnings-table tbody');
  eb.replaceChildren(...earnings.payments.slice().reverse().map((p) => h('tr', {}, h('td', {}, when(p.created)), h('td', {}, p.rental), h('td', {}, p.method), h('td', {}, p.amount))));
}

async function setPrice(number, day) {
  await state.api.patch(`/v1/provider/numbers/${encodeURIComponent(number)}`, { prices: { day: day.trim() } });
  notice(`Price per day of ${number} set to ${day.trim()} EMC.`);
  await loadProvider();
}

function renderCharts() {
  const by = new Map();
  for (const x of state.samples) {
    const k = `${x.agent.slice(0, 6)}/${x.slot}`;
    if (!by.has(k)) by.set(k, []);
    by.get(k).push(x);
  }
  // SMS per hour over the last 12 hours from the agents' "received" counters (a counter that
  // goes down means the agent restarted: its new value counts in full).
  const now = Date.now(), hour = 3600 * 1000;
  const start = Math.floor(now / hour) * hour - 11 * hour;
  const bars = Array.from({ length: 12 }, (_, i) => ({ label: `${new Date(start + i * hour).getHours()}h`, value: 0 }));
  for (const xs of by.values()) {
    for (let i = 1; i < xs.length; i++) {
      const a = xs[i - 1].received, b = xs[i].received;
      if (a === null || b === null) continue;
      const d = b >= a ? b - a : b;
      const slot = Math.floor((xs[i].t - start) / hour);
      if (d > 0 && slot >= 0 && slot < 12) bars[slot].value += d;
    }
  }
  const series = [...by.entries()].map(([name, xs]) => ({ name, points: xs.filter((x) => x.dbm).map((x) => ({ t: x.t, v: x.dbm })) }));
  $('#charts').replaceChildren(
    h('figure', {}, barChart('SMS received per hour', bars, 'SMS'), h('figcaption', {}, 'SMS per hour, last 12 hours')),
    h('figure', {}, lineChart('Signal over time', series, 'dBm', -113, -51), h('figcaption', {}, 'Signal per slot (dBm)')));
}

// ---- start ----

async function main() {
  $('#create-key').addEventListener('submit', (e) => guard(() => createKey(e)));
  $('#import-file').addEventListener('change', (e) => guard(() => importKey(e)));
  $('#number-filter').addEventListener('submit', (e) => { e.preventDefault(); guard(() => loadNumbers(false)); });
  $('#numbers-more').addEventListener('click', () => guard(() => loadNumbers(true)));
  window.addEventListener('hashchange', () => {
    const id = route();
    const head = $(`#${id} h2`);
    head.tabIndex = -1;
    head.focus();
  });
  await guard(async () => {
    await renderKeys();
    await restore();
  });
  route();
  if ('serviceWorker' in navigator && location.protocol === 'https:') navigator.serviceWorker.register('/sw.js').catch(() => {});
  document.documentElement.dataset.ready = '1';
}

main();
