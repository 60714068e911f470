// page_smoke runs the status page's scripts under node against a minimal
// fake DOM built from the rendered page (page.json, written by the Go
// test), fake timers and a fake fetch, and prints what it observed as JSON
// for TestPageScripts to check. It is not a browser: it catches script
// errors and wrong wiring, not layout.

import { readFileSync } from 'node:fs';

const dir = new URL('.', import.meta.url);
const tree = JSON.parse(readFileSync(new URL('page.json', dir)));
const stats = JSON.parse(readFileSync(new URL('stats.json', dir)));

// ---- a DOM just large enough for app.js and chart.js ----

const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

class Node {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.attrs = {};
    this.dataset = {};
    this.style = {};
    this.listeners = {};
    this.className = '';
    this.title = '';
    this.text = '';
    this.value = '';
    this.disabled = false;
    this.clientWidth = tag === 'canvas' ? 480 : 0;
    this.clientHeight = tag === 'canvas' ? 180 : 0;
    this.width = 300;
    this.height = 150;
    const self = this;
    const edit = (f) => {
      const set = new Set(self.className.split(/\s+/).filter(Boolean));
      f(set);
      self.className = [...set].join(' ');
    };
    this.classList = {
      add: (c) => edit((s) => s.add(c)),
      remove: (c) => edit((s) => s.delete(c)),
      toggle: (c, on) => edit((s) => ((on ?? !s.has(c)) ? s.add(c) : s.delete(c))),
      contains: (c) => self.className.split(/\s+/).includes(c),
    };
  }
  get textContent() { return this.text + this.children.map((c) => c.textContent).join(''); }
  set textContent(v) { this.text = String(v); this.children = []; }
  append(...cs) { for (const c of cs) this.children.push(typeof c === 'string' ? text(c) : c); }
  appendChild(c) { this.children.push(c); return c; }
  replaceChildren(...cs) { this.children = []; this.append(...cs); }
  get lastChild() { return this.children[this.children.length - 1]; }
  get tBodies() { return this.children.filter((c) => c.tagName === 'TBODY'); }
  addEventListener(type, f) { (this.listeners[type] ||= []).push(f); }
  async dispatch(type) {
    for (const f of this.listeners[type] || []) await f({ type, preventDefault() {} });
  }
  getBoundingClientRect() { return { left: 0, top: 0, width: this.clientWidth, height: this.clientHeight }; }
  getContext() { return this.ctx ||= fakeContext(); }
  *walk() { for (const c of this.children) { if (c instanceof Node) { yield c; yield* c.walk(); } } }
  matches(compound) {
    const m = /^([a-z0-9]*)(?:#([\w-]+))?((?:\.[\w-]+)*)((?:\[[\w-]+\])*)$/.exec(compound);
    if (!m) throw new Error('selector not supported: ' + compound);
    const [, tag, id, classes, attrs] = m;
    if (tag && this.tagName !== tag.toUpperCase()) return false;
    if (id && this.attrs.id !== id) return false;
    const own = this.className.split(/\s+/);
    for (const c of classes.split('.').filter(Boolean)) if (!own.includes(c)) return false;
    for (const a of attrs.match(/[\w-]+/g) || []) {
      const present = a.startsWith('data-') ? camel(a.slice(5)) in this.dataset : a in this.attrs;
      if (!present) return false;
    }
    return true;
  }
  querySelectorAll(sel) {
    const parts = sel.trim().split(/\s+/);
    let scope = [this];
    for (const p of parts) {
      const next = new Set();
      for (const s of scope) for (const n of s.walk()) if (n.matches(p)) next.add(n);
      scope = [...next];
    }
    return scope;
  }
  querySelector(sel) { return this.querySelectorAll(sel)[0] || null; }
}

function text(s) { return { textContent: s }; }

function build(j) {
  if (typeof j === 'string') return text(j);
  const n = new Node(j.t);
  for (const [k, v] of Object.entries(j.a || {})) {
    n.attrs[k] = v;
    if (k === 'class') n.className = v;
    if (k.startsWith('data-')) n.dataset[camel(k.slice(5))] = v;
  }
  for (const c of j.c || []) n.children.push(build(c));
  return n;
}

const counts = { fill: 0, stroke: 0, lineTo: 0, fillText: 0 };
function fakeContext() {
  const ctx = { measureText: (s) => ({ width: String(s).length * 6 }) };
  for (const m of ['setTransform', 'clearRect', 'beginPath', 'moveTo', 'closePath', 'arc']) ctx[m] = () => {};
  for (const m of Object.keys(counts)) ctx[m] = () => { counts[m]++; };
  return ctx;
}

