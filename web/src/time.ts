// Time ranges: relative ("the last 1h", moving with now) or absolute [from, to), both in the
// page's URL so that a pasted link opens the same view. Times are shown in UTC, like the server.

export type Range =
  | { kind: 'relative'; since: string }
  | { kind: 'absolute'; from: number; to: number };  // epoch milliseconds

export const RELATIVE = ['15m', '1h', '24h', '7d'];

const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

export function durationMs(text: string): number | null {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : null;
}

// [from, to) in epoch ms as of "now".
export function resolve(range: Range, now = Date.now()): [number, number] {
  if (range.kind === 'absolute') return [range.from, range.to];
  return [now - (durationMs(range.since) ?? 3600e3), now];
}

export function rangeParams(range: Range): Record<string, string> {
  if (range.kind === 'relative') return { since: range.since };
  return { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() };
}

// "2026-12-04 21:30:05.123" in UTC.
export function formatTime(ms: number, withMs = true): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 10) + ' ' + iso.slice(11, withMs ? 23 : 19);
}

// The server's RFC 3339 with nine fraction digits, shown as above with the full fraction.
export function formatTs(ts: string): string {
  return ts.replace('T', ' ').replace(/Z$/, '');
}

export function parseTime(text: string): number | null {
  const t = text.trim();
  if (!t) return null;
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n > 1e17 ? n / 1e6 : n > 1e14 ? n / 1e3 : n > 1e11 ? n : n * 1e3;
  }
  // "2026-12-04 21:30" and "2026-12-04T21:30:00" without a zone are UTC.
  let s = t.replace(' ', 'T');
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(s)) s += 'Z';
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : ms;
}

const NICE_BUCKETS = ['1s', '2s', '5s', '10s', '30s', '1m', '2m', '5m', '10m', '30m', '1h', '3h',
  '6h', '12h', '1d', '7d'];

// A bucket width giving at most about "target" bars over the range.
export function bucketFor(rangeMs: number, target = 80): string {
  for (const b of NICE_BUCKETS) {
    if (rangeMs / (durationMs(b) as number) <= target) return b;
  }
  return '7d';
}

export function describeRange(range: Range): string {
  if (range.kind === 'relative') return `last ${range.since}`;
  return `${formatTime(range.from, false)} → ${formatTime(range.to, false)} UTC`;
}
