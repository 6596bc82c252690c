/**
 * The list of runs: newest first, filtered by phase. The runs of one named series (a cell run
 * with `--name X` again and again: `X`, `X-2`, ...) fold under their newest run.
 */
import * as React from 'react';
import {
  caretDownIcon,
  caretRightIcon,
  HTMLSelect
} from '@jupyterlab/ui-components';

import { IRun, PHASES } from './api';
import { durationOf, formatDuration, formatStart, originText } from './format';

export function PhaseBadge(props: { phase: string }): JSX.Element {
  return (
    <span
      className={`jp-FlyteBadge jp-FlytePhase-${props.phase}`}
      data-phase={props.phase}
    >
      {props.phase.replace('_', ' ')}
    </span>
  );
}

export interface IRunsListProps {
  runs: IRun[];
  filter: string;
  now: number;
  onFilter: (phase: string) => void;
  onSelect: (name: string) => void;
  onOpenOrigin?: (run: IRun) => void;
}

interface IEntry {
  key: string;
  runs: IRun[]; // newest first; more than one: a series
}

const newest = (a: IRun, b: IRun) =>
  (b.started_at ?? Infinity) - (a.started_at ?? Infinity);

/** Runs grouped by series (a run without one is its own entry), newest entry first. */
export function groupSeries(runs: IRun[]): IEntry[] {
  const entries = new Map<string, IEntry>();
  for (const run of [...runs].sort(newest)) {
    const key = run.series ? `series:${run.series}` : `run:${run.name}`;
    const entry = entries.get(key);
    if (entry) {
      entry.runs.push(run);
    } else {
      entries.set(key, { key, runs: [run] });
    }
  }
  return [...entries.values()];
}

/** `⏱ nightly`: the schedule that started a run, when a trigger did. */
export function TriggerTag(props: { run: IRun }): JSX.Element | null {
  const trigger = props.run.origin?.trigger;
  if (!trigger) {
    return null;
  }
  return (
    <span
      className="jp-FlyteTag jp-FlyteRuns-trigger"
      data-trigger={trigger.name}
      title={
        `Started by the trigger ${trigger.name}` +
        (trigger.task ? ` of ${trigger.task}` : '') +
        (trigger.time ? ` for its tick at ${trigger.time}` : '')
      }
    >
      ⏱ {trigger.name}
    </span>
  );
}

/** The origin as a link that opens the notebook at the cell, when the server can open it. */
export function OriginLink(props: {
  run: IRun;
  onOpen?: (run: IRun) => void;
  className?: string;
}): JSX.Element {
  const { run } = props;
  const text = originText(run);
  const canOpen = !!(props.onOpen && run.origin && run.origin.notebook);
  const title = run.origin?.notebook
    ? `Open ${run.origin.notebook}${run.origin.cell ? ' at the cell this run came from' : ''}`
    : run.origin?.notebook_name
      ? `${run.origin.notebook_name} is not under this Jupyter server's root`
      : `${run.source ?? ''} ${run.task ?? ''}`;
  if (!canOpen) {
    return (
      <span className={props.className} title={title}>
        {text}
      </span>
    );
  }
  return (
    <a
      className={(props.className ?? '') + ' jp-FlyteOrigin'}
      href="#"
      title={title}
      data-notebook={run.origin!.notebook ?? ''}
      onClick={e => {
        e.preventDefault();
        e.stopPropagation();
        props.onOpen!(run);
      }}
    >
      {text}
    </a>
  );
}