const root = build(tree);
const byId = new Map();
for (const n of root.walk()) if (n.attrs.id) byId.set(n.attrs.id, n);
const body = root.querySelector('body');

globalThis.document = {
  body,
  title: '',
  hidden: false,
  getElementById: (id) => byId.get(id) || null,
  querySelectorAll: (s) => root.querySelectorAll(s),
  createElement: (t) => new Node(t),
  createTextNode: (s) => text(s),
  addEventListener() {},
};
globalThis.window = globalThis;
globalThis.devicePixelRatio = 2;
globalThis.addEventListener = () => {};
globalThis.matchMedia = () => ({ addEventListener() {} });
globalThis.getComputedStyle = () => ({ getPropertyValue: (p) => (p === '--sans' ? 'sans-serif' : '#808080') });
globalThis.ResizeObserver = class { observe() {} };

// ---- fake timers and fetch ----

const timers = new Map();
let timerID = 0;
globalThis.setTimeout = (f, ms) => { timers.set(++timerID, { f, ms }); return timerID; };
globalThis.clearTimeout = (id) => timers.delete(id);
globalThis.setInterval = () => 0;

// fire runs the pending timers of ms milliseconds (the poll timer).
async function fire(ms) {
  for (const [id, t] of [...timers]) if (t.ms === ms) { timers.delete(id); t.f(); }
  await settle();
}
const settle = () => new Promise((r) => setImmediate(r)).then(() => new Promise((r) => setImmediate(r)));

let online = true;
const posts = [];
globalThis.fetch = async (path, init = {}) => {
  if (!online) throw new TypeError('Failed to fetch');
  const json = (status, v) => ({ ok: status < 300, status, json: async () => v });
  if (path === '/api/stats') return json(200, stats);
  posts.push({ path, method: init.method, headers: init.headers, body: JSON.parse(init.body) });
  if (path === '/api/purge') return json(200, JSON.parse(init.body).url ? { ok: true, found: true } : { ok: true, removed: 3 });
  if (path === '/api/reload') return json(500, { ok: false, error: 'reload: config.yaml:3: unknown field' });
  return json(404, null);
};

// ---- run ----

const out = {};
const look = (id) => {
  const el = byId.get(id);
  return el ? { text: el.textContent, value: el.dataset.value, state: el.dataset.state } : null;
};

await import(new URL('app.js', dir));
await settle();
for (const id of ['version', 'uptime', 'conn-status', 'total-requests', 'hit-ratio', 'rate-requests', 'rate-bytes',
  'bytes-saved', 'active-connections', 'active-tunnels', 'total-blocked', 'total-errors', 'hit-detail', 'tunnels-count']) {
  out[id] = look(id);
}
for (const id of ['chart-throughput', 'chart-bandwidth', 'chart-hit-ratio']) {
  const c = byId.get(id);
  out[id] = { points: c.dataset.points, drawn: c.dataset.drawn, width: c.width, height: c.height };
}
const rows = (id) => byId.get(id).tBodies[0].children.map((tr) => tr.children.map((td) => td.textContent));
out.rows = {};
for (const id of ['top-hosts', 'top-blocked', 'tunnels', 'recent-errors', 'cache-tiers', 'config']) out.rows[id] = rows(id);
out.totals = Object.fromEntries(root.querySelectorAll('#totals dd[data-key]').map((dd) => [dd.dataset.key, dd.textContent]));
out.legend = byId.get('legend-throughput').textContent;
out.canvasCalls = { ...counts };

online = false;
await fire(2000);
out.lost = { status: look('conn-status'), bodyClass: body.className };
online = true;
await fire(2000);
out.recovered = { status: look('conn-status'), bodyClass: body.className };

byId.get('purge-url').value = 'https://example.com/a.js';
await byId.get('purge-form').dispatch('submit');
out.purge = look('purge-result');
if (byId.get('purge-host-form')) {
  byId.get('purge-host').value = 'example.com';
  await byId.get('purge-host-form').dispatch('submit');
  out.purgeHost = look('purge-host-result');
}
await byId.get('reload-submit').dispatch('click');
out.reload = look('reload-result');
out.posts = posts;

console.log(JSON.stringify(out));
process.exit(0);
