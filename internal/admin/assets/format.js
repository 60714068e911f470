// Number, size and time formatting for the status page and its charts.
// Pure functions: format_test runs them under node when it is installed.

const DASH = '—';

// scaled divides n by base until it is below base, rounds it to one decimal
// below 100 and none above, and returns [text, unit index]. Rounding can
// carry into the next unit (999.96k → 1.0M), so it is checked after.
function scaled(n, base, units) {
  let i = 0;
  let v = n;
  while (Math.abs(v) >= base && i < units - 1) {
    v /= base;
    i++;
  }
  let text = Math.abs(v) < 100 ? v.toFixed(1) : v.toFixed(0);
  if (Math.abs(Number(text)) >= base && i < units - 1) {
    v /= base;
    i++;
    text = v.toFixed(1);
  }
  return [text, i];
}

const SI = ['', 'k', 'M', 'G', 'T', 'P'];

// count formats a count compactly: 0, 7, 999, 1.2k, 34.5k, 345k, 1.2M.
// Below 10 a fraction keeps one decimal (0.4, 3.5), so rates stay useful.
export function count(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return DASH;
  const a = Math.abs(n);
  if (a < 10 && !Number.isInteger(n)) return n.toFixed(1);
  if (a < 1000) return String(Math.round(n));
  const [text, i] = scaled(n, 1000, SI.length);
  return text + SI[i];
}

// rate formats a per-second value: "1.2k/s".
export function rate(n) {
  const c = count(n);
  return c === DASH ? c : c + '/s';
}

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

// bytes formats a size in binary units, as the configuration writes them:
// 512 B, 1.5 KiB, 34.5 MiB, 256 MiB.
export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return DASH;
  if (Math.abs(n) < 1024) return Math.round(n) + ' B';
  const [text, i] = scaled(n, 1024, IEC.length);
  return text + ' ' + IEC[i];
}

// percent formats a ratio (0.391) as "39.1%".
export function percent(r) {
  if (typeof r !== 'number' || !Number.isFinite(r)) return DASH;
  return (r * 100).toFixed(1) + '%';
}

// exact formats an integer with the reader's digit grouping, for titles.
export function exact(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return DASH;
  return n.toLocaleString();
}

// duration formats seconds with the largest non-zero unit and the next
// ones, `parts` in all: duration(93784, 3) = "1d 02h 03m",
// duration(452, 2) = "7m 32s", duration(9, 2) = "9s".
export function duration(seconds, parts = 2) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return DASH;
  let s = Math.floor(seconds);
  const units = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  const out = [];
  for (const [name, size] of units) {
    const v = Math.floor(s / size);
    s -= v * size;
    if (out.length === 0 && v === 0 && size > 1) continue;
    out.push((out.length ? String(v).padStart(2, '0') : String(v)) + name);
    if (out.length === parts) break;
  }
  return out.join(' ');
}

const pad2 = (n) => String(n).padStart(2, '0');

// clock formats a Date as local HH:MM:SS.
export function clock(d) {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) return DASH;
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

// stamp formats a Date as local HH:MM:SS when it is on the same day as
// `now`, else with the date in front: "2026-11-25 23:59:01".
export function stamp(d, now) {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) return DASH;
  const day = (x) => `${x.getFullYear()}-${pad2(x.getMonth() + 1)}-${pad2(x.getDate())}`;
  return now instanceof Date && day(d) === day(now) ? clock(d) : `${day(d)} ${clock(d)}`;
}

// axis trims a zero decimal from a formatted axis label: "20.0 MiB/s"
// becomes "20 MiB/s", "25.0%" becomes "25%".
export function axis(label) {
  return label.replace(/\.0(?=\D|$)/, '');
}