function RunItem(props: {
  run: IRun;
  now: number;
  onSelect: (name: string) => void;
  onOpenOrigin?: (run: IRun) => void;
  series?: { count: number; open: boolean; toggle: () => void } | null;
  earlier?: boolean;
}): JSX.Element {
  const { run, series } = props;
  const Caret = series?.open ? caretDownIcon : caretRightIcon;
  return (
    <li
      className={
        'jp-FlyteRuns-item' + (props.earlier ? ' jp-FlyteRuns-earlier' : '')
      }
      data-run={run.name}
      data-series={run.series ?? undefined}
      role="button"
      tabIndex={0}
      onClick={() => props.onSelect(run.name)}
      onKeyDown={e => {
        if (e.key === 'Enter') {
          props.onSelect(run.name);
        }
      }}
    >
      <div className="jp-FlyteRuns-row">
        <span className="jp-FlyteRuns-name">
          {series ? (
            <span
              className="jp-FlyteRuns-seriesToggle"
              role="button"
              aria-expanded={series.open}
              title={
                series.open
                  ? 'Hide the earlier runs of this series'
                  : `Show the ${series.count - 1} earlier runs of ${run.series}`
              }
              onClick={e => {
                e.stopPropagation();
                series.toggle();
              }}
            >
              <Caret.react tag="span" />
            </span>
          ) : null}
          {run.name}
          {series ? (
            <span className="jp-FlyteTag jp-FlyteRuns-seriesCount">
              {series.count} runs
            </span>
          ) : null}
          <TriggerTag run={run} />
        </span>
        <PhaseBadge phase={run.phase} />
      </div>
      <div className="jp-FlyteRuns-row jp-FlyteMuted">
        <OriginLink
          run={run}
          onOpen={props.onOpenOrigin}
          className="jp-FlyteRuns-source"
        />
        <span>
          {formatStart(run.started_at)}{' '}
          {formatDuration(durationOf(run.started_at, run.ended_at, props.now))}
        </span>
      </div>
    </li>
  );
}

export function RunsList(props: IRunsListProps): JSX.Element {
  const [open, setOpen] = React.useState<Set<string>>(new Set());
  const shown = props.runs.filter(
    r => !props.filter || r.phase === props.filter
  );
  const entries = groupSeries(shown);
  const toggle = (key: string) =>
    setOpen(old => {
      const next = new Set(old);
      if (next.has(key)) {
        next.delete(key);
      } else {
        next.add(key);
      }
      return next;
    });
  return (
    <div className="jp-FlyteRuns">
      <div className="jp-FlyteRuns-filter">
        <label htmlFor="jp-FlyteRuns-phase">Phase</label>
        <HTMLSelect
          id="jp-FlyteRuns-phase"
          className="jp-FlyteRuns-phaseSelect"
          value={props.filter}
          onChange={e => props.onFilter(e.currentTarget.value)}
          aria-label="Filter runs by phase"
        >
          <option value="">All</option>
          {PHASES.map(p => (
            <option key={p} value={p}>
              {p.replace('_', ' ')}
            </option>
          ))}
        </HTMLSelect>
      </div>
      {shown.length === 0 ? (
        <div className="jp-FlyteEmpty">
          {props.filter
            ? 'No runs in this phase.'
            : 'No runs yet. Open a notebook and use "Run notebook on Flyte", or run a cell with %%flyte run.'}
        </div>
      ) : (
        <ul className="jp-FlyteRuns-list" role="list">
          {entries.map(entry => {
            const [first, ...rest] = entry.runs;
            const isOpen = open.has(entry.key);
            return (
              <React.Fragment key={entry.key}>
                <RunItem
                  run={first}
                  now={props.now}
                  onSelect={props.onSelect}
                  onOpenOrigin={props.onOpenOrigin}
                  series={
                    rest.length
                      ? {
                          count: entry.runs.length,
                          open: isOpen,
                          toggle: () => toggle(entry.key)
                        }
                      : null
                  }
                />
                {isOpen
                  ? rest.map(run => (
                      <RunItem
                        key={run.name}
                        run={run}
                        now={props.now}
                        onSelect={props.onSelect}
                        onOpenOrigin={props.onOpenOrigin}
                        earlier
                      />
                    ))
                  : null}
              </React.Fragment>
            );
          })}
        </ul>
      )}
    </div>
  );
}
