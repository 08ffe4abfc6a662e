// A virtualised list: only the rows in view (plus a margin) are in the DOM, so 10,000 results
// scroll smoothly. Rows have a base height; taller rows (an expanded result) are measured after
// they render and the offsets follow.
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  // Changes whenever rows may change height (expansion) or identity (a new result set).
  version: unknown;
  render: (index: number) => ComponentChildren;
  class?: string;
  label: string;
  onKeyDown?: (e: KeyboardEvent) => void;
  scrollTo?: { index: number; seq: number } | null;
  stickToBottom?: boolean;
  overscan?: number;
  // A keyboard-driven list: the list itself takes the focus (rows come and go as it scrolls, so
  // they cannot hold it) and names the active row with aria-activedescendant.
  activeId?: string;
  role?: string;
}

export function VirtualList(props: VirtualListProps) {
  const { count, rowHeight } = props;
  const outer = useRef<HTMLDivElement>(null);
  const inner = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<number, number>());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [measured, setMeasured] = useState(0);

  // Offsets: prefix sums of the heights (base height unless measured otherwise).
  const offsets = useMemo(() => {
    const o = new Float64Array(count + 1);
    for (let i = 0; i < count; i++) o[i + 1] = o[i] + (heights.current.get(i) ?? rowHeight);
    return o;
  }, [count, rowHeight, measured, props.version]);
  const total = offsets[count];

  const overscan = props.overscan ?? 8;
  let start = 0;
  let lo = 0, hi = count;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (offsets[mid + 1] <= scrollTop) lo = mid + 1; else hi = mid; }
  start = Math.max(0, lo - overscan);
  let end = lo;
  while (end < count && offsets[end] < scrollTop + viewport) end++;
  end = Math.min(count, end + overscan);

  useLayoutEffect(() => {
    const el = outer.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight || 600));
    ro.observe(el);
    setViewport(el.clientHeight || 600);
    return () => ro.disconnect();
  }, []);

  // A new result set: forget measured heights and go to the top.
  useLayoutEffect(() => {
    heights.current.clear();
    if (outer.current && !props.stickToBottom) { outer.current.scrollTop = 0; setScrollTop(0); }
    setMeasured((m) => m + 1);
  }, [props.version]);

  // Measure the rendered rows; a change re-renders with the new offsets.
  useLayoutEffect(() => {
    const box = inner.current;
    if (!box) return;
    let changed = false;
    for (const child of Array.from(box.children) as HTMLElement[]) {
      const i = Number(child.dataset.index);
      const h = child.offsetHeight;
      if (Number.isNaN(i) || h === 0) continue;
      const old = heights.current.get(i) ?? rowHeight;
      if (Math.abs(old - h) > 0.5) {
        if (Math.abs(h - rowHeight) < 0.5) heights.current.delete(i); else heights.current.set(i, h);
        changed = true;
      }
    }
    if (changed) setMeasured((m) => m + 1);
  });

  // Keep a row in view (keyboard navigation).
  useLayoutEffect(() => {
    const el = outer.current;
    const target = props.scrollTo;
    if (!el || !target || target.index >= count) return;
    const top = offsets[target.index];
    const bottom = offsets[target.index + 1];
    if (top < el.scrollTop) el.scrollTop = top;
    else if (bottom > el.scrollTop + el.clientHeight) el.scrollTop = bottom - el.clientHeight;
    setScrollTop(el.scrollTop);
  }, [props.scrollTo]);

  // Live tail: stay at the bottom while the user is there.
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = outer.current;
    if (el && props.stickToBottom && atBottom.current) {
      el.scrollTop = el.scrollHeight;
      setScrollTop(el.scrollTop);
    }
  }, [count, props.stickToBottom]);

  const rows: ComponentChildren[] = [];
  for (let i = start; i < end; i++) {
    rows.push(<div key={i} data-index={i} class="vrow">{props.render(i)}</div>);
  }
  return (
    <div
      ref={outer}
      class={'vlist ' + (props.class ?? '')}
      aria-label={props.label}
      role={(props.role ?? 'list') as 'list' | 'listbox'}
      tabIndex={props.activeId !== undefined ? 0 : undefined}
      aria-activedescendant={props.activeId}
      onScroll={(e) => {
        const el = e.currentTarget as HTMLDivElement;
        atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
        setScrollTop(el.scrollTop);
      }}
      onKeyDown={props.onKeyDown}
    >
      <div style={{ height: `${total}px`, position: 'relative' }}>
        <div ref={inner} style={{ position: 'absolute', top: `${offsets[start]}px`, left: 0, right: 0 }}>
          {rows}
        </div>
      </div>
    </div>
  );
}
