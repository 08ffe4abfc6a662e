// Small pieces of the query language (docs/query-language.md) the UI needs without asking the
// server: where the pipes start, the words to highlight, and writing `field=value` filters.

export const LEVELS = ['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE'] as const;
export const BUILTIN_FIELDS = ['service', 'host', 'level', 'message', 'trace_id', 'span_id',
  'user_id', 'ts', 'ingest_ts', 'id'];
export const OPERATORS = ['=', '!=', '<', '<=', '>', '>=', '~', ':'];

// Splits at the first top-level "|" (outside quoted strings): the filter and the pipes.
export function splitPipes(q: string): { filter: string; pipes: string } {
  let quoted = false;
  for (let i = 0; i < q.length; i++) {
    const c = q[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === '|') {
      return { filter: q.slice(0, i).trim(), pipes: q.slice(i + 1).trim() };
    }
  }
  return { filter: q.trim(), pipes: '' };
}

// A value as the lexer reads it: bare when it is a plain run of safe characters, else quoted.
export function quoteValue(value: string): string {
  if (/^[A-Za-z0-9_\-.:/@]+$/.test(value)) return value;
  return '"' + value.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

// Adds `field=value` (or `NOT field=value`) to the filter part of "q", keeping its pipes.
// An OR in the existing filter is parenthesised so that the new term applies to all of it.
export function addFilter(q: string, field: string, value: string, negate: boolean): string {
  const { filter, pipes } = splitPipes(q);
  const term = `${negate ? 'NOT ' : ''}${field}=${quoteValue(value)}`;
  let base = filter === '*' ? '' : filter;
  if (/\bOR\b/.test(base)) base = `(${base})`;
  const next = base ? `${base} ${term}` : term;
  return pipes ? `${next} | ${pipes}` : next;
}

export interface Needle {
  word: string;    // lower case
  prefix: boolean; // "time*"
}

// The words and phrase words of the filter that search the message, for highlighting: bare
// words not followed by an operator, not keywords, and the words of quoted phrases.
export function messageNeedles(q: string): Needle[] {
  const { filter } = splitPipes(q);
  const tokens = filter.match(/"(?:[^"\\]|\\.)*"?|!=|<=|>=|[=<>~:]|[()]|[^\s()"=<>~:!]+|!/g) ?? [];
  const isOp = (t: string | undefined) => t !== undefined && /^(=|!=|<=|>=|<|>|~|:)$/.test(t);
  const needles: Needle[] = [];
  const words = (text: string) => text.split(/[^A-Za-z0-9\u0080-\uffff]+/).filter(Boolean);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (isOp(tokens[i + 1])) { i += 2; continue; }  // field op value
    if (isOp(t) || t === '(' || t === ')' || t === '!') continue;
    if (t.startsWith('"')) {
      const body = t.slice(1, t.endsWith('"') && t.length > 1 ? -1 : undefined).replace(/\\(.)/g, '$1');
      for (const w of words(body)) needles.push({ word: w.toLowerCase(), prefix: false });
      continue;
    }
    if (t === 'AND' || t === 'OR' || t === 'NOT' || t === '*') continue;
    const prefix = t.endsWith('*');
    const ws = words(prefix ? t.slice(0, -1) : t);
    ws.forEach((w, j) => needles.push({ word: w.toLowerCase(), prefix: prefix && j === ws.length - 1 }));
  }
  return needles;
}

// Splits "text" into runs, marking the words a needle matches (whole words, case-insensitive,
// the tokenizer of the server: letters, digits and non-ASCII).
export function highlight(text: string, needles: Needle[]): Array<[string, boolean]> {
  if (needles.length === 0) return [[text, false]];
  const out: Array<[string, boolean]> = [];
  const re = /[A-Za-z0-9\u0080-\uffff]+/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const w = m[0].toLowerCase();
    if (needles.some((n) => (n.prefix ? w.startsWith(n.word) : w === n.word))) {
      if (m.index > last) out.push([text.slice(last, m.index), false]);
      out.push([m[0], true]);
      last = m.index + m[0].length;
    }
  }
  if (last < text.length) out.push([text.slice(last), false]);
  return out;
}
