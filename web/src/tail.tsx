// Live tail: the server's SSE stream (GET /api/v1/tail, Accept: text/event-stream) read with
// fetch, so that an error before the stream starts (a query error with its position, 429 past
// the session limit) is shown as the server's text. Filters like `sawmill tail`; pause keeps
// reading and holds the new lines until resume; "N lines dropped" notices from the server; a
// cap on the lines kept.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, authHeaders, byteToCharOffset, reportUnauthorized } from './api';
import type { Hit } from './api';
import { LEVEL_COLORS } from './chart';
import { QueryEditor } from './editor';
import { num } from './format';
import { LEVELS, quoteValue } from './query';
import { LevelBadge } from './search';
import { formatTs } from './time';
import { VirtualList } from './virtual';

type Item =
  | { kind: 'line'; hit: Hit }
  | { kind: 'dropped'; count: number; at: number }
  | { kind: 'notice'; text: string; at: number };

export const CAPS = [1000, 10000, 50000];

interface Filter { service: string; host: string; level: string; q: string; cap: number }

function readFilter(): Filter {
  const p = new URLSearchParams(location.search);
  const cap = Number(p.get('cap'));
  return {
    service: p.get('service') ?? '', host: p.get('host') ?? '', level: p.get('level') ?? '',
    q: p.get('q') ?? '', cap: CAPS.includes(cap) ? cap : 10000,
  };
}

// The filter the server gets: as `sawmill tail --service --level --host QUERY` builds it.
export function tailQuery(f: Filter): string {
  const parts: string[] = [];
  if (f.service) parts.push(`service=${quoteValue(f.service)}`);
  if (f.level) parts.push(`level>=${f.level}`);
  if (f.host) parts.push(`host=${quoteValue(f.host)}`);
  const q = f.q.trim();
  if (q) parts.push(parts.length ? `(${q})` : q);
  return parts.join(' ');
}

type Status = 'connecting' | 'live' | 'stopped' | 'error';

