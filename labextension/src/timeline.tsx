/**
 * A run's timeline in the panel: the bars `GET /flyte/api/runs/NAME/timeline` lays out (the same
 * numbers as the notebook widget's timeline tab and `flyte-jupyter runs timeline`), drawn as SVG.
 * One row per action from queued to end, cut into queued, starting and running segments per
 * attempt (so retries show apart), coloured by how each attempt ended with the theme's colours; a
 * RECOVERED action is a diamond (it did not run). Rows on the critical path are outlined and their
 * labels bold. A folded group (a big `flyte.map` past the row limit) is one row with its count; a
 * click unfolds it. Every segment's hover title says the action, attempt, times, CPU and memory.
 */
import * as React from 'react';

import { FlyteClient, ITimeline, ITimelineBar, ITimelineSegment } from './api';
import { formatDuration, formatStart } from './format';

const ROW = 20;
const BAR = 12;
const AXIS = 18;
const LIVE_MS = 2000;

/** `34.5 MiB`. */
export function memoryText(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) {
    return '';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** The hover title of one segment: action, attempt, what it was doing, when, and what it cost. */
export function segmentTitle(
  bar: ITimelineBar,
  seg: ITimelineSegment,
  origin: number
): string {
  const who =
    bar.count > 1
      ? `${bar.label}: ${bar.count} actions`
      : `${bar.label} (${bar.key})`;
  if (seg.kind === 'recovered') {
    return `${who}: RECOVERED from ${bar.recovered_from ?? 'an earlier run'} (it did not run)`;
  }
  const usage = bar.usage[String(seg.attempt)];
  const cost = usage
    ? [
        usage.cpu_seconds !== null && usage.cpu_seconds !== undefined
          ? `CPU ${formatDuration(usage.cpu_seconds) || '0s'}`
          : '',
        usage.peak_memory_bytes
          ? `peak memory ${memoryText(usage.peak_memory_bytes)}`
          : ''
      ]
        .filter(Boolean)
        .join(', ')
    : '';
  return (
    `${who}\nattempt ${seg.attempt} ${seg.kind} (${seg.phase.replace('_', ' ')})\n` +
    `${formatStart(origin + seg.start)} → ${formatStart(origin + seg.end)} ` +
    `(${formatDuration(seg.end - seg.start) || '0s'})` +
    (cost ? `\n${cost}` : '')
  );
}

/** Round times along the axis from `lo` to `hi` seconds, about one per 70 pixels of track. */
function ticks(lo: number, hi: number, track: number): number[] {
  const span = hi - lo;
  if (span <= 0) {
    return [lo];
  }
  const raw = span / Math.max(2, Math.min(6, Math.floor(track / 70)));
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * pow).find(s => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9; t += step) {
    out.push(t);
  }
  return out;
}

/** The narrowest window the zoom goes to, in seconds. */
const MIN_WINDOW = 0.01;

/**
 * The time window `[lo, hi]` (seconds from the run's start) narrowed or widened by `factor`
 * around `center`, kept inside the run; null when it covers the whole run.
 */
export function zoomWindow(
  current: [number, number] | null,
  full: number,
  center: number,
  factor: number
): [number, number] | null {
  const [lo, hi] = current ?? [0, full];
  const width = Math.max((hi - lo) / factor, MIN_WINDOW);
  if (width >= full) {
    return null;
  }
  const share = hi > lo ? (center - lo) / (hi - lo) : 0.5;
  let a = center - width * Math.min(Math.max(share, 0), 1);
  a = Math.min(Math.max(a, 0), full - width);
  return [a, a + width];
}

/** Rows of one unfolded `flyte.map` / `flyte.group` next to each other: [group, first, count]. */
export function groupRuns(bars: ITimelineBar[]): [string, number, number][] {
  const out: [string, number, number][] = [];
  bars.forEach((bar, i) => {
    const last = out[out.length - 1];
    if (
      bar.group &&
      bar.count === 1 &&
      last &&
      last[0] === bar.group &&
      last[1] + last[2] === i
    ) {
      last[2]++;
    } else if (bar.group && bar.count === 1) {
      out.push([bar.group, i, 1]);
    }
  });
  return out.filter(r => r[2] > 1);
}

