// The search page: query box, time picker, histogram by level, results (virtualised, newest
// first, expandable), field sidebar, context, pipe tables and charts. The view lives in the URL.
import { Fragment } from 'preact';
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, byteToCharOffset, dropPrefetched, getJson, isAbort, prefetchJson } from './api';
import type { ContextAnswer, Hit, Row, SearchAnswer } from './api';
import { LEVEL_COLORS, TimeChart, paletteColor } from './chart';
import type { Series } from './chart';
import { QueryEditor, remember } from './editor';
import { formatStats, num } from './format';
import { LEVELS, addFilter, highlight, messageNeedles, quoteValue, splitPipes } from './query';
import type { Needle } from './query';
import { RELATIVE, bucketFor, describeRange, durationMs, formatTime, formatTs, parseTime, rangeParams, resolve } from './time';
import type { Range } from './time';
import { LIMITS, readView, writeView } from './url';
import type { View } from './url';
import { VirtualList } from './virtual';

interface QueryError { message: string; position?: number }

interface Results {
  hits: Hit[];
  answer: SearchAnswer;
  seq: number;
}

interface Histogram {
  x: number[];
  series: Series[];
  bucketSec: number;
  range: [number, number];
}

interface PipeResult { rows: Row[]; answer: SearchAnswer }

let runSeq = 0;

function timeParams(view: View): Record<string, string> {
  return { ...rangeParams(view.range), ...(view.timeField === 'ts' ? { time_field: 'ts' } : {}) };
}

// The requests of a view: the lines (or a pipe's rows) and, for a filter, the histogram
// `FILTER | count by bucket(W), level`. The same for the same view, so that the first search can
// be started before the page is drawn (prefetchSearch) and taken over by run().
function searchRequests(view: View): { main: Record<string, string>; hist?: Record<string, string>; bucketSec: number; from: number; to: number } {
  const params = timeParams(view);
  const { filter, pipes } = splitPipes(view.q);
  const main = { ...params, q: view.q, limit: String(view.limit) };
  const [from, to] = resolve(view.range);
  const bucket = bucketFor(to - from);
  const bucketSec = (durationMs(bucket) as number) / 1000;
  if (pipes) return { main, bucketSec, from, to };
  return { main, hist: { ...params, q: `${filter} | count by bucket(${bucket}), level`, limit: '10000' }, bucketSec, from, to };
}

// Called by main.tsx before the first render of the search page: a cold load then waits for the
// page's code and the server in parallel, not one after the other.
export function prefetchSearch(search: string): void {
  const r = searchRequests(readView(search));
  prefetchJson('/api/v1/search', r.main);
  if (r.hist) prefetchJson('/api/v1/search', r.hist);
}

