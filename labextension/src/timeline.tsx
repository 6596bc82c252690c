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

/** Round times along the axis, about one per 70 pixels of track. */
function ticks(span: number, track: number): number[] {
  if (span <= 0) {
    return [0];
  }
  const raw = span / Math.max(2, Math.min(6, Math.floor(track / 70)));
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * pow).find(s => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = 0; t <= span + 1e-9; t += step) {
    out.push(t);
  }
  return out;
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

/** Fetches the timeline (again while the run is live, or when its actions change) and draws it. */
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
  const [tick, setTick] = React.useState(0);
  const ref = React.useRef<HTMLDivElement>(null);
  const width = useWidth(ref);
  React.useEffect(() => {
    let current = true;
    props.client
      .timeline(props.run, expand, props.maxRows)
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
  }, [props.run, props.version, expand.join(','), tick, props.maxRows]);
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
  const scale = track / span;
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
            {formatDuration(tl.span) || '0s'}
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
          <svg
            className="jp-FlyteTimeline-svg"
            width={width}
            height={AXIS + tl.bars.length * ROW + 4}
            role="img"
            aria-label={`Timeline of run ${tl.run}`}
          >
            <g className="jp-FlyteTimeline-axis">
              {ticks(span, track).map(t => (
                <g key={t}>
                  <line
                    x1={labelWidth + t * scale}
                    x2={labelWidth + t * scale}
                    y1={AXIS - 4}
                    y2={AXIS + tl.bars.length * ROW}
                  />
                  <text x={labelWidth + t * scale} y={AXIS - 6}>
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
                origin={tl.origin}
                selected={bar.key === props.selected}
                onClick={() =>
                  bar.count > 1
                    ? setExpand(old => [...old, groupOf(bar.key)])
                    : props.onSelect(bar.key)
                }
              />
            ))}
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
