/** The list of runs: newest first, filtered by phase. */
import * as React from 'react';
import { HTMLSelect } from '@jupyterlab/ui-components';

import { IRun, PHASES } from './api';
import {
  baseName,
  durationOf,
  formatDuration,
  formatStart,
  shortTask
} from './format';

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
}

export function RunsList(props: IRunsListProps): JSX.Element {
  const shown = props.runs
    .filter(r => !props.filter || r.phase === props.filter)
    .sort((a, b) => (b.started_at ?? Infinity) - (a.started_at ?? Infinity));
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
            : 'No runs yet. Open a notebook and use "Run notebook on Flyte".'}
        </div>
      ) : (
        <ul className="jp-FlyteRuns-list" role="list">
          {shown.map(run => (
            <li
              key={run.name}
              className="jp-FlyteRuns-item"
              data-run={run.name}
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
                <span className="jp-FlyteRuns-name">{run.name}</span>
                <PhaseBadge phase={run.phase} />
              </div>
              <div className="jp-FlyteRuns-row jp-FlyteMuted">
                <span
                  className="jp-FlyteRuns-source"
                  title={`${run.source ?? ''} ${run.task ?? ''}`}
                >
                  {[baseName(run.source), run.task ? shortTask(run.task) : '']
                    .filter(Boolean)
                    .join(' · ')}
                </span>
                <span>
                  {formatStart(run.started_at)}{' '}
                  {formatDuration(
                    durationOf(run.started_at, run.ended_at, props.now)
                  )}
                </span>
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