export function SearchPage() {
  const [view, setView] = useState<View>(() => readView(location.search));
  // What the query box holds now (a ref: typing must not re-render the page), and the revision
  // that makes the box show the view's query after each run.
  const draftRef = useRef(view.q);
  const [revision, setRevision] = useState(0);
  const [results, setResults] = useState<Results | null>(null);
  const [histogram, setHistogram] = useState<Histogram | null>(null);
  const [histError, setHistError] = useState<string | null>(null);
  const [pipe, setPipe] = useState<PipeResult | null>(null);
  const [error, setError] = useState<QueryError | null>(null);
  const [loading, setLoading] = useState(false);
  const [context, setContext] = useState<Hit | null>(null);
  const controller = useRef<AbortController | null>(null);
  const valueCache = useRef(new Map<string, Promise<Array<{ value: string; count: number }>>>());

  const run = useCallback((next: View, push: boolean) => {
    controller.current?.abort();  // no request left running for a view nobody will see
    const ac = new AbortController();
    controller.current = ac;
    const seq = ++runSeq;
    setView(next);
    draftRef.current = next.q;
    setRevision((r) => r + 1);
    const search = writeView(next);
    if (push && search !== location.search) history.pushState(null, '', search);
    else if (!push) history.replaceState(null, '', search);
    remember(next.q);
    setLoading(true);
    setError(null);
    setHistError(null);
    valueCache.current.clear();
    const requests = searchRequests(next);
    const failed = (e: unknown) => {
      if (isAbort(e)) return;
      const err = e instanceof ApiError ? e : new ApiError(String(e), 0);
      setError({ message: err.message, position: err.position === undefined ? undefined : byteToCharOffset(next.q, err.position) });
      setResults(null);
      setPipe(null);
      setHistogram(null);
    };
    if (!requests.hist) {
      getJson<SearchAnswer>('/api/v1/search', requests.main, ac.signal)
        .then((answer) => { setPipe({ rows: answer.rows ?? [], answer }); setResults(null); setHistogram(null); })
        .catch(failed)
        .finally(() => { if (seq === runSeq) setLoading(false); });
      dropPrefetched();
      return;
    }
    const { from, to, bucketSec } = requests;
    const hits = getJson<SearchAnswer>('/api/v1/search', requests.main, ac.signal);
    const hist = getJson<SearchAnswer>('/api/v1/search', requests.hist, ac.signal);
    dropPrefetched();  // what the first run did not take (the URL changed meanwhile) is aborted
    hits.then((answer) => {
      setResults({ hits: answer.hits ?? [], answer, seq });
      setPipe(null);
    }).catch(failed).finally(() => { if (seq === runSeq) setLoading(false); });
    hist.then((answer) => setHistogram(toHistogram(answer.rows ?? [], bucketSec, [from / 1000, to / 1000])))
      .catch((e) => {
        if (isAbort(e)) return;
        setHistogram(null);
        // A syntax error is reported once, by the hits request.
        if (!(e instanceof ApiError && e.position !== undefined)) setHistError((e as Error).message);
      });
  }, []);

  useEffect(() => {
    run(view, false);
    const onPop = () => run(readView(location.search), false);
    addEventListener('popstate', onPop);
    return () => { removeEventListener('popstate', onPop); controller.current?.abort(); };
  }, []);

  const submit = (q: string) => run({ ...view, q }, true);
  const filterBy = (field: string, value: string, negate: boolean) =>
    run({ ...view, q: addFilter(draftRef.current, field, value, negate) }, true);
  const setRange = (range: Range) => run({ ...view, q: draftRef.current, range }, true);

  const knownFields = useMemo(() => {
    const set = new Set<string>();
    for (const h of results?.hits ?? []) for (const k of Object.keys(h.fields ?? {})) set.add(k);
    return Array.from(set).sort();
  }, [results]);

  const topValues = (field: string) => {
    const key = field;
    let p = valueCache.current.get(key);
    if (!p) {
      const fieldName = /^[A-Za-z_@][\w.@-]*$/.test(field) ? field : quoteValue(field);
      p = getJson<SearchAnswer>('/api/v1/search', { ...timeParams(view), q: `| top 10 ${fieldName}` })
        .then((a) => (a.rows ?? []).map((r) => ({ value: String(r[field] ?? ''), count: Number(r.count ?? 0) }))
          .filter((r) => r.value !== ''));
      p.catch(() => valueCache.current.delete(key));
      valueCache.current.set(key, p);
    }
    return p;
  };

  const answer = results?.answer ?? pipe?.answer;
  const needles = useMemo(() => messageNeedles(view.q), [view.q]);

  return (
    <div class="search-page">
      <section class="search-bar" aria-label="Query">
        <div class="query-row">
          <QueryEditor
            value={view.q}
            revision={revision}
            onChange={(q) => { draftRef.current = q; }}
            onRun={submit}
            fields={() => knownFields}
            values={topValues}
            label="Query"
            id="query"
            placeholder='service=checkout level>=ERROR "timed out" | count by host'
            error={error?.position !== undefined ? { message: error.message, from: error.position } : null}
          />
          <button class="primary" onClick={() => submit(draftRef.current)} title="Run (Enter or Ctrl+Enter)">
            {loading ? 'Searching…' : 'Search'}
          </button>
        </div>
        <TimePicker view={view} onRange={setRange}
          onTimeField={(tf) => run({ ...view, q: draftRef.current, timeField: tf }, true)}
          onLimit={(limit) => run({ ...view, q: draftRef.current, limit }, true)} />
        {error && <QueryErrorView error={error} q={view.q} />}
        {answer?.partial && (
          <div class="partial" role="alert">
            <strong>Partial answer:</strong> the search stopped early; what was found so far is shown.
            <ul>{(answer.warnings ?? []).map((w) => <li>{w}</li>)}</ul>
          </div>
        )}
        {!answer?.partial && (answer?.warnings?.length ?? 0) > 0 && (
          <div class="warning" role="status"><ul>{answer!.warnings!.map((w) => <li>{w}</li>)}</ul></div>
        )}
      </section>
      {pipe && <PipeView result={pipe} q={view.q} />}
      {!pipe && !error && (
        <Fragment>
          <section class="histogram" aria-label="Matching lines over time">
            {histogram && <TimeChart x={histogram.x} bucketSec={histogram.bucketSec} series={histogram.series}
              stacked bars range={histogram.range} height={130}
              label={`Histogram of matching lines, ${describeRange(view.range)}; drag or click a bar to zoom`}
              onZoom={(from, to) => setRange({ kind: 'absolute', from, to })} />}
            {histError && <div class="error-text">Histogram: {histError}</div>}
          </section>
          <div class="results-area">
            <FieldSidebar hits={results?.hits ?? []} onFilter={filterBy} />
            <section class="results" aria-label="Results">
              <div class="results-head">
                <span class="count">{results ? `${num(results.hits.length)} ${results.hits.length === 1 ? 'line' : 'lines'}${results.hits.length >= view.limit ? ` (the newest ${num(view.limit)})` : ''}` : ''}</span>
                <span class="stats" title="Query statistics">{formatStats(answer?.stats)}</span>
              </div>
              {results && results.hits.length === 0 && <div class="empty">{answer?.partial
                ? `No matching line found before the search stopped (partial answer, see above); there may be some in ${describeRange(view.range)}.`
                : `No lines match in ${describeRange(view.range)}.`}</div>}
              {results && results.hits.length > 0 && (
                <ResultList key={results.seq} hits={results.hits} needles={needles} onFilter={filterBy} onContext={setContext} />
              )}
            </section>
          </div>
        </Fragment>
      )}
      {pipe && <div class="stats pipe-stats">{formatStats(answer?.stats)}</div>}
      {context && <ContextDialog hit={context} onClose={() => setContext(null)} />}
    </div>
  );
}

