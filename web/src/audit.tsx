// The audit log (docs/security.md "Audit log"): who read or changed what, GET /api/v1/audit with
// its filters, and a check of the hash chain (GET /api/v1/audit/verify). Needs the audit right
// (auditor or platform-admin); anyone else sees the server's 403 text.
import { useEffect, useState } from 'preact/hooks';
import { getJson, isAbort } from './api';
import { num } from './format';

interface Entry {
  seq: number; at: string; who: string; token_id: string; tenant: string; action: string;
  query: string; from?: string; to?: string; rows: number | null; address: string; status: number;
}
interface Verified { ok: boolean; entries: number; first_seq: number; last_seq: number; problems: string[] }

const when = (ts: string) => ts.replace('T', ' ').replace(/Z$/, '');

export function AuditPage() {
  const [filters, setFilters] = useState({ since: '24h', who: '', action: '', tenant: '' });
  const [draft, setDraft] = useState(filters);
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [verified, setVerified] = useState<Verified | string | null>(null);

  useEffect(() => {
    const ac = new AbortController();
    const params: Record<string, string> = { limit: '1000' };
    for (const [k, v] of Object.entries(filters)) if (v.trim()) params[k] = v.trim();
    getJson<{ entries: Entry[]; next_after?: number }>('/api/v1/audit', params, ac.signal)
      .then((r) => { setEntries(r.entries.slice().reverse()); setMore(r.next_after !== undefined); setError(null); })
      .catch((e) => { if (!isAbort(e)) { setEntries(null); setError((e as Error).message); } });
    return () => ac.abort();
  }, [filters]);

  const verify = async () => {
    setVerified('checking…');
    try {
      setVerified(await getJson<Verified>('/api/v1/audit/verify', {}));
    } catch (e) {
      setVerified((e as Error).message);
    }
  };
  const set = (k: keyof typeof draft) => (e: Event) => setDraft({ ...draft, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <div class="admin-page">
      <form class="admin-form" aria-label="Filter the audit log" onSubmit={(e) => { e.preventDefault(); setFilters(draft); }}>
        <label>Since <input value={draft.since} onInput={set('since')} placeholder="24h or 2026-12-04T00:00:00Z" size={16} /></label>
        <label>Who <input value={draft.who} onInput={set('who')} placeholder="token name" size={12} /></label>
        <label>Action <input value={draft.action} onInput={set('action')} placeholder="GET /api/v1/search" size={18} /></label>
        <label>Tenant <input value={draft.tenant} onInput={set('tenant')} size={10} /></label>
        <button type="submit" class="primary">Show</button>
        <button type="button" onClick={verify}>Verify the chain</button>
      </form>
      {typeof verified === 'string' && <div class={verified === 'checking…' ? 'muted' : 'query-error'} role="status">{verified}</div>}
      {verified && typeof verified !== 'string' && (
        <div class={verified.ok ? 'ok-box' : 'partial'} role="status" data-testid="audit-verify">
          {verified.ok
            ? `The chain is intact: ${num(verified.entries)} entries (seq ${verified.first_seq} to ${verified.last_seq}).`
            : <><strong>The chain is broken:</strong><ul>{verified.problems.map((p) => <li>{p}</li>)}</ul></>}
        </div>
      )}
      {error && <div class="query-error" role="alert"><div class="error-message">{error}</div></div>}
      {entries && (
        <section class="card wide" aria-label="Audit entries">
          <h2>{num(entries.length)} entries, newest first{more ? ' (the first 1,000 of the range: narrow it)' : ''}</h2>
          <div class="table-box">
            <table class="pipe-table" data-testid="audit">
              <thead><tr><th>seq</th><th>at</th><th>who</th><th>tenant</th><th>action</th><th>query</th><th>rows</th><th>status</th><th>address</th></tr></thead>
              <tbody>
                {entries.map((e) => (
                  <tr><td class="num">{e.seq}</td><td>{when(e.at)}</td><td>{e.who}</td><td>{e.tenant}</td><td>{e.action}</td>
                    <td class="mono">{e.query}</td><td class="num">{e.rows === null ? '' : num(e.rows)}</td>
                    <td class={e.status >= 400 ? 'error-text num' : 'num'}>{e.status}</td><td>{e.address}</td></tr>
                ))}
              </tbody>
            </table>
          </div>
          {entries.length === 0 && <div class="empty">No entries in this range.</div>}
        </section>
      )}
    </div>
  );
}
