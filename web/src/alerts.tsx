// Alerts: the tenant's rules with their state (GET /api/v1/alerts), the transitions
// (GET /api/v1/alerts/history), and "test over the last 24 h" (POST /api/v1/alerts/test), which
// replays a rule over stored lines. docs/alerting.md describes the calls.
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, authHeaders, getJson, isAbort, reportUnauthorized } from './api';
import { num } from './format';
import { formatTs } from './time';

interface Group { group: string; state: string; since: string | null; count: number; value: number }
interface Rule {
  name: string; source: string; filter: string; condition: string; window: string; for: string;
  group_by: string[]; state: string; last_evaluation: string | null; groups: Group[];
}
interface Transition { id: number; at: string; rule: string; group: string; from: string; to: string; value: number }
interface Backtest {
  rule: string; from: string; to: string; step: string; partial: boolean; warnings: string[];
  events: Array<{ at: string; group: string; from: string; to: string; count: number; value: number }>;
}

const POLL_MS = 5000;

async function postJson<T>(path: string, params: Record<string, string>): Promise<T> {
  const response = await fetch(`${path}?${new URLSearchParams(params)}`, { method: 'POST', headers: { Accept: 'application/json', ...authHeaders() } });
  const text = await response.text();
  let body: any;
  try { body = JSON.parse(text); } catch { body = undefined; }
  if (response.status === 401) reportUnauthorized(body?.error ?? text);
  if (!response.ok) throw new ApiError(body?.error ?? (text || `HTTP ${response.status}`), response.status);
  return body as T;
}

function StateBadge({ state }: { state: string }) {
  return <span class={`alert-state state-${state}`}>{state}</span>;
}

export function AlertsPage() {
  const [rules, setRules] = useState<Rule[] | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [history, setHistory] = useState<Transition[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tests, setTests] = useState<Record<string, Backtest | string | 'running'>>({});

  useEffect(() => {
    const ac = new AbortController();
    const poll = async () => {
      try {
        const [list, hist] = await Promise.all([
          getJson<{ rules: Rule[]; rules_file_error: string | null }>('/api/v1/alerts', {}, ac.signal),
          getJson<{ transitions: Transition[] }>('/api/v1/alerts/history', { limit: '100', since: '168h' }, ac.signal),
        ]);
        setRules(list.rules);
        setFileError(list.rules_file_error || null);
        setHistory(hist.transitions);
        setError(null);
      } catch (e) {
        if (!isAbort(e)) setError((e as Error).message);
      }
    };
    poll();
    const timer = setInterval(poll, POLL_MS);
    return () => { clearInterval(timer); ac.abort(); };
  }, []);

  const test = async (rule: string) => {
    setTests((t) => ({ ...t, [rule]: 'running' }));
    try {
      const result = await postJson<Backtest>('/api/v1/alerts/test', { rule, since: '24h' });
      setTests((t) => ({ ...t, [rule]: result }));
    } catch (e) {
      setTests((t) => ({ ...t, [rule]: (e as Error).message }));
    }
  };

  return (
    <div class="admin-page alerts-page">
      {error && <div class="query-error" role="alert"><div class="error-message">{error}</div></div>}
      {fileError && <div class="query-error" role="alert"><div class="error-message">The rules file has an error (the previous rules stay loaded): {fileError}</div></div>}
      <section class="card wide" aria-label="Alert rules">
        <h2>Rules</h2>
        {rules && rules.length === 0 && <div class="empty">No alerting rules for this tenant (sawmill server --alert-rules FILE, or POST /api/v1/alerts/rules).</div>}
        {rules && rules.length > 0 && (
          <table class="pipe-table alert-rules" data-testid="alert-rules">
            <thead><tr><th>rule</th><th>state</th><th>filter</th><th>condition</th><th>groups</th><th>last evaluated</th><th /></tr></thead>
            <tbody>
              {rules.map((r) => {
                const t = tests[r.name];
                return (
                  <Fragment>
                    <tr data-rule={r.name}>
                      <td>{r.name}</td>
                      <td><StateBadge state={r.state} /></td>
                      <td><a href={`/ui/?${new URLSearchParams({ q: r.filter, since: r.window })}`}>{r.filter || '*'}</a></td>
                      <td>{r.condition} over {r.window}{r.for !== '0s' ? `, for ${r.for}` : ''}{r.group_by.length ? ` by ${r.group_by.join(', ')}` : ''}</td>
                      <td>{r.groups.filter((g) => g.state !== 'inactive').map((g) => (
                        <div><StateBadge state={g.state} /> {g.group || 'all lines'}: {num(g.count)}</div>
                      ))}</td>
                      <td>{r.last_evaluation ? formatTs(r.last_evaluation).slice(11, 19) : '—'}</td>
                      <td><button onClick={() => test(r.name)} disabled={t === 'running'}>{t === 'running' ? 'Testing…' : 'Test over the last 24 h'}</button></td>
                    </tr>
                    {t && t !== 'running' && (
                      <tr class="backtest"><td colSpan={7}>
                        {typeof t === 'string' ? <span class="error-text">{t}</span> : (
                          <div data-testid={`backtest-${r.name}`}>
                            <div class="muted">Over {formatTs(t.from).slice(0, 16)} → {formatTs(t.to).slice(0, 16)} UTC in steps of {t.step}: {t.events.length === 0 ? 'the rule would not have changed state.' : `${t.events.length} change${t.events.length === 1 ? '' : 's'} of state.`}</div>
                            {t.warnings.map((w) => <div class="warning">{w}</div>)}
                            {t.events.length > 0 && (
                              <ul class="backtest-events">
                                {t.events.slice(0, 200).map((e) => (
                                  <li>{formatTs(e.at).slice(0, 19)} {e.group || 'all lines'}: {e.from} → <StateBadge state={e.to} /> (count {num(e.count)})</li>
                                ))}
                              </ul>
                            )}
                          </div>
                        )}
                      </td></tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
      <section class="card wide" aria-label="Alert history">
        <h2>History</h2>
        {history.length === 0 ? <div class="empty">No state changes in the last 7 days.</div> : (
          <table class="pipe-table" data-testid="alert-history">
            <thead><tr><th>time (UTC)</th><th>rule</th><th>group</th><th>change</th><th>value</th></tr></thead>
            <tbody>
              {history.map((h) => (
                <tr><td>{formatTs(h.at).slice(0, 19)}</td><td>{h.rule}</td><td>{h.group || 'all lines'}</td>
                  <td>{h.from} → <StateBadge state={h.to} /></td><td class="num">{h.value}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <p class="muted">Refreshed every {POLL_MS / 1000} s from /api/v1/alerts.</p>
    </div>
  );
}