function toHistogram(rows: Row[], bucketSec: number, range: [number, number]): Histogram {
  const xs = new Set<number>();
  const byLevel = new Map<string, Map<number, number>>();
  for (const r of rows) {
    const t = Date.parse(String(r.bucket)) / 1000;
    if (Number.isNaN(t)) continue;
    xs.add(t);
    const level = String(r.level ?? '');
    if (!byLevel.has(level)) byLevel.set(level, new Map());
    byLevel.get(level)!.set(t, Number(r.count ?? 0));
  }
  const x = Array.from(xs).sort((a, b) => a - b);
  const order = [...LEVELS, ''];
  const series: Series[] = order.filter((l) => byLevel.has(l)).map((l) => ({
    label: l || 'no level',
    color: LEVEL_COLORS[l] ?? '#999',
    values: x.map((t) => byLevel.get(l)!.get(t) ?? 0),
  }));
  return { x, series, bucketSec, range };
}

function QueryErrorView({ error, q }: { error: QueryError; q: string }) {
  return (
    <div class="query-error" role="alert">
      <div class="error-message">{error.message.split('\n')[0]}</div>
      {error.position !== undefined && (
        <pre class="error-caret" aria-hidden="true">{q + '\n' + ' '.repeat(error.position) + '^'}</pre>
      )}
    </div>
  );
}

