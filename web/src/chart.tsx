// Time charts with uPlot: the histogram of the search page (bars stacked by level; drag to zoom,
// click a bar to zoom into its bucket) and the chart of a `count by bucket(...)` pipe.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatTime } from './time';

export interface Series {
  label: string;
  color: string;
  values: number[];
}

export interface TimeChartProps {
  x: number[];          // bucket starts, epoch seconds
  bucketSec: number;
  series: Series[];     // bottom to top when stacked
  stacked: boolean;
  bars: boolean;
  range: [number, number];  // x scale, epoch seconds
  height: number;
  label: string;
  onZoom?: (fromMs: number, toMs: number) => void;
}

const UTC = (ts: number) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');

export function TimeChart(props: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const { x, series, stacked, bars } = props;
    // Stacked: each drawn series is the running total up to it, drawn from the top of the stack
    // down so that each level's bar shows between its neighbours' totals.
    const drawn = series.map((s) => s.values.slice());
    if (stacked) {
      for (let k = 1; k < drawn.length; k++) {
        for (let i = 0; i < x.length; i++) drawn[k][i] += drawn[k - 1][i];
      }
    }
    const order = stacked ? series.map((_, k) => series.length - 1 - k) : series.map((_, k) => k);
    const css = getComputedStyle(document.documentElement);
    const axisColor = css.getPropertyValue('--muted').trim() || '#888';
    const gridColor = css.getPropertyValue('--grid').trim() || 'rgba(128,128,128,0.15)';
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height,
      tzDate: UTC,
      legend: { show: true, live: true },
      cursor: { drag: { x: !!props.onZoom, y: false, setScale: false }, points: { show: false } },
      scales: { x: { time: true, range: () => props.range }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.05] } },
      axes: [
        { stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor } },
        { stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor }, size: 50,
          values: (_u, vals) => vals.map((v) => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : String(v))) },
      ],
      series: [
        { label: 'time (UTC)', value: (_u, v) => (v == null ? '' : formatTime(v * 1000, false)) },
        ...order.map((k) => ({
          label: series[k].label,
          stroke: series[k].color,
          fill: bars ? series[k].color : undefined,
          width: bars ? 0 : 2,
          paths: bars ? uPlot.paths.bars!({ size: [0.9, 64], align: 1 }) : undefined,
          points: { show: false },
          // The legend shows the level's own count, not the running total.
          value: (_u: uPlot, _v: number, _si: number, idx: number | null) =>
            idx == null ? '' : String(series[k].values[idx] ?? 0),
        })),
      ],
      hooks: {
        setSelect: [(u: uPlot) => {
          if (u.select.width > 3 && latest.current.onZoom) {
            const a = u.posToVal(u.select.left, 'x');
            const b = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            latest.current.onZoom(Math.floor(a * 1000), Math.ceil(b * 1000));
          }
        }],
      },
    };
    const data: uPlot.AlignedData = [x, ...order.map((k) => drawn[k])];
    const plot = new uPlot(opts, data, el);
    // A click (not a drag) on a bar zooms into its bucket.
    let downX = 0;
    const over = plot.over;
    const onDown = (e: MouseEvent) => { downX = e.clientX; };
    const onClick = (e: MouseEvent) => {
      const idx = plot.cursor.idx;
      if (Math.abs(e.clientX - downX) > 3 || idx == null || !latest.current.onZoom) return;
      const from = x[idx] * 1000;
      latest.current.onZoom(from, from + latest.current.bucketSec * 1000);
    };
    over.addEventListener('mousedown', onDown);
    over.addEventListener('click', onClick);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: latest.current.height }));
    ro.observe(el);
    return () => { ro.disconnect(); plot.destroy(); };
  }, [props.x, props.series, props.range[0], props.range[1], props.height]);

  return <div class="chart" ref={box} role="img" aria-label={props.label} />;
}

export const LEVEL_COLORS: Record<string, string> = {
  FATAL: '#b3125f',
  ERROR: '#e5484d',
  WARN: '#f0a020',
  INFO: '#3e8ed0',
  DEBUG: '#8b8d98',
  TRACE: '#b8bac4',
  '': '#6fbf8f',
};

const PALETTE = ['#3e8ed0', '#e5484d', '#f0a020', '#46a758', '#8e4ec6', '#12a594', '#d6409f', '#978365', '#0090ff', '#e54d2e'];
export const paletteColor = (i: number) => PALETTE[i % PALETTE.length];
