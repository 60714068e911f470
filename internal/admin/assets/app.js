// The status page: polls /api/stats every two seconds and fills in the
// page, draws the charts, and drives the purge and reload actions. When a
// poll fails it says so, dims the last numbers and keeps polling, so the
// page recovers on its own when the proxy comes back.

import * as fmt from './format.js';
import { Chart } from './chart.js';

const POLL_MS = 2000;
const TIMEOUT_MS = 5000;
const RATE_POINTS = 6; // the KPI rates average the last 30 s of 5 s points

const $ = (id) => document.getElementById(id);

// ---- charts ----

const charts = {
  throughput: new Chart($('chart-throughput'), $('legend-throughput'), {
    series: [
      { key: 'requests', label: 'requests', color: '--s-requests', fill: true },
      { key: 'hits', label: 'hits', color: '--s-hits', fill: true },
      { key: 'blocked', label: 'blocked', color: '--s-blocked' },
      { key: 'errors', label: 'errors', color: '--s-errors' },
    ],
    format: fmt.rate,
    floor: 4,
  }),
  bandwidth: new Chart($('chart-bandwidth'), $('legend-bandwidth'), {
    series: [
      { key: 'bytes_out', label: 'to clients', color: '--s-bytes', fill: true },
      { key: 'bytes_from_cache', label: 'from cache', color: '--s-cache', fill: true },
    ],
    format: (v) => fmt.bytes(v) + '/s',
    floor: 1024,
    base: 1024,
  }),
  ratio: new Chart($('chart-hit-ratio'), $('legend-hit-ratio'), {
    series: [
      { key: 'requests', label: 'of requests', color: '--s-hits', fill: true },
      { key: 'bytes', label: 'of bytes', color: '--s-bytes' },
    ],
    format: fmt.percent,
    max: 1,
  }),
};

// perSecond turns per-interval counts into rates.
const perSecond = (vs, interval) => (vs || []).map((v) => v / interval);

// ratio divides point by point; intervals with nothing to divide are gaps.
const ratio = (num, den) => (den || []).map((d, i) => (d > 0 ? (num[i] || 0) / d : null));

function drawCharts(s) {
  const series = s.series || {};
  const interval = series.interval_seconds || 5;
  const end = Date.parse(series.end || s.now) || Date.now();
  const frame = (values) => ({ end, interval, window: 900, values });
  charts.throughput.set(frame({
    requests: perSecond(series.requests, interval),
    hits: perSecond(series.hits, interval),
    blocked: perSecond(series.blocked, interval),
    errors: perSecond(series.errors, interval),
  }));
  charts.bandwidth.set(frame({
    bytes_out: perSecond(series.bytes_out, interval),
    bytes_from_cache: perSecond(series.bytes_from_cache, interval),
  }));
  charts.ratio.set(frame({
    requests: ratio(series.hits || [], series.requests),
    bytes: ratio(series.bytes_from_cache || [], series.bytes_out),
  }));
}

// ---- small DOM helpers ----

// setText writes text and, when given, the exact value for a test or a
// tooltip; it touches the DOM only on change.
function setText(id, text, value, title) {
  const el = typeof id === 'string' ? $(id) : id;
  if (!el) return;
  if (el.textContent !== text) el.textContent = text;
  if (value !== undefined) el.dataset.value = String(value);
  if (title !== undefined) el.title = title;
}

function cell(text, className, title) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  if (title) td.title = title;
  return td;
}

function bar(fraction, full) {
  const track = document.createElement('div');
  track.className = 'bar-track';
  const fill = document.createElement('div');
  fill.className = full ? 'bar-fill full' : 'bar-fill';
  // CSSOM, not a style attribute: the Content-Security-Policy allows it.
  fill.style.width = `${Math.max(0, Math.min(1, fraction || 0)) * 100}%`;
  track.append(fill);
  return track;
}

// fillTable rebuilds a table body from rows, but only when they changed,
// so a selection or hover is not lost every two seconds.
function fillTable(id, rows, columns, build, empty) {
  const body = $(id)?.tBodies[0];
  if (!body) return;
  const sig = JSON.stringify(rows);
  if (body.dataset.sig === sig) return;
  body.dataset.sig = sig;
  const trs = rows.map((row, i) => {
    const tr = document.createElement('tr');
    tr.append(...build(row, i));
    return tr;
  });
  if (!trs.length) {
    const td = cell(empty, 'empty');
    td.colSpan = columns;
    const tr = document.createElement('tr');
    tr.append(td);
    trs.push(tr);
  }
  body.replaceChildren(...trs);
}

const sum = (vs) => (vs || []).reduce((a, b) => a + (b || 0), 0);

// ---- rendering a stats snapshot ----

let uptimeBase = null; // {seconds, at}: uptime_seconds at the moment it arrived