function TimePicker({ view, onRange, onTimeField, onLimit }: {
  view: View; onRange: (r: Range) => void; onTimeField: (tf: 'ingest_ts' | 'ts') => void; onLimit: (n: number) => void;
}) {
  const [from, to] = resolve(view.range);
  const [fromText, setFromText] = useState(formatTime(from, false));
  const [toText, setToText] = useState(formatTime(to, false));
  const [bad, setBad] = useState('');
  useEffect(() => {
    const [f, t] = resolve(view.range);
    setFromText(formatTime(f, false));
    setToText(formatTime(t, false));
  }, [view.range]);
  const apply = (e: Event) => {
    e.preventDefault();
    const f = parseTime(fromText);
    const t = parseTime(toText);
    if (f === null) return setBad(`'${fromText}' is not a time (2026-12-04 21:30:00, UTC)`);
    if (t === null) return setBad(`'${toText}' is not a time (2026-12-04 21:30:00, UTC)`);
    if (t <= f) return setBad('the end must be after the start');
    setBad('');
    onRange({ kind: 'absolute', from: f, to: t });
  };
  return (
    <div class="time-picker">
      <div class="relative" role="group" aria-label="Relative time range">
        {RELATIVE.map((since) => (
          <button class={view.range.kind === 'relative' && view.range.since === since ? 'chip active' : 'chip'}
            aria-pressed={view.range.kind === 'relative' && view.range.since === since}
            onClick={() => onRange({ kind: 'relative', since })}>{since}</button>
        ))}
      </div>
      <form class="absolute" onSubmit={apply} aria-label="Absolute time range (UTC)">
        <label>from <input value={fromText} onInput={(e) => setFromText(e.currentTarget.value)} size={19} aria-label="From (UTC)" /></label>
        <label>to <input value={toText} onInput={(e) => setToText(e.currentTarget.value)} size={19} aria-label="To (UTC)" /></label>
        <button type="submit" class="chip">Apply</button>
        <span class="muted">UTC</span>
      </form>
      <span class="range-label" data-testid="range-label">{describeRange(view.range)}</span>
      {view.range.kind === 'relative' && (
        <a class="permalink" href={writeView({ ...view, range: { kind: 'absolute', from, to } })}
          title="This view with the range fixed to the times shown (for an incident channel: it will not move with the clock)">
          link to these times
        </a>
      )}
      <label class="muted">time
        <select value={view.timeField} onChange={(e) => onTimeField(e.currentTarget.value as 'ingest_ts' | 'ts')} aria-label="Time field">
          <option value="ingest_ts">received (ingest_ts)</option>
          <option value="ts">source (ts)</option>
        </select>
      </label>
      <label class="muted">lines
        <select value={String(view.limit)} onChange={(e) => onLimit(Number(e.currentTarget.value))} aria-label="Lines">
          {LIMITS.map((n) => <option value={String(n)}>{num(n)}</option>)}
        </select>
      </label>
      {bad && <span class="error-text" role="alert">{bad}</span>}
    </div>
  );
}

// Every field of a hit, in display order, as [name, value] (dynamic fields under their names).
export function hitFields(h: Hit): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (k: string, v: string | undefined) => { if (v !== undefined && v !== '') out.push([k, v]); };
  add('ts', h.ts);
  add('ingest_ts', h.ingest_ts);
  add('service', h.service);
  add('host', h.host);
  add('level', h.level);
  add('message', h.message);
  add('trace_id', h.trace_id);
  add('span_id', h.span_id);
  add('user_id', h.user_id);
  for (const [k, v] of Object.entries(h.fields ?? {}).sort(([a], [b]) => a.localeCompare(b))) add(k, v);
  if (h.flags?.length) add('flags', h.flags.join(', '));
  add('id', h.id);
  return out;
}

const FILTERABLE_BUILTINS = new Set(['service', 'host', 'level', 'trace_id', 'span_id', 'user_id']);

