// Retention and holds (docs/storage.md "Retention", docs/api.md "Retention and holds"): the
// effective policy of each tenant and setting one (GET/POST /api/v1/admin/retention), legal holds
// (GET/POST /api/v1/admin/holds, POST /api/v1/admin/holds/release), and the record of every
// policy change, hold, release and deletion (GET /api/v1/admin/retention/events).
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson, isAbort, sendJson } from './api';
import { formatBytes, num } from './format';
import { formatTs, parseTime } from './time';

interface Compliance { id: number; origin: string; tenant: string; service: string; retention: string; reason: string }
interface Policy {
  tenant: string; retention: string; source: string; warm_after: string; cold_after: string;
  max_bytes: number; compliance: Compliance[];
}
interface Hold {
  id: number; tenant: string; from: string; to: string; query: string; reason: string;
  created_by: string; created_at: string; active: boolean; released_at?: string;
  released_by?: string; release_reason?: string; segments?: number; bytes?: number;
}
interface RetentionEvent {
  id: number; at: string; who: string; action: string; tenant: string; hold?: number;
  segment?: number; why: string; what: Record<string, unknown>;
}

const POLL_MS = 5000;

function ErrorBox({ text }: { text: string | null }) {
  if (!text) return null;
  return <div class="query-error" role="alert"><div class="error-message">{text}</div></div>;
}

// "2026-12-04 21:30" (UTC, as typed in the search page's picker) or RFC 3339 -> RFC 3339.
function toRfc3339(text: string): string | null {
  const t = text.trim();
  if (t === 'now') return 'now';
  const ms = parseTime(t);
  return ms === null ? null : new Date(ms).toISOString();
}

function describe(what: Record<string, unknown>): string {
  return Object.entries(what).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
}

function PolicyForm({ onDone }: { onDone: () => void }) {
  const [f, setF] = useState({ tenant: '', retention: '', warm_after: '', cold_after: '', max_bytes: '', reason: '' });
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    const params: Record<string, string> = { tenant: f.tenant.trim() };
    for (const k of ['retention', 'warm_after', 'cold_after', 'max_bytes', 'reason'] as const) {
      if (f[k].trim()) params[k] = f[k].trim();
    }
    try {
      const r = await sendJson<{ policy: Policy }>('POST', '/api/v1/admin/retention', params);
      setError(null);
      setSaved(`Tenant ${r.policy.tenant}: retention ${r.policy.retention} (${r.policy.source}).`);
      onDone();
    } catch (err) {
      setSaved(null);
      setError((err as Error).message);
    }
  };
  return (
    <form class="admin-form" onSubmit={submit} aria-label="Set a tenant's policy">
      <label>Tenant <input value={f.tenant} onInput={set('tenant')} required size={12} /></label>
      <label>Retention <input value={f.retention} onInput={set('retention')} placeholder="30d" size={6} /></label>
      <label>Warm after <input value={f.warm_after} onInput={set('warm_after')} placeholder="3d or never" size={8} /></label>
      <label>Cold after <input value={f.cold_after} onInput={set('cold_after')} placeholder="30d or never" size={8} /></label>
      <label>Max bytes <input value={f.max_bytes} onInput={set('max_bytes')} placeholder="500GiB or 0" size={8} /></label>
      <label>Reason <input value={f.reason} onInput={set('reason')} size={20} /></label>
      <button type="submit" class="primary">Set policy</button>
      <ErrorBox text={error} />
      {saved && <div class="ok-text" role="status">{saved}</div>}
    </form>
  );
}