function useWidth(ref: React.RefObject<HTMLDivElement>): number {
  const [width, setWidth] = React.useState(320);
  React.useEffect(() => {
    const el = ref.current;
    if (!el) {
      return;
    }
    const measure = () => setWidth(Math.max(160, el.clientWidth));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

/** A folded bar's key is `group:KEY`; the endpoint's `expand` takes KEY. */
export function groupOf(barKey: string): string {
  return barKey.startsWith('group:') ? barKey.slice('group:'.length) : barKey;
}

/** SVG text does not ellipsize: cut a label to about what fits in `width` pixels. */
function fit(text: string, width: number): string {
  const chars = Math.max(3, Math.floor(width / 6.5));
  return text.length <= chars ? text : text.slice(0, chars - 1) + '…';
}

function BarRow(props: {
  bar: ITimelineBar;
  /** The row's label: the action's short label (`part(i=2)`) when the panel has it. */
  label: string;
  y: number;
  x0: number;
  scale: number;
  origin: number;
  selected: boolean;
  onClick: () => void;
}): JSX.Element {
  const { bar, y, x0, scale } = props;
  const folded = bar.count > 1;
  const mid = y + ROW / 2;
  const indent = 8 + Math.min(bar.depth, 6) * 8;
  const room = x0 - indent - 6;
  // a folded row keeps its count whole (`▸ map:trial ×20`), its name gives way
  const count = ` ×${bar.count}`;
  const text = folded
    ? `▸ ${fit(bar.label.endsWith(count) ? bar.label.slice(0, -count.length) : bar.label, room - (count.length + 2) * 6.5)}${count}`
    : fit(props.label, room);
  return (
    <g
      className={
        'jp-FlyteTimeline-bar' +
        (bar.critical ? ' jp-mod-critical' : '') +
        (props.selected ? ' jp-mod-selected' : '') +
        (folded ? ' jp-mod-folded' : '')
      }
      data-key={bar.key}
      data-phase={bar.phase}
      data-critical={bar.critical ? 'true' : 'false'}
      onClick={props.onClick}
    >
      <rect
        className="jp-FlyteTimeline-hit"
        x={0}
        y={y}
        width={x0 + scale * Math.max(bar.end, 0) + 8}
        height={ROW}
      />
      <text className="jp-FlyteTimeline-label" x={indent} y={mid + 4}>
        <title>{`${props.label} (${
          folded
            ? `${bar.count} actions, ${Object.entries(bar.phases)
                .map(([p, n]) => `${n} ${p}`)
                .join(', ')}; click to unfold`
            : bar.key
        })`}</title>
        {text}
      </text>
      {bar.segments.map((seg, i) => {
        const title = segmentTitle(bar, seg, props.origin);
        if (seg.kind === 'recovered') {
          const cx = x0 + scale * seg.start;
          const r = BAR / 2;
          return (
            <path
              key={i}
              className="jp-FlyteTimeline-seg"
              data-kind={seg.kind}
              data-phase={seg.phase}
              d={`M${cx} ${mid - r}L${cx + r} ${mid}L${cx} ${mid + r}L${cx - r} ${mid}Z`}
            >
              <title>{title}</title>
            </path>
          );
        }
        return (
          <rect
            key={i}
            className="jp-FlyteTimeline-seg"
            data-kind={seg.kind}
            data-phase={seg.phase}
            data-attempt={seg.attempt}
            x={x0 + scale * seg.start}
            y={mid - BAR / 2}
            width={Math.max(scale * (seg.end - seg.start), 1.5)}
            height={BAR}
          >
            <title>{title}</title>
          </rect>
        );
      })}
    </g>
  );
}

/**
 * Fetches the timeline (again while the run is live, or when its actions or the window change)
 * and draws it. Zoom: drag across the track to pick a time window, Ctrl/⌘ + wheel zooms around the
 * pointer, + and − halve and double the window, "whole run" resets it; the server lays out only
 * what the window shows, so a run of thousands of actions zooms without drawing them all.
 */
export function TimelineView(props: {
  client: FlyteClient;
  run: string;
  /** Changes when the run's actions do: a new fetch. */
  version: string;
  live: boolean;
  selected: string | null;
  onSelect: (action: string) => void;
  /** Short labels of the run's actions (`part(i=2)`), by name. */
  labels: Record<string, string>;
  /** Past this many actions, big groups fold into one row each. */
  maxRows: number;
}): JSX.Element {
  const [tl, setTl] = React.useState<ITimeline | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [expand, setExpand] = React.useState<string[]>([]);
  const [win, setWin] = React.useState<[number, number] | null>(null);
  const [brush, setBrush] = React.useState<[number, number] | null>(null);
  const [tick, setTick] = React.useState(0);
  const ref = React.useRef<HTMLDivElement>(null);
  const svgRef = React.useRef<SVGSVGElement>(null);
  const dragged = React.useRef(false);
  const width = useWidth(ref);
  React.useEffect(() => {
    let current = true;
    props.client
      .timeline(props.run, expand, props.maxRows, win)
      .then(t => {
        if (current) {
          setTl(t);
          setError(null);
        }
      })
      .catch(e => current && setError((e as Error).message));
    return () => {
      current = false;
    };
  }, [
    props.run,
    props.version,
    expand.join(','),
    tick,
    props.maxRows,
    win ? win.join(',') : ''
  ]);
  React.useEffect(() => {
    if (!props.live) {
      return;
    }
    const timer = window.setInterval(() => setTick(t => t + 1), LIVE_MS);
    return () => window.clearInterval(timer);
  }, [props.live]);
  const labelWidth = Math.min(160, Math.round(width * 0.38));
  const track = Math.max(width - labelWidth - 16, 40);
  const span = tl ? Math.max(tl.span, 0.001) : 1;
  const full = tl ? Math.max(tl.full_span ?? tl.span, 0.001) : 1;
  const lo = win ? win[0] : 0;
  const scale = track / span;
  /** Seconds from the run's start under a pixel of the svg. */
  const timeAt = (x: number) =>
    lo + (Math.min(Math.max(x - labelWidth, 0), track) / track) * span;
  const zoom = (center: number, factor: number) =>
    setWin(w => zoomWindow(w, full, center, factor));
  // Ctrl/⌘ + wheel zooms; a plain wheel still scrolls the panel (a native listener: React's is passive)
  const wheel = React.useRef<(e: WheelEvent) => void>(() => undefined);
  wheel.current = (e: WheelEvent) => {
    if (!(e.ctrlKey || e.metaKey) || !svgRef.current) {
      return;
    }
    e.preventDefault();
    const x = e.clientX - svgRef.current.getBoundingClientRect().left;
    zoom(timeAt(x), e.deltaY < 0 ? 1.5 : 1 / 1.5);
  };
  React.useEffect(() => {
    const el = svgRef.current;
    if (!el) {
      return;
    }
    const listener = (e: WheelEvent) => wheel.current(e);
    el.addEventListener('wheel', listener, { passive: false });
    return () => el.removeEventListener('wheel', listener);
  }, [tl !== null]);
  const xOf = (e: React.MouseEvent) =>
    e.clientX - (svgRef.current?.getBoundingClientRect().left ?? 0);
  const height = tl ? AXIS + tl.bars.length * ROW + 4 : 0;
  return (
    <div className="jp-FlyteTimeline" ref={ref} data-run={props.run}>
      {error ? <div className="jp-FlyteError">{error}</div> : null}
      {!tl ? (
        error ? null : (
          <div className="jp-FlyteEmpty">Loading the timeline…</div>
        )
      ) : (
        <>
          <div className="jp-FlyteMuted jp-FlyteTimeline-summary">
            {tl.total_actions} action{tl.total_actions === 1 ? '' : 's'} over{' '}
            {formatDuration(full) || '0s'}
            {tl.cpu_seconds !== null
              ? ` · CPU ${formatDuration(tl.cpu_seconds) || '0s'}`
              : ''}
            {tl.peak_memory_bytes
              ? ` · peak ${memoryText(tl.peak_memory_bytes)}`
              : ''}
            {tl.critical_path.length
              ? ` · critical path: ${tl.critical_path.length} action${tl.critical_path.length === 1 ? '' : 's'} (outlined)`
              : ''}
          </div>
          <div
            className="jp-FlyteTimeline-zoom"
            role="toolbar"
            aria-label="Zoom"
          >
            <button
              className="jp-FlyteTimeline-zoomIn"
              title="Zoom in (or drag across the bars, or Ctrl + wheel)"
              onClick={() => zoom(lo + span / 2, 2)}
              disabled={span <= MIN_WINDOW * 1.01}
            >
              +
            </button>
            <button
              className="jp-FlyteTimeline-zoomOut"
              title="Zoom out"
              onClick={() => zoom(lo + span / 2, 0.5)}
              disabled={!win}
            >
              −
            </button>
            <button
              className="jp-FlyteTimeline-zoomReset"
              title="Show the whole run"
              onClick={() => setWin(null)}
              disabled={!win}
            >
              whole run
            </button>
            <span
              className="jp-FlyteTimeline-window"
              data-lo={win ? win[0] : 0}
              data-hi={win ? win[1] : full}
            >
              {win
                ? `${formatDuration(win[0]) || '0ms'} – ${formatDuration(win[1])} of ${formatDuration(full)}` +
                  ` · ${tl.bars.length} row${tl.bars.length === 1 ? '' : 's'} in view`
                : 'drag to zoom'}
            </span>
          </div>
          <svg
            ref={svgRef}
            className="jp-FlyteTimeline-svg"
            width={width}
            height={height}
            role="img"
            aria-label={`Timeline of run ${tl.run}`}
            onMouseDown={e => {
              dragged.current = false;
              if (e.button === 0 && xOf(e) > labelWidth) {
                setBrush([xOf(e), xOf(e)]);
              }
            }}
            onMouseMove={e => {
              if (brush && e.buttons & 1) {
                setBrush([brush[0], xOf(e)]);
              }
            }}
            onMouseUp={e => {
              if (!brush) {
                return;
              }
              const [a, b] = [brush[0], xOf(e)].sort((x, y) => x - y);
              setBrush(null);
              if (b - a >= 6) {
                dragged.current = true;
                const t0 = timeAt(a);
                const t1 = Math.max(timeAt(b), t0 + MIN_WINDOW);
                setWin(t1 - t0 >= full ? null : [t0, Math.min(t1, full)]);
              }
            }}
            onMouseLeave={() => setBrush(null)}
          >
            {groupRuns(tl.bars).map(([group, first, count], i) => (
              <rect
                key={`band:${group}:${first}`}
                className="jp-FlyteTimeline-group"
                data-group={group}
                data-alt={i % 2 ? 'true' : 'false'}
                x={0}
                y={AXIS + first * ROW}
                width={width}
                height={count * ROW}
              >
                <title>{`group ${group}: ${count} actions in view`}</title>
              </rect>
            ))}
            <g className="jp-FlyteTimeline-axis">
              {ticks(lo, lo + span, track).map(t => (
                <g key={t}>
                  <line
                    x1={labelWidth + (t - lo) * scale}
                    x2={labelWidth + (t - lo) * scale}
                    y1={AXIS - 4}
                    y2={AXIS + tl.bars.length * ROW}
                  />
                  <text x={labelWidth + (t - lo) * scale} y={AXIS - 6}>
                    {formatDuration(t) || '0s'}
                  </text>
                </g>
              ))}
            </g>
            {tl.bars.map((bar, i) => (
              <BarRow
                key={bar.key}
                bar={bar}
                label={props.labels[bar.key] ?? bar.label}
                y={AXIS + i * ROW}
                x0={labelWidth}
                scale={scale}
                origin={tl.origin + lo}
                selected={bar.key === props.selected}
                onClick={() => {
                  if (dragged.current) {
                    dragged.current = false;
                    return;
                  }
                  if (bar.count > 1) {
                    setExpand(old => [...old, groupOf(bar.key)]);
                  } else {
                    props.onSelect(bar.key);
                  }
                }}
              />
            ))}
            {brush ? (
              <rect
                className="jp-FlyteTimeline-brush"
                x={Math.min(brush[0], brush[1])}
                y={AXIS - 4}
                width={Math.abs(brush[1] - brush[0])}
                height={height - AXIS + 4}
              />
            ) : null}
          </svg>
          <div className="jp-FlyteTimeline-legend jp-FlyteMuted">
            <span className="jp-FlyteTimeline-key" data-kind="queued" /> queued{' '}
            <span className="jp-FlyteTimeline-key" data-kind="starting" />{' '}
            starting{' '}
            <span className="jp-FlyteTimeline-key" data-kind="running" />{' '}
            running
            {expand.length ? (
              <a
                href="#"
                className="jp-FlyteTimeline-fold"
                onClick={e => {
                  e.preventDefault();
                  setExpand([]);
                }}
              >
                {' '}
                fold groups again
              </a>
            ) : null}
          </div>
        </>
      )}
    </div>
  );
}
