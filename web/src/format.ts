import type { Stats } from './api';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export const num = (n: number | undefined) => (n ?? 0).toLocaleString('en-US');

// One discreet line: rows scanned, segments read and pruned, bytes read, time, cache.
export function formatStats(s: Stats | undefined): string {
  if (!s) return '';
  const parts = [
    `${num((s.rows_scanned ?? 0) + (s.memtable_rows_scanned ?? 0))} rows scanned`,
    `${num(s.segments_after_bloom ?? s.segments_after_index ?? 0)} of ${num(s.segments_total)} segments read` +
      ((s.segments_total ?? 0) - (s.segments_after_bloom ?? 0) > 0
        ? ` (${num((s.segments_total ?? 0) - (s.segments_after_bloom ?? 0))} pruned)` : ''),
    `${formatBytes(s.bytes_read_compressed ?? 0)} read`,
    `${(s.elapsed_ms ?? 0).toFixed(1)} ms`,
  ];
  if (s.cache_hit) parts.push('cache hit');
  return parts.join(' · ');
}