function FieldSidebar({ hits, onFilter }: { hits: Hit[]; onFilter: (f: string, v: string, neg: boolean) => void }) {
  const fields = useMemo(() => {
    const counts = new Map<string, Map<string, number>>();
    for (const h of hits) {
      for (const [k, v] of hitFields(h)) {
        if (!(FILTERABLE_BUILTINS.has(k) || (h.fields && k in h.fields))) continue;
        let m = counts.get(k);
        if (!m) counts.set(k, (m = new Map()));
        m.set(v, (m.get(v) ?? 0) + 1);
      }
    }
    const builtinOrder = ['level', 'service', 'host', 'trace_id', 'span_id', 'user_id'];
    return Array.from(counts.entries()).map(([name, values]) => {
      let present = 0;
      for (const c of values.values()) present += c;
      const top = Array.from(values.entries()).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10);
      return { name, present, distinct: values.size, top };
    }).sort((a, b) => {
      const ia = builtinOrder.indexOf(a.name), ib = builtinOrder.indexOf(b.name);
      if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
      return b.present - a.present || a.name.localeCompare(b.name);
    }).slice(0, 100);
  }, [hits]);
  return (
    <aside class="sidebar" aria-label="Fields">
      <h2>Fields <span class="muted">in {num(hits.length)} lines</span></h2>
      {fields.map((f, i) => (
        <details open={i < 3} class="field" data-field={f.name}>
          <summary><span class="field-name">{f.name}</span> <span class="muted">{num(f.distinct)}{f.distinct > 10 ? '+' : ''}</span></summary>
          <ul>
            {f.top.map(([value, count]) => (
              <li>
                <button class="value-filter" title={`Add ${f.name}=${value} to the query`} onClick={() => onFilter(f.name, value, false)}>
                  <span class="bar" style={{ width: `${(100 * count) / Math.max(1, hits.length)}%` }} />
                  <span class="value">{value}</span>
                  <span class="value-count">{num(count)}</span>
                </button>
                <button class="icon" aria-label={`Exclude ${f.name}=${value}`} title={`Add NOT ${f.name}=${value}`} onClick={() => onFilter(f.name, value, true)}>−</button>
              </li>
            ))}
          </ul>
        </details>
      ))}
    </aside>
  );
}

function Highlighted({ text, needles }: { text: string; needles: Needle[] }) {
  const parts = highlight(text, needles);
  return <Fragment>{parts.map(([t, hit]) => (hit ? <mark>{t}</mark> : t))}</Fragment>;
}

export function LevelBadge({ level }: { level?: string }) {
  const l = level ?? '';
  return <span class={`level level-${l || 'none'}`} style={{ borderColor: LEVEL_COLORS[l] ?? LEVEL_COLORS[''] }}>{l || '—'}</span>;
}

