// The query box: CodeMirror 6 with the query language's highlighting, completion of field names
// (built-in and seen in results) and of values (the top values from the server), the server's
// positioned error marked in the text, a history (Up/Down), and Enter or Ctrl/Cmd+Enter to run.
import { useEffect, useRef } from 'preact/hooks';
import { EditorState, Prec } from '@codemirror/state';
import { EditorView, keymap, placeholder as placeholderExt } from '@codemirror/view';
import { HighlightStyle, StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import type { StringStream } from '@codemirror/language';
import { tags } from '@lezer/highlight';
import { acceptCompletion, autocompletion, completionStatus, startCompletion } from '@codemirror/autocomplete';
import type { Completion, CompletionContext, CompletionResult } from '@codemirror/autocomplete';
import { defaultKeymap, history as undoHistory, historyKeymap } from '@codemirror/commands';
import { setDiagnostics } from '@codemirror/lint';
import { lintGutter } from '@codemirror/lint';
import { BUILTIN_FIELDS } from './query';

interface LexState { inPipe: boolean; afterOp: boolean }

const PIPE_WORDS = ['count', 'by', 'top', 'uniq', 'fields', 'head', 'limit', 'sort', 'asc', 'desc', 'bucket'];
const OP = /^(!=|<=|>=|=|<|>|~|:)/;

export const queryLanguage = StreamLanguage.define<LexState>({
  name: 'sawmill',
  startState: () => ({ inPipe: false, afterOp: false }),
  token(stream: StringStream, state: LexState): string | null {
    if (stream.eatSpace()) return null;
    const afterOp = state.afterOp;
    state.afterOp = false;
    if (stream.match(/^"(?:[^"\\]|\\.)*"?/)) return 'string';
    if (stream.eat('|')) { state.inPipe = true; return 'separator'; }
    if (stream.match(OP)) { state.afterOp = true; return 'operator'; }
    if (stream.eat('(') || stream.eat(')') || stream.eat(',')) return 'paren';
    if (afterOp) {
      stream.match(/^[^\s()|]+/);
      return 'string';
    }
    if (stream.match(/^(AND|OR|NOT)(?![^\s()|])/)) return 'keyword';
    if (state.inPipe) {
      const word = stream.match(/^[^\s(),|]+/) as RegExpMatchArray | null;
      if (word && PIPE_WORDS.includes(word[0])) return 'keyword';
      if (word && /^\d+(ms|s|m|h|d|w)?$/.test(word[0])) return 'number';
      return word ? 'propertyName' : (stream.next(), null);
    }
    if (stream.match(/^[A-Za-z_@][\w.@-]*(?=\s*(!=|<=|>=|=|<|>|~|:))/)) return 'propertyName';
    if (stream.match(/^\*(?![^\s()|])/)) return 'keyword';
    stream.match(/^[^\s()|"]+/) || stream.next();
    return 'content';
  },
});

const highlightStyle = HighlightStyle.define([
  { tag: tags.keyword, class: 'tok-keyword' },
  { tag: tags.propertyName, class: 'tok-field' },
  { tag: tags.operator, class: 'tok-op' },
  { tag: tags.string, class: 'tok-value' },
  { tag: tags.number, class: 'tok-number' },
  { tag: tags.separator, class: 'tok-pipe' },
]);

const HISTORY_KEY = 'sawmill.history';

export function loadHistory(): string[] {
  try {
    const h = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]');
    return Array.isArray(h) ? h.filter((x) => typeof x === 'string') : [];
  } catch { return []; }
}

export function remember(q: string): void {
  if (!q.trim()) return;
  const h = [q, ...loadHistory().filter((x) => x !== q)].slice(0, 50);
  try { localStorage.setItem(HISTORY_KEY, JSON.stringify(h)); } catch { /* private mode */ }
}

export interface EditorProps {
  // The text to show, set from outside (URL, a filter added, history); "revision" changes with
  // every such setting. The editor's own edits go to onChange and never come back through here
  // (echoing them would race with typing that CodeMirror has not applied yet).
  value: string;
  revision: number;
  onChange: (q: string) => void;
  onRun: (q: string) => void;
  // Completion sources: field names seen in results, and a field's top values from the server.
  fields: () => string[];
  values: (field: string) => Promise<Array<{ value: string; count: number }>>;
  error?: { message: string; from: number } | null;
  label: string;
  id?: string;
  placeholder?: string;
  pipes?: boolean;
}

export function QueryEditor(props: EditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    let historyIndex = -1;
    let draft = '';
    const setText = (v: EditorView, text: string) => {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: text }, selection: { anchor: text.length } });
    };
    const run = (v: EditorView) => {
      historyIndex = -1;
      latest.current.onRun(v.state.doc.toString());
      return true;
    };
    const walkHistory = (v: EditorView, step: number) => {
      if (completionStatus(v.state) !== null) return false;
      const h = loadHistory();
      if (historyIndex === -1) draft = v.state.doc.toString();
      const next = Math.max(-1, Math.min(h.length - 1, historyIndex + step));
      if (next === historyIndex) return true;
      historyIndex = next;
      setText(v, next === -1 ? draft : h[next]);
      return true;
    };

    const complete = async (ctx: CompletionContext): Promise<CompletionResult | null> => {
      const before = ctx.state.sliceDoc(0, ctx.pos);
      // A value: `field=par|` or `field = "par|`.
      const value = /([A-Za-z_@][\w.@-]*)\s*(=|!=|:)\s*("?)([^\s()|"]*)$/.exec(before);
      if (value) {
        const field = value[1];
        const from = ctx.pos - value[4].length - value[3].length;
        let top: Array<{ value: string; count: number }> = [];
        try { top = await latest.current.values(field); } catch { return null; }
        if (ctx.aborted) return null;
        return {
          from,
          options: top.map((t): Completion => ({
            label: /^[A-Za-z0-9_\-.:/@]+$/.test(t.value) ? t.value : JSON.stringify(t.value),
            detail: t.count.toLocaleString(),
            type: 'text',
          })),
          validFor: /^"?[^\s()|"]*$/,
        };
      }
      const word = ctx.matchBefore(/[A-Za-z_@][\w.@-]*$/);
      if (!word && !ctx.explicit) return null;
      const from = word ? word.from : ctx.pos;
      const inPipe = before.includes('|') && latest.current.pipes !== false;
      if (inPipe && /\|\s*[a-z]*$/.test(before)) {
        return {
          from,
          options: ['count', 'count by ', 'top 10 ', 'uniq ', 'fields ', 'head ', 'sort by count desc'].map((label) => ({ label, type: 'keyword' })),
        };
      }
      const fields = Array.from(new Set([...BUILTIN_FIELDS, ...latest.current.fields()]));
      return {
        from,
        options: [
          ...fields.map((f): Completion => ({
            label: f,
            type: 'property',
            boost: BUILTIN_FIELDS.includes(f) ? 1 : 0,
            // A field in a filter becomes "field=" and the field's values are offered next.
            apply: inPipe ? f : (view, _c, from, to) => {
              view.dispatch({ changes: { from, to, insert: f + '=' }, selection: { anchor: from + f.length + 1 } });
              setTimeout(() => startCompletion(view), 0);
            },
          })),
          ...(inPipe ? [] : ['AND', 'OR', 'NOT'].map((k): Completion => ({ label: k, type: 'keyword', boost: -1 }))),
        ],
        validFor: /^[\w.@-]*$/,
      };
    };

    const v = new EditorView({
      parent: host.current as HTMLDivElement,
      state: EditorState.create({
        doc: latest.current.value,
        extensions: [
          Prec.highest(keymap.of([
            { key: 'Mod-Enter', run },
            // Enter accepts the selected completion when the list is open, else runs the query;
            // it never inserts a line break (one-line query).
            { key: 'Enter', run: (view) => (completionStatus(view.state) === 'active' ? (acceptCompletion(view), true) : run(view)) },
          ])),
          autocompletion({ override: [complete], activateOnTyping: true, maxRenderedOptions: 50, interactionDelay: 0 }),
          Prec.high(keymap.of([
            { key: 'ArrowUp', run: (view) => walkHistory(view, 1) },
            { key: 'ArrowDown', run: (view) => walkHistory(view, -1) },
            { key: 'Ctrl-Space', run: startCompletion },
          ])),
          undoHistory(),
          keymap.of([...defaultKeymap, ...historyKeymap]),
          queryLanguage,
          syntaxHighlighting(highlightStyle),
          lintGutter({}),
          EditorView.lineWrapping,
          placeholderExt(latest.current.placeholder ?? ''),
          // One logical line: pasted newlines become spaces.
          EditorState.transactionFilter.of((tr) => {
            if (!tr.docChanged || !tr.newDoc.toString().includes('\n')) return tr;
            const changes: Array<{ from: number; to: number; insert: string }> = [];
            tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
              changes.push({ from: fromA, to: toA, insert: inserted.toString().replace(/\r?\n/g, ' ') });
            });
            return [{ changes, selection: tr.selection, scrollIntoView: tr.scrollIntoView }];
          }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) latest.current.onChange(u.state.doc.toString());
          }),
          EditorView.contentAttributes.of({ 'aria-label': latest.current.label, ...(latest.current.id ? { id: latest.current.id } : {}) }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
  }, []);

  // The value set from outside (URL, sidebar filter, history).
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== props.value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value }, selection: { anchor: props.value.length } });
    }
  }, [props.revision]);

  // The server's error, marked at its position.
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const e = props.error;
    const len = v.state.doc.length;
    const diagnostics = e ? [{
      from: Math.min(e.from, len),
      to: Math.min(len, Math.max(e.from + 1, Math.min(e.from, len))),
      severity: 'error' as const,
      message: e.message,
    }] : [];
    v.dispatch(setDiagnostics(v.state, diagnostics));
  }, [props.error]);

  return <div class="query-editor" ref={host} />;
}
