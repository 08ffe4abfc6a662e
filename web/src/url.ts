// The search view in the URL: /ui/?q=...&since=1h or &from=...&to=..., &tf=ts.
import type { Range } from './time';
import { parseTime } from './time';

export interface View {
  q: string;
  range: Range;
  timeField: 'ingest_ts' | 'ts';
  limit: number;
}

export const LIMITS = [100, 1000, 10000];

export function readView(search: string): View {
  const p = new URLSearchParams(search);
  let range: Range = { kind: 'relative', since: '1h' };
  const from = parseTime(p.get('from') ?? '');
  const to = parseTime(p.get('to') ?? '');
  if (from !== null) range = { kind: 'absolute', from, to: to ?? Date.now() };
  else if (/^\d+[smhdw]$/.test(p.get('since') ?? '')) range = { kind: 'relative', since: p.get('since') as string };
  const limit = Number(p.get('limit'));
  return {
    q: p.get('q') ?? '',
    range,
    timeField: p.get('tf') === 'ts' ? 'ts' : 'ingest_ts',
    limit: LIMITS.includes(limit) ? limit : 1000,
  };
}

export function writeView(view: View): string {
  const p = new URLSearchParams();
  if (view.q) p.set('q', view.q);
  if (view.range.kind === 'relative') p.set('since', view.range.since);
  else {
    p.set('from', new Date(view.range.from).toISOString());
    p.set('to', new Date(view.range.to).toISOString());
  }
  if (view.timeField === 'ts') p.set('tf', 'ts');
  if (view.limit !== 1000) p.set('limit', String(view.limit));
  return '?' + p.toString();
}
