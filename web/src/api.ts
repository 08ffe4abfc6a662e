// The server's HTTP API (docs/api.md) as the UI uses it. Every call takes an AbortSignal: a new
// query aborts the previous one, so no request is left running for an answer nobody will see.

export interface Hit {
  id: string;
  ts: string;
  ingest_ts: string;
  service?: string;
  host?: string;
  level?: string;
  message?: string;
  trace_id?: string;
  span_id?: string;
  user_id?: string;
  fields?: Record<string, string>;
  flags?: string[];
}

export interface Stats {
  segments_total?: number;
  segments_after_time?: number;
  segments_after_index?: number;
  segments_after_bloom?: number;
  segments_pruned_by_index?: number;
  blocks_total?: number;
  blocks_read?: number;
  bytes_read_compressed?: number;
  bytes_read_raw?: number;
  rows_scanned?: number;
  rows_matched?: number;
  memtable_rows_scanned?: number;
  elapsed_ms?: number;
  cache_hit?: boolean;
}

export type Row = Record<string, string | number>;

export interface SearchAnswer {
  hits?: Hit[];
  rows?: Row[];
  stats?: Stats;
  partial?: boolean;
  warnings?: string[];
}

export interface ContextAnswer {
  before: Hit[];
  hit: Hit;
  after: Hit[];
  // A cluster node's context when a node did not answer (docs/cluster.md "Context across nodes").
  partial?: boolean;
  warnings?: string[];
}

// An error answer of the server: its text, and for query syntax errors the byte offset.
export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly position?: number) {
    super(message);
  }
}

// An API token (docs/security.md): once a server has tokens every API call needs
// `Authorization: Bearer <token>`. The UI keeps the token the user pasted in sessionStorage (this
// tab only, gone when it closes) and sends it with every call; a 401 asks for one.
const TOKEN_KEY = 'sawmill.token';

export function authHeaders(): Record<string, string> {
  let token: string | null = null;
  try { token = sessionStorage.getItem(TOKEN_KEY); } catch { /* storage disabled */ }
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled */ }
}

export function hasToken(): boolean {
  return 'Authorization' in authHeaders();
}

// Tells the page that the server wants a (valid) token: the top bar then asks for one.
export function reportUnauthorized(message: string): void {
  dispatchEvent(new CustomEvent('sawmill-unauthorized', { detail: message }));
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

// Requests started before the page is drawn (search.tsx prefetchSearch): getJson takes one over
// when it is asked for the same URL; dropPrefetched aborts those nobody took.
const prefetched = new Map<string, { response: Promise<Response>; ac: AbortController }>();

function urlOf(path: string, params: Record<string, string>): string {
  const query = new URLSearchParams(params).toString();
  return query ? `${path}?${query}` : path;
}

export function prefetchJson(path: string, params: Record<string, string>): void {
  const url = urlOf(path, params);
  if (prefetched.has(url)) return;
  const ac = new AbortController();
  const response = fetch(url, { signal: ac.signal, headers: { Accept: 'application/json', ...authHeaders() } });
  response.catch(() => { /* reported by the getJson that takes it over, if any */ });
  prefetched.set(url, { response, ac });
}

export function dropPrefetched(): void {
  for (const { ac } of prefetched.values()) ac.abort();
  prefetched.clear();
}

export async function getJson<T>(path: string, params: Record<string, string>,
                                 signal?: AbortSignal): Promise<T> {
  const url = urlOf(path, params);
  const early = prefetched.get(url);
  prefetched.delete(url);
  if (early && signal) {
    if (signal.aborted) early.ac.abort();
    signal.addEventListener('abort', () => early.ac.abort());
  }
  let response: Response;
  try {
    response = await (early ? early.response : fetch(url, { signal, headers: { Accept: 'application/json', ...authHeaders() } }));
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(`cannot reach the server: ${(e as Error).message}`, 0);
  }
  const text = await response.text();
  let body: unknown = undefined;
  try { body = JSON.parse(text); } catch { /* not JSON: shown as text below */ }
  if (!response.ok) {
    const b = body as { error?: string; position?: number } | undefined;
    const message = b?.error ?? (text.trim() || `HTTP ${response.status} ${response.statusText}`);
    if (response.status === 401) reportUnauthorized(message);
    throw new ApiError(message, response.status, b?.position);
  }
  if (body === undefined) throw new ApiError(`the server answered something that is not JSON: ${text.slice(0, 200)}`, response.status);
  return body as T;
}

// A POST or DELETE (holds, retention, tokens): parameters in the query string as the server
// reads them; the answer's JSON, or an ApiError with the server's text (401 asks for a token).
export async function sendJson<T>(method: 'POST' | 'DELETE', path: string,
                                  params: Record<string, string> = {}): Promise<T> {
  const query = new URLSearchParams(params).toString();
  let response: Response;
  try {
    response = await fetch(query ? `${path}?${query}` : path, { method, headers: { Accept: 'application/json', ...authHeaders() } });
  } catch (e) {
    throw new ApiError(`cannot reach the server: ${(e as Error).message}`, 0);
  }
  const text = await response.text();
  let body: any;
  try { body = JSON.parse(text); } catch { body = undefined; }
  if (!response.ok) {
    const message = body?.error ?? (text.trim() || `HTTP ${response.status} ${response.statusText}`);
    if (response.status === 401) reportUnauthorized(message);
    throw new ApiError(message, response.status, body?.position);
  }
  if (body === undefined) throw new ApiError(`the server answered something that is not JSON: ${text.slice(0, 200)}`, response.status);
  return body as T;
}

export async function getText(path: string, signal?: AbortSignal): Promise<string> {
  const response = await fetch(path, { signal, headers: authHeaders() });
  const text = await response.text();
  if (response.status === 401) reportUnauthorized(text);
  if (!response.ok) throw new ApiError(text || `HTTP ${response.status}`, response.status);
  return text;
}

// The byte offset of the server's `position` as a character offset into "q" (the server counts
// UTF-8 bytes, the editor UTF-16 code units).
export function byteToCharOffset(q: string, byteOffset: number): number {
  const encoder = new TextEncoder();
  let bytes = 0;
  let i = 0;
  for (const ch of q) {
    if (bytes >= byteOffset) break;
    bytes += encoder.encode(ch).length;
    i += ch.length;
  }
  return Math.min(i, q.length);
}