function ResultList({ hits, needles, onFilter, onContext }: {
  hits: Hit[]; needles: Needle[]; onFilter: (f: string, v: string, neg: boolean) => void; onContext: (h: Hit) => void;
}) {
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [active, setActiveState] = useState(0);
  // The active row, also as a ref: keys repeat faster than the page re-renders, and each press
  // must move from where the previous one left, not from the last render.
  const activeRef = useRef(0);
  const setActive = (i: number) => { activeRef.current = i; setActiveState(i); };
  const [scrollTo, setScrollTo] = useState<{ index: number; seq: number } | null>(null);
  const listRef = useRef<HTMLDivElement>(null);

  const toggle = (id: string) => setExpanded((s) => {
    const n = new Set(s);
    if (n.has(id)) n.delete(id); else n.add(id);
    return n;
  });
  const move = (index: number) => {
    const i = Math.max(0, Math.min(hits.length - 1, index));
    setActive(i);
    setScrollTo({ index: i, seq: Date.now() });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (!(e.target as HTMLElement).classList.contains('vlist')) return;  // keys of buttons inside
    const page = 20;
    const active = activeRef.current;
    switch (e.key) {
      case 'ArrowDown': move(active + 1); break;
      case 'ArrowUp': move(active - 1); break;
      case 'PageDown': move(active + page); break;
      case 'PageUp': move(active - page); break;
      case 'Home': move(0); break;
      case 'End': move(hits.length - 1); break;
      case 'Enter': case ' ': toggle(hits[active].id); break;
      case 'c': onContext(hits[active]); break;
      default: return;
    }
    e.preventDefault();
  };

  const render = (i: number): ComponentChildren => {
    const h = hits[i];
    const open = expanded.has(h.id);
    return (
      <div class={`result${open ? ' open' : ''}`} role="option" aria-selected={i === active} aria-expanded={open} id={`row-${i}`}>
        <div class={`row-summary${i === active ? ' active' : ''}`} data-row={i}
          onClick={() => { setActive(i); toggle(h.id); listRef.current?.querySelector<HTMLElement>('.vlist')?.focus({ preventScroll: true }); }}>
          <span class="level-stripe" style={{ background: LEVEL_COLORS[h.level ?? ''] ?? LEVEL_COLORS[''] }} />
          <span class="time">{formatTs(h.ts).slice(0, 23)}</span>
          <LevelBadge level={h.level} />
          <span class="svc">{h.service ?? ''}</span>
          <span class="msg"><Highlighted text={h.message ?? ''} needles={needles} /></span>
        </div>
        {open && (
          <div class="details">
            <div class="detail-actions">
              <button onClick={() => onContext(h)}>Context (lines around this one)</button>
            </div>
            <table class="fields-table">
              <tbody>
                {hitFields(h).map(([k, v]) => (
                  <tr>
                    <th scope="row">{k}</th>
                    <td class="field-actions">
                      {k !== 'ts' && k !== 'ingest_ts' && k !== 'flags' && k !== 'message' && (
                        <Fragment>
                          <button class="icon" aria-label={`Filter ${k}=${v}`} title={`Add ${k}=${v}`} onClick={() => onFilter(k, v, false)}>+</button>
                          <button class="icon" aria-label={`Exclude ${k}=${v}`} title={`Add NOT ${k}=${v}`} onClick={() => onFilter(k, v, true)}>−</button>
                        </Fragment>
                      )}
                    </td>
                    <td class="field-value">{k === 'message' ? <Highlighted text={v} needles={needles} /> : v}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    );
  };

  return (
    <div ref={listRef} class="result-list-box">
      <VirtualList count={hits.length} rowHeight={24} version={expanded} render={render}
        label="Matching lines, newest first: Up and Down move, Enter expands, c opens the context"
        onKeyDown={onKeyDown} scrollTo={scrollTo} class="result-list" activeId={`row-${active}`} role="listbox" />
    </div>
  );
}

function ContextDialog({ hit, onClose }: { hit: Hit; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [before, setBefore] = useState(25);
  const [after, setAfter] = useState(25);
  const [data, setData] = useState<ContextAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const scrolled = useRef(false);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  useEffect(() => {
    const ac = new AbortController();
    getJson<ContextAnswer>('/api/v1/context', { id: hit.id, before: String(before), after: String(after) }, ac.signal)
      .then((d) => { setData(d); setError(null); })
      .catch((e) => { if (!isAbort(e)) setError((e as Error).message); });
    return () => ac.abort();
  }, [hit.id, before, after]);
  useEffect(() => {
    if (data && !scrolled.current) {
      scrolled.current = true;
      dialog.current?.querySelector('.ctx-hit')?.scrollIntoView({ block: 'center' });
    }
  }, [data]);
  const line = (h: Hit, isHit: boolean) => (
    <li class={isHit ? 'ctx-line ctx-hit' : 'ctx-line'} aria-current={isHit ? 'true' : undefined}>
      <span class="time">{formatTs(h.ts).slice(0, 23)}</span>
      <LevelBadge level={h.level} />
      <span class="msg">{h.message ?? ''}</span>
    </li>
  );
  return (
    <dialog ref={dialog} class="context-dialog" aria-label="Context" onClose={onClose} onCancel={onClose}>
      <header>
        <h2>Context: {hit.service ?? '(no service)'} on {hit.host ?? '(no host)'}</h2>
        <button class="icon" aria-label="Close" onClick={() => dialog.current?.close()}>×</button>
      </header>
      {error && <div class="error-text" role="alert">{error}</div>}
      {data?.partial && (
        <div class="partial" role="alert">
          <strong>Partial context:</strong> a node of the cluster did not answer; lines it holds may be missing.
          <ul>{(data.warnings ?? []).map((w) => <li>{w}</li>)}</ul>
        </div>
      )}
      <div class="ctx-body">
        <button class="load-more" disabled={before >= 1000 || (data !== null && data.before.length < before)}
          onClick={() => setBefore((b) => Math.min(1000, b + 50))}>
          {data !== null && data.before.length < before ? 'No earlier lines' : 'Load 50 earlier lines'}
        </button>
        {data && (
          <ol class="ctx-lines">
            {data.before.map((h) => line(h, false))}
            {line(data.hit, true)}
            {data.after.map((h) => line(h, false))}
          </ol>
        )}
        <button class="load-more" disabled={after >= 1000 || (data !== null && data.after.length < after)}
          onClick={() => setAfter((a) => Math.min(1000, a + 50))}>
          {data !== null && data.after.length < after ? 'No later lines' : 'Load 50 later lines'}
        </button>
      </div>
      <footer class="muted">{data ? `${data.before.length} before · ${data.after.length} after, same service and host, in the order received` : 'Loading…'}</footer>
    </dialog>
  );
}

function PipeView({ result, q }: { result: PipeResult; q: string }) {
  const { rows } = result;
  const columns = useMemo(() => {
    const cols: string[] = [];
    for (const r of rows.slice(0, 100)) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
    return cols;
  }, [rows]);
  const chart = useMemo(() => {
    if (!columns.includes('bucket')) return null;
    const valueCol = columns.find((c) => c !== 'bucket' && typeof rows[0]?.[c] === 'number') ?? 'count';
    const groupCols = columns.filter((c) => c !== 'bucket' && c !== valueCol);
    const xs = new Set<number>();
    const groups = new Map<string, Map<number, number>>();
    for (const r of rows) {
      const t = Date.parse(String(r.bucket)) / 1000;
      xs.add(t);
      const g = groupCols.map((c) => String(r[c] ?? '')).join(', ') || valueCol;
      if (!groups.has(g)) groups.set(g, new Map());
      groups.get(g)!.set(t, Number(r[valueCol] ?? 0));
    }
    const x = Array.from(xs).sort((a, b) => a - b);
    const series: Series[] = Array.from(groups.entries()).slice(0, 20).map(([label, m], i) => ({
      label: label || '(none)', color: groupCols.length === 1 && groupCols[0] === 'level' ? (LEVEL_COLORS[label] ?? paletteColor(i)) : paletteColor(i),
      values: x.map((t) => m.get(t) ?? 0),
    }));
    const step = x.length > 1 ? x[1] - x[0] : 60;
    return { x, series, range: [x[0] ?? 0, (x[x.length - 1] ?? 0) + step] as [number, number], step };
  }, [rows, columns]);
  return (
    <section class="pipe-view" aria-label="Pipe result">
      {chart && chart.x.length > 0 && (
        <TimeChart x={chart.x} bucketSec={chart.step} series={chart.series} stacked={false} bars={chart.series.length === 1}
          range={chart.range} height={240} label={`Chart of ${q}`} />
      )}
      <div class="table-box">
        <table class="pipe-table">
          <thead><tr>{columns.map((c) => <th scope="col">{c}</th>)}</tr></thead>
          <tbody>
            {rows.slice(0, 5000).map((r) => (
              <tr>{columns.map((c) => <td class={typeof r[c] === 'number' ? 'num' : ''}>{typeof r[c] === 'number' ? num(r[c] as number) : String(r[c] ?? '')}</td>)}</tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 && <div class="empty">No rows.</div>}
        {rows.length > 5000 && <div class="muted">Showing 5,000 of {num(rows.length)} rows.</div>}
      </div>
    </section>
  );
}