function HoldForm({ onDone }: { onDone: () => void }) {
  const [f, setF] = useState({ tenant: 'default', from: '', to: 'now', query: '', reason: '' });
  const [error, setError] = useState<string | null>(null);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    const from = toRfc3339(f.from);
    const to = toRfc3339(f.to);
    if (!from || !to) {
      setError(`${!from ? 'From' : 'To'}: expected a UTC time such as 2026-12-04 21:30, RFC 3339 or now`);
      return;
    }
    const params: Record<string, string> = { tenant: f.tenant.trim(), from, to, reason: f.reason.trim() };
    if (f.query.trim()) params.query = f.query.trim();
    try {
      await sendJson<{ hold: Hold }>('POST', '/api/v1/admin/holds', params);
      setError(null);
      setF({ ...f, query: '', reason: '' });
      onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="admin-form" onSubmit={submit} aria-label="Add a hold">
      <label>Tenant <input value={f.tenant} onInput={set('tenant')} required size={12} /></label>
      <label>From (UTC) <input value={f.from} onInput={set('from')} required placeholder="2026-12-01 00:00" size={18} /></label>
      <label>To (UTC) <input value={f.to} onInput={set('to')} required placeholder="now" size={18} /></label>
      <label>Query <input value={f.query} onInput={set('query')} placeholder="service=payments (empty: every line)" size={28} class="mono" /></label>
      <label>Reason <input value={f.reason} onInput={set('reason')} required placeholder="case 1234" size={20} /></label>
      <button type="submit" class="primary">Add hold</button>
      <ErrorBox text={error} />
    </form>
  );
}