export function TailPage() {
  const [filter, setFilter] = useState<Filter>(readFilter);
  const [draft, setDraft] = useState<Filter>(filter);
  const draftQ = useRef(filter.q);  // the query box's text (typing does not re-render the page)
  const [status, setStatus] = useState<Status>('connecting');
  const [error, setError] = useState<{ message: string; position?: number } | null>(null);
  const [paused, setPaused] = useState(false);
  const [version, setVersion] = useState(0);
  const [rate, setRate] = useState(0);
  const [dropped, setDropped] = useState(0);
  const [waiting, setWaiting] = useState(0);
  const items = useRef<Item[]>([]);
  const incoming = useRef<Item[]>([]);  // arrived, not yet shown (next frame, or paused)
  const pausedRef = useRef(false);
  const arrivals = useRef<number[]>([]);
  const capRef = useRef(filter.cap);
  capRef.current = filter.cap;

  const flush = () => {
    if (pausedRef.current) { setWaiting(incoming.current.filter((i) => i.kind === 'line').length); return; }
    if (incoming.current.length === 0) return;
    const all = items.current.concat(incoming.current);
    incoming.current = [];
    items.current = all.length > capRef.current ? all.slice(all.length - capRef.current) : all;
    setWaiting(0);
    setVersion((v) => v + 1);
  };

  useEffect(() => {
    const ac = new AbortController();
    items.current = [];
    incoming.current = [];
    setVersion((v) => v + 1);
    setStatus('connecting');
    setError(null);
    setDropped(0);
    const q = tailQuery(filter);
    let frame = 0;
    const schedule = () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; flush(); }); };
    const hold = (item: Item) => {
      incoming.current.push(item);
      // Paused: keep at most the cap (the page would keep no more once resumed).
      if (incoming.current.length > capRef.current) incoming.current.splice(0, incoming.current.length - capRef.current);
      schedule();
    };
    (async () => {
      let response: Response;
      try {
        response = await fetch(`/api/v1/tail?${new URLSearchParams({ q })}`, {
          headers: { Accept: 'text/event-stream', ...authHeaders() }, signal: ac.signal,
        });
      } catch (e) {
        if (!ac.signal.aborted) { setStatus('error'); setError({ message: `cannot reach the server: ${(e as Error).message}` }); }
        return;
      }
      if (!response.ok || !response.body) {
        const text = await response.text();
        let err: ApiError;
        try { const b = JSON.parse(text); err = new ApiError(b.error ?? text, response.status, b.position); } catch { err = new ApiError(text || `HTTP ${response.status}`, response.status); }
        if (response.status === 401) reportUnauthorized(err.message);
        setStatus('error');
        // The position is into the composed filter; point into the query box when it falls there.
        const offset = q.length - filter.q.trim().length - (q.endsWith(')') && q !== filter.q.trim() ? 1 : 0);
        const pos = err.position === undefined ? undefined : byteToCharOffset(q, err.position) - offset;
        setError({ message: err.message, position: pos !== undefined && pos >= 0 ? pos : undefined });
        return;
      }
      setStatus('live');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trimStart();
            }
            if (!data && event !== 'close') continue;  // ": ping"
            if (event === 'dropped') {
              const n = Number(JSON.parse(data).dropped ?? 0);
              setDropped((d) => d + n);
              hold({ kind: 'dropped', count: n, at: Date.now() });
            } else if (event === 'notice') {
              // Not a line: e.g. another cluster node's lines may be missing (docs/cluster.md).
              hold({ kind: 'notice', text: String(JSON.parse(data).notice ?? ''), at: Date.now() });
            } else if (event === 'close') {
              setStatus('stopped');
              setError({ message: 'the server is shutting down; the stream ended' });
            } else {
              arrivals.current.push(Date.now());
              hold({ kind: 'line', hit: JSON.parse(data) as Hit });
            }
          }
        }
        if (!ac.signal.aborted) setStatus('stopped');
      } catch (e) {
        if (!ac.signal.aborted) { setStatus('error'); setError({ message: `the stream broke: ${(e as Error).message}` }); }
      }
    })();
    return () => { ac.abort(); if (frame) cancelAnimationFrame(frame); };
  }, [filter.service, filter.host, filter.level, filter.q]);

  // Lines per second over the last 5 seconds.
  useEffect(() => {
    const timer = setInterval(() => {
      const now = Date.now();
      arrivals.current = arrivals.current.filter((t) => t > now - 5000);
      setRate(arrivals.current.length / 5);
    }, 1000);
    return () => clearInterval(timer);
  }, []);

  const apply = (f: Filter) => {
    setFilter(f);
    const p = new URLSearchParams();
    for (const k of ['service', 'host', 'level', 'q'] as const) if (f[k]) p.set(k, f[k]);
    if (f.cap !== 10000) p.set('cap', String(f.cap));
    history.replaceState(null, '', '?' + p.toString());
  };
  const togglePause = () => {
    pausedRef.current = !pausedRef.current;
    setPaused(pausedRef.current);
    flush();
  };

  const list = items.current;
  const render = (i: number) => {
    const item = list[i];
    if (item.kind === 'dropped') {
      return <div class="tail-row dropped" role="listitem">⚠ {num(item.count)} lines dropped by the server around here (this page could not keep up)</div>;
    }
    if (item.kind === 'notice') {
      return <div class="tail-row dropped" role="listitem">⚠ {item.text}</div>;
    }
    const h = item.hit;
    return (
      <div class="tail-row row-summary" role="listitem">
        <span class="level-stripe" style={{ background: LEVEL_COLORS[h.level ?? ''] ?? LEVEL_COLORS[''] }} />
        <span class="time">{formatTs(h.ingest_ts).slice(11, 23)}</span>
        <LevelBadge level={h.level} />
        <span class="svc">{h.service ?? ''}</span>
        <span class="host muted">{h.host ?? ''}</span>
        <span class="msg">{h.message ?? ''}</span>
      </div>
    );
  };
  const shownLines = useMemo(() => list.filter((i) => i.kind === 'line').length, [version]);

  return (
    <div class="tail-page">
      <form class="tail-filters" onSubmit={(e) => { e.preventDefault(); apply({ ...draft, q: draftQ.current }); }} aria-label="Live tail filter">
        <label>service <input value={draft.service} onInput={(e) => setDraft({ ...draft, service: e.currentTarget.value })} size={14} /></label>
        <label>host <input value={draft.host} onInput={(e) => setDraft({ ...draft, host: e.currentTarget.value })} size={14} /></label>
        <label>level ≥
          <select value={draft.level} onChange={(e) => setDraft({ ...draft, level: e.currentTarget.value })}>
            <option value="">any</option>
            {[...LEVELS].reverse().map((l) => <option value={l}>{l}</option>)}
          </select>
        </label>
        <div class="tail-query">
          <QueryEditor value={filter.q} revision={0} onChange={(q) => { draftQ.current = q; }} onRun={(q) => apply({ ...draft, q })}
            fields={() => []} values={async () => []} label="Tail query" id="tail-query" pipes={false}
            placeholder='any filter, e.g. "connection refused" OR status>=500'
            error={error?.position !== undefined ? { message: error.message, from: error.position } : null} />
        </div>
        <button type="submit" class="primary">Apply</button>
      </form>
      <div class="tail-bar">
        <span class={`tail-status ${status}`} data-testid="tail-status">{paused ? 'paused' : status}</span>
        <button onClick={togglePause} aria-pressed={paused} disabled={status !== 'live'}>{paused ? 'Resume' : 'Pause'}</button>
        <span data-testid="tail-rate">{rate.toFixed(1)} lines/s</span>
        <span class="muted">{num(shownLines)} lines kept</span>
        {waiting > 0 && <span class="waiting" role="status">{num(waiting)} new lines waiting</span>}
        {dropped > 0 && <span class="dropped-total" role="alert">{num(dropped)} lines dropped by the server</span>}
        <label class="muted">keep
          <select value={String(filter.cap)} onChange={(e) => apply({ ...filter, cap: Number(e.currentTarget.value) })} aria-label="Lines kept">
            {CAPS.map((c) => <option value={String(c)}>{num(c)}</option>)}
          </select>
        </label>
        <button onClick={() => { items.current = []; setVersion((v) => v + 1); }}>Clear</button>
        <code class="muted tail-q">{tailQuery(filter) || '(everything)'}</code>
      </div>
      {error && <div class="query-error" role="alert"><div class="error-message">{error.message}</div></div>}
      <div class="tail-list">
        {list.length === 0 && status === 'live' && <div class="empty">Waiting for lines that match…</div>}
        <VirtualList count={list.length} rowHeight={24} version="tail" render={render} label="Live lines, oldest first" stickToBottom={!paused} />
      </div>
    </div>
  );
}
