// Server stats from the server's own API: /metrics (rates computed between two samples),
// /api/v1/admin/tiers (segments, rows, bytes, oldest and newest line per tier and per tier and
// tenant), /api/v1/admin/segments (corrupt and missing counts) and /api/v1/admin/damage.
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson, getText } from './api';
import { formatBytes, num } from './format';
import { formatTs } from './time';

// Prometheus text: the sum of every sample of each metric name (labels added up).
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    out.set(m[1], (out.get(m[1]) ?? 0) + v);
  }
  return out;
}

interface SegmentsAnswer { matching: number; counts: Record<string, number> }
interface TierUsage { tier: string; tenant?: string; segments: number; bytes: number; rows: number; oldest: string | null; newest: string | null }
interface TiersAnswer { tiers: TierUsage[]; tenants: TierUsage[] }
interface Sample { at: number; m: Map<string, number> }

const INTERVAL_MS = 2000;

export function AdminPage() {
  const [now, setNow] = useState<Sample | null>(null);
  const prev = useRef<Sample | null>(null);
  const [rates, setRates] = useState<Record<string, number> | null>(null);
  const [segments, setSegments] = useState<SegmentsAnswer | null>(null);
  const [tiers, setTiers] = useState<TiersAnswer | null>(null);
  const [damage, setDamage] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const ac = new AbortController();
    const poll = async () => {
      try {
        const [text, segs, tiersNow, dmg] = await Promise.all([
          getText('/metrics', ac.signal),
          getJson<SegmentsAnswer>('/api/v1/admin/segments', { limit: '1' }, ac.signal),
          getJson<TiersAnswer>('/api/v1/admin/tiers', {}, ac.signal),
          getJson<{ unacknowledged: number }>('/api/v1/admin/damage', { unacknowledged: 'true' }, ac.signal),
        ]);
        const sample = { at: Date.now(), m: parseMetrics(text) };
        const p = prev.current;
        if (p) {
          const dt = (sample.at - p.at) / 1000;
          const rate = (name: string) => Math.max(0, ((sample.m.get(name) ?? 0) - (p.m.get(name) ?? 0)) / dt);
          setRates({
            lines: rate('sawmill_ingested_lines_total'),
            bytes: rate('sawmill_ingested_bytes_total'),
            queries: rate('sawmill_query_duration_seconds_count'),
            requests: rate('sawmill_http_requests_total'),
          });
        }
        prev.current = sample;
        setNow(sample);
        setSegments(segs);
        setTiers(tiersNow);
        setDamage(dmg.unacknowledged);
        setError(null);
      } catch (e) {
        if (!ac.signal.aborted) setError((e as Error).message);
      }
    };
    poll();
    const timer = setInterval(poll, INTERVAL_MS);
    return () => { clearInterval(timer); ac.abort(); };
  }, []);

  const m = now?.m;
  const rate = (k: string, unit: string, fmt = (v: number) => v.toFixed(1)) => (rates ? `${fmt(rates[k])} ${unit}` : '…');
  return (
    <div class="admin-page">
      {error && <div class="query-error" role="alert"><div class="error-message">{error}</div></div>}
      <div class="cards">
        <section class="card" aria-label="Ingestion">
          <h2>Ingestion</h2>
          <div class="big" data-testid="ingest-rate">{rate('lines', 'lines/s')}</div>
          <div>{rate('bytes', '/s', (v) => formatBytes(Math.round(v)))}</div>
          <div class="muted">{num(m?.get('sawmill_ingested_lines_total'))} lines since start</div>
        </section>
        <section class="card" aria-label="Queries">
          <h2>Queries</h2>
          <div class="big" data-testid="query-rate">{rate('queries', 'queries/s', (v) => v.toFixed(2))}</div>
          <div class="muted">{num(m?.get('sawmill_query_duration_seconds_count'))} since start · {rate('requests', 'HTTP requests/s')}</div>
        </section>
        <section class="card" aria-label="Storage">
          <h2>Storage</h2>
          <div class="big" data-testid="disk">{formatBytes((tiers?.tiers ?? []).reduce((n, t) => n + t.bytes, 0))}</div>
          <div class="muted">in {num(segments?.matching)} segments · memtables {formatBytes(m?.get('sawmill_memtable_bytes') ?? 0)}</div>
        </section>
        <section class="card" aria-label="Live tail and health">
          <h2>Tail and health</h2>
          <div>{num(m?.get('sawmill_tail_sessions'))} live-tail sessions</div>
          <div class={damage ? 'error-text' : 'muted'}>{damage === null ? '…' : damage ? `${damage} WAL damage entries to acknowledge` : 'no unacknowledged WAL damage'}</div>
          <div class={(segments?.counts?.corrupt ?? 0) + (segments?.counts?.missing ?? 0) ? 'error-text' : 'muted'}>
            {num(segments?.counts?.corrupt)} corrupt, {num(segments?.counts?.missing)} missing segments
          </div>
        </section>
      </div>
      <section class="card wide" aria-label="Disk per tier">
        <h2>Disk per tier</h2>
        <TierTable rows={tiers?.tiers ?? []} testid="tiers" />
        {tiers && tiers.tiers.every((t) => t.segments === 0) && <div class="empty">No segments yet (lines are in memtables until the first flush).</div>}
      </section>
      {(tiers?.tenants.length ?? 0) > 0 && (
        <section class="card wide" aria-label="Disk per tier and tenant">
          <h2>Disk per tier and tenant</h2>
          <TierTable rows={tiers!.tenants} testid="tier-tenants" />
        </section>
      )}
      <p class="muted">Refreshed every {INTERVAL_MS / 1000} s from /metrics and /api/v1/admin/*. Lines still in memtables are not in any tier yet.</p>
    </div>
  );
}

function TierTable({ rows, testid }: { rows: TierUsage[]; testid: string }) {
  const tenants = rows.some((r) => r.tenant !== undefined);
  return (
    <div class="table-box">
      <table class="pipe-table" data-testid={testid}>
        <thead><tr>{tenants && <th>tenant</th>}<th>tier</th><th>segments</th><th>rows</th><th>bytes</th><th>oldest line</th><th>newest line</th></tr></thead>
        <tbody>
          {rows.map((t) => (
            <tr data-tier={t.tier}>
              {tenants && <td>{t.tenant}</td>}
              <td>{t.tier}</td><td class="num">{num(t.segments)}</td><td class="num">{num(t.rows)}</td><td class="num">{formatBytes(t.bytes)}</td>
              <td>{t.oldest ? formatTs(t.oldest) : '–'}</td><td>{t.newest ? formatTs(t.newest) : '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