function render(s) {
  const t = s.totals || {};
  const active = s.active || {};
  const series = s.series || {};
  const interval = series.interval_seconds || 5;
  const now = new Date(Date.parse(s.now) || Date.now());

  setText('version', s.version || '—');
  document.title = `sluice ${s.version || ''}`.trim();
  uptimeBase = { seconds: s.uptime_seconds || 0, at: performance.now() };
  tickUptime();
  setText('updated', fmt.clock(now));
  setText('started', fmt.stamp(new Date(Date.parse(s.started)), now), undefined, s.started || '');

  // Summary tiles.
  const recent = (vs) => (vs || []).slice(-RATE_POINTS);
  const recentSeconds = Math.max(1, recent(series.requests).length) * interval;
  const reqRate = sum(recent(series.requests)) / recentSeconds;
  setText('rate-requests', fmt.rate(reqRate), reqRate.toFixed(3));
  const peak = Math.max(0, ...(series.requests || []).map((v) => v / interval));
  setText('rate-requests-peak', fmt.rate(peak));
  const byteRate = sum(recent(series.bytes_out)) / recentSeconds;
  setText('rate-bytes', fmt.bytes(byteRate) + '/s', Math.round(byteRate));
  setText('hit-ratio', fmt.percent(s.hit_ratio || 0), s.hit_ratio || 0);
  setText('hit-detail', `${fmt.count(t.hits || 0)} hits · ${fmt.count(t.misses || 0)} misses`);
  setText('bytes-saved', fmt.bytes(t.bytes_from_cache || 0), t.bytes_from_cache || 0, fmt.exact(t.bytes_from_cache || 0) + ' bytes');
  setText('bytes-saved-share', t.bytes_out ? fmt.percent((t.bytes_from_cache || 0) / t.bytes_out) : '—');
  setText('total-requests', fmt.count(t.requests || 0), t.requests || 0, fmt.exact(t.requests || 0));
  setText('active-connections', fmt.count(active.connections || 0), active.connections || 0);
  setText('active-tunnels', fmt.count(active.tunnels || 0), active.tunnels || 0);
  setText('total-blocked', fmt.count(t.blocked || 0), t.blocked || 0, fmt.exact(t.blocked || 0));
  setText('total-denied', fmt.count(t.denied || 0), t.denied || 0);
  setText('total-errors', fmt.count(t.errors || 0), t.errors || 0, fmt.exact(t.errors || 0));
  setText('error-rate', t.requests ? fmt.percent((t.errors || 0) / t.requests) : '—');

  drawCharts(s);

  // Totals since start.
  for (const dd of document.querySelectorAll('#totals dd[data-key]')) {
    const v = t[dd.dataset.key] || 0;
    setText(dd, 'bytes' in dd.dataset ? fmt.bytes(v) : fmt.count(v), v, fmt.exact(v));
  }

  const hosts = s.top_hosts || [];
  const busiest = Math.max(1, ...hosts.map((h) => h.requests || 0));
  fillTable('top-hosts', hosts, 4, (h) => [
    cell(h.host, 'host', h.host),
    cell(fmt.count(h.requests), 'r num', fmt.exact(h.requests)),
    cell(fmt.bytes(h.bytes), 'r num', fmt.exact(h.bytes) + ' bytes'),
    (() => {
      const td = cell('', '', t.requests ? `${fmt.percent(h.requests / t.requests)} of all requests` : '');
      td.append(bar(h.requests / busiest));
      return td;
    })(),
  ], 'no requests yet');

  fillTable('top-blocked', s.top_blocked || [], 3, (b) => [
    cell(b.host, 'host', b.host),
    cell(fmt.count(b.count), 'r num', fmt.exact(b.count)),
    cell(b.rule || '', 'rule', b.rule || ''),
  ], 'nothing blocked');

  // Tunnels: the rows change only when tunnels open or close; their ages
  // are refreshed in place on every poll.
  const tunnels = s.tunnels || [];
  fillTable('tunnels', tunnels, 4, (tn) => {
    const age = cell('', 'r num age');
    age.dataset.since = tn.since;
    return [cell(tn.host, 'host', tn.host), cell(tn.client, 'client', tn.client), cell(tn.user || '—', '', tn.user || ''), age];
  }, 'no open tunnels');
  for (const td of document.querySelectorAll('#tunnels td.age')) {
    setText(td, fmt.duration((now - Date.parse(td.dataset.since)) / 1000), undefined, `since ${td.dataset.since}`);
  }
  const open = active.tunnels ?? tunnels.length;
  setText('tunnels-count', open > tunnels.length ? `${tunnels.length} oldest of ${fmt.count(open)}` : `${open} open`);

  fillTable('recent-errors', s.recent_errors || [], 6, (e) => [
    cell(fmt.stamp(new Date(Date.parse(e.time)), now), 'num', e.time),
    cell(String(e.status || ''), `r num status-${String(e.status || '')[0]}`),
    cell(e.method || ''),
    cell(e.url || '', 'url', e.url || ''),
    cell(e.client || '', 'client', e.client || ''),
    cell(e.error || '', '', e.error || ''),
  ], 'no errors');

  fillTable('cache-tiers', s.cache || [], 3, (c) => {
    const frac = c.capacity ? c.bytes / c.capacity : 0;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = c.capacity ? `${fmt.bytes(c.bytes)} / ${fmt.bytes(c.capacity)}` : fmt.bytes(c.bytes);
    const used = document.createElement('div');
    used.className = 'used';
    used.append(bar(frac, frac > 0.98), text);
    const td = cell('', '', c.capacity ? `${fmt.percent(frac)} full` : 'no capacity limit');
    td.append(used);
    const name = c.state ? `${c.tier} (${c.state})` : c.tier;
    const title = c.state === 'down' ? 'not answering: serving from the local tiers and origins until it does' : '';
    return [cell(name, c.state === 'down' ? 'status-5' : '', title), td, cell(fmt.count(c.objects), 'r num', fmt.exact(c.objects))];
  }, 'no cache');

  const config = Object.entries(s.config || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  fillTable('config', config, 2, ([k, v]) => [cell(k.replace(/_/g, ' '), '', k), cell(String(v), '', String(v))], 'no configuration reported');
}

function tickUptime() {
  if (!uptimeBase) return;
  const seconds = uptimeBase.seconds + (performance.now() - uptimeBase.at) / 1000;
  setText('uptime', fmt.duration(seconds, 3), Math.floor(seconds));
}

// ---- polling ----

let timer = 0;
let inFlight = false;
let lostSince = null;

function setState(state, text, title) {
  const el = $('conn-status');
  el.dataset.state = state;
  el.textContent = text;
  el.title = title || '';
  document.body.classList.toggle('lost', state === 'lost');
  document.body.classList.remove('connecting');
}

async function poll() {
  clearTimeout(timer);
  if (inFlight) return;
  inFlight = true;
  const ctrl = new AbortController();
  const abort = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
  try {
    const r = await fetch('/api/stats', { cache: 'no-store', signal: ctrl.signal, headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const s = await r.json();
    render(s);
    lostSince = null;
    setState('live', 'live');
  } catch (err) {
    // Keep the last numbers, dimmed; the uptime stops counting.
    lostSince = lostSince || new Date();
    uptimeBase = null;
    setState('lost', 'connection lost, retrying…', `since ${fmt.clock(lostSince)}: ${err && err.message ? err.message : err}`);
  } finally {
    clearTimeout(abort);
    inFlight = false;
    timer = setTimeout(poll, POLL_MS);
  }
}

// ---- actions ----

// post sends an admin action. The X-Sluice-Admin header is what the server
// requires of every action; a cross-site form cannot send it.
async function post(path, body) {
  const ctrl = new AbortController();
  const abort = setTimeout(() => ctrl.abort(), 60000);
  try {
    const r = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Sluice-Admin': '1' },
      body: JSON.stringify(body || {}),
      cache: 'no-store',
      signal: ctrl.signal,
    });
    let j = null;
    try {
      j = await r.json();
    } catch {
      // not JSON: report the status below
    }
    return j && typeof j === 'object' ? j : { ok: false, error: `HTTP ${r.status}` };
  } catch (err) {
    return { ok: false, error: err && err.name === 'AbortError' ? 'timed out' : 'the proxy cannot be reached' };
  } finally {
    clearTimeout(abort);
  }
}

function showResult(el, state, text) {
  el.dataset.state = state;
  el.textContent = text;
  el.title = text;
}

// action wires a button (or a form's submit) to a request and writes what
// came back into a result element.
function action(trigger, result, run) {
  const busy = trigger.tagName === 'FORM' ? trigger.querySelector('button') : trigger;
  trigger.addEventListener(trigger.tagName === 'FORM' ? 'submit' : 'click', async (e) => {
    e.preventDefault();
    busy.disabled = true;
    showResult(result, 'pending', '…');
    try {
      const [state, text] = await run();
      showResult(result, state, text);
    } finally {
      busy.disabled = false;
    }
  });
}

const purgeForm = $('purge-form');
action(purgeForm, $('purge-result'), async () => {
  const url = $('purge-url').value.trim();
  const r = await post('/api/purge', { url });
  if (!r.ok) return ['error', `Purge failed: ${r.error || 'unknown error'}`];
  return r.found ? ['ok', `Purged ${url}`] : ['miss', `Not in cache: ${url}`];
});

const hostForm = $('purge-host-form');
if (hostForm) {
  action(hostForm, $('purge-host-result'), async () => {
    const host = $('purge-host').value.trim();
    const r = await post('/api/purge', { host });
    if (!r.ok) return ['error', `Purge failed: ${r.error || 'unknown error'}`];
    const n = r.removed || 0;
    return [n ? 'ok' : 'miss', `Removed ${fmt.exact(n)} ${n === 1 ? 'object' : 'objects'} for ${host}`];
  });
}

action($('reload-submit'), $('reload-result'), async () => {
  const r = await post('/api/reload');
  if (!r.ok) return ['error', `Reload failed: ${r.error || 'unknown error'}`];
  poll(); // show the new configuration summary now
  return ['ok', `Reloaded at ${fmt.clock(new Date())}`];
});

// ---- start ----

setInterval(() => {
  if (lostSince === null) tickUptime();
}, 1000);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) poll();
});
poll();