function HoldRow({ hold, onDone }: { hold: Hold; onDone: () => void }) {
  const [releasing, setReleasing] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  // Keyboard: opening the release form moves the focus to its reason; Cancel brings it back.
  const reasonField = useRef<HTMLInputElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const reopen = useRef(false);
  useEffect(() => {
    if (releasing) reasonField.current?.focus();
    else if (reopen.current) opener.current?.focus();
  }, [releasing]);
  const release = async (e: Event) => {
    e.preventDefault();
    try {
      await sendJson('POST', '/api/v1/admin/holds/release', { id: String(hold.id), reason: reason.trim() });
      setError(null);
      setReleasing(false);
      onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <tr data-hold={hold.id} class={hold.active ? '' : 'muted'}>
      <td class="num">{hold.id}</td>
      <td>{hold.tenant}</td>
      <td>{formatTs(hold.from)} – {formatTs(hold.to)}</td>
      <td class="mono">{hold.query || <span class="muted">every line</span>}</td>
      <td>{hold.reason}</td>
      <td>{hold.created_by}<br /><span class="muted">{formatTs(hold.created_at)}</span></td>
      <td class="num">{hold.segments === undefined ? '' : `${num(hold.segments)} (${formatBytes(hold.bytes ?? 0)})`}</td>
      <td>
        {hold.active ? (releasing ? (
          <form class="inline-form" onSubmit={release}>
            <label>Why <input ref={reasonField} value={reason} onInput={(e) => setReason(e.currentTarget.value)} required size={14} aria-label={`Reason to release hold ${hold.id}`}
              onKeyDown={(e) => { if (e.key === 'Escape') { reopen.current = true; setReleasing(false); setError(null); } }} /></label>
            <button type="submit" class="danger">Release</button>
            <button type="button" onClick={() => { reopen.current = true; setReleasing(false); setError(null); }}>Cancel</button>
          </form>
        ) : (
          <button type="button" ref={opener} onClick={() => setReleasing(true)} aria-label={`Release hold ${hold.id}`}>Release…</button>
        )) : (
          <span>released {formatTs(hold.released_at ?? '')} by {hold.released_by}{hold.release_reason ? `: ${hold.release_reason}` : ''}</span>
        )}
        <ErrorBox text={error} />
      </td>
    </tr>
  );
}

export function RetentionPage() {
  const [policies, setPolicies] = useState<{ policies: Policy[]; compliance: Compliance[] } | null>(null);
  const [holds, setHolds] = useState<Hold[] | null>(null);
  const [events, setEvents] = useState<RetentionEvent[] | null>(null);
  const [showReleased, setShowReleased] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const refresh = () => setTick((t) => t + 1);

  useEffect(() => {
    const ac = new AbortController();
    const load = async () => {
      try {
        const [p, h, ev] = await Promise.all([
          getJson<{ policies: Policy[]; compliance: Compliance[] }>('/api/v1/admin/retention', {}, ac.signal),
          getJson<{ holds: Hold[] }>('/api/v1/admin/holds', showReleased ? { all: 'true' } : {}, ac.signal),
          getJson<{ events: RetentionEvent[] }>('/api/v1/admin/retention/events', { limit: '100' }, ac.signal),
        ]);
        setPolicies(p);
        setHolds(h.holds);
        setEvents(ev.events);
        setError(null);
      } catch (e) {
        if (!isAbort(e)) setError((e as Error).message);
      }
    };
    load();
    const timer = setInterval(load, POLL_MS);
    return () => { clearInterval(timer); ac.abort(); };
  }, [tick, showReleased]);

  return (
    <div class="admin-page">
      <ErrorBox text={error} />
      <section class="card wide" aria-labelledby="policies-h">
        <h2 id="policies-h">Retention per tenant</h2>
        <table class="pipe-table" data-testid="policies">
          <thead><tr><th>tenant</th><th>retention</th><th>from</th><th>warm after</th><th>cold after</th><th>max bytes</th><th>compliance</th></tr></thead>
          <tbody>
            {(policies?.policies ?? []).map((p) => (
              <tr data-tenant={p.tenant}>
                <td>{p.tenant}</td><td>{p.retention}</td><td>{p.source}</td><td>{p.warm_after}</td><td>{p.cold_after}</td>
                <td class="num">{p.max_bytes ? formatBytes(p.max_bytes) : 'no limit'}</td>
                <td>{p.compliance.map((c) => `${c.service === '*' ? '' : `${c.service}: `}${c.retention}`).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {(policies?.compliance.length ?? 0) > 0 && (
          <p class="muted">Compliance tags (kept at least this long): {policies!.compliance.map((c) =>
            `${c.tenant}/${c.service} ${c.retention}${c.reason ? ` (${c.reason})` : ''}`).join('; ')}</p>
        )}
        <p class="muted">Nothing is deleted without a retention; a segment with lines of several rules is kept for the longest.</p>
        <PolicyForm onDone={refresh} />
      </section>
      <section class="card wide" aria-labelledby="holds-h">
        <h2 id="holds-h">Legal holds</h2>
        <p class="muted">A held line is never deleted, whatever its retention, until the hold is released.</p>
        <HoldForm onDone={refresh} />
        <label class="check"><input type="checkbox" checked={showReleased} onChange={(e) => setShowReleased(e.currentTarget.checked)} /> Show released holds</label>
        <div class="table-box">
          <table class="pipe-table" data-testid="holds">
            <thead><tr><th>id</th><th>tenant</th><th>time range</th><th>query</th><th>reason</th><th>by</th><th>holds segments</th><th></th></tr></thead>
            <tbody>{(holds ?? []).map((h) => <HoldRow key={h.id} hold={h} onDone={refresh} />)}</tbody>
          </table>
        </div>
        {holds && holds.length === 0 && <div class="empty">{showReleased ? 'No holds.' : 'No active holds.'}</div>}
      </section>
      <section class="card wide" aria-labelledby="record-h">
        <h2 id="record-h">Record: policies, holds, releases and deletions (newest 100)</h2>
        <div class="table-box">
          <table class="pipe-table" data-testid="events">
            <thead><tr><th>at</th><th>who</th><th>action</th><th>tenant</th><th>hold / segment</th><th>why</th><th>what</th></tr></thead>
            <tbody>
              {(events ?? []).map((e) => (
                <tr>
                  <td>{formatTs(e.at)}</td><td>{e.who}</td><td>{e.action}</td><td>{e.tenant}</td>
                  <td class="num">{e.hold !== undefined ? `hold ${e.hold}` : e.segment !== undefined ? `segment ${e.segment}` : ''}</td>
                  <td>{e.why}</td><td class="mono small">{describe(e.what)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {events && events.length === 0 && <div class="empty">Nothing recorded yet.</div>}
      </section>
    </div>
  );
}
